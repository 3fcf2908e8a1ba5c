#!/usr/bin/env bash
# Compares sessiondb binaries back to back on reads and creates, to judge one change:
# for each binary a fresh redis-server (no persistence) and server, N sessions seeded
# with seed.py, then wrk -t1 -c64 --latency with get.lua and create.lua after a warm-up.
# Prints per binary and workload: req/s, p99, app CPU µs per request (utime + stime from
# /proc/<pid>/stat), Redis CPU µs per request (the same for redis-server); with
# CALLGRIND=1 also Redis instructions per request (redis-server under callgrind, wrk
# -c4, counters zeroed after the warm-up), which do not depend on other load.
#
#   bench/compare.sh BIN_A BIN_B ...      e.g. the binary before a change and after it
#   ROUNDS=2 DURATION=10 N=10000 CALLGRIND=1 bench/compare.sh ...
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
(($# > 0)) || { echo "usage: bench/compare.sh BIN..." >&2; exit 2; }
OUT="${OUT:-$ROOT/bench/results/compare-$(date -u +%Y%m%d-%H%M%S)}"
DURATION="${DURATION:-10}"
N="${N:-10000}"
ROUNDS="${ROUNDS:-1}"
CALLGRIND="${CALLGRIND:-0}"
mkdir -p "$OUT"
source "$ROOT/bench/lib.sh"
BIN="$1"
new_api_key

requests() { awk '/requests in/ {print $1}' "$1"; }
p99() { awk '$1 == "99%" {print $2}' "$1"; }
callgrind_total() {
  # Instructions of the dump callgrind_control just wrote.
  local file
  file="$(ls -t "$OUT"/callgrind.out.* | head -1)"
  awk '/^(summary|totals):/ {print $2; exit}' "$file"
}

run_one() { # BIN LABEL ROUND
  local bin="$1" label="$2" round="$3" server port admin pid tokens before after
  BIN="$bin"
  if [[ "$CALLGRIND" == 1 ]]; then
    REDIS_PORT="$(free_port)"
    REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
    valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out.%p" \
      redis-server --port "$REDIS_PORT" --save '' --appendonly no >"$OUT/valgrind.log" 2>&1 &
    PIDS+=($!)
    local rpid=$!
    for _ in $(seq 300); do rcli PING >/dev/null 2>&1 && break; sleep 0.1; done
  else
    start_redis --appendonly no
  fi
  local redis_pid="${PIDS[-1]}"
  read -r pid port admin < <(start_server "$label" SESSIONDB_LOG__LEVEL=warn)
  local url="http://127.0.0.1:$port"
  tokens="$OUT/tokens-$label-$round"
  N="$N" COOKIE_FILE="$tokens" SESSIONDB_URL="$url" python3 "$ROOT/bench/seed.py" >/dev/null
  local conns=64 duration="$DURATION" warm=3
  [[ "$CALLGRIND" == 1 ]] && { conns=4; duration=6; warm=2; }
  for workload in read create; do
    local script="$ROOT/bench/get.lua"
    [[ "$workload" == create ]] && script="$ROOT/bench/create.lua"
    COOKIE_FILE="$tokens" wrk -t1 -c"$conns" -d"${warm}s" -s "$script" "$url" >/dev/null
    [[ "$CALLGRIND" == 1 ]] && callgrind_control -z "$rpid" >/dev/null 2>&1
    before="$(cpu_ticks "$pid")"
    local redis_before
    redis_before="$(cpu_ticks "$redis_pid")"
    local wout="$OUT/wrk-$label-$workload-$round.txt"
    COOKIE_FILE="$tokens" wrk -t1 -c"$conns" -d"${duration}s" --latency --timeout 2s \
      -s "$script" "$url" >"$wout"
    after="$(cpu_ticks "$pid")"
    local n redis_after ins="-"
    redis_after="$(cpu_ticks "$redis_pid")"
    n="$(requests "$wout")"
    if [[ "$CALLGRIND" == 1 ]]; then
      callgrind_control -d "$rpid" >/dev/null 2>&1
      ins="$(python3 -c "print(round($(callgrind_total) / $n / 1000, 1))")k"
    fi
    python3 - "$label" "$workload" "$round" "$n" "$duration" "$(p99 "$wout")" \
      "$before" "$after" "$(getconf CLK_TCK)" "$redis_before" "$redis_after" "$ins" <<'PY'
import sys
label, workload, rnd, n, dur, p99, before, after, hz, rbefore, rafter, ins = sys.argv[1:]
n = int(n)
app = (int(after) - int(before)) / int(hz) / n * 1e6
redis = (int(rafter) - int(rbefore)) / int(hz) / n * 1e6
print(f"{label:<24} {workload:<7} {rnd:>5} {n / float(dur):>9.0f} {p99:>8} "
      f"{app:>10.1f} {redis:>10.1f} {ins:>10}")
PY
  done
  kill "$pid" 2>/dev/null || true
  stop_all
  PIDS=()
}

printf '%-24s %-7s %5s %9s %8s %10s %10s %10s\n' binary work round req/s p99 \
  'app µs/req' 'redis µs' 'redis ins'
for round in $(seq "$ROUNDS"); do
  for bin in "$@"; do
    run_one "$(realpath "$bin")" "$(basename "$bin")" "$round"
  done
done
