#!/usr/bin/env bash
# Behaviour at scale, measured end to end on one machine (figures in docs/benchmarks.md):
#
#  1. A large cleanup pass under a steady read load: SESSIONS logins (100 B of data) are
#     created through an instance whose logins end 60 s after their last use; once all
#     have ended, a paced read load (RATE req/s, open loop) runs against a second
#     instance for 30 s, then `sessiondb cleanup` removes them all while the reads go on,
#     then 30 s more. Reports read throughput and p50/p99 before, during and after the
#     pass, the pass's duration, the slowest single Redis call of the pass (SLOWLOG, every
#     command recorded), and `expired` events in the stream against logins removed.
#  2. Memory per tombstone: TOMBSTONES logins are created, refreshed once, and their old
#     refresh token presented again (reuse detection turns each login into a tombstone).
#  3. A churn run of CHURN_SECONDS (default 600) at RATE req/s over 50,000 users
#     (45 % reads, 25 % creates, 20 % refreshes, 10 % sign-outs) against an instance with
#     the shipped defaults (cleanup every 5 minutes, log level info): Redis memory and the
#     server's RSS each minute, and the log bytes written per million requests.
#
#   bench/scale.sh                       everything (about 16 minutes)
#   SESSIONS=50000 CHURN_SECONDS=60 bench/scale.sh   a quick run
#
# Redis runs with the shipped persistence plan (AOF everysec, no snapshots). Results go
# to OUT (default bench/results/scale-<time>/): raw request logs, the SLOWLOG, server
# logs and summary.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SESSIONS="${SESSIONS:-250000}"
READERS="${READERS:-10000}"
RATE="${RATE:-2000}"
TOMBSTONES="${TOMBSTONES:-20000}"
CHURN_SECONDS="${CHURN_SECONDS:-600}"
OUT="${OUT:-$ROOT/bench/results/scale-$(date -u +%Y%m%d-%H%M%S)}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

cargo build --release --quiet --locked -p sessiondb --manifest-path "$ROOT/Cargo.toml"
cargo build --release --quiet --locked -p sessiondb-drills --example scale_load \
  --manifest-path "$ROOT/Cargo.toml"
BIN="$ROOT/target/release/sessiondb"
LOAD="$ROOT/target/release/examples/scale_load"

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
now_ms() { date +%s%3N; }

REDIS_PORT="$(free_port)"
REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
mkdir -p "$OUT/redis"
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$OUT/redis" \
  --appendonly yes --appendfsync everysec --save '' --aof-use-rdb-preamble yes \
  --aof-timestamp-enabled yes --slowlog-max-len 2000000 \
  --logfile "$OUT/redis/redis.log" &
PIDS+=($!)
rcli() { redis-cli -p "$REDIS_PORT" "$@"; }
for _ in $(seq 100); do rcli PING >/dev/null 2>&1 && break; sleep 0.1; done
info_field() { rcli INFO "$1" | tr -d '\r' | awk -F: -v k="$2" '$1==k {print $2}'; }

KEYJSON="$("$BIN" apikey new --name scale --scopes sessions:read,sessions:write --json)"
export API_KEY="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["key"])' "$KEYJSON")"
HASH="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["sha256"])' "$KEYJSON")"

# start_server NAME LOGFILE VAR=VALUE... : starts `sessiondb serve`, prints "pid port admin".
start_server() {
  local name="$1" logfile="$2"
  shift 2
  local port admin
  port="$(free_port)"
  admin="$(free_port)"
  env SESSIONDB_REDIS__URL="$REDIS_URL" \
    SESSIONDB_SERVER__LISTEN="127.0.0.1:$port" SESSIONDB_SERVER__ADMIN_LISTEN="127.0.0.1:$admin" \
    SESSIONDB_SERVER__API_KEYS="scale:$HASH:sessions:read,sessions:write" "$@" \
    "$BIN" serve >"$logfile" 2>&1 &
  local pid=$!
  for _ in $(seq 200); do
    curl -sf "http://127.0.0.1:$admin/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -sf "http://127.0.0.1:$admin/readyz" >/dev/null || { log "$name did not start"; cat "$logfile"; exit 1; }
  echo "$pid $port $admin"
}

# ---------------------------------------------------------------- 1. cleanup pass
log "1. $SESSIONS logins ending at once, under $RATE reads/s"
read -r A_PID A_PORT _ < <(start_server short "$OUT/server-short.log" \
  SESSIONDB_SESSION__IDLE_TTL_SECONDS=60 SESSIONDB_REFRESH__IDLE_TTL_SECONDS=60 \
  SESSIONDB_CLEANUP__ENABLED=false SESSIONDB_EVENTS__MAX_LEN=5000000 SESSIONDB_LOG__LEVEL=warn)
PIDS+=("$A_PID")
read -r B_PID B_PORT B_ADMIN < <(start_server steady "$OUT/server-steady.log" \
  SESSIONDB_CLEANUP__ENABLED=false SESSIONDB_EVENTS__MAX_LEN=5000000 SESSIONDB_LOG__LEVEL=warn)
PIDS+=("$B_PID")
MEM0="$(info_field memory used_memory)"
"$LOAD" create --url "http://127.0.0.1:$B_PORT" --n "$READERS" --prefix reader- \
  --out "$OUT/readers.txt" | tee "$OUT/create-readers.txt"
