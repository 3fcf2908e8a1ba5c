#!/usr/bin/env python3
"""Second table of bench/run.sh: refresh and sign-out runs, Redis time per create, and
the ratios the performance targets are written in (stdlib only; prints markdown).

Arguments: OUT (the run's result folder, holding the harness's table.md and the
lifecycle-*.txt wrk outputs) and TOKENS (unused refresh tokens available to each run).
"""

import re
import sys
from pathlib import Path

TICK_US = 10_000  # /proc/<pid>/stat counts CPU time in 1/100 s


def wrk(path):
    text = path.read_text()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    total = int(re.search(r"(\d+) requests in", text).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)

    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    app, redis = (int(x) for x in re.search(r"^cpu (\d+) (\d+)$", text, re.M).groups())
    return {
        "rps": rps,
        "total": total,
        "p50": pct(50),
        "p99": pct(99),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "app_us": app * TICK_US / total,
        "redis_us": redis * TICK_US / total,
    }


def harness(path):
    rows = {}
    for line in path.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 11 and cells[0] in ("tower", "sessiondb", "express", "ceiling"):
            rows[(cells[0], cells[1].split()[0] + " " + cells[1].split()[1])] = {
                "rps": float(cells[2]),
                "p50": float(cells[3]),
                "p99": float(cells[4]),
                "app_cpu": float(cells[8]),
            }
    return rows


