#!/usr/bin/env python3
"""HTTP over loopback: Reef's examples/httpd against nginx and a near-limit baseline.

One run starts each server in turn on cpu 0 (Reef's httpd with one shard on every
backend, nginx with one worker in two configurations, and
benchmarks/http_baseline_server: a C server that answers every request with a fixed
response) and loads it with wrk on cpu 1:

    plain      taskset -c 1 wrk -t1 -c64 -d10s --latency http://127.0.0.1:PORT/
    pipelined  the same with -s benchmarks/http/pipeline.lua (16 requests per write)

Servers alternate inside each round (the order is reversed every other round) and the
table gives, per mode and server, the median over the rounds of requests/s and of p99,
the server's and wrk's CPU use, and the ratios Reef/nginx and Reef/baseline, then
whether the targets are met (plain: Reef >= 1.5x nginx on every backend; pipelined:
Reef >= 40% of the baseline). Before it is loaded, each server must answer a GET /
and 16 pipelined ones with "Hello, World!".

With a Seastar build (--seastar-dir DIR or REEF_SEASTAR_DIR; benchmarks/peers/seastar_peer.py
finds DIR/apps/httpd/httpd), Seastar's own httpd runs in the same rounds on each of its
backends (--seastar-backends, default epoll,linux-aio,io_uring), as seastar-<backend>:

    taskset -c 0 httpd --smp 1 --cpuset 0 --reactor-backend B --port PORT --prometheus_port 0 --memory 1G

and the table gains two columns for Reef's rows: "x seastar", Reef's backend over Seastar's
best backend of the same round (the most requests/s), and "x seastar same backend", over
Seastar on the same backend (Reef's aio against linux-aio), each the median of the
per-round ratios with their range. Without a peer the run is as before.

Answers differ in size: Reef's httpd, nginx and the baseline answer "Hello, World!" (13
bytes of text/plain); Seastar's httpd answers / with "hello" in quotes (7 bytes of
application/json, with Date and Server headers of its own). The check accepts each
server's own body, and the table gives each server's response size in bytes (head and
body, as measured by the check): measured, Reef 129, Seastar 137, the baseline 133,
nginx-return 161, nginx 249.

The two nginx rows:
    nginx         the configuration of ../shared/design/ANCHORS.md, against which the
                  targets were set: "/" is a static file (index.html holding the body),
                  access log off, keepalive_requests high (benchmarks/http/nginx.conf)
    nginx-return  nginx's cheapest answer, `return 200 "Hello, World!"` from the
                  configuration itself, no file (benchmarks/http/nginx-return.conf);
                  reported beside, as x nginx-return

    benchmarks/http_bench.py --httpd build/examples/httpd --baseline build/benchmarks/http_baseline_server
    ... --quick                    1 round of 1 s (a smoke run)
    ... --check-only               only start each server and check its answers (no wrk)
    ... --json                     the table and every run as JSON on stdout (--json-out FILE: also)
    ... --profile io_uring         then perf record -e cpu-clock -g of httpd under the
                                   pipelined load, and its top entries

p99: for plain runs it is wrk's own figure. Under pipelining wrk times writes, not
requests, and its coordinated-omission correction assumes one request per write, which
breaks its percentiles; pipeline.lua prints wrk's histogram and this script undoes the
correction, so the pipelined p99 is that of a write of 16 requests (the time from the
write to the 16th response).
"""

import argparse
import json
import math
import os
import platform
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "peers"))
import seastar_peer  # noqa: E402

PIPELINE_LUA = os.path.join(HERE, "http", "pipeline.lua")
NGINX_CONF = os.path.join(HERE, "http", "nginx.conf")
NGINX_RETURN_CONF = os.path.join(HERE, "http", "nginx-return.conf")
EXPECTED_BODY = b"Hello, World!"
# Seastar's apps/httpd answers / with a JSON string.
SEASTAR_BODY = b'"hello"'
# Processes that load this machine heavily (load generators, benchmarks, builds; servers
# are idle unless one of these loads them): a run during which one of them (not ours) was
# seen is run again, or marked as disturbed.
HEAVY_COMMANDS = {"wrk", "net_bench", "alloc_bench", "reactor_bench", "core_future_bench",
                  "http_parser_bench", "ninja", "clang", "clang++", "clang-16",
                  "clang++-16", "cc1plus", "ld", "ld.lld", "meson", "perf", "memcaslap", "h2load", "ab", "fio"}

TARGET_PLAIN_X_NGINX = 1.5
TARGET_PIPELINED_X_BASELINE = 0.40


