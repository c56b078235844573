#!/usr/bin/env python3
"""Combines several JSON runs of a benchmark program into one Markdown table.

Each row gives the median over the runs of the per-run median ns/op, the median of the
per-run MADs and the range of the run medians, the (deterministic) allocation and task
counts, the ratio to a floor benchmark measured in the same runs (median of the per-run
ratios), and a reference figure when one is known, with its ratio to the floor quoted
beside it (--ref-floor).

usage: benchmarks/summarize.py [--floor NAME] [--refs core] RUN.json [RUN.json ...]
"""

import argparse
import json
import statistics
import sys

# Seastar 25.05 figures from /work/shared/design/ANCHORS.md ("Core micro-costs"):
# measured on this machine type on 2026-11-26 with Seastar's perf tests, 1 shard.
# name -> (ns per op, allocations per op, what Seastar measured)
SEASTAR_CORE = {
    "core/coro_call_co_return": (20.1, 1, "coroutine call + co_return"),
    "core/co_await_ready_new_coro": (17.5, 1, "co_await a ready future (new coroutine)"),
    "core/maybe_yield_new_coro": (15.2, 1, "maybe_yield, not yielding"),
    "core/then_chain32_link": (47.9, 1.03, ".then() link, 32-deep chain"),
    "core/co_await_chain32_link": (53.1, 1.06, "co_await link of such a chain"),
    "core/as_future_chain32_link": (75.4, 1.06, "same, as_future"),
    "core/then_chain32_exception_link": (52.7, 1.06, ".then() link propagating an exception"),
    "core/exception_rethrow_level": (2537, 2.1, "co_await link propagating (rethrow)"),
    "core/exception_as_future_level": (94.8, 1.09, "same, as_future (no rethrow)"),
    "core/parallel_for_each_100_ready": (2.8, 0, "parallel_for_each, 100 ready"),
    "core/parallel_for_each_future_100_ready": (2.8, 0, "parallel_for_each, 100 ready"),
    "core/parallel_for_each_100_suspending": (32.5, 1.03, "parallel_for_each, 100 suspending"),
    "core/parallel_for_each_future_100_suspending": (32.5, 1.03, "parallel_for_each, 100 suspending"),
}
REFS = {"core": SEASTAR_CORE, "none": {}}


def fmt_ns(v):
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def fmt_count(v):
    s = f"{v:.3f}".rstrip("0").rstrip(".")
    return s if s else "0"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--floor", default="core/floor_eager_call", help="benchmark the ratios are taken to")
    ap.add_argument("--refs", default="core", choices=sorted(REFS), help="reference figures to show")
    ap.add_argument("--ref-floor", type=float, default=9.3,
                    help="the floor quoted with the reference figures (ns), for their ratio column")
    ap.add_argument("runs", nargs="+", help="JSON files written by a benchmark program with --json")
    args = ap.parse_args()

    runs = []
    for path in args.runs:
        with open(path) as f:
            runs.append(json.load(f))
    refs = REFS[args.refs]

    by_name = {}  # name -> list of result objects, one per run
    order = []
    for run in runs:
        for r in run["results"]:
            if r["name"] not in by_name:
                by_name[r["name"]] = []
                order.append(r["name"])
            by_name[r["name"]].append(r)

    floors = []
    for run in runs:
        f = [r for r in run["results"] if r["name"] == args.floor]
        floors.append(f[0]["median_ns"] if f else None)

    first = runs[0]
    m = first["machine"]
    print(f"<!-- {len(runs)} runs; {m['cpu_model']}, {m['nproc']} CPUs, {m['kernel']}; "
          f"{first['compiler']}, {first['build_type']}; commit {first.get('git_commit')} -->")
    print("| benchmark | median ns/op | MAD | run medians | allocs/op | tasks/op | x floor "
          "| Seastar ns/op (allocs) | Seastar x its floor | ours / Seastar |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in order:
        rs = by_name[name]
        medians = [r["median_ns"] for r in rs]
        med = statistics.median(medians)
        mad = statistics.median(r["mad_ns"] for r in rs)
        lo, hi = min(medians), max(medians)
        allocs = statistics.median(r["allocs_per_op"] for r in rs)
        tasks = statistics.median(r["tasks_per_op"] for r in rs)
        ratios = []
        for run, floor in zip(runs, floors):
            mine = [r for r in run["results"] if r["name"] == name]
            if mine and floor:
                ratios.append(mine[0]["median_ns"] / floor)
        ratio = f"{statistics.median(ratios):.2f}" if ratios else "-"
        ref = refs.get(name)
        ref_cell = f"{fmt_ns(ref[0])} ({fmt_count(ref[1])})" if ref else ""
        vs = f"{med / ref[0]:.2f}" if ref else ""
        ref_ratio = f"{ref[0] / args.ref_floor:.2f}" if ref else ""
        print(f"| `{name}` | {fmt_ns(med)} | {fmt_ns(mad)} | {fmt_ns(lo)}–{fmt_ns(hi)} | {fmt_count(allocs)} "
              f"| {fmt_count(tasks)} | {ratio} | {ref_cell} | {ref_ratio} | {vs} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
