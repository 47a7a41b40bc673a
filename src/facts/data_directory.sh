# The data directory as it is on disk, whether or not the server runs: its
# version, pg_controldata, the files that mark a standby, postmaster.pid's
# port, a failed rewind's words, a rewind cut short (its mark beside the
# directory), the slots kept on disk and the WAL segments
# waiting to be archived.
if [ -f "$PG_DATA_DIR/PG_VERSION" ]; then
  PG_VERSION_FILE=''
  IFS= read -r PG_VERSION_FILE < "$PG_DATA_DIR/PG_VERSION" || true
  emit data.pg_version "$PG_VERSION_FILE"
  emit data.controldata "$(as_pg "$PG_BIN_DIR/pg_controldata" -D "$PG_DATA_DIR" 2>/dev/null)"
  count_existing "$PG_DATA_DIR"/base/*
  emit data.database_directories "$COUNT"
  [ -f "$PG_DATA_DIR/standby.signal" ] && emit data.standby_signal yes
  [ -f "$PG_DATA_DIR/recovery.conf" ] && emit data.recovery_conf yes
  if [ -f "$PG_DATA_DIR/postmaster.pid" ]; then
    # Its fourth line is the port.
    POSTMASTER_PORT=''
    { read -r _; read -r _; read -r _; read -r POSTMASTER_PORT; } < "$PG_DATA_DIR/postmaster.pid" || true
    emit data.postmaster_pid "$POSTMASTER_PORT"
  fi
  [ -f "$PG_DATA_DIR/pgconverge-rewind-failed" ] && emit data.rewind_failed "$(head -c 4000 "$PG_DATA_DIR/pgconverge-rewind-failed")"
  { [ -e "$PG_DATA_DIR.pgconverge-rewinding" ] || [ -L "$PG_DATA_DIR.pgconverge-rewinding" ]; } && emit data.rewind_interrupted yes
  if [ -d "$PG_DATA_DIR/pg_replslot" ]; then
    SLOTS=''
    for f in "$PG_DATA_DIR"/pg_replslot/*; do if [ -e "$f" ]; then SLOTS="$SLOTS${f##*/}
"; fi; done
    emit data.slots_on_disk "$SLOTS"
  fi
  count_existing "$PG_DATA_DIR"/pg_wal/archive_status/*.ready "$PG_DATA_DIR"/pg_xlog/archive_status/*.ready
  emit data.wal_ready "$COUNT"
fi
