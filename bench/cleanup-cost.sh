#!/usr/bin/env bash
# Cost of one cleanup pass against the live set (figures in docs/benchmarks.md): LIVE
# long-lived logins, then passes with 0 %, 1 % and 10 % of that number ended. Reports
# each pass's duration and the Redis CPU it used (INFO cpu), which must follow the
# ended count, not the live count.
#
#   bench/cleanup-cost.sh              1,000,000 live (about 8 minutes)
#   LIVE=100000 bench/cleanup-cost.sh  a quick run
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIVE="${LIVE:-1000000}"
OUT="${OUT:-$ROOT/bench/results/cleanup-cost-$(date -u +%Y%m%d-%H%M%S)}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

build_release
start_redis
new_api_key
read -r SHORT_PID SHORT_PORT _ < <(start_server short "${SHORT_LIVED[@]}")
PIDS+=("$SHORT_PID")
read -r LONG_PID LONG_PORT _ < <(start_server long SESSIONDB_CLEANUP__ENABLED=false SESSIONDB_LOG__LEVEL=warn)
PIDS+=("$LONG_PID")

log "creating $LIVE long-lived logins"
"$LOAD" create --url "http://127.0.0.1:$LONG_PORT" --n "$LIVE" --prefix live- >&2
redis_cpu() { rcli INFO cpu | tr -d '\r' | awk -F: '$1=="used_cpu_sys" || $1=="used_cpu_user" {s+=$2} END {printf "%.3f", s}'; }

echo "| ended logins | share of live | pass duration s | Redis CPU s | removed |" >"$OUT/summary.md"
echo "|---:|---:|---:|---:|---:|" >>"$OUT/summary.md"
for pct in 0 1 10; do
  ended=$((LIVE * pct / 100))
  if ((ended > 0)); then
    log "creating $ended logins that end 60 s later"
    "$LOAD" create --url "http://127.0.0.1:$SHORT_PORT" --n "$ended" --prefix "short$pct-" >&2
    log "waiting until they have ended"
    sleep 62
  fi
  cpu0="$(redis_cpu)"
  SESSIONDB_REDIS__URL="$REDIS_URL" "$BIN" cleanup --json >"$OUT/pass-$pct.json"
  cpu1="$(redis_cpu)"
  python3 - "$OUT/pass-$pct.json" "$ended" "$pct" "$cpu0" "$cpu1" >>"$OUT/summary.md" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ended, pct, cpu = int(sys.argv[2]), sys.argv[3], float(sys.argv[5]) - float(sys.argv[4])
print(f"| {ended} | {pct} % | {r['duration_ms'] / 1000:.2f} | {cpu:.2f} | {r['removed']} |")
PY
done
echo >>"$OUT/summary.md"
echo "Live logins: $LIVE; Redis used_memory $(info_field memory used_memory) B at the end." >>"$OUT/summary.md"
cat "$OUT/summary.md"
