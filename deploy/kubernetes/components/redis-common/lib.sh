# Functions shared by probe.sh, redis-init.sh and sentinel-init.sh (POSIX sh).
#
# Environment:
#   REDIS_TLS      "yes" to talk TLS (with REDIS_TLS_CA, the CA file)
#   REDIS_CLI_USER ACL user for the data nodes (unset: the default user)
#   REDIS_AUTH     password for the data nodes
#   SENTINEL_AUTH  password for the Sentinels
#   MASTER_NAME    the master's name in Sentinel
#   SENTINELS      Sentinels to ask, "host:port host:port ..."
#   NODES          data nodes to ask, "host:port host:port ..."
#   SELF           this node's own host:port (skipped when asking)
#   BOOTSTRAP      the data node that is master when nobody knows better

# cli HOST PORT PASSWORD [USER] -- ARGS...: one redis-cli call with a time limit.
# The password travels in REDISCLI_AUTH, never on the command line.
cli() {
  _host=$1 _port=$2 _pass=$3 _user=$4
  shift 5
  set -- -h "$_host" -p "$_port" --no-auth-warning --raw "$@"
  if [ -n "$_user" ]; then set -- --user "$_user" "$@"; fi
  if [ "${REDIS_TLS:-no}" = yes ]; then set -- --tls --cacert "$REDIS_TLS_CA" "$@"; fi
  REDISCLI_AUTH=$_pass timeout 3 redis-cli "$@"
}

log() {
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $*" >&2
}

# find_master: prints host:port of the data node that should be master. Asks the
# Sentinels first (they know about failovers), then the data nodes (one that says
# it is master), and falls back to BOOTSTRAP on a first start.
find_master() {
  for s in $SENTINELS; do
    [ "$s" = "$SELF" ] && continue
    if reply=$(cli "${s%:*}" "${s##*:}" "${SENTINEL_AUTH:-}" "" -- \
      sentinel get-master-addr-by-name "$MASTER_NAME" 2>/dev/null); then
      host=$(printf '%s\n' "$reply" | sed -n 1p)
      port=$(printf '%s\n' "$reply" | sed -n 2p)
      if [ -n "$host" ] && [ -n "$port" ]; then
        log "sentinel $s names master $host:$port"
        echo "$host:$port"
        return
      fi
    fi
  done
  for n in $NODES; do
    [ "$n" = "$SELF" ] && continue
    if info=$(cli "${n%:*}" "${n##*:}" "${REDIS_AUTH:-}" "${REDIS_CLI_USER:-}" -- info replication 2>/dev/null) &&
      printf '%s\n' "$info" | grep -q '^role:master'; then
      log "data node $n is master"
      echo "$n"
      return
    fi
  done
  log "no Sentinel or data node knows a master: bootstrap node $BOOTSTRAP"
  echo "$BOOTSTRAP"
}
