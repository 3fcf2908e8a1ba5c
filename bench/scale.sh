#!/usr/bin/env bash
# Behaviour at scale, measured end to end on one machine (figures in docs/benchmarks.md):
#
#  1. A large cleanup pass under a steady read load: SESSIONS logins (100 B of data) are
#     created through an instance whose logins end 60 s after their last use; once all
#     have ended, a paced read load (RATE req/s, open loop) runs against a second
#     instance for 30 s, then `sessiondb cleanup` removes them all while the reads go on,
#     then 30 s more. Reports read throughput and p50/p99 before, during and after the
#     pass, the pass's duration, the slowest single Redis call of the pass (SLOWLOG of calls
#     of 50 µs or more), and `expired` events in the stream against logins removed.
#  2. Memory per tombstone: TOMBSTONES logins are created, refreshed once, and their old
#     refresh token presented again (reuse detection turns each login into a tombstone).
#  3. A churn run of CHURN_SECONDS (default 600) at RATE req/s over 50,000 users
#     (45 % reads, 25 % creates, 20 % refreshes, 10 % sign-outs) against an instance with
#     the shipped defaults (cleanup every 5 minutes, log level info): Redis memory and the
#     server's RSS each minute, and the log bytes written per million requests.
#
#   bench/scale.sh                       everything (about 16 minutes)
#   SESSIONS=50000 CHURN_SECONDS=60 bench/scale.sh   a quick run
#   CHURN_SECONDS=0 bench/scale.sh                   without the churn run
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

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
build_release
start_redis
new_api_key

# ---------------------------------------------------------------- 1. cleanup pass
log "1. $SESSIONS logins ending at once, under $RATE reads/s"
read -r A_PID A_PORT _ < <(start_server short \
  "${SHORT_LIVED[@]}" SESSIONDB_EVENTS__MAX_LEN=5000000)
PIDS+=("$A_PID")
read -r B_PID B_PORT B_ADMIN < <(start_server steady \
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
rcli CONFIG SET slowlog-log-slower-than 50 >/dev/null
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
read -r C_PID C_PORT _ < <(start_server tombstones \
  SESSIONDB_CLEANUP__ENABLED=false SESSIONDB_EVENTS__ENABLED=false \
  SESSIONDB_REFRESH__GRACE_SECONDS=0 SESSIONDB_LOG__LEVEL=warn)
PIDS+=("$C_PID")
T_MEM0="$(info_field memory used_memory)"
"$LOAD" reuse --url "http://127.0.0.1:$C_PORT" --n "$TOMBSTONES" \
  --redis-port "$REDIS_PORT" | tee "$OUT/tombstones.txt"
kill "$C_PID"

# ---------------------------------------------------------------- 3. churn
LOG0=0
LOG1=0
if ((CHURN_SECONDS > 0)); then
  log "3. churn for $CHURN_SECONDS s at $RATE req/s, shipped defaults"
  rcli FLUSHALL >/dev/null
  read -r D_PID D_PORT D_ADMIN < <(start_server churn)
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
fi

python3 "$ROOT/bench/scale_report.py" "$OUT" "$PASS_START" "$PASS_END" "$SESSIONS" \
  "$MEM0" "$MEM_FULL" "$MEM_AFTER" "$XLEN0" "$XLEN1" "$EXPIRED_EVENTS" "$LOG0" "$LOG1" \
  | tee "$OUT/summary.md"
