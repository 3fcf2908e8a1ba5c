#!/usr/bin/env python3
"""Summarises a bench/scale.sh run (stdlib only); prints markdown.

Arguments (from scale.sh): OUT PASS_START_MS PASS_END_MS SESSIONS MEM0 MEM_FULL MEM_AFTER
XLEN0 XLEN1 EXPIRED_EVENTS LOG0 LOG1
"""

import csv
import json
import re
import sys
from pathlib import Path


def percentile(sorted_values, p):
    if not sorted_values:
        return 0.0
    i = round((len(sorted_values) - 1) * p)
    return sorted_values[i]


def window(rows, lo, hi):
    lat = sorted(r[1] for r in rows if lo <= r[0] < hi and r[2] == "ok")
    errors = sum(1 for r in rows if lo <= r[0] < hi and r[2] == "error")
    skipped = sum(r[1] for r in rows if lo <= r[0] < hi and r[2] == "skipped")
    seconds = max((hi - lo) / 1000.0, 0.001)
    return {
        "seconds": seconds,
        "rps": len(lat) / seconds,
        "p50": percentile(lat, 0.5) / 1000.0,
        "p99": percentile(lat, 0.99) / 1000.0,
        "max": (lat[-1] / 1000.0) if lat else 0.0,
        "errors": errors,
        "skipped": skipped,
    }


def worst_second_p99(rows, lo, hi):
    by_second = {}
    for t, lat, outcome in rows:
        if lo <= t < hi and outcome == "ok":
            by_second.setdefault(t // 1000, []).append(lat)
    return max((percentile(sorted(v), 0.99) for v in by_second.values()), default=0) / 1000.0


def shape(key):
    """A key with its ids replaced, e.g. sdb:{12}:u:ab12… -> sdb:{*}:u:*."""
    key = re.sub(r"\{[^}]*\}", "{*}", key)
    return re.sub(r"(:[a-z])?:[A-Za-z0-9_-]{8,}", lambda m: (m.group(1) or "") + ":*", key)


def main():
    out = Path(sys.argv[1])
    pass_start, pass_end, sessions = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    mem0, mem_full, mem_after = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
    xlen0, xlen1, expired = int(sys.argv[8]), int(sys.argv[9]), int(sys.argv[10])
    log0, log1 = int(sys.argv[11]), int(sys.argv[12])

    rows = []
    with open(out / "reads.csv") as f:
        for r in csv.DictReader(f):
            rows.append((int(r["unix_ms"]), int(r["latency_us"]), r["outcome"]))
    first = min(r[0] for r in rows)
    last = max(r[0] for r in rows)
    before = window(rows, first + 5000, pass_start)
    during = window(rows, pass_start, pass_end)
    after = window(rows, pass_end, last - 1000)
    cleanup = json.loads((out / "cleanup.json").read_text())

    print(f"## Cleanup pass: {sessions} logins ending at once, paced reads\n")
    print("| window | seconds | reads/s | p50 ms | p99 ms | max ms | errors | skipped ticks |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, w in (("before the pass", before), ("during the pass", during), ("after the pass", after)):
        print(
            f"| {name} | {w['seconds']:.0f} | {w['rps']:.0f} | {w['p50']:.2f} | {w['p99']:.2f} "
            f"| {w['max']:.1f} | {w['errors']} | {w['skipped']} |"
        )
    print(f"\nWorst one-second p99 during the pass: {worst_second_p99(rows, pass_start, pass_end):.2f} ms.")
    print(
        f"\nPass (`sessiondb cleanup`): removed {cleanup['removed']}, visited {cleanup['users_visited']} users, "
        f"{cleanup['duration_ms'] / 1000:.1f} s (process wall time {(pass_end - pass_start) / 1000:.1f} s)."
    )

    slowlog = json.loads((out / "slowlog.json").read_text())
    groups = {}
    for entry in slowlog:
        ts, micros, args = entry[1], entry[2], entry[3]
        if not (pass_start // 1000 - 1 <= ts <= pass_end // 1000 + 1):
            continue
        name = args[0].upper()
        if name in ("EVALSHA", "EVALSHA_RO", "EVAL", "EVAL_RO", "FCALL", "FCALL_RO") and len(args) > 3:
            script = args[1][:10] if name.startswith("EVAL") else args[1].split("_", 2)[-1]
            name = f"{name} {script} {shape(args[3])}"
        g = groups.setdefault(name, [0, 0, 0])
        g[0] += 1
        g[1] += micros
        g[2] = max(g[2], micros)
    print("\nRedis calls of 50 µs or more during the pass (SLOWLOG):\n")
    print("| call (script sha or function, first key) | calls ≥ 50 µs | their total ms | max µs |")
    print("|---|---:|---:|---:|")
    for name, (n, total, mx) in sorted(groups.items(), key=lambda kv: -kv[1][1])[:6]:
        print(f"| `{name}` | {n} | {total / 1000:.0f} | {mx} |")

    print(
        f"\nEvents: stream grew by {xlen1 - xlen0} entries; `expired` events in the stream: {expired}; "
        f"logins removed by the pass: {cleanup['removed']}."
    )
    print(
        f"\nRedis used_memory: {mem0} B empty, {mem_full} B with the logins, {mem_after} B after the pass "
        f"(the event stream holds the {expired} `expired` events)."
    )

    print("\n## Tombstones\n")
    print("```")
    print((out / "tombstones.txt").read_text().rstrip())
    print("```")

    if not (out / "churn.txt").exists():
        return
    print("\n## Churn\n")
    print((out / "churn.txt").read_text().strip())
    print("\n| second | Redis used_memory | keys | server RSS KiB |")
    print("|---:|---:|---:|---:|")
    with open(out / "churn-memory.csv") as f:
        for r in csv.DictReader(f):
            print(f"| {r['second']} | {r['used_memory']} | {r['keys']} | {r['server_rss_kib']} |")
    requests = 0
    for line in (out / "churn-metrics.txt").read_text().splitlines():
        if line.startswith("sessiondb_http_requests_total{"):
            requests += int(float(line.rsplit(" ", 1)[1]))
    log_bytes = log1 - log0
    per_million = log_bytes * 1_000_000 / requests if requests else 0
    print(
        f"\nLog at the default level: {log_bytes} bytes for {requests} requests "
        f"= {per_million:.0f} bytes per million requests."
    )


if __name__ == "__main__":
    main()
