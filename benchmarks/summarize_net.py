#!/usr/bin/env python3
"""Summarizes several `net_bench --json` runs as the Markdown tables of docs/performance.md.

    benchmarks/summarize_net.py [--max-other-cpu PCT] run1.json run2.json run3.json

The rounds of all runs are pooled. A round counts only when other processes used at most
PCT % of a CPU (default 25) during its measured window (net_bench records this per window
as other_cpu_pct); when no round of a case and server qualifies, all of them count and the
figure is marked with *. Each figure is the median over the counted rounds; each ratio the
median over the rounds counted for both sides of (Reef / baseline) measured in the same
round, for every C baseline in the runs (c-epoll-spin, c-epoll), and the interquartile
range of those ratios for the first metric of each case (to the first baseline).

Runs of benchmarks/net_bench_peers.py --seastar-dir also hold seastar-<backend> rows
(Seastar's echo server on its backends): they are shown like Reef's, over the baselines,
and a third table puts each Reef backend over Seastar on the same backend (aio against
linux-aio) and over Seastar's best backend in the same round (the one with the most round
trips or MB/s, or the lowest latency, in that round), with the range of those per-round
ratios.
"""
import json
import statistics
import sys

LABELS = {
    "round_trips_per_s": "round trips/s",
    "mb_per_s": "MB/s echoed",
    "p50_us": "p50 latency (µs)",
    "p99_us": "p99 latency (µs)",
    "server_cpu_pct": "server CPU %",
}
BASELINES = ["c-epoll-spin", "c-epoll"]
HIGHER_IS_BETTER = {"round_trips_per_s", "mb_per_s"}


def seastar_backend(reef_server):
    """The Seastar server on the backend of a reef-<backend> row (aio is linux-aio there)."""
    b = reef_server[len("reef-"):]
    return "seastar-" + ("linux-aio" if b == "aio" else b)


def pretty(v):
    if v >= 10000:
        return f"{v:,.0f}"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def main(args):
    limit = 25.0
    if args[:1] == ["--max-other-cpu"]:
        limit = float(args[1])
        args = args[2:]
    runs = [json.load(open(p)) for p in args]
    servers = [s["name"] for s in runs[0]["servers"]]
    reef = [s for s in servers if s.startswith("reef-")]
    seastar = [s for s in servers if s.startswith("seastar-")]
    bases = [b for b in BASELINES if b in servers]
    cases, metrics = [], {}
    # rounds[(case, server)]: every round of every run, in order (runs concatenated)
    rounds = {}
    for run in runs:
        for r in run["results"]:
            if r["case"] not in cases:
                cases.append(r["case"])
                metrics[r["case"]] = [m for m in r["median"] if m in LABELS]
            rounds.setdefault((r["case"], r["server"]), []).extend(r["rounds"])

    def quiet(x):
        return x.get("ok") and x.get("other_cpu_pct", 0) <= limit

    def counted(case, server):
        rs = rounds[(case, server)]
        q = [x for x in rs if quiet(x)]
        return (q, False) if q else ([x for x in rs if x.get("ok")], True)

    def ratio(case, a, b, m):
        ra, rb = rounds[(case, a)], rounds[(case, b)]
        pairs = [(x, y) for x, y in zip(ra, rb) if x.get("ok") and y.get("ok") and y.get(m)]
        q = [(x, y) for x, y in pairs if quiet(x) and quiet(y)]
        use, marked = (q, False) if q else (pairs, True)
        if not use:
            return "–"
        return f"{statistics.median(x[m] / y[m] for x, y in use):.2f}" + ("*" if marked else "")

    print("| case | metric | " + " | ".join(f"`{s}`" for s in servers) + " |")
    print("|---|---|" + "---:|" * len(servers))
    for c in cases:
        for i, m in enumerate(metrics[c]):
            cells = []
            for s in servers:
                use, marked = counted(c, s)
                cells.append(pretty(statistics.median(x[m] for x in use)) + ("*" if marked else "") if use else "–")
            print(f"| {'`' + c + '`' if i == 0 else ''} | {LABELS[m]} | " + " | ".join(cells) + " |")
    print()
    cols = [(s, b) for b in bases for s in reef + seastar]
    print("| case | metric | " + " | ".join(f"{s.replace('reef-', '')} / {b}" for s, b in cols) + " |")
    print("|---|---|" + "---:|" * len(cols))
    for c in cases:
        for i, m in enumerate(x for x in metrics[c] if x != "server_cpu_pct"):
            cells = [ratio(c, s, b, m) for s, b in cols]
            print(f"| {'`' + c + '`' if i == 0 else ''} | {LABELS[m]} | " + " | ".join(cells) + " |")
    print()
    if seastar:
        print_against_seastar(cases, metrics, reef, seastar, rounds, quiet)
    for c in cases:
        m = metrics[c][0]
        spans = []
        for s in reef:
            ra, rb = rounds[(c, s)], rounds[(c, bases[0])] if bases else []
            vals = sorted(x[m] / y[m] for x, y in zip(ra, rb) if quiet(x) and quiet(y) and y.get(m))
            if len(vals) >= 2:
                q = statistics.quantiles(vals, n=4)
                spans.append(f"{s[5:]} {q[0]:.2f}–{q[2]:.2f}")
        if spans:
            print(f"- `{c}`: interquartile range of the same-round {LABELS[m]} ratios to {bases[0]}: " +
                  ", ".join(spans))
    for c in cases:
        used = ", ".join(
            f"{s} {len(counted(c, s)[0])}/{len(rounds[(c, s)])}" for s in servers)
        print(f"- `{c}`: rounds counted (other processes ≤ {limit:g} % of a CPU): {used}")
    for run, p in zip(runs, args):
        la = run.get("load_average", {})
        print(f"- {p}: {run['date']}, load average before {la.get('before')}, after {la.get('after')}; "
              f"{run.get('noise', '')}")