"$LOAD" create --url "http://127.0.0.1:$A_PORT" --n "$SESSIONS" --prefix short- \
  | tee "$OUT/create-short.txt"
CREATED_AT="$(now_ms)"
MEM_FULL="$(info_field memory used_memory)"
kill "$A_PID"
log "waiting until every short login has ended (60 s after its creation)"
sleep 62
rcli SLOWLOG RESET >/dev/null
rcli CONFIG SET slowlog-log-slower-than 0 >/dev/null
rcli CONFIG RESETSTAT >/dev/null
XLEN0="$(rcli XLEN 'sdb:events')"
"$LOAD" reads --url "http://127.0.0.1:$B_PORT" --tokens "$OUT/readers.txt" --rate "$RATE" \
  --seconds 900 --out "$OUT/reads.csv" &
READS_PID=$!
PIDS+=("$READS_PID")
sleep 30
PASS_START="$(now_ms)"
SESSIONDB_REDIS__URL="$REDIS_URL" SESSIONDB_EVENTS__MAX_LEN=5000000 \
  "$BIN" cleanup --json | tee "$OUT/cleanup.json"
PASS_END="$(now_ms)"
sleep 30
kill -INT "$READS_PID"
wait "$READS_PID" || true
rcli --json SLOWLOG GET -1 >"$OUT/slowlog.json"
# Stop recording every command: the log's own memory would distort what follows.
rcli CONFIG SET slowlog-log-slower-than 10000 >/dev/null
rcli SLOWLOG RESET >/dev/null
MEM_AFTER="$(info_field memory used_memory)"
EXPIRED_EVENTS="$(rcli EVAL "
  local n, from = 0, '-'
  while true do
    local batch = redis.call('XRANGE', KEYS[1], from, '+', 'COUNT', 10000)
    if #batch == 0 then return n end
    for _, e in ipairs(batch) do
      local f = e[2]
      for i = 1, #f, 2 do
        if f[i] == 'type' and f[i + 1] == 'expired' then n = n + 1 end
      end
    end
    from = '(' .. batch[#batch][1]
  end" 1 'sdb:events')"
XLEN1="$(rcli XLEN 'sdb:events')"
rcli INFO commandstats | tr -d '\r' >"$OUT/commandstats-pass.txt"

# ---------------------------------------------------------------- 2. tombstones
log "2. memory per tombstone ($TOMBSTONES logins turned into tombstones by reuse)"
kill "$B_PID"
read -r C_PID C_PORT _ < <(start_server tombstones "$OUT/server-tombstones.log" \
  SESSIONDB_CLEANUP__ENABLED=false SESSIONDB_EVENTS__ENABLED=false \
  SESSIONDB_REFRESH__GRACE_SECONDS=0 SESSIONDB_LOG__LEVEL=warn)
PIDS+=("$C_PID")
T_MEM0="$(info_field memory used_memory)"
"$LOAD" reuse --url "http://127.0.0.1:$C_PORT" --n "$TOMBSTONES" \
  --redis-port "$REDIS_PORT" | tee "$OUT/tombstones.txt"
kill "$C_PID"

# ---------------------------------------------------------------- 3. churn
log "3. churn for $CHURN_SECONDS s at $RATE req/s, shipped defaults"
rcli FLUSHALL >/dev/null
read -r D_PID D_PORT D_ADMIN < <(start_server churn "$OUT/server-churn.log")
PIDS+=("$D_PID")
LOG0="$(stat -c %s "$OUT/server-churn.log")"
"$LOAD" churn --url "http://127.0.0.1:$D_PORT" --rate "$RATE" --seconds "$CHURN_SECONDS" \
  >"$OUT/churn.txt" &
CHURN_PID=$!
PIDS+=("$CHURN_PID")
echo "second,used_memory,keys,server_rss_kib" >"$OUT/churn-memory.csv"
start=$(date +%s)
while kill -0 "$CHURN_PID" 2>/dev/null; do
  t=$(($(date +%s) - start))
  echo "$t,$(info_field memory used_memory),$(rcli DBSIZE),$(awk '/VmRSS/ {print $2}' /proc/"$D_PID"/status)" \
    >>"$OUT/churn-memory.csv"
  for _ in $(seq 60); do kill -0 "$CHURN_PID" 2>/dev/null || break; sleep 1; done
done
wait "$CHURN_PID" || true
echo "$CHURN_SECONDS,$(info_field memory used_memory),$(rcli DBSIZE),$(awk '/VmRSS/ {print $2}' /proc/"$D_PID"/status)" \
  >>"$OUT/churn-memory.csv"
LOG1="$(stat -c %s "$OUT/server-churn.log")"
curl -sf "http://127.0.0.1:$D_ADMIN/metrics" >"$OUT/churn-metrics.txt"

python3 "$ROOT/bench/scale_report.py" "$OUT" "$PASS_START" "$PASS_END" "$SESSIONS" \
  "$MEM0" "$MEM_FULL" "$MEM_AFTER" "$XLEN0" "$XLEN1" "$EXPIRED_EVENTS" "$LOG0" "$LOG1" \
  | tee "$OUT/summary.md"
