#!/usr/bin/env python3
"""Combines JSON runs of a reactor-hosted benchmark program, taken on several backends,
into one Markdown table: per benchmark, the median over runs of the per-run median
ns/op for each backend, the allocation and task counts, and Seastar's figure where
ANCHORS.md has one.

usage: benchmarks/summarize_backends.py RUN.json [RUN.json ...]
"""

import json
import re
import statistics
import sys

# Seastar 25.05 on this machine type (ANCHORS.md, "Cross-shard messages"), ns per
# message: backend -> value. Measured with an idle target shard.
SEASTAR = {
    "reactor/submit_to_round_trip": {"epoll": 2187, "io_uring": 2098},
    "reactor/submit_to_64_in_flight": {"epoll": 156, "io_uring": 150},
}
ORDER = ["io_uring", "epoll", "aio"]


def fmt(v):
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def main(paths):
    per = {}  # name -> backend -> [median_ns]
    counts = {}
    backends = set()
    machine = None
    for p in paths:
        d = json.load(open(p))
        m = re.search(r"backend (\w+)", d.get("runner", ""))
        b = m.group(1) if m else "?"
        backends.add(b)
        machine = d["machine"]
        for r in d["results"]:
            per.setdefault(r["name"], {}).setdefault(b, []).append(r["median_ns"])
            counts.setdefault(r["name"], (r["allocs_per_op"], r["tasks_per_op"]))
    cols = [b for b in ORDER if b in backends] + sorted(backends - set(ORDER))
    print(f"<!-- {len(paths)} runs; {machine['cpu_model']}, {machine['nproc']} CPUs, {machine['kernel']} -->")
    head = "| benchmark | " + " | ".join(f"{b} ns/op" for b in cols) + " | allocs/op | tasks/op | Seastar ns/op (epoll / io_uring) |"
    print(head)
    print("|---|" + "---:|" * (len(cols) + 3))
    for name, byb in per.items():
        cells = [fmt(statistics.median(byb[b])) if b in byb else "" for b in cols]
        a, t = counts[name]
        ref = SEASTAR.get(name)
        refs = f"{ref['epoll']:,} / {ref['io_uring']:,}" if ref else ""
        print(f"| `{name}` | " + " | ".join(cells) + f" | {a:.3g} | {t:.3g} | {refs} |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1:])