def log(msg):
    print(f"http_bench: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# wrk's output

_TIME_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def parse_wrk_time_ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        raise ValueError(f"not a wrk time: {text!r}")
    return float(m.group(1)) * _TIME_UNITS[m.group(2)]


def parse_wrk(output):
    """Requests/s, percentiles (ms), counts and errors from wrk's --latency output."""
    r = {}
    m = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    if not m:
        raise ValueError("no Requests/sec line in wrk's output")
    r["req_per_s"] = float(m.group(1))
    m = re.search(r"^\s+(\d+) requests in ([\d.]+\w+),", output, re.M)
    r["requests"] = int(m.group(1)) if m else None
    r["wrk_percentiles_ms"] = {}
    for p, t in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", output, re.M):
        r["wrk_percentiles_ms"][p] = parse_wrk_time_ms(t)
    errors = {"connect": 0, "read": 0, "write": 0, "timeout": 0, "status": 0}
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if m:
        for k, v in zip(("connect", "read", "write", "timeout"), m.groups()):
            errors[k] = int(v)
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if m:
        errors["status"] = int(m.group(1))
    r["errors"] = errors
    m = re.search(r"^latency-histogram (.*)$", output, re.M)
    r["histogram"] = parse_histogram_line(m.group(1)) if m else None
    return r


def parse_histogram_line(text):
    fields = text.split()
    if len(fields) < 5 or not fields[0].isdigit():
        return None  # "unavailable (...)"
    duration_us, requests, count, lo, hi = (int(x) for x in fields[:5])
    buckets = {}
    for pair in fields[5:]:
        us, n = pair.split(":")
        buckets[int(us)] = int(n)
    return {"duration_us": duration_us, "requests": requests, "count": count, "min": lo,
            "max": hi, "buckets": buckets}


def wrk_correct(buckets, interval, top):
    """wrk 4.1's stats_correct(), for the self-test: the histogram wrk would print."""
    data = dict(buckets)
    for n in range(interval * 2, top + 1):
        count = data.get(n, 0)
        m = n - interval
        while count and m > interval:
            data[m] = data.get(m, 0) + count
            m -= interval
    return data


def undo_wrk_correction(buckets, interval, top):
    """The histogram before wrk_correct(buckets, interval, top).

    wrk adds the count of every bucket n > 2*interval to the buckets n - k*interval
    (k >= 1) that lie above `interval`; a bucket is read before anything is added to it.
    So, from the top down, a bucket m > interval holds its own count plus the original
    counts of m + interval, m + 2*interval, ..., which are known by then."""
    if interval <= 0:
        return dict(buckets)
    orig = {}
    above = {}  # above[m]: sum of orig[m + k*interval] for k >= 1
    for m in range(top, -1, -1):
        up = m + interval
        above[m] = orig.get(up, 0) + above.get(up, 0) if up <= top else 0
        own = buckets.get(m, 0) - (above[m] if m > interval else 0)
        if own < 0:
            raise ValueError(f"undoing wrk's correction left bucket {m} at {own}")
        if own:
            orig[m] = own
    return orig


def percentile_of(buckets, p):
    """wrk's definition: the smallest value whose cumulative count reaches the rank."""
    count = sum(buckets.values())
    if count == 0:
        return None
    rank = math.floor(p / 100.0 * count + 1.0)  # C's round(p/100 * count + 0.5)
    total = 0
    for us in sorted(buckets):
        total += buckets[us]
        if total >= rank:
            return us
    return max(buckets)


def pipelined_latency(hist, connections):
    """Percentiles (ms) of the writes' latencies, wrk's correction undone."""
    if not hist:
        return None
    per_connection = hist["requests"] // connections
    interval = hist["duration_us"] // per_connection if per_connection else 0
    if sum(hist["buckets"].values()) != hist["count"]:
        raise ValueError("wrk's histogram does not add up to its count: the FFI read is wrong")
    orig = undo_wrk_correction(hist["buckets"], interval, hist["max"])
    if not orig:
        return None
    out = {p: percentile_of(orig, float(p)) / 1000.0 for p in ("50", "75", "90", "99")}
    out["writes"] = sum(orig.values())
    return out


def self_test():
    """undo_wrk_correction() inverts wrk_correct() on random histograms."""
    rng = random.Random(7)
    for _ in range(200):
        top = rng.randint(1, 400)
        orig = {}
        for _ in range(rng.randint(1, 60)):
            us = rng.randint(0, top)
            orig[us] = orig.get(us, 0) + rng.randint(1, 50)
        top = max(orig)
        interval = rng.randint(1, max(1, top // 2 + 3))
        corrected = wrk_correct(orig, interval, top)
        back = undo_wrk_correction(corrected, interval, top)
        if back != orig:
            raise AssertionError(f"undo_wrk_correction failed (interval {interval}, top {top})")
    sample = """Running 10s test @ http://127.0.0.1:1/
  1 threads and 64 connections
  Latency Distribution
     50%  800.00us
     75%    1.10ms
     90%    1.50ms
     99%    2.53ms
  612345 requests in 10.00s, 80.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 0
Requests/sec:  61234.50
Transfer/sec:      8.00MB
latency-histogram 10000000 612345 5 3 9 3:2 5:1 9:2
"""
    r = parse_wrk(sample)
    assert r["req_per_s"] == 61234.5 and r["requests"] == 612345
    assert r["wrk_percentiles_ms"]["99"] == 2.53 and r["wrk_percentiles_ms"]["50"] == 0.8
    assert r["errors"]["read"] == 2 and r["histogram"]["buckets"] == {3: 2, 5: 1, 9: 2}
    assert percentile_of({1: 98, 7: 2}, 99.0) == 7 and percentile_of({1: 995, 7: 5}, 99.0) == 1


# ---------------------------------------------------------------------------------------
# Processes and the machine

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_stat(pid):
    """(ppid, utime + stime in seconds) of a process, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree_cpu(pid):
    """CPU seconds used so far by a process and its direct children (nginx's worker)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        st = proc_stat(int(entry))
        if st and (int(entry) == pid or st[0] == pid):
            total += st[1]
    return total


def heavy_processes(ours):
    """Processes of HEAVY_COMMANDS that are not ours (ours: pids to ignore)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in ours:
            continue
        try:
            with open(f"/proc/{entry}/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue
        if comm in HEAVY_COMMANDS:
            found.append(f"{comm}({entry})")
    return found


def wait_quiet(ours, max_wait):
    """Waits until no heavy process of someone else has run for 5 s (at most max_wait s)."""
    start = time.monotonic()
    quiet_since = None
    told = False
    while time.monotonic() - start < max_wait:
        busy = heavy_processes(ours)
        now = time.monotonic()
        if busy:
            quiet_since = None
            if not told:
                log(f"waiting for {', '.join(busy)} to end (at most {max_wait:.0f} s)")
                told = True
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since >= 5 or not told:
            return
        time.sleep(1)
    log(f"still busy after {max_wait:.0f} s: going on")


def machine_summary():
    info = {"kernel": platform.release(), "nproc": os.cpu_count()}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("Model name", "CPU(s)", "Thread(s) per core", "Hypervisor vendor",
                               "L2 cache", "L3 cache", "CPU max MHz"):
                info[key.strip()] = value.strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    for tool, args in (("wrk", ["-v"]), ("nginx", ["-v"])):
        path = shutil.which(tool) or (f"/usr/sbin/{tool}" if tool == "nginx" else None)
        if path and os.path.exists(path):
            p = subprocess.run([path] + args, capture_output=True, text=True)
            info[tool] = (p.stdout + p.stderr).strip().splitlines()[0] if (p.stdout + p.stderr).strip() else ""
    return info


class Server:
    """One server process: started pinned to cpu 0, stopped with SIGTERM (then SIGKILL)."""

    def __init__(self, name, kind, backend=None):
        self.name, self.kind, self.backend = name, kind, backend
        self.expected_body = SEASTAR_BODY if kind == "seastar" else EXPECTED_BODY
        self.response_bytes = None  # head and body of one answer, from the check
        self.proc = None
        self.port = None
        self.tmpdir = None
        self.log_path = None

    def command(self, args):
        if self.kind == "reef":
            return ["taskset", "-c", str(args.server_cpu), args.httpd, "--smp", "1",
                    "--cpuset", str(args.server_cpu), "--reactor-backend", self.backend,
                    "--address", "127.0.0.1", "--port", str(self.port)] + args.httpd_arg
        if self.kind == "seastar":
            return ["taskset", "-c", str(args.server_cpu), args.seastar_httpd, "--smp", "1",
                    "--cpuset", str(args.server_cpu), "--reactor-backend", self.backend,
                    "--port", str(self.port), "--prometheus_port", "0", "--memory", "1G"]
        if self.kind in ("nginx", "nginx-return"):
            with open(NGINX_CONF if self.kind == "nginx" else NGINX_RETURN_CONF) as f:
                conf = f.read()
            www = os.path.join(self.tmpdir, "www")
            os.makedirs(www, exist_ok=True)
            with open(os.path.join(www, "index.html"), "wb") as f:
                f.write(EXPECTED_BODY)
            os.chmod(www, 0o755)
            os.chmod(os.path.join(www, "index.html"), 0o644)
            mask = 1 << args.server_cpu
            conf = (conf.replace("@PORT@", str(self.port)).replace("@DIR@", self.tmpdir)
                    .replace("worker_cpu_affinity 1;", f"worker_cpu_affinity {mask:b};"))
            path = os.path.join(self.tmpdir, "nginx.conf")
            with open(path, "w") as f:
                f.write(conf)
            return ["taskset", "-c", str(args.server_cpu), args.nginx, "-p", self.tmpdir, "-c", path]
        return [args.baseline, str(self.port), "--cpu", str(args.server_cpu)]

    def start(self, args):
        self.port = free_port()
        self.tmpdir = tempfile.mkdtemp(prefix=f"http_bench_{self.name}_")
        os.chmod(self.tmpdir, 0o755)  # nginx's worker runs as nobody
        self.log_path = os.path.join(self.tmpdir, "server.log")
        cmd = self.command(args)
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} at start: "
                                   f"{self.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not listen on port {self.port} within 15 s: {self.log_tail()}")

    def log_tail(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-2000:].decode(errors="replace").strip()
        except OSError:
            return ""

    def stop(self):
        """Stops the server; returns its exit status (None if it had to be killed)."""
        status = None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                status = self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                log(f"{self.name} did not stop within 15 s of SIGTERM: killing it")
                for entry in os.listdir("/proc"):
                    st = proc_stat(int(entry)) if entry.isdigit() else None
                    if st and st[0] == self.proc.pid:
                        try:
                            os.kill(int(entry), signal.SIGKILL)
                        except OSError:
                            pass
                self.proc.kill()
                self.proc.wait()
        elif self.proc:
            status = self.proc.returncode
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None
        self.proc = None
        return status


# ---------------------------------------------------------------------------------------
# Checking a server's answers

def read_responses(sock, count, timeout):
    """Reads `count` HTTP/1.1 responses framed by Content-Length: [(status, body, size)],
    size being the response's bytes, head and body."""
    sock.settimeout(timeout)
    buf = b""
    out = []
    while len(out) < count:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            head = buf[:end].decode("latin-1")
            lines = head.split("\r\n")
            status = int(lines[0].split()[1])
            length = None
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if length is None:
                raise RuntimeError(f"a response without Content-Length: {head!r}")
            if len(buf) >= end + 4 + length:
                out.append((status, buf[end + 4:end + 4 + length], end + 4 + length))
                buf = buf[end + 4 + length:]
                continue
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError(f"connection closed after {len(out)} of {count} responses")
        buf += chunk
    if buf:
        raise RuntimeError(f"{len(buf)} bytes after the last expected response")
    return out


def check_answers(server, depth):
    """One GET /, then `depth` pipelined in one write, as wrk sends them."""
    request = f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        for n in (1, depth):
            s.sendall(request * n)
            for status, body, size in read_responses(s, n, 5):
                if status != 200 or body != server.expected_body:
                    raise RuntimeError(f"{server.name} answered {status} {body[:80]!r}, "
                                       f"not 200 {server.expected_body!r}")
                server.response_bytes = size


# ---------------------------------------------------------------------------------------
# Load runs

def wrk_command(args, port, mode):
    cmd = ["taskset", "-c", str(args.client_cpu), args.wrk, f"-t{args.threads}",
           f"-c{args.connections}", f"-d{args.duration}s", "--latency"]
    if mode == "pipelined":
        cmd += ["-s", PIPELINE_LUA]
    cmd.append(f"http://127.0.0.1:{port}/")
    if mode == "pipelined":
        cmd += ["--", str(args.depth)]
    return cmd


def run_load(args, server, mode, ours):
    cmd = wrk_command(args, server.port, mode)
    before_heavy = heavy_processes(ours)
    load_before = os.getloadavg()[0]
    cpu_before = process_tree_cpu(server.proc.pid)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    seen = set(before_heavy)
    counter = None
    if args.count_syscalls:
        # System calls of the server (and nginx's worker) during the run, counted by the
        # raw_syscalls tracepoint; on io_uring one io_uring_enter carries many operations.
        pids = [server.proc.pid] + [int(e) for e in os.listdir("/proc")
                                    if e.isdigit() and (proc_stat(int(e)) or (0,))[0] == server.proc.pid]
        counter_out = tempfile.NamedTemporaryFile("w+", suffix=".perfstat")
        counter = subprocess.Popen(["taskset", "-c", str(args.client_cpu), args.perf, "stat", "-x,",
                                    "-e", "raw_syscalls:sys_enter", "-p", ",".join(map(str, pids)),
                                    "-o", counter_out.name, "--", "sleep", str(args.duration)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ours.add(counter.pid)
    t0 = time.monotonic()
    # Output to files (the histogram line can be larger than a pipe holds); every second
    # the processes are looked at, so that a build started and ended during the run shows.
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        p = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        while True:
            try:
                p.wait(timeout=1)
                break
            except subprocess.TimeoutExpired:
                seen.update(heavy_processes(ours | {p.pid}))
                if time.monotonic() - t0 > args.duration + 60:
                    p.kill()
                    p.wait()
                    raise RuntimeError(f"wrk did not end within {args.duration + 60} s")
        elapsed = time.monotonic() - t0
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_after = process_tree_cpu(server.proc.pid)
        seen.update(heavy_processes(ours))
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if p.returncode != 0:
        raise RuntimeError(f"wrk failed ({p.returncode}) on {server.name}: {stderr.strip()[-500:]}")
    r = parse_wrk(stdout)
    if counter:
        counter.wait(timeout=60)
        counter_out.seek(0)
        m = re.search(r"^(\d+),,raw_syscalls:sys_enter", counter_out.read(), re.M)
        counter_out.close()
        if m and r["req_per_s"] > 0:
            r["syscalls_per_req"] = int(m.group(1)) / (r["req_per_s"] * args.duration)
    wrk_cpu = (children_after.ru_utime + children_after.ru_stime
               - children_before.ru_utime - children_before.ru_stime)
    r.update({
        "server": server.name, "mode": mode, "command": " ".join(cmd),
        "response_bytes": server.response_bytes,
        "server_cpu": (cpu_after - cpu_before) / elapsed, "wrk_cpu": wrk_cpu / elapsed,
        "loadavg_before": load_before, "loadavg_after": os.getloadavg()[0],
        "other_heavy_processes": sorted(seen),
    })
    if mode == "pipelined":
        lat = pipelined_latency(r["histogram"], args.connections)
        r["p99_ms"] = lat["99"] if lat else None
        r["write_latency_ms"] = lat
    else:
        r["p99_ms"] = r["wrk_percentiles_ms"].get("99")
    del r["histogram"]  # large; the percentiles are kept
    if any(r["errors"].values()):
        log(f"{server.name} {mode}: wrk reported errors {r['errors']}")
    return r


# ---------------------------------------------------------------------------------------
# Summary

def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summarize(runs, servers, modes, rounds):
    """Per mode and server: medians, ranges, and ratios (of medians, and per round)."""
    by = {}
    for r in runs:
        by.setdefault((r["mode"], r["server"]), []).append(r)
    summary = {}
    for mode in modes:
        rows = {}
        for s in servers:
            rs = by.get((mode, s.name), [])
            if not rs:
                continue
            rows[s.name] = {
                "req_per_s": median(r["req_per_s"] for r in rs),
                "req_per_s_runs": [r["req_per_s"] for r in rs],
                "p99_ms": median(r["p99_ms"] for r in rs),
                "server_cpu": median(r["server_cpu"] for r in rs),
                # Server CPU time per request: the cost per core when the client is the
                # limit (an upper bound for a server that polls while idle).
                "server_cpu_us_per_req": median(r["server_cpu"] / r["req_per_s"] * 1e6 for r in rs),
                "wrk_cpu": median(r["wrk_cpu"] for r in rs),
                "syscalls_per_req": median(r.get("syscalls_per_req") for r in rs),
                "errors": sum(sum(r["errors"].values()) for r in rs),
                "disturbed_runs": sum(1 for r in rs if r["other_heavy_processes"]),
                "response_bytes": median(r.get("response_bytes") for r in rs),
            }
        for ref in ("nginx", "nginx-return", "baseline"):
            if ref not in rows:
                continue
            for name, row in rows.items():
                if name == ref:
                    continue
                row[f"x_{ref}"] = row["req_per_s"] / rows[ref]["req_per_s"]
                per_round = []
                for rnd in range(rounds):
                    a = [r for r in by.get((mode, name), []) if r["round"] == rnd]
                    b = [r for r in by.get((mode, ref), []) if r["round"] == rnd]
                    if a and b:
                        per_round.append(a[0]["req_per_s"] / b[0]["req_per_s"])
                row[f"x_{ref}_per_round"] = per_round
        against_seastar(rows, by, mode, rounds)
        summary[mode] = rows
    return summary


def seastar_backend_of(reef_backend):
    """Seastar's name for a Reef backend (Reef's aio is Seastar's linux-aio)."""
    return "linux-aio" if reef_backend == "aio" else reef_backend


def against_seastar(rows, by, mode, rounds):
    """Reef's rows over Seastar's httpd, per round: x_seastar against Seastar's best backend
    of the round (most requests/s), x_seastar_same against Seastar on the same backend."""
    seastar = [n for n in rows if n.startswith("seastar-")]
    if not seastar:
        return
    def in_round(name, rnd):
        rs = [r for r in by.get((mode, name), []) if r["round"] == rnd]
        return rs[0]["req_per_s"] if rs else None
    for name, row in rows.items():
        if not name.startswith("reef-"):
            continue
        same = "seastar-" + seastar_backend_of(name[len("reef-"):])
        best_ratios, same_ratios, best_names = [], [], []
        for rnd in range(rounds):
            ours = in_round(name, rnd)
            theirs = {n: in_round(n, rnd) for n in seastar}
            theirs = {n: v for n, v in theirs.items() if v}
            if not ours or not theirs:
                continue
            best = max(theirs, key=theirs.get)
            best_ratios.append(ours / theirs[best])
            best_names.append(best)
            if same in theirs:
                same_ratios.append(ours / theirs[same])
        if best_ratios:
            row["x_seastar"] = statistics.median(best_ratios)
            row["x_seastar_per_round"] = best_ratios
            row["seastar_best_per_round"] = best_names
        if same_ratios:
            row["x_seastar_same"] = statistics.median(same_ratios)
            row["x_seastar_same_per_round"] = same_ratios
            row["seastar_same"] = same


def targets(summary):
    out = []
    for name, row in summary.get("plain", {}).items():
        if name.startswith("reef-") and "x_nginx" in row:
            out.append({"target": f"plain {name} >= {TARGET_PLAIN_X_NGINX}x nginx",
                        "value": row["x_nginx"], "met": row["x_nginx"] >= TARGET_PLAIN_X_NGINX})
    for name, row in summary.get("pipelined", {}).items():
        if name.startswith("reef-") and "x_baseline" in row:
            out.append({"target": f"pipelined {name} >= {TARGET_PIPELINED_X_BASELINE:.0%} of baseline",
                        "value": row["x_baseline"], "met": row["x_baseline"] >= TARGET_PIPELINED_X_BASELINE})
    return out


def fmt_ratio(row, key):
    if key not in row:
        return ""
    per = row.get(key + "_per_round") or []
    spread = f" ({min(per):.2f}-{max(per):.2f})" if len(per) > 1 else ""
    return f"{row[key]:.2f}{spread}"


def print_table(summary, tgts, st):
    print(f"wrk -t{st['threads']} -c{st['connections']} -d{st['duration']}s --latency, "
          f"{st['rounds']} round(s), server on cpu {st['server_cpu']}, wrk on cpu {st['client_cpu']}; "
          f"pipelined: {st['depth']} requests per write")
    for mode, rows in summary.items():
        print(f"\n{mode}")
        sc = any(row["syscalls_per_req"] is not None for row in rows.values())
        ss = any("x_seastar" in row for row in rows.values())
        print("| server | median req/s | runs | p99 | server cpu | server µs/req | wrk cpu | x nginx "
              "| x nginx-return | x baseline |" + (" x seastar | x seastar same backend |" if ss else "")
              + " response bytes |" + (" syscalls/req |" if sc else ""))
        print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if ss else "") + "---:|"
              + ("---:|" if sc else ""))
        for name, row in rows.items():
            runs = " / ".join(f"{x / 1000:.1f}k" for x in row["req_per_s_runs"])
            p99 = f"{row['p99_ms']:.2f} ms" if row["p99_ms"] is not None else "n/a"
            flags = ""
            if row["errors"]:
                flags += f" ({row['errors']} errors)"
            if row["disturbed_runs"]:
                flags += f" ({row['disturbed_runs']} disturbed)"
            print(f"| {name}{flags} | {row['req_per_s']:,.0f} | {runs} | {p99} | "
                  f"{row['server_cpu']:.0%} | {row['server_cpu_us_per_req']:.2f} | {row['wrk_cpu']:.0%} | "
                  f"{fmt_ratio(row, 'x_nginx')} | "
                  f"{fmt_ratio(row, 'x_nginx-return')} | "
                  f"{fmt_ratio(row, 'x_baseline')} |"
                  + (f" {fmt_ratio(row, 'x_seastar')} | {fmt_ratio(row, 'x_seastar_same')} |" if ss else "")
                  + (f" {row['response_bytes']:.0f} |" if row.get("response_bytes") else " |")
                  + (f" {row['syscalls_per_req']:.3f} |" if sc and row["syscalls_per_req"] is not None
                     else " |" if sc else ""))
    if any("x_seastar" in row for rows in summary.values() for row in rows.values()):
        print("\nx seastar: Reef's backend over Seastar's httpd on its best backend of the same round "
              "(median of the per-round ratios, range); same backend: over Seastar on Reef's backend "
              "(aio: linux-aio). Seastar's body is 7 bytes, Reef's 13 (response bytes: head and body).")
    if tgts:
        print("\ntargets")
        for t in tgts:
            print(f"  {'met    ' if t['met'] else 'NOT met'}  {t['target']}: {t['value']:.2f}")


# ---------------------------------------------------------------------------------------
# Profile

def profile(args, backend, ours):
    """perf record -e cpu-clock -g of httpd under the pipelined load; the top entries."""
    out_dir = args.profile_dir or tempfile.mkdtemp(prefix="http_bench_perf_")
    os.makedirs(out_dir, exist_ok=True)
    data = os.path.join(out_dir, f"httpd-{backend}-pipelined.perf.data")
    wait_quiet(ours, args.wait_quiet)
    server = Server(f"reef-{backend}", "reef", backend)
    server.start(args)
    ours.add(server.proc.pid)
    try:
        check_answers(server, args.depth)
        perf = subprocess.Popen(["taskset", "-c", str(args.client_cpu), args.perf, "record", "-e",
                                 "cpu-clock", "--call-graph", args.profile_call_graph, "-p",
                                 str(server.proc.pid), "-o", data, "--", "sleep", str(args.duration + 1)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        ours.add(perf.pid)
        time.sleep(0.5)
        r = run_load(args, server, "pipelined", ours)
        perf_out, _ = perf.communicate(timeout=args.duration + 60)
    finally:
        server.stop()
    report = subprocess.run([args.perf, "report", "-i", data, "--no-children", "--stdio", "-g", "none",
                             "--percent-limit", "0.3"], capture_output=True, text=True)
    path = os.path.join(out_dir, f"httpd-{backend}-pipelined.report.txt")
    with open(path, "w") as f:
        f.write(report.stdout)
    top = [line for line in report.stdout.splitlines() if line.strip() and not line.startswith("#")]
    return {"backend": backend, "perf_data": data, "report": path, "req_per_s": r["req_per_s"],
            "perf_record": perf_out.strip().splitlines()[-2:], "top": top[:args.profile_top]}


# ---------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--httpd", help="examples/httpd of a release build")
    ap.add_argument("--baseline", help="benchmarks/http_baseline_server")
    ap.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    ap.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    ap.add_argument("--perf", default=shutil.which("perf") or "perf")
    ap.add_argument("--backends", default="io_uring,epoll,aio", help="Reef backends, comma-separated")
    seastar_peer.add_argument(ap)
    ap.add_argument("--seastar-backends", default="epoll,linux-aio,io_uring",
                    help="Seastar httpd's backends, comma-separated (with --seastar-dir)")
    ap.add_argument("--servers", default="", help="only these servers (e.g. reef-epoll,nginx,baseline)")
    ap.add_argument("--modes", default="plain,pipelined")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--depth", type=int, default=16, help="requests per write when pipelined")
    ap.add_argument("--server-cpu", type=int, default=0)
    ap.add_argument("--client-cpu", type=int, default=1)
    ap.add_argument("--httpd-arg", action="append", default=[], help="an extra option for httpd")
    ap.add_argument("--quick", action="store_true", help="1 round of 1 s")
    ap.add_argument("--check-only", action="store_true", help="start each server and check its answers")
    ap.add_argument("--json", action="store_true", help="print JSON instead of the table")
    ap.add_argument("--json-out", metavar="FILE", help="also write the JSON to FILE")
    ap.add_argument("--profile", metavar="BACKEND", help="then profile httpd on BACKEND under pipelined load")
    ap.add_argument("--profile-only", action="store_true", help="only the profile")
    ap.add_argument("--profile-dir", help="where perf.data and the report go (default: a new temp dir)")
    ap.add_argument("--profile-top", type=int, default=15)
    ap.add_argument("--profile-call-graph", default="fp", metavar="MODE",
                    help="perf's --call-graph: fp (-g) or dwarf (callers inside a build without frame pointers)")
    ap.add_argument("--wait-quiet", type=float, default=600, metavar="SECONDS",
                    help="before each run, wait up to this long for other heavy processes to end")
    ap.add_argument("--retry-disturbed", type=int, default=2, metavar="N",
                    help="run again (up to N times) a run during which another heavy process ran")
    ap.add_argument("--count-syscalls", action="store_true",
                    help="count the server's system calls per request (perf stat on a tracepoint)")
    ap.add_argument("--check-targets", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--from-json", metavar="FILE", help="print the table of an earlier --json-out")
    args = ap.parse_args()
    if args.from_json:
        with open(args.from_json) as f:
            print_result(json.load(f))
        return 0
    if args.quick:
        args.rounds, args.duration = 1, 1

    self_test()
    for path, what in ((args.httpd, "--httpd"), (args.baseline, "--baseline")):
        if not path or not os.access(path, os.X_OK):
            ap.error(f"{what}: not an executable: {path}")
    modes = [m for m in args.modes.split(",") if m]
    servers = [Server(f"reef-{b}", "reef", b) for b in args.backends.split(",") if b]
    try:
        peer = seastar_peer.find(args.seastar_dir)
        args.seastar_httpd = peer.app("httpd") if peer else None
    except seastar_peer.PeerError as e:
        ap.error(f"--seastar-dir: {e}")
    if peer:
        log(f"Seastar {peer.version()}: {args.seastar_httpd}")
        servers += [Server(f"seastar-{b}", "seastar", b) for b in args.seastar_backends.split(",") if b]
    if os.access(args.nginx, os.X_OK):
        servers.append(Server("nginx", "nginx"))
        servers.append(Server("nginx-return", "nginx-return"))
    else:
        log(f"nginx not found ({args.nginx}): left out")
    servers.append(Server("baseline", "baseline"))
    if args.servers:
        wanted = set(args.servers.split(","))
        servers = [s for s in servers if s.name in wanted]

    ours = {os.getpid()}
    running = []

    def on_signal(sig, _frame):
        for s in running:
            s.stop()
        sys.exit(128 + sig)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    if args.check_only:
        failed = 0
        for s in servers:
            try:
                running.append(s)
                s.start(args)
                check_answers(s, args.depth)
                print(f"ok {s.name}: GET / and {args.depth} pipelined answered {s.expected_body.decode()!r} "
                      f"({s.response_bytes} bytes a response)")
            except (RuntimeError, OSError, ValueError) as e:
                failed += 1
                print(f"FAILED {s.name}: {e}")
            finally:
                status = s.stop()
                running.remove(s)
                if status not in (0, None, -signal.SIGTERM):
                    log(f"{s.name} exited with status {status} after SIGTERM: {s.log_tail()[-500:]}")
        print(f"{len(servers) - failed} passed, {failed} failed")
        return 1 if failed else 0

    result = seastar_peer.result_start(HERE, machine_summary())
    result.update({"settings": {
                  k: getattr(args, k) for k in ("rounds", "duration", "connections", "threads", "depth",
                                                "server_cpu", "client_cpu", "backends", "modes",
                                                "seastar_backends")},
              "seastar": {"dir": peer.dir, "version": peer.version(), "httpd": args.seastar_httpd} if peer else None})
    busy = heavy_processes(ours)
    if busy:
        log(f"other heavy processes are running: {', '.join(busy)} (runs will be marked disturbed)")

    if not args.profile_only:
        for rnd in range(args.rounds):
            order = servers if rnd % 2 == 0 else list(reversed(servers))
            for s in order:
                running.append(s)
                try:
                    s.start(args)
                    ours.add(s.proc.pid)
                    check_answers(s, args.depth)
                    for mode in modes:
                        for attempt in range(args.retry_disturbed + 1):
                            wait_quiet(ours, args.wait_quiet)
                            r = run_load(args, s, mode, ours)
                            if not r["other_heavy_processes"] or attempt == args.retry_disturbed:
                                break
                            log(f"{s.name} {mode}: disturbed by {' '.join(r['other_heavy_processes'])}: again")
                        r["round"] = rnd
                        r["attempts"] = attempt + 1
                        result["runs"].append(r)
                        log(f"round {rnd + 1}/{args.rounds} {s.name:14} {mode:9} "
                            f"{r['req_per_s']:12,.0f} req/s  p99 {r['p99_ms'] or 0:7.2f} ms  "
                            f"server cpu {r['server_cpu']:4.0%}  wrk cpu {r['wrk_cpu']:4.0%}"
                            + (f"  others: {' '.join(r['other_heavy_processes'])}"
                               if r["other_heavy_processes"] else ""))
                finally:
                    status = s.stop()
                    running.remove(s)
                    if status not in (0, None, -signal.SIGTERM):
                        log(f"{s.name} exited with status {status} after SIGTERM: {s.log_tail()[-500:]}")
        result["summary"] = summarize(result["runs"], servers, modes, args.rounds)
        result["targets"] = targets(result["summary"])
    if args.profile:
        result["profile"] = profile(args, args.profile, ours)
    seastar_peer.emit_result(result, args.json, args.json_out, print_result)
    if args.check_targets and any(not t["met"] for t in result.get("targets", [])):
        return 1
    return 0


def print_result(result):
    """The table (and the profile's top entries) of a result, from a run or --from-json."""
    m = result["machine"]
    print(f"commit {result['commit']}; date (UTC) {result['date_utc']}; load average at start "
          f"{result['loadavg_start'][0]:.2f}, at end {result['loadavg_end'][0]:.2f}; "
          f"{m.get('Model name', '?')}, {m.get('nproc')} cpus, kernel {m['kernel']}")
    if "summary" in result:
        summary = summarize_again(result)
        print_table(summary, targets(summary), result["settings"])
    if "profile" in result:
        pr = result["profile"]
        print(f"\nprofile: httpd --reactor-backend {pr['backend']}, pipelined, "
              f"{pr['req_per_s']:,.0f} req/s under perf; {pr['report']}")
        for line in pr["top"]:
            print("  " + line)


def summarize_again(result):
    """The summary of result["runs"] (so that an older JSON gets today's columns)."""
    names = []
    for r in result["runs"]:
        if r["server"] not in names:
            names.append(r["server"])
    servers = [Server(n, "") for n in names]
    modes = [m for m in result["settings"]["modes"].split(",") if m]
    return summarize(result["runs"], servers, modes, result["settings"]["rounds"])


if __name__ == "__main__":
    sys.exit(main())
