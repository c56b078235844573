#!/usr/bin/env python3
"""Cross-shard calls, Reef against Seastar in the same session: reactor_bench's submit_to rows
beside the same rows on Seastar, and Seastar's own smp_submit_to perf test.

    benchmarks/reactor_vs_seastar.py --reactor-bench build/benchmarks/reactor_bench \\
        --seastar-dir SEASTAR_BUILD [--rounds 3] [--json-out FILE]

Each round runs, in turn (the order reversed every other round), on two shards pinned to
cpus 0 and 1 (both runtimes pin their shards that way):
    reef-B          reactor_bench --filter submit_to --reactor-backend B  (B: --backends)
    seastar-B       benchmarks/peers/seastar_smp_bench.cc, compiled here with seastar.pc
                    (seastar_peer.compile()), --smp 2 --reactor-backend B (--seastar-backends)
    seastar-perf-B  Seastar's tests/perf/smp_submit_to_perf --smp 2 --concurrency 1 and 64
and each in two variants: "polling" (the defaults: an idle shard polls for 200 µs before
it sleeps, on both) and "sleeping" (--idle-poll-time-us 0 on both: the idle target sleeps
at once, so each call pays a wake-up). The rows:
    reactor/submit_to_round_trip    one call at a time to an idle shard (ns per round trip)
    reactor/submit_to_64_in_flight  64 in flight (ns per message)
    reactor/submit_to_busy_target   one at a time to a shard running CPU-bound tasks that
                                    yield only at the end of the task quota
    smp_submit_to_perf/concurrency_1, _64
                                    Seastar's perf test: shard 1 submits to shard 0 while
                                    shard 0 also submits to itself in a loop, so its target
                                    is always busy: the counterpart of the busy-target row,
                                    not of the idle round trip (ns per op = 1e9 / op/s)

The table gives per variant and row the median over the rounds of each side's median ns,
and the ratios Reef / Seastar (below 1: Reef is faster) against Seastar's best backend of
the same round and against Seastar on the same backend (Reef's aio against linux-aio),
each the median of the per-round ratios with their range. --json prints the same as one
JSON object (machine, commit, date_utc, loadavg, settings, seastar, runs, summary: the shape
of http_bench.py's). Without --seastar-dir only Reef's rows run.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "peers"))
import seastar_peer  # noqa: E402

VARIANTS = {"polling": [], "sleeping": ["--idle-poll-time-us", "0"]}
PERF_CONCURRENCY = (1, 64)


def log(msg):
    print(f"reactor_vs_seastar: {msg}", file=sys.stderr, flush=True)


def seastar_backend_of(reef_backend):
    return "linux-aio" if reef_backend == "aio" else reef_backend


def run_json(cmd, timeout):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited with {p.returncode}: {p.stderr.strip()[-600:]}")
    start = p.stdout.index("{")
    return json.loads(p.stdout[start:])


def run_perf(program, backend, concurrency, variant_args, duration):
    cmd = [program, "--smp", "2", "--reactor-backend", backend, "--memory", "1G", "--duration",
           str(duration), "--concurrency", str(concurrency)] + variant_args
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    m = re.search(r"workers\(\s*\d+\): min [\d.]+ avg ([\d.]+) max [\d.]+ op/s", p.stdout)
    if p.returncode != 0 or not m or float(m.group(1)) <= 0:
        raise RuntimeError(f"{' '.join(cmd)}: no workers line (exit {p.returncode}): "
                           f"{(p.stdout + p.stderr).strip()[-600:]}")
    ops = float(m.group(1))
    return {"name": f"smp_submit_to_perf/concurrency_{concurrency}", "median_ns": 1e9 / ops,
            "op_per_s": ops, "command": " ".join(cmd)}


def jobs(args, peer_programs):
    """Every (side, backend, variant) of a round, as (server name, variant, function)."""
    out = []
    for variant, vargs in VARIANTS.items():
        if variant not in args.variants:
            continue
        for b in args.backends:
            cmd = [args.reactor_bench, "--filter", "submit_to", "--json", "--reactor-backend", b,
                   "--reps", str(args.reps), "--min-time-ms", str(args.min_time_ms)] + vargs
            out.append((f"reef-{b}", variant, lambda cmd=cmd: run_json(cmd, 600)["results"]))
        if not peer_programs:
            continue
        bench, perf = peer_programs
        for b in args.seastar_backends:
            cmd = [bench, "--smp", "2", "--reactor-backend", b, "--memory", "1G", "--reps",
                   str(args.reps), "--min-time-ms", str(args.min_time_ms)] + vargs
            out.append((f"seastar-{b}", variant, lambda cmd=cmd: run_json(cmd, 600)["results"]))
            out.append((f"seastar-perf-{b}", variant,
                        lambda b=b, vargs=vargs: [run_perf(perf, b, c, vargs, args.perf_duration)
                                                  for c in PERF_CONCURRENCY]))
    return out


def summarize(runs, rounds):
    """Per variant and row: each server's median ns over rounds; Reef's per-round ratios to
    Seastar's best backend and to Seastar's same backend."""
    by = {}
    for r in runs:
        by.setdefault((r["variant"], r["row"], r["server"]), {})[r["round"]] = r["median_ns"]
    summary = {}
    for (variant, row, server), per in by.items():
        summary.setdefault(variant, {}).setdefault(row, {})[server] = {
            "median_ns": statistics.median(per.values()), "runs_ns": [per[k] for k in sorted(per)]}
    for variant, rows in summary.items():
        for row, servers in rows.items():
            seastar = [s for s in servers if s.startswith("seastar-") and not s.startswith("seastar-perf-")]
            for name, cell in servers.items():
                if not name.startswith("reef-") or not seastar:
                    continue
                same = "seastar-" + seastar_backend_of(name[len("reef-"):])
                best, same_r = [], []
                for rnd in range(rounds):
                    ours = by[(variant, row, name)].get(rnd)
                    theirs = {s: by[(variant, row, s)].get(rnd) for s in seastar}
                    theirs = {s: v for s, v in theirs.items() if v}
                    if not ours or not theirs:
                        continue
                    best.append(ours / min(theirs.values()))
                    if same in theirs:
                        same_r.append(ours / theirs[same])
                if best:
                    cell["x_seastar"], cell["x_seastar_per_round"] = statistics.median(best), best
                if same_r:
                    cell["x_seastar_same"], cell["x_seastar_same_per_round"] = statistics.median(same_r), same_r
    return summary


def fmt_ns(ns):
    return f"{ns / 1e3:,.1f} µs" if ns >= 10_000 else f"{ns:,.0f} ns"


def fmt_ratio(cell, key):
    if key not in cell:
        return ""
    per = cell[key + "_per_round"]
    return f"{cell[key]:.2f}" + (f" ({min(per):.2f}-{max(per):.2f})" if len(per) > 1 else "")


def print_result(result):
    m = result["machine"]
    ss = result.get("seastar")
    print(f"commit {result['commit']}; date (UTC) {result['date_utc']}; load average at start "
          f"{result['loadavg_start'][0]:.2f}, at end {result['loadavg_end'][0]:.2f}; {m['cpu_model']}, "
          f"{m['nproc']} cpus" + (f"; Seastar {ss['version']} ({ss['dir']})" if ss else ""))
    st = result["settings"]
    print(f"{st['rounds']} round(s); two shards on cpus 0 and 1; reactor_bench and seastar_smp_bench: "
          f"{st['reps']} reps of {st['min_time_ms']} ms; smp_submit_to_perf: {st['perf_duration']} s")
    for variant, rows in result["summary"].items():
        print(f"\n{variant} ({' '.join(VARIANTS[variant]) or 'default idle polling'})")
        print("| row | server | median | runs | x seastar (best backend) | x seastar same backend |")
        print("|---|---|---:|---|---:|---:|")
        for row, servers in rows.items():
            for i, (name, cell) in enumerate(servers.items()):
                runs = " / ".join(fmt_ns(x) for x in cell["runs_ns"])
                print(f"| {row if i == 0 else ''} | {name} | {fmt_ns(cell['median_ns'])} | {runs} | "
                      f"{fmt_ratio(cell, 'x_seastar')} | {fmt_ratio(cell, 'x_seastar_same')} |")
    print("\nratios: Reef's ns / Seastar's ns in the same round (below 1: Reef is faster); best backend: "
          "Seastar's fastest in that round. smp_submit_to_perf's target is always busy (it submits "
          "to itself in a loop): compare it with submit_to_busy_target.")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reactor-bench", help="build/benchmarks/reactor_bench")
    seastar_peer.add_argument(ap)
    ap.add_argument("--backends", default="io_uring,epoll,aio", help="Reef backends")
    ap.add_argument("--seastar-backends", default="io_uring,epoll,linux-aio", help="Seastar backends")
    ap.add_argument("--variants", default="polling,sleeping", help="polling, sleeping or both")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=15, help="repetitions per row (both benchmarks)")
    ap.add_argument("--min-time-ms", type=float, default=20, help="duration of one repetition")
    ap.add_argument("--perf-duration", type=int, default=5, help="seconds per smp_submit_to_perf run")
    ap.add_argument("--quick", action="store_true", help="1 round, 3 reps of 2 ms, 1 s perf runs")
    ap.add_argument("--json", action="store_true", help="print JSON instead of the table")
    ap.add_argument("--json-out", metavar="FILE", help="also write the JSON to FILE")
    ap.add_argument("--from-json", metavar="FILE", help="print the table of an earlier --json-out")
    args = ap.parse_args()
    if args.from_json:
        with open(args.from_json) as f:
            print_result(json.load(f))
        return 0
    if not args.reactor_bench or not os.access(args.reactor_bench, os.X_OK):
        ap.error(f"--reactor-bench: not an executable: {args.reactor_bench}")
    if args.quick:
        args.rounds, args.reps, args.min_time_ms, args.perf_duration = 1, 3, 2, 1
    args.backends = [b for b in args.backends.split(",") if b]
    args.seastar_backends = [b for b in args.seastar_backends.split(",") if b]
    args.variants = [v for v in args.variants.split(",") if v]
    if any(v not in VARIANTS for v in args.variants):
        ap.error(f"--variants: one of {', '.join(VARIANTS)}")
    try:
        peer = seastar_peer.find(args.seastar_dir)
        programs = (peer.compile("seastar_smp_bench.cc"), peer.perf_test("smp_submit_to")) if peer else None
    except seastar_peer.PeerError as e:
        ap.error(f"--seastar-dir: {e}")

    result = seastar_peer.result_start(HERE, {"cpu_model": seastar_peer.cpu_model(), "nproc": os.cpu_count()})
    result.update({
        "settings": {k: getattr(args, k) for k in ("rounds", "reps", "min_time_ms", "perf_duration",
                                                   "backends", "seastar_backends", "variants")},
        "seastar": {"dir": peer.dir, "version": peer.version(), "programs": programs} if peer else None})
    todo = jobs(args, programs)
    for rnd in range(args.rounds):
        for server, variant, fn in (todo if rnd % 2 == 0 else list(reversed(todo))):
            load = os.getloadavg()[0]
            for row in fn():
                result["runs"].append({"round": rnd, "server": server, "variant": variant, "row": row["name"],
                                       "median_ns": row["median_ns"], "loadavg_before": load,
                                       "detail": {k: v for k, v in row.items() if k in (
                                           "min_ns", "max_ns", "rep_ns", "iterations", "op_per_s", "command")}})
                log(f"round {rnd + 1}/{args.rounds} {server:20} {variant:8} {row['name']:34} "
                    f"{fmt_ns(row['median_ns'])}")
    result["summary"] = summarize(result["runs"], args.rounds)
    seastar_peer.emit_result(result, args.json, args.json_out, print_result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
