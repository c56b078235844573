#!/usr/bin/env python3
"""Compiles every public header of every module on its own.

Each header under modules/*/include/ (detail/ included) becomes a translation unit
that includes only that header, compiled with -fsyntax-only and every module's
include/ directory on the path. A header that fails is not self-contained (or warns
under -Wall -Wextra): the check names it, prints the compiler's output and exits 1.
The slowest headers are listed with their times, since compile time is tracked.

usage: tools/check-headers.py [-j N] [--no-werror] [--tap] [SOURCE_ROOT [COMPILER ARGS...]]
The compiler defaults to $CXX, else clang++-16; Meson passes its own (cmd_array()).
"""

import argparse
import concurrent.futures
import os
import pathlib
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

HEADER_SUFFIXES = (".hh", ".h", ".hpp")


def find_compiler(requested):
    if requested:
        return list(requested)
    if os.environ.get("CXX"):
        return shlex.split(os.environ["CXX"])
    for name in ("clang++-16", "clang++"):
        if shutil.which(name):
            return [name]
    sys.exit("check-headers: no C++ compiler found (install clang-16 with tools/install-deps.sh)")


def main():
    ap = argparse.ArgumentParser(description="compile each public header on its own")
    ap.add_argument("root", nargs="?", default=str(pathlib.Path(__file__).resolve().parent.parent),
                    help="Reef source root (default: the checkout this script is in)")
    ap.add_argument("cxx", nargs=argparse.REMAINDER,
                    help="compiler command and its arguments (default: $CXX or clang++-16)")
    ap.add_argument("-j", "--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--no-werror", action="store_true", help="report warnings without failing")
    ap.add_argument("--tap", action="store_true", help="report in TAP, one test per header")
    ap.add_argument("--slowest", type=int, default=5, help="how many of the slowest headers to list")
    args = ap.parse_args()

    root = pathlib.Path(args.root).resolve()
    cxx = find_compiler(args.cxx)

    include_dirs = sorted(p for p in (root / "modules").glob("*/include") if p.is_dir())
    headers = []
    for inc in include_dirs:
        for h in sorted(inc.rglob("*")):
            if h.is_file() and h.suffix in HEADER_SUFFIXES:
                headers.append((inc, h))
    if not headers:
        print(f"check-headers: no headers found under {root}/modules/*/include", file=sys.stderr)
        return 1

    flags = ["-std=c++20", "-fsyntax-only", "-Wall", "-Wextra"]
    if not args.no_werror:
        flags.append("-Werror")
    flags += [f"-I{d}" for d in include_dirs]

    workdir = tempfile.mkdtemp(prefix="reef-check-headers-")

    def compile_one(item):
        inc, header = item
        rel = header.relative_to(inc).as_posix()
        tu = pathlib.Path(workdir) / (rel.replace("/", "__") + ".cc")
        tu.write_text(f"#include <{rel}>\n")
        start = time.monotonic()
        proc = subprocess.run(cxx + flags + [str(tu)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
        return rel, header, proc.returncode, proc.stdout, time.monotonic() - start

    # In TAP mode (for `meson test`), each header is one test; everything else is a
    # comment after the plan, so no comment can be mistaken for a test's name.
    tap = args.tap
    note = (lambda text: print("\n".join("# " + l for l in text.splitlines()) if text else "#")) if tap else print

    if not tap:
        print(f"check-headers: {len(headers)} headers, compiler: {' '.join(cxx)}, {args.jobs} jobs")
    results = []
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            for n, r in enumerate(pool.map(compile_one, headers), start=1):
                results.append(r)
                rel, header, rc, out, secs = r
                if tap:
                    print(f"{'ok' if rc == 0 else 'not ok'} {n} - <{rel}> compiles on its own ({secs:.2f}s)")
                else:
                    print(f"  {'ok  ' if rc == 0 else 'FAIL'} {secs:6.2f}s  {header.relative_to(root)}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if tap:
        print(f"1..{len(results)}")
        note(f"compiler: {' '.join(cxx)}, {args.jobs} jobs")

    failed = [r for r in results if r[2] != 0]
    warned = [r for r in results if r[2] == 0 and r[3].strip()]
    for rel, header, rc, out, secs in failed:
        note(f"\n=== {header.relative_to(root)} fails when compiled on its own (#include <{rel}>):")
        note(out.rstrip())
    for rel, header, rc, out, secs in warned:
        note(f"\n=== {header.relative_to(root)} compiles with warnings:")
        note(out.rstrip())

    slow = sorted(results, key=lambda r: r[4], reverse=True)[: args.slowest]
    note("\nslowest headers (syntax only):")
    for rel, header, rc, out, secs in slow:
        note(f"  {secs:6.2f}s  <{rel}>")
    total = sum(r[4] for r in results)
    note(f"total {total:.2f}s for {len(results)} headers; {len(failed)} failed")
    if failed:
        note("check-headers: FAILED: " + ", ".join(f"<{r[0]}>" for r in failed))
        return 1
    return 0

if __name__ == "__main__":
    sys.exit(main())
