#!/usr/bin/env bash
# sessiondb against tower-sessions in interleaved rounds. On a virtual machine whose speed
# changes from one minute to the next (often without any steal in /proc/stat), the
# harness's one pass per peer can measure tower in a fast minute and sessiondb in a slow
# one; here both run at once against one redis-server (no persistence, as in the
# harness) and each round measures tower, then sessiondb, for DURATION s each after a 2 s
# warm-up, so a slow minute falls on both. Reads use 10k pre-created sessions of each
# (the harness's get_me.lua and sessiondb's get.lua), creates a new user each request
# (the harness's login.lua and sessiondb's create.lua with the same 512-byte data).
# Prints per round and peer: req/s, p99, server and Redis CPU µs per request, steal;
# then sessiondb's ratio to tower per round, its median and its mean.
#
#   bench/vs-tower.sh                       reads and creates, 5 rounds of 6 s each
#   W=create ROUNDS=8 bench/vs-tower.sh     creates only
#   SETTINGS="SESSIONDB_REDIS__POOL_SIZE=2" bench/vs-tower.sh   sessiondb's environment
#
# Uses the harness's tower peer (HARNESS, default ../shared/bench; built there when its
# binary is missing, so point HARNESS at a writable copy of a read-only harness).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HARNESS="$(cd "${HARNESS:-$ROOT/../shared/bench}" && pwd)"
OUT="${OUT:-$ROOT/bench/results/vs-tower-$(date -u +%Y%m%d-%H%M%S)}"
W="${W:-get create}"
ROUNDS="${ROUNDS:-5}"
DURATION="${DURATION:-6}"
N=10000
SETTINGS="${SETTINGS:-}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
source "$ROOT/bench/lib.sh"

TOWER="$HARNESS/tower/target/release/peer-tower-sessions"
[[ -x "$TOWER" ]] || cargo build --release --quiet --manifest-path "$HARNESS/tower/Cargo.toml"
cargo build --release --quiet --locked -p sessiondb --manifest-path "$ROOT/Cargo.toml"
new_api_key
start_redis --appendonly no
redis_pid="${PIDS[-1]}"

tower_port="$(free_port)"
env PORT="$tower_port" HOST=127.0.0.1 REDIS_URL="$REDIS_URL" "$TOWER" >"$OUT/tower.log" 2>&1 &
PIDS+=($!)
declare -A pid url
pid[tower]=$!
url[tower]="http://127.0.0.1:$tower_port"
python3 "$HARNESS/tools/peerctl.py" wait "${url[tower]}" 30
# shellcheck disable=SC2086 # one word per assignment
read -r pid[sessiondb] port _ < <(start_server sessiondb SESSIONDB_LOG__LEVEL=warn $SETTINGS)
PIDS+=("${pid[sessiondb]}")
url[sessiondb]="http://127.0.0.1:$port"

python3 "$HARNESS/tools/peerctl.py" seed "${url[tower]}" "$N" "$OUT/cookies-tower.txt" >/dev/null
N="$N" COOKIE_FILE="$OUT/cookies-sessiondb.txt" SESSIONDB_URL="${url[sessiondb]}" \
  python3 "$ROOT/bench/seed.py" >/dev/null

# script PEER WORKLOAD: the wrk script for it.
script() {
  case "$1/$2" in
    tower/get) echo "$HARNESS/lua/get_me.lua" ;;
    tower/create) echo "$HARNESS/lua/login.lua" ;;
    sessiondb/get) echo "$ROOT/bench/get.lua" ;;
    sessiondb/create) echo "$ROOT/bench/create.lua" ;;
  esac
}

rows="$OUT/rows.tsv"
: >"$rows"
for workload in $W; do
  for round in $(seq "$ROUNDS"); do
    for peer in tower sessiondb; do
      wout="$OUT/wrk-$workload-$peer-$round.txt"
      COOKIE_FILE="$OUT/cookies-$peer.txt" wrk -t1 -c64 -d2s -s "$(script "$peer" "$workload")" \
        "${url[$peer]}" >/dev/null
      s0="$(steal_ticks)" r0="$(cpu_ticks "$redis_pid")" a0="$(cpu_ticks "${pid[$peer]}")"
      COOKIE_FILE="$OUT/cookies-$peer.txt" wrk -t1 -c64 -d"${DURATION}s" --latency \
        -s "$(script "$peer" "$workload")" "${url[$peer]}" >"$wout"
      s1="$(steal_ticks)" r1="$(cpu_ticks "$redis_pid")" a1="$(cpu_ticks "${pid[$peer]}")"
      ! grep -q 'Non-2xx' "$wout" || { log "$peer answered non-2xx in $wout"; exit 1; }
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$workload" "$round" "$peer" \
        "$(awk '/requests in/ {print $1}' "$wout")" "$(awk '$1 == "99%" {print $2}' "$wout")" \
        "$((a1 - a0))" "$((r1 - r0))" "$((s1 - s0))" "$DURATION" "$(getconf CLK_TCK)" \
        "$(date -u +%H:%M:%S)" >>"$rows"
    done
    tail -2 "$rows" >&2
  done
done

python3 - "$rows" <<'EOF'
import statistics, sys
rows = [line.split("\t") for line in open(sys.argv[1]).read().splitlines()]
print(f"{'workload':<8} {'round':>5} {'peer':<10} {'req/s':>8} {'p99':>8} {'app µs/req':>11} "
      f"{'redis µs':>9} {'steal s':>8} {'ratio':>6}")
ratios = {}
for w, rnd, peer, n, p99, app, red, steal, dur, hz, _ in rows:
    n, hz = int(n), int(hz)
    rps = n / float(dur)
    us = lambda t: int(t) / hz / n * 1e6
    ratio = ""
    if peer == "tower":
        tower_rps = rps
    else:
        ratios.setdefault(w, []).append(rps / tower_rps)
        ratio = f"{rps / tower_rps:.2f}×"
    print(f"{w:<8} {rnd:>5} {peer:<10} {rps:>8.0f} {p99:>8} {us(app):>11.1f} {us(red):>9.1f} "
          f"{int(steal) / hz:>8.1f} {ratio:>6}")
for w, r in ratios.items():
    print(f"{w}: sessiondb / tower per round {', '.join(f'{x:.2f}' for x in r)}; "
          f"median {statistics.median(r):.2f}×, mean {statistics.mean(r):.2f}×")
EOF
