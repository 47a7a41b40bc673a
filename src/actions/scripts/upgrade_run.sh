# pg_upgrade --link from the old cluster to the new one, both stopped, in a
# fresh working directory under /var/tmp that keeps its log. Runs as the
# PostgreSQL OS user, whose files these all are. On failure the log's tail is
# shown; the old cluster is put back by the step's undo (its pg_control.old
# renamed back).
set -eu
WORK=$(mktemp -d /var/tmp/pgconverge-upgrade.XXXXXX) || exit 1
set -- --link -b "$OLD_BIN_DIR" -B "$PG_BIN_DIR" -d "$OLD_DATA_DIR" -D "$PG_DATA_DIR" -p "$UPGRADE_PORT" -P "$UPGRADE_PORT" -s "$WORK"
if [ -n "$OLD_CONFIG_FILE" ]; then
  set -- "$@" -o "-c config_file=$OLD_CONFIG_FILE"
fi
if [ -n "$NEW_CONFIG_FILE" ]; then
  set -- "$@" -O "-c config_file=$NEW_CONFIG_FILE"
fi
LOG="$WORK/pg_upgrade.log"
if (cd "$WORK" && "$PG_BIN_DIR/pg_upgrade" "$@") >"$LOG" 2>&1; then
  echo "upgraded with pg_upgrade --link (its output: $LOG)"
  exit 0
fi
{
  echo "pg_upgrade failed; the last lines of $LOG:"
  tail -n 25 "$LOG" | sed 's/^/    /'
  # The server's log says why a server did not start; the dumps' logs are long.
  for detail in "$PG_DATA_DIR"/pg_upgrade_output.d/*/log/pg_upgrade_server.log; do
    [ -f "$detail" ] || continue
    echo "the last lines of $detail:"
    tail -n 8 "$detail" | sed 's/^/    /'
  done
  for detail in "$PG_DATA_DIR"/pg_upgrade_output.d/*/log/pg_upgrade_dump_*.log; do
    [ -f "$detail" ] || continue
    if grep -qi 'error' "$detail"; then
      echo "errors in $detail:"
      grep -i -m 5 'error' "$detail" | sed 's/^/    /'
    fi
  done
} >&2
exit 1