def print_against_seastar(cases, metrics, reef, seastar, rounds, quiet):
    """Reef's backends over Seastar's same backend and over its best backend of each round:
    median of the per-round ratios (range)."""
    def per_round(case, a, m, refs, counts):
        out = []
        columns = [rounds[(case, a)]] + [rounds[(case, r)] for r in refs]
        for xs in zip(*columns):
            x, ys = xs[0], [y for y in xs[1:] if y.get("ok") and y.get(m) and counts(y)]
            if not (x.get("ok") and counts(x)) or not ys:
                continue
            best = max(ys, key=lambda y: y[m]) if m in HIGHER_IS_BETTER else min(ys, key=lambda y: y[m])
            out.append(x[m] / best[m])
        return out

    def cell(case, s, m, refs):
        vals, mark = per_round(case, s, m, refs, quiet), ""
        if not vals:  # no quiet round: every round, marked as for the other tables
            vals, mark = per_round(case, s, m, refs, lambda _: True), "*"
        if not vals:
            return "–"
        spread = f" ({min(vals):.2f}–{max(vals):.2f})" if len(vals) > 1 else ""
        return f"{statistics.median(vals):.2f}{mark}{spread}"

    cols = []
    for s in reef:
        if seastar_backend(s) in seastar:
            cols.append((f"{s[5:]} / {seastar_backend(s)}", s, [seastar_backend(s)]))
    for s in reef:
        cols.append((f"{s[5:]} / best Seastar", s, seastar))
    print("| case | metric | " + " | ".join(t for t, _, _ in cols) + " |")
    print("|---|---|" + "---:|" * len(cols))
    for c in cases:
        for i, m in enumerate(metrics[c]):
            cells = [cell(c, s, m, refs) for _, s, refs in cols]
            print(f"| {'`' + c + '`' if i == 0 else ''} | {LABELS[m]} | " + " | ".join(cells) + " |")
    print()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
