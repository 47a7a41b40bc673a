# After a failed promotion, before the old primary runs again: shows that this
# server is a standby and cannot become a primary later. A promotion asked for and
# not finished was stopped by promote.sh (the server is down then); a request not
# yet taken up is withdrawn here. Fails, so that the old primary stays stopped,
# when this server left recovery, when promote.sh could not stop it with its
# promotion unfinished (its marker), or when its data directory is not a standby's.
# Not `set -e`: removing a promotion's trigger files may fail without changing
# the answer, which is the state the server reports (`set -u` comes with
# lib.sh).
if [ -e "$PG_DATA_DIR/pgconverge-promotion-unfinished" ]; then
  echo "its promotion did not finish and it could not be stopped: it may still become a primary" >&2
  exit 1
fi
if server_answers; then
  rm -f "$PG_DATA_DIR/promote" "$PG_DATA_DIR/promote.trigger"
  if [ "$(pg_sql -c 'select pg_is_in_recovery()')" = t ]; then
    echo "still a standby"
    exit 0
  fi
  echo "it left recovery: the promotion finished after all, and it accepts writes" >&2
  exit 1
fi
STATE=$(as_pg "$PG_BIN_DIR/pg_controldata" -D "$PG_DATA_DIR" 2>&1 | sed -n 's/^Database cluster state: *//p')
case "$STATE" in
  "shut down in recovery" | "in archive recovery")
    rm -f "$PG_DATA_DIR/promote" "$PG_DATA_DIR/promote.trigger"
    echo "down, and still a standby ($STATE)"
    ;;
  *)
    echo "it is down, and its data directory says \"${STATE:-nothing}\", not a standby's state: it may have been promoted" >&2
    exit 1
    ;;
esac
