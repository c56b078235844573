"""Seastar as a benchmark peer: where its programs are, and how to build a small one.

Every benchmark driver that measures Seastar beside Reef takes the peer's location the
same way: `--seastar-dir DIR` or the environment variable REEF_SEASTAR_DIR, where DIR is
a Seastar CMake build directory (the one that holds seastar.pc, apps/ and tests/perf/).
Nothing of Seastar is linked into Reef; the programs under benchmarks/peers/ are written
for the benchmarks against Seastar's public API and compiled here with its seastar.pc.

    import seastar_peer
    seastar_peer.add_argument(ap)                 # --seastar-dir
    peer = seastar_peer.find(args.seastar_dir)    # None when no peer was given
    httpd = peer.app("httpd")                     # DIR/apps/httpd/httpd
    perf = peer.perf_test("future_util")          # DIR/tests/perf/future_util_perf
    echo = peer.compile("seastar_echo.cc")        # benchmarks/peers/seastar_echo.cc
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ENV_VAR = "REEF_SEASTAR_DIR"


class PeerError(RuntimeError):
    """The peer directory is missing something a driver asked for."""


def add_argument(ap):
    """Adds --seastar-dir to an argparse parser (default: $REEF_SEASTAR_DIR)."""
    ap.add_argument("--seastar-dir", metavar="DIR", default=os.environ.get(ENV_VAR) or None,
                    help="a Seastar build directory (with seastar.pc) to measure beside Reef "
                         f"(default: ${ENV_VAR}; none: Seastar is left out)")


def find(directory):
    """The peer in `directory`, or None when `directory` is empty. Raises PeerError when
    the directory is not a Seastar build directory."""
    if not directory:
        return None
    return Seastar(directory)


class Seastar:
    def __init__(self, directory):
        self.dir = os.path.abspath(directory)
        self.pc = os.path.join(self.dir, "seastar.pc")
        if not os.path.isfile(self.pc):
            raise PeerError(f"{self.dir} is not a Seastar build directory (no seastar.pc)")

    def _existing(self, path, what):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise PeerError(f"Seastar's {what} is not built: {path} is missing")
        return path

    def app(self, name):
        """An application of Seastar's apps/ (httpd, memcached, io_tester, ...)."""
        return self._existing(os.path.join(self.dir, "apps", name, name), f"app {name}")

    def perf_test(self, name):
        """A perf test of Seastar's tests/perf/ (future_util, coroutine, smp_submit_to, ...)."""
        return self._existing(os.path.join(self.dir, "tests", "perf", f"{name}_perf"),
                              f"perf test {name}")

    def version(self):
        """Seastar's release, from the source directory's name (seastar-25.05.0) when it
        has one; otherwise the version its seastar.pc states (CMake's project version,
        1.0 for every release)."""
        src = os.path.dirname(self.dir)
        cache = os.path.join(self.dir, "CMakeCache.txt")
        try:
            with open(cache) as f:
                for line in f:
                    if line.startswith("CMAKE_HOME_DIRECTORY:"):
                        src = line.split("=", 1)[1].strip()
        except OSError:
            pass
        m = re.search(r"seastar-(\d+\.\d+(?:\.\d+)?)", os.path.basename(src))
        if m:
            return m.group(1)
        with open(self.pc) as f:
            for line in f:
                if line.startswith("Version:"):
                    return line.split(":", 1)[1].strip()
        return "unknown"

    def compiler(self):
        """The C++ compiler Seastar was built with (from CMake's cache), default g++."""
        cache = os.path.join(self.dir, "CMakeCache.txt")
        try:
            with open(cache) as f:
                for line in f:
                    if line.startswith("CMAKE_CXX_COMPILER:"):
                        return line.split("=", 1)[1].strip()
        except OSError:
            pass
        return shutil.which("g++") or "g++"

    def flags(self):
        """Compile and link flags for a static Seastar program (pkg-config --static)."""
        out = subprocess.run(["pkg-config", "--cflags", "--libs", "--static", self.pc],
                             check=True, capture_output=True, text=True).stdout
        return out.split()

    def compile(self, source, out_dir=None, extra_flags=()):
        """Compiles benchmarks/peers/SOURCE (or a path) against this Seastar, -O2 C++20,
        into out_dir (default: DIR/reef-peers-bin), and returns the program's path. The
        result is reused while the source, the flags and seastar.pc are unchanged."""
        src = source if os.path.isabs(source) else os.path.join(HERE, source)
        out_dir = out_dir or os.path.join(self.dir, "reef-peers-bin")
        os.makedirs(out_dir, exist_ok=True)
        cxx = self.compiler()
        cmd_flags = ["-std=c++20", "-O2", *extra_flags, *self.flags()]
        h = hashlib.sha256()
        with open(src, "rb") as f:
            h.update(f.read())
        with open(self.pc, "rb") as f:
            h.update(f.read())
        h.update(" ".join([cxx, *cmd_flags]).encode())
        stem = os.path.splitext(os.path.basename(src))[0]
        exe = os.path.join(out_dir, f"{stem}-{h.hexdigest()[:12]}")
        if not os.path.isfile(exe):
            tmp = exe + ".tmp"
            r = subprocess.run([cxx, src, "-o", tmp, *cmd_flags], capture_output=True, text=True)
            if r.returncode != 0:
                raise PeerError(f"compiling {src} against Seastar failed:\n{r.stderr[-4000:]}")
            os.replace(tmp, exe)
        return exe


def cpu_model():
    """The CPU's model name (/proc/cpuinfo), which every figure must carry."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def result_start(here, machine):
    """The opening fields of a driver's JSON result, the same in every driver that runs the
    peer: machine, commit (git describe of `here`), date_utc, loadavg_start, runs."""
    commit = subprocess.run(["git", "-C", here, "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip()
    return {"machine": machine, "commit": commit or None,
            "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
            "loadavg_start": os.getloadavg(), "runs": []}


def emit_result(result, json_stdout, json_out, print_table):
    """Closes a result (loadavg_end), writes it to json_out when given, and prints it as
    JSON (json_stdout) or through print_table(result)."""
    result["loadavg_end"] = os.getloadavg()
    if json_out:
        with open(json_out, "w") as f:
            json.dump(result, f, indent=1)
    if json_stdout:
        json.dump(result, sys.stdout, indent=1)
        print()
    else:
        print_table(result)
