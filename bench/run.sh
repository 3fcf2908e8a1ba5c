#!/usr/bin/env bash
# Adds sessiondb to the shared side-by-side benchmark (../shared/bench): builds the
# release binary, creates a throw-away API key, and runs the harness with sessiondb
# registered through its SESSIONDB_* variables (reads: GET /v1/sessions/current with a
# random pre-created session; creates: POST /v1/sessions for a new user each time).
#
# Then measures what the harness's contract has no route for, on a fresh Redis and
# sessiondb: refresh (POST /v1/sessions/refresh, each request with an unused refresh
# token) and sign-out by refresh token (POST /v1/refresh-tokens/revoke), with the same
# wrk shape, and the Redis time of one create (INFO commandstats over a create run).
# Prints a second table with the ratios the performance targets are written in, and how
# much CPU the host took from this machine while measuring (steal in /proc/stat; a
# virtual machine on a shared host loses some at times, and a run that lost more than a
# few seconds does not compare with a quiet one).
#
#   bench/run.sh                      all peers (about 6 minutes)
#   PEERS="ceiling tower" bench/run.sh   fewer built-in peers
#   LIFECYCLE=0 bench/run.sh           the harness only
#   SKIP_HARNESS=1 OUT=DIR bench/run.sh   the lifecycle runs only (into a harness run's DIR)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HARNESS="${HARNESS:-$ROOT/../shared/bench}"
[[ -x "$HARNESS/bench.sh" || -r "$HARNESS/bench.sh" ]] || { echo "no harness at $HARNESS" >&2; exit 2; }

cargo build --release --quiet --locked -p sessiondb --manifest-path "$ROOT/Cargo.toml"
cargo build --release --quiet --locked -p sessiondb-drills --example scale_load \
  --manifest-path "$ROOT/Cargo.toml"
BIN="$ROOT/target/release/sessiondb"
LOAD="$ROOT/target/release/examples/scale_load"
KEYJSON="$("$BIN" apikey new --name bench --scopes sessions:read,sessions:write --json)"
API_KEY="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["key"])' "$KEYJSON")"
HASH="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["sha256"])' "$KEYJSON")"
PORT="${SESSIONDB_PORT:-7900}"
ADMIN_PORT="$((PORT + 1))"
export API_KEY

export SESSIONDB_NAME=sessiondb
export SESSIONDB_URL="http://127.0.0.1:$PORT"
# The harness's own SESSIONDB_* variables are not sessiondb settings (sessiondb rejects
# unknown SESSIONDB_ variables), so the server starts without them.
export SESSIONDB_CMD="exec env -u SESSIONDB_NAME -u SESSIONDB_URL -u SESSIONDB_CMD \
-u SESSIONDB_GET_LUA -u SESSIONDB_CREATE_LUA -u SESSIONDB_SEED_CMD -u SESSIONDB_CHECK -u SESSIONDB_PID \
SESSIONDB_REDIS__URL=\$BENCH_REDIS_URL \
SESSIONDB_SERVER__LISTEN=127.0.0.1:$PORT SESSIONDB_SERVER__ADMIN_LISTEN=127.0.0.1:$ADMIN_PORT \
SESSIONDB_SERVER__API_KEYS='bench:$HASH:sessions:read,sessions:write' \
SESSIONDB_LOG__LEVEL=warn '$BIN' serve"
export SESSIONDB_GET_LUA="$ROOT/bench/get.lua"
export SESSIONDB_CREATE_LUA="$ROOT/bench/create.lua"
export SESSIONDB_SEED_CMD="python3 '$ROOT/bench/seed.py'"
export OUT="${OUT:-$ROOT/bench/results/run-$(date -u +%Y%m%d-%H%M%S)}"
mkdir -p "$OUT"
# steal: CPU ticks the host took from this machine so far (all CPUs).
steal() { awk '/^cpu / {print $9}' /proc/stat; }
[[ "${SKIP_HARNESS:-0}" == 1 && -f "$OUT/steal.txt" ]] || echo "hz $(getconf CLK_TCK)" >"$OUT/steal.txt"
if [[ "${SKIP_HARNESS:-0}" != 1 ]]; then
  # Steal once a second, so the report can tell which of the harness's rows lost CPU.
  while :; do echo "$(date +%s) $(steal)"; sleep 1; done >"$OUT/steal-timeline.txt" &
  SAMPLER=$!
  trap 'kill "$SAMPLER" 2>/dev/null || true' EXIT # replaced below, once it is stopped
  s0="$(steal)"
  bash "$HARNESS/bench.sh" 2> >(tee "$OUT/harness.log" >&2)
  echo "harness $(( $(steal) - s0 ))" >>"$OUT/steal.txt"
  kill "$SAMPLER"