def commandstats(path):
    stats = {}
    for line in path.read_text().splitlines():
        m = re.match(r"cmdstat_([^:]+):calls=(\d+),usec=(\d+)", line)
        if m:
            stats[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    return stats


def main():
    out, tokens = Path(sys.argv[1]), int(sys.argv[2])
    runs = {name: wrk(out / f"lifecycle-{name}.txt") for name in ("create", "refresh", "revoke")}
    table = harness(out / "table.md") if (out / "table.md").exists() else {}
    stats = commandstats(out / "lifecycle-create-commandstats.txt")

    print("\n## Lifecycle routes (fresh Redis, wrk -t1 -c64, same shape as the harness)\n")
    print("| workload | req/s | p50 ms | p99 ms | non-2xx | app CPU µs/req | redis CPU µs/req |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    labels = {
        "create": "POST /v1/sessions (new user each)",
        "refresh": "POST /v1/sessions/refresh (unused token each)",
        "revoke": "POST /v1/refresh-tokens/revoke (sign-out)",
    }
    for name, r in runs.items():
        print(
            f"| {labels[name]} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['non2xx']} "
            f"| {r['app_us']:.1f} | {r['redis_us']:.1f} |"
        )
    for name in ("refresh", "revoke"):
        if runs[name]["total"] > tokens:
            print(f"\nNote: the {name} run sent {runs[name]['total']} requests for {tokens} tokens; "
                  "the surplus re-presented used tokens (non-2xx).")

    # Every command of the run's creates ran inside a function: the create function
    # itself and the batched appends of the `created` events (events_append), so FCALL's
    # time holds them all; nested commands are listed separately but already counted.
    fcall = stats.get("fcall", (0, 0))
    xadd = stats.get("xadd", (0, 0))
    creates = runs["create"]["total"]
    if fcall[0] and creates:
        print(
            f"\nRedis time per create (INFO commandstats over the create run): "
            f"{fcall[1] / creates:.1f} µs ({fcall[0]} function calls for {creates} creates: "
            f"the create function and the batched appends of the `created` events, of which "
            f"the events' XADDs {xadd[1] / creates:.1f} µs)."
        )

    tg, tc = table.get(("tower", "GET /me")), table.get(("tower", "POST /login"))
    sg, sc = table.get(("sessiondb", "GET /me")), table.get(("sessiondb", "POST /login"))
    if tg and tc and sg and sc:
        print("\n## Against the targets (ratios to tower-sessions in the same run)\n")
        print("| measure | sessiondb | tower | ratio |")
        print("|---|---:|---:|---:|")
        print(f"| read req/s | {sg['rps']:.0f} | {tg['rps']:.0f} | {sg['rps'] / tg['rps']:.2f}× |")
        print(f"| create req/s | {sc['rps']:.0f} | {tc['rps']:.0f} | {sc['rps'] / tc['rps']:.2f}× |")
        # Only answered refreshes and sign-outs count: a request that re-presented a used
        # token (the token supply ran out) did not do the work being measured.
        for name in ("refresh", "revoke"):
            r = runs[name]
            ok = r["rps"] * (r["total"] - r["non2xx"]) / r["total"]
            print(f"| {name} 2xx/s vs tower create | {ok:.0f} | {tc['rps']:.0f} | {ok / tc['rps']:.2f}× |")
        print(f"\np99 at 64 connections: read {sg['p99']:.2f} ms, create {sc['p99']:.2f} ms.")
        print(
            f"sessiondb CPU per read: {sg['app_cpu'] / 100 / sg['rps'] * 1e6:.1f} µs "
            f"(app CPU {sg['app_cpu']:.0f} % of one core at {sg['rps']:.0f} req/s); "
            f"tower: {tg['app_cpu'] / 100 / tg['rps'] * 1e6:.1f} µs."
        )
    rows = row_steal(out)
    if rows:
        print("\nCPU stolen during each measured row of the harness (both CPUs; a row that lost "
              "more than a second or two is not comparable with quiet ones):\n")
        print("| peer | workload | steal s |")
        print("|---|---|---:|")
        for peer, workload, secs in rows:
            print(f"| {peer} | {workload} | {secs:.1f} |")
    hz, steal = read_steal(out / "steal.txt")
    if steal:
        parts = [f"{STEAL_PARTS.get(name, name)} {t / hz:.1f} s" for name, t in steal.items()]
        print(
            "\nCPU the host took from this machine while measuring (steal in /proc/stat, "
            f"both CPUs): {', '.join(parts)}."
        )


STEAL_PARTS = {"harness": "the harness (every peer)", "revoke": "sign-out"}


def row_steal(out):
    """Seconds stolen during each measured row of the harness: its log says when each
    row's measurement started ("[bench HH:MM:SS] peer / workload: measuring 10s") and the
    timeline holds the steal counter once a second (epoch seconds, ticks)."""
    log, timeline = out / "harness.log", out / "steal-timeline.txt"
    if not (log.exists() and timeline.exists()):
        return []
    samples = [tuple(int(x) for x in line.split()) for line in timeline.read_text().splitlines()
               if len(line.split()) == 2]
    if not samples:
        return []
    day = samples[0][0] - samples[0][0] % 86400
    hz, _ = read_steal(out / "steal.txt")
    rows = []
    pattern = r"\[bench (\d\d):(\d\d):(\d\d)\] (\S+) / (.+?): measuring (\d+)s"
    for m in re.finditer(pattern, log.read_text()):
        h, mi, sec, peer, workload, duration = m.groups()
        start = day + int(h) * 3600 + int(mi) * 60 + int(sec)
        if start < samples[0][0] - 60:
            start += 86400  # the run crossed midnight (UTC)
        end = start + int(duration)
        before = [t for at, t in samples if at <= start] or [samples[0][1]]
        after = [t for at, t in samples if at >= end] or [samples[-1][1]]
        rows.append((peer, workload, (after[0] - before[-1]) / hz))
    return rows


def read_steal(path):
    """Clock ticks per second and the ticks stolen per measured part ("harness" covers
    every peer), in order, from steal.txt; (100, {}) when there is none."""
    hz, ticks = 100, {}
    for line in path.read_text().splitlines() if path.exists() else []:
        name, value = line.split()
        if name == "hz":
            hz = int(value)
        else:
            ticks[name] = int(value)
    return hz, ticks


if __name__ == "__main__":
    main()
