#!/usr/bin/env bash
# An idle reactor must cost (almost) no CPU: runs hello_shards idle for 10 s on 2
# shards, once per backend given, under /usr/bin/time, and fails if the process used
# 1% of one core or more (0.1 s of CPU over 10 s).
# Usage: idle_cpu.sh HELLO_SHARDS_BINARY BACKEND...
set -euo pipefail
bin=$1
shift
seconds=10
status=0
for backend in "$@"; do
    out=$(mktemp)
    /usr/bin/time -f '%U %S' -o "$out" "$bin" --smp 2 --overprovisioned --reactor-backend "$backend" \
        --stay-seconds "$seconds" > /dev/null
    read -r user sys < "$out"
    rm -f "$out"
    pct=$(awk -v u="$user" -v s="$sys" -v t="$seconds" 'BEGIN { printf "%.3f", (u + s) / t * 100 }')
    if awk -v p="$pct" 'BEGIN { exit !(p < 1.0) }'; then
        echo "ok: $backend: idle for ${seconds}s used ${user}s user + ${sys}s system = ${pct}% of a core"
    else
        echo "FAIL: $backend: idle for ${seconds}s used ${user}s user + ${sys}s system = ${pct}% of a core (limit 1%)"
        status=1
    fi
done
exit $status
