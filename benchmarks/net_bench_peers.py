#!/usr/bin/env python3
"""net_bench with Seastar beside Reef: builds the Seastar echo server, then runs net_bench.

    benchmarks/net_bench_peers.py --net-bench build/benchmarks/net_bench \\
        --seastar-dir SEASTAR_BUILD [net_bench options...]

compiles benchmarks/peers/seastar_echo.cc (the Seastar counterpart of
net_bench_echo_server.cc: read, write, flush until the peer closes) against the Seastar
build's seastar.pc (benchmarks/peers/seastar_peer.py; reused while unchanged) and runs
net_bench with `--seastar-server PROGRAM`, so that seastar-epoll, seastar-io_uring and
seastar-linux-aio (--seastar-backends) run in the same rounds as Reef's server on each
backend and the C baselines: the same cases, the same pinning (server on --server-cpu, the
load generator on --client-cpu), a fresh process per case, the order reversed every other
turn. Seastar's server gets `--smp 1 --cpuset N --reactor-backend B --port 0 --memory 1G`
(its default idle polling, 200 µs, is Reef's too).

The table gains "ss-B / base" columns (Seastar over the baseline) and "B / ss" columns
(Reef's backend B over Seastar's same backend; aio against linux-aio), each the median of
the per-round ratios; the JSON (--json, or --json-out FILE) gains the seastar-* rows and,
on each Reef row, ratio_to_seastar. benchmarks/summarize_net.py turns several JSON runs
into tables, including Reef over Seastar's best backend in each round.

Without --seastar-dir (or REEF_SEASTAR_DIR) net_bench runs as it does alone. Any other
option goes to net_bench unchanged (--rounds, --cases, --servers, --json, ...).
"""

import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "peers"))
import seastar_peer  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="other options are passed to net_bench")
    ap.add_argument("--net-bench", required=True, help="build/benchmarks/net_bench")
    ap.add_argument("--json-out", metavar="FILE", help="run net_bench with --json and also write it to FILE")
    seastar_peer.add_argument(ap)
    args, rest = ap.parse_known_args()
    cmd = [args.net_bench] + rest
    peer = seastar_peer.find(args.seastar_dir)
    if peer:
        print(f"net_bench_peers: Seastar {peer.version()} from {peer.dir}, compiling seastar_echo.cc",
              file=sys.stderr, flush=True)
        cmd += ["--seastar-server", peer.compile("seastar_echo.cc")]
    if args.json_out:
        if "--json" not in cmd:
            cmd.append("--json")
        p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        with open(args.json_out, "w") as f:
            f.write(p.stdout)
        sys.stdout.write(p.stdout)
        return p.returncode
    return subprocess.run(cmd).returncode


if __name__ == "__main__":
    sys.exit(main())
