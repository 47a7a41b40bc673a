# Rejoins a former primary: stops it cleanly (finishing crash recovery in
# single-user mode if it crashed), then pg_rewind copies what diverged from the
# upstream. Its configuration stays; the recovery step and the start follow.
DATA="$PG_DATA_DIR"
if server_answers; then
  run_command "$STOP_COMMAND" || {
    echo "could not stop PostgreSQL before pg_rewind" >&2
    exit 1
  }
fi
STATE=$(as_pg "$PG_BIN_DIR/pg_controldata" -D "$DATA" | sed -n 's/^Database cluster state: *//p')
case "$STATE" in
  "shut down" | "shut down in recovery") ;;
  *)
    # pg_rewind needs a cleanly shut down target: finish crash recovery first.
    if ! OUT=$(as_pg "$PG_BIN_DIR/postgres" --single -D "$DATA" -c "config_file=$CONFIG_FILE" postgres </dev/null 2>&1); then
      echo "crash recovery of $DATA before pg_rewind failed:" >&2
      printf '%s\n' "$OUT" >&2
      exit 1
    fi
    ;;
esac
if ! OUT=$(as_pg env PGPASSFILE="$PASSFILE" "$PG_BIN_DIR/pg_rewind" --target-pgdata="$DATA" --source-server="$SOURCE_CONNINFO" 2>&1); then
  echo "pg_rewind from $UPSTREAM_HOST failed:" >&2
  printf '%s\n' "$OUT" >&2
  exit 1
fi
printf '%s\n' "$OUT" | tail -n 1
