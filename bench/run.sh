#!/usr/bin/env bash
# Adds sessiondb to the shared side-by-side benchmark (../shared/bench): builds the
# release binary, creates a throw-away API key, and runs the harness with sessiondb
# registered through its SESSIONDB_* variables (reads: GET /v1/sessions/current with a
# random pre-created session; creates: POST /v1/sessions for a new user each time).
#
#   bench/run.sh                      all peers (about 2 minutes)
#   PEERS="ceiling tower" bench/run.sh   fewer built-in peers
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HARNESS="${HARNESS:-$ROOT/../shared/bench}"
[[ -x "$HARNESS/bench.sh" || -r "$HARNESS/bench.sh" ]] || { echo "no harness at $HARNESS" >&2; exit 2; }

cargo build --release --quiet --locked -p sessiondb --manifest-path "$ROOT/Cargo.toml"
BIN="$ROOT/target/release/sessiondb"
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
exec bash "$HARNESS/bench.sh"
