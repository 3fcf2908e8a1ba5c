#!/bin/sh
# Init container of each Sentinel: writes its config RUNTIME_CONF (on a writable
# volume: Sentinel rewrites it with what it learns) from the shipped SHIPPED_CONF,
# monitoring the current master instead of the bootstrap node when one is known.
# See lib.sh for the environment.
set -eu
. "$(dirname "$0")/lib.sh"
master=$(find_master)
log "monitoring $MASTER_NAME at $master"
sed -E "s/^(sentinel monitor $MASTER_NAME) [^ ]+ [0-9]+ /\\1 ${master%:*} ${master##*:} /" \
  "$SHIPPED_CONF" >"$RUNTIME_CONF"
grep -q "^sentinel monitor $MASTER_NAME ${master%:*} ${master##*:} " "$RUNTIME_CONF"
