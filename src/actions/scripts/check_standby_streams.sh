# Waits until the standby's WAL receiver streams from its upstream.
set -eu
if [ "$PG_MAJOR_NUM" -ge 1100 ]; then
  RECEIVER_QUERY="select status || ' ' || coalesce(sender_host, '') from pg_stat_wal_receiver"
else
  RECEIVER_QUERY="select status || ' ' || coalesce(conninfo, '') from pg_stat_wal_receiver"
fi
STATE=""
streams_from_upstream() {
  STATE=$(pg_sql -c "$RECEIVER_QUERY" 2>/dev/null)
  case "$STATE" in
    "streaming "*"$UPSTREAM_HOST"*) return 0 ;;
  esac
  return 1
}
if wait_until "$WAIT_SECONDS" streams_from_upstream; then
  echo "streaming from $UPSTREAM_HOST"
  exit 0
fi
echo "not streaming from $UPSTREAM_HOST after $WAIT_SECONDS s (WAL receiver: ${STATE:-none})" >&2
exit 1
