# Shared by the bench/ scripts: ports, logging, a Redis with the shipped persistence plan,
# an API key, and `sessiondb serve` instances. Source it after setting ROOT and OUT.

BIN="${BIN:-$ROOT/target/release/sessiondb}" # a build chosen by the caller, e.g. bench/ab.sh's BIN=
LOAD="$ROOT/target/release/examples/scale_load"
PIDS=()
stop_all() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop_all EXIT

build_release() {
  cargo build --release --quiet --locked -p sessiondb --manifest-path "$ROOT/Cargo.toml"
  cargo build --release --quiet --locked -p sessiondb-drills --example scale_load \
    --manifest-path "$ROOT/Cargo.toml"
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
now_ms() { date +%s%3N; }

# start_redis: a redis-server with the shipped persistence plan (AOF everysec, RDB
# preamble, timestamps, no snapshots) in $OUT/redis; sets REDIS_PORT and REDIS_URL.
start_redis() {
  REDIS_PORT="$(free_port)"
  REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
  mkdir -p "$OUT/redis"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$OUT/redis" \
    --appendonly yes --appendfsync everysec --save '' --aof-use-rdb-preamble yes \
    --aof-timestamp-enabled yes --slowlog-max-len 2000000 \
    --logfile "$OUT/redis/redis.log" "$@" &
  PIDS+=($!)
  for _ in $(seq 100); do rcli PING >/dev/null 2>&1 && break; sleep 0.1; done
}
rcli() { redis-cli -p "$REDIS_PORT" "$@"; }
# cpu_ticks PID: the process's CPU so far (utime + stime, in clock ticks).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# steal_ticks: CPU the host took from this machine so far (all CPUs, clock ticks).
steal_ticks() { awk '/^cpu / {print $9}' /proc/stat; }
info_field() { rcli INFO "$1" | tr -d '\r' | awk -F: -v k="$2" '$1==k {print $2}'; }

# new_api_key: sets API_KEY (exported, for scale_load) and API_KEY_HASH.
new_api_key() {
  local json
  json="$("$BIN" apikey new --name bench --scopes sessions:read,sessions:write --json)"
  API_KEY="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["key"])' "$json")"
  API_KEY_HASH="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["sha256"])' "$json")"
  export API_KEY
}

# start_server NAME VAR=VALUE...: starts `sessiondb serve` against REDIS_URL with the
# given settings, logging to $OUT/server-NAME.log; prints "pid port admin-port".
start_server() {
  local name="$1" logfile="$OUT/server-$1.log" port admin pid
  shift
  port="$(free_port)"
  admin="$(free_port)"
  env SESSIONDB_REDIS__URL="$REDIS_URL" \
    SESSIONDB_SERVER__LISTEN="127.0.0.1:$port" SESSIONDB_SERVER__ADMIN_LISTEN="127.0.0.1:$admin" \
    SESSIONDB_SERVER__API_KEYS="bench:$API_KEY_HASH:sessions:read,sessions:write" "$@" \
    "$BIN" serve >"$logfile" 2>&1 &
  pid=$!
  for _ in $(seq 200); do
    curl -sf "http://127.0.0.1:$admin/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -sf "http://127.0.0.1:$admin/readyz" >/dev/null || { log "$name did not start"; cat "$logfile" >&2; exit 1; }
  echo "$pid $port $admin"
}

# Settings of an instance whose logins end 60 s after their last use.
SHORT_LIVED=(SESSIONDB_SESSION__IDLE_TTL_SECONDS=60 SESSIONDB_REFRESH__IDLE_TTL_SECONDS=60
  SESSIONDB_CLEANUP__ENABLED=false SESSIONDB_LOG__LEVEL=warn)
