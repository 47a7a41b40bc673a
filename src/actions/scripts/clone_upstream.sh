# Clones the upstream with pg_basebackup. The old data directory is moved aside
# with a timestamp, never deleted (an empty one is reused); if the clone fails, it
# is moved back and the server started again if it ran before.
DATA="$PG_DATA_DIR"
case "$DATA" in
  / | "")
    echo "refusing to replace data directory '$DATA'" >&2
    exit 1
    ;;
esac
WAS_RUNNING=0
if [ -f "$DATA/postmaster.pid" ]; then
  WAS_RUNNING=1
  run_command "$STOP_COMMAND" || {
    echo "could not stop PostgreSQL before the base backup" >&2
    exit 1
  }
fi
ASIDE=""
if [ -d "$DATA" ] && [ -z "$(ls -A "$DATA")" ]; then
  # An empty directory (left by a rewind that failed part way) holds nothing to keep.
  rmdir "$DATA"
elif [ -e "$DATA" ]; then
  ASIDE="$DATA.pgconverge-$(date -u +%Y%m%dT%H%M%SZ)"
  mv "$DATA" "$ASIDE"
fi
install -d -o "$PG_OS_USER" -g "$PG_OS_GROUP" -m 0700 "$DATA"
if ! OUT=$(as_pg env PGPASSFILE="$PASSFILE" PGSSLMODE="$SSLMODE" "$PG_BIN_DIR/pg_basebackup" -h "$UPSTREAM_HOST" -p "$UPSTREAM_PORT" -U "$REPLICATION_USER" -D "$DATA" "$WAL_METHOD" ${SLOT_NAME:+"--slot=$SLOT_NAME"} --checkpoint=fast --no-password 2>&1); then
  rm -rf "$DATA"
  if [ -n "$ASIDE" ]; then
    mv "$ASIDE" "$DATA"
    if [ "$WAS_RUNNING" = 1 ]; then
      run_command "$START_COMMAND" >/dev/null 2>&1 && wait_for_server
    fi
    echo "pg_basebackup from $UPSTREAM_HOST failed; the previous data directory is back in place:" >&2
  else
    echo "pg_basebackup from $UPSTREAM_HOST failed:" >&2
  fi
  printf '%s\n' "$OUT" >&2
  exit 1
fi
if [ -n "$ASIDE" ]; then
  echo "cloned from $UPSTREAM_HOST; the previous data directory is kept as $ASIDE"
else
  echo "cloned from $UPSTREAM_HOST"
fi
