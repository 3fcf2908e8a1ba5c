#!/usr/bin/env bash
# Compares two to six settings of sessiondb with interleaved rounds: all servers run at
# once against one redis-server (no persistence) holding N sessions seeded once, and
# each round runs wrk -t1 -c64 against A, then B, and so on (2 s warm-up, DURATION s
# measured). On a host whose CPU is taken away at times, alternating short rounds spreads
# the disturbance over every side instead of one. Prints per round and side: req/s, p99,
# server CPU µs per request, Redis CPU µs per request (utime + stime from /proc/<pid>/stat),
# commands Redis ran per read system call (INFO stats: how many commands arrive together)
# and the CPU the host took from this machine meanwhile (steal, in seconds).
#
#   bench/ab.sh "SESSIONDB_REDIS__POOL_SIZE=1" "SESSIONDB_REDIS__POOL_SIZE=4"
#   W=create ROUNDS=4 DURATION=6 BIN=target/release/sessiondb bench/ab.sh A_ENV B_ENV
#   BIN_A=/tmp/before BIN_B=target/release/sessiondb bench/ab.sh "" ""
#   BIN_A=/tmp/before bench/ab.sh "" "" "TOKIO_WORKER_THREADS=1"
#
# Each argument is one side (A, B, C, … in order): a space-separated list of environment
# assignments for its server; BIN_<side> runs another build on that side (default: BIN).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
(($# >= 2 && $# <= 6)) || { echo "usage: bench/ab.sh 'ENV=A ...' 'ENV=B ...' [up to 6 sides]" >&2; exit 2; }
SIDES=(A B C D E F)
SIDES=("${SIDES[@]:0:$#}")
OUT="${OUT:-$ROOT/bench/results/ab-$(date -u +%Y%m%d-%H%M%S)}"
W="${W:-get}"
ROUNDS="${ROUNDS:-6}"
DURATION="${DURATION:-6}"
N="${N:-10000}"
[[ "$W" == get || "$W" == create ]] || { echo "W is get or create" >&2; exit 2; }
mkdir -p "$OUT"
source "$ROOT/bench/lib.sh"
BIN="$(realpath "${BIN:-$ROOT/target/release/sessiondb}")"
[[ -x "$BIN" ]] || { echo "no binary at $BIN (cargo build --release)" >&2; exit 2; }
new_api_key
start_redis --appendonly no
redis_pid="${PIDS[-1]}"
declare -A pid port
for side in "${SIDES[@]}"; do
  settings="$1"
  shift
  bin_var="BIN_$side"
  side_bin="$(realpath "${!bin_var:-$BIN}")"
  # shellcheck disable=SC2086 # one word per assignment
  read -r pid[$side] port[$side] _ < <(BIN="$side_bin" start_server "$side" \
    SESSIONDB_LOG__LEVEL=warn $settings)
  PIDS+=("${pid[$side]}")
  log "$side: $side_bin $settings"
done
tokens="$OUT/tokens"
N="$N" COOKIE_FILE="$tokens" SESSIONDB_URL="http://127.0.0.1:${port[A]}" \
  python3 "$ROOT/bench/seed.py" >/dev/null

# Commands Redis ran and read system calls it made so far, summed: "commands reads".
redis_io() {
  rcli INFO stats | tr -d '\r' | awk -F: '$1 == "total_commands_processed" {c = $2}
    $1 == "total_reads_processed" {r = $2} END {print c, r}'
}
printf '%-5s %5s %9s %8s %12s %9s %10s %8s\n' side round "req/s" p99 "app µs/req" "redis µs" \
  "cmds/read" "steal s"
for round in $(seq "$ROUNDS"); do
  for side in "${SIDES[@]}"; do
    url="http://127.0.0.1:${port[$side]}"
    wout="$OUT/wrk-$side-$round.txt"
    COOKIE_FILE="$tokens" wrk -t1 -c64 -d2s -s "$ROOT/bench/$W.lua" "$url" >/dev/null
    s0="$(steal_ticks)" r0="$(cpu_ticks "$redis_pid")" a0="$(cpu_ticks "${pid[$side]}")"
    io0="$(redis_io)"
    COOKIE_FILE="$tokens" wrk -t1 -c64 -d"${DURATION}s" --latency -s "$ROOT/bench/$W.lua" \
      "$url" >"$wout"
    s1="$(steal_ticks)" r1="$(cpu_ticks "$redis_pid")" a1="$(cpu_ticks "${pid[$side]}")"
    io1="$(redis_io)"
    python3 - "$side" "$round" "$(awk '/requests in/ {print $1}' "$wout")" "$DURATION" \
      "$(awk '$1 == "99%" {print $2}' "$wout")" "$a0" "$a1" "$r0" "$r1" "$s0" "$s1" \
      "$(getconf CLK_TCK)" "$io0" "$io1" <<'EOF'
import sys
side, rnd, n, dur, p99, a0, a1, r0, r1, s0, s1, hz, io0, io1 = sys.argv[1:]
n, hz = int(n), int(hz)
us = lambda b, a: (int(a) - int(b)) / hz / n * 1e6
(c0, reads0), (c1, reads1) = (map(int, io.split()) for io in (io0, io1))
print(f"{side:<5} {rnd:>5} {n / float(dur):>9.0f} {p99:>8} {us(a0, a1):>12.1f} "
      f"{us(r0, r1):>9.1f} {(c1 - c0) / max(reads1 - reads0, 1):>10.2f} "
      f"{(int(s1) - int(s0)) / hz:>8.1f}")
EOF
  done
done
