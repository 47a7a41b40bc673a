# Promotes with the version's mechanism (pg_promote() from 12, pg_ctl promote from
# 9.1, the trigger file before) and waits until the server accepts writes.
#
# With STOP_IF_UNFINISHED=1 (the old primary is started again when this fails), a
# promotion that was asked for and did not finish in time, or whose outcome is
# unknown (the connection broke), is ended by stopping this server: a standby that
# finishes its promotion after the old primary runs again would be a second
# primary. A request that PostgreSQL refused (an error) asked for nothing. When
# the server cannot be stopped either, UNFINISHED says so to still_standby.sh,
# which then keeps the old primary stopped.
# Not `set -e`: it reads psql's exit code after a failed pg_promote() (CODE=$?)
# and decides on it (`set -u` comes with lib.sh).
UNFINISHED="$PG_DATA_DIR/pgconverge-promotion-unfinished"
rm -f "$UNFINISHED"
wait_for_server || exit 1
in_recovery() {
  [ "$(pg_sql -c 'select pg_is_in_recovery()')" = t ]
}
unfinished() {
  echo "$1" >&2
  if [ "$STOP_IF_UNFINISHED" = 1 ] && { ! server_answers || in_recovery; }; then
    if run_command "$STOP_COMMAND" >/dev/null 2>&1 && wait_until "$SERVER_WAIT_SECONDS" server_is_down; then
      echo "stopped it, so that the promotion cannot finish later" >&2
    else
      as_pg touch "$UNFINISHED"
      echo "it could not be stopped: the promotion may still finish" >&2
    fi
  fi
  exit 1
}
if [ "$PG_MAJOR_NUM" -ge 1200 ]; then
  RESULT=$(pg_sql -c "select pg_promote(true, $WAIT_SECONDS)")
  CODE=$?
  case "$CODE:$RESULT" in
    0:t) ;;
    0:*) unfinished "pg_promote() did not finish within $WAIT_SECONDS s" ;;
    1:*)
      echo 'pg_promote() failed: nothing was promoted' >&2
      exit 1
      ;;
    *) unfinished "pg_promote() did not answer (psql exit code $CODE)" ;;
  esac
elif [ "$PG_MAJOR_NUM" -ge 901 ]; then
  as_pg "$PG_BIN_DIR/pg_ctl" promote -D "$PG_DATA_DIR" >/dev/null || exit 1
else
  # The PostgreSQL OS user's data directory: that user makes the trigger file.
  as_pg touch "$PG_DATA_DIR/promote.trigger"
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
  # pg_rewind reads a source's timeline from its last checkpoint: until one is
  # made on the new timeline, the old primary's rewind from here would start at
  # the wrong place. A restart used to make it; a promotion no longer restarts.
  if ! OUT=$(pg_sql -c 'checkpoint' 2>&1); then
    echo "promoted, but the checkpoint after it failed (a pg_rewind from here waits for the next one): $OUT" >&2
  fi
  echo "promoted: out of recovery and accepting writes"
  exit 0
fi
unfinished "still in recovery or read-only $WAIT_SECONDS s after the promotion"
