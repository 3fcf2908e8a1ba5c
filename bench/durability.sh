#!/usr/bin/env bash
# Throughput with `replicated` durability (each write followed by WAIT 1) next to
# `async`, on the local HA stack (master + 2 replicas + 3 Sentinels on loopback), with
# the harness's wrk shape (figures in docs/benchmarks.md).
#
#   bench/durability.sh      about 2 minutes
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${OUT:-$ROOT/bench/results/durability-$(date -u +%Y%m%d-%H%M%S)}"
DURATION="${DURATION:-10}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

build_release
new_api_key
STACK="$OUT/stack"
"$BIN" local --dir "$STACK" up --ha >"$OUT/local-up.txt"
trap 'stop_all; "$BIN" local --dir "$STACK" down --purge >/dev/null 2>&1 || true' EXIT

echo "| durability | workload | req/s | p50 ms | p99 ms | non-2xx |" >"$OUT/summary.md"
echo "|---|---|---:|---:|---:|---:|" >>"$OUT/summary.md"
for durability in async replicated; do
  port="$(free_port)"
  admin="$(free_port)"
  SESSIONDB_REDIS__DURABILITY="$durability" SESSIONDB_LOG__LEVEL=warn \
    SESSIONDB_SERVER__LISTEN="127.0.0.1:$port" SESSIONDB_SERVER__ADMIN_LISTEN="127.0.0.1:$admin" \
    SESSIONDB_SERVER__API_KEYS="bench:$API_KEY_HASH:sessions:read,sessions:write" \
    "$BIN" serve --local --local-dir "$STACK" >"$OUT/server-$durability.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  for _ in $(seq 300); do curl -sf "http://127.0.0.1:$admin/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  url="http://127.0.0.1:$port"
  "$LOAD" create --url "$url" --n 10000 --prefix "read-$durability-" --out "$OUT/tokens-$durability.txt" >&2
  for workload in get create; do
    COOKIE_FILE="$OUT/tokens-$durability.txt" USER_PREFIX="$durability-$workload-" \
      wrk -t1 -c64 -d"${DURATION}s" --latency --timeout 2s -s "$ROOT/bench/$workload.lua" "$url" \
      >"$OUT/wrk-$durability-$workload.txt"
    python3 - "$OUT/wrk-$durability-$workload.txt" "$durability" "$workload" >>"$OUT/summary.md" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def ms(p):
    v, u = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M).groups()
    return float(v) / 1000 if u == "us" else float(v) * 1000 if u == "s" else float(v)
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
label = {"get": "GET /v1/sessions/current", "create": "POST /v1/sessions"}[sys.argv[3]]
print(f"| {sys.argv[2]} | {label} | {rps:.0f} | {ms(50):.2f} | {ms(99):.2f} | {non2xx.group(1) if non2xx else 0} |")
PY
  done
  kill "$pid"
  wait "$pid" 2>/dev/null || true
done
cat "$OUT/summary.md"