fi
[[ "${LIFECYCLE:-1}" == 1 ]] || exit 0
# The harness's SESSIONDB_* variables are not settings; sessiondb refuses unknown ones.
unset SESSIONDB_NAME SESSIONDB_URL SESSIONDB_CMD SESSIONDB_GET_LUA SESSIONDB_CREATE_LUA \
  SESSIONDB_SEED_CMD SESSIONDB_CHECK SESSIONDB_PID

# ------------------------------------------------------------ refresh, revoke, create cost
DURATION="${DURATION:-10}"
# Logins created for the refresh and sign-out runs, half for each: enough that every
# request of a 10 s run presents an unused token at 50,000 requests a second.
LIFE_N="${LIFE_N:-1000000}"
log() { printf '[run %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true' EXIT
RPORT="$(free_port)"
redis-server --bind 127.0.0.1 --port "$RPORT" --save '' --appendonly no \
  --logfile "$OUT/lifecycle-redis.log" &
PIDS+=($!)
for _ in $(seq 100); do redis-cli -p "$RPORT" PING >/dev/null 2>&1 && break; sleep 0.1; done
env SESSIONDB_REDIS__URL="redis://127.0.0.1:$RPORT" \
  SESSIONDB_SERVER__LISTEN="127.0.0.1:$PORT" SESSIONDB_SERVER__ADMIN_LISTEN="127.0.0.1:$ADMIN_PORT" \
  SESSIONDB_SERVER__API_KEYS="bench:$HASH:sessions:read,sessions:write" SESSIONDB_LOG__LEVEL=warn \
  "$BIN" serve >"$OUT/lifecycle-sessiondb.log" 2>&1 &
APP_PID=$!
PIDS+=("$APP_PID")
for _ in $(seq 200); do curl -sf "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
URL="http://127.0.0.1:$PORT"

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# measure NAME SCRIPT [ENV=VALUE...]: one wrk run, its output kept, with the app's and
# Redis's CPU ticks over the run appended as "cpu APP REDIS".
measure() {
  local name="$1" script="$2"
  shift 2
  local a0 r0 s0
  s0="$(steal)"
  a0="$(cpu "$APP_PID")"
  r0="$(cpu "$(redis-cli -p "$RPORT" INFO server | tr -d '\r' | awk -F: '$1=="process_id" {print $2}')")"
  env "$@" wrk -t1 -c64 -d"${DURATION}s" --latency --timeout 2s -s "$script" "$URL" \
    >"$OUT/lifecycle-$name.txt"
  echo "cpu $(( $(cpu "$APP_PID") - a0 )) $(( $(cpu "$(redis-cli -p "$RPORT" INFO server | tr -d '\r' | awk -F: '$1=="process_id" {print $2}')") - r0 ))" \
    >>"$OUT/lifecycle-$name.txt"
  echo "$name $(( $(steal) - s0 ))" >>"$OUT/steal.txt"
}

log "create cost: wrk POST /v1/sessions for ${DURATION}s, Redis commandstats"
redis-cli -p "$RPORT" CONFIG RESETSTAT >/dev/null
measure create "$ROOT/bench/create.lua"
redis-cli -p "$RPORT" INFO commandstats | tr -d '\r' >"$OUT/lifecycle-create-commandstats.txt"
redis-cli -p "$RPORT" FLUSHALL >/dev/null

log "creating $LIFE_N logins for the refresh and sign-out runs"
"$LOAD" create --url "$URL" --n "$LIFE_N" --prefix life- --refresh-out "$OUT/refresh-tokens.txt" >&2
half=$((LIFE_N / 2))
head -n "$half" "$OUT/refresh-tokens.txt" >"$OUT/refresh-a.txt"
tail -n +"$((half + 1))" "$OUT/refresh-tokens.txt" >"$OUT/refresh-b.txt"
log "refresh: wrk POST /v1/sessions/refresh for ${DURATION}s"
measure refresh "$ROOT/bench/refresh.lua" TOKEN_FILE="$OUT/refresh-a.txt"
log "sign-out: wrk POST /v1/refresh-tokens/revoke for ${DURATION}s"
measure revoke "$ROOT/bench/refresh.lua" TOKEN_FILE="$OUT/refresh-b.txt" ROUTE=/v1/refresh-tokens/revoke

python3 "$ROOT/bench/run_report.py" "$OUT" "$half" | tee "$OUT/lifecycle.md"
