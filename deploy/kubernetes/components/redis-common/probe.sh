#!/bin/sh
# probe.sh PORT PASSWORD_VARIABLE: exits 0 when the Redis or Sentinel on localhost:PORT
# answers PING with PONG (not LOADING, not an authentication error).
set -eu
. "$(dirname "$0")/lib.sh"
eval "pass=\${$2:-}"
user=
if [ "$1" != 26379 ]; then user=${REDIS_CLI_USER:-}; fi
reply=$(cli localhost "$1" "$pass" "$user" -- ping)
[ "$reply" = PONG ]
