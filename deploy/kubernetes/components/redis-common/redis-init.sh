#!/bin/sh
# Init container of each data node: writes the runtime config RUNTIME_CONF (on a
# writable volume, so that CONFIG REWRITE works) from the shipped SHIPPED_CONF, plus
# `replicaof` when another node is master. See lib.sh for the environment.
set -eu
. "$(dirname "$0")/lib.sh"
cp "$SHIPPED_CONF" "$RUNTIME_CONF"
master=$(find_master)
if [ "$master" = "$SELF" ]; then
  log "starting $SELF as master"
else
  log "starting $SELF as replica of $master"
  echo "replicaof ${master%:*} ${master##*:}" >>"$RUNTIME_CONF"
fi
