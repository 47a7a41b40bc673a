# Promotes with the version's mechanism (pg_promote() from 12, pg_ctl promote from
# 9.1, the trigger file before) and waits until the server accepts writes.
wait_for_server || exit 1
if [ "$PG_MAJOR_NUM" -ge 1200 ]; then
  [ "$(pg_sql -c "select pg_promote(true, $WAIT_SECONDS)")" = t ] || {
    echo 'pg_promote() did not finish' >&2
    exit 1
  }
elif [ "$PG_MAJOR_NUM" -ge 901 ]; then
  as_pg "$PG_BIN_DIR/pg_ctl" promote -D "$PG_DATA_DIR" >/dev/null || exit 1
else
  touch "$PG_DATA_DIR/promote.trigger" && chown "$PG_OS_USER" "$PG_DATA_DIR/promote.trigger"
fi
if [ "$PG_MAJOR_NUM" -ge 1300 ]; then
  XID_QUERY='select pg_current_xact_id()'
else
  XID_QUERY='select txid_current()'
fi
accepts_writes() {
  [ "$(pg_sql -c 'select pg_is_in_recovery()')" = f ] && pg_sql -c "$XID_QUERY" >/dev/null 2>&1
}
if wait_until "$WAIT_SECONDS" accepts_writes; then
  echo "promoted: out of recovery and accepting writes"
  exit 0
fi
echo "still in recovery or read-only $WAIT_SECONDS s after the promotion" >&2
exit 1
