# The newest timeline history file of the data directory: its name as
# `timeline.file` and its content as `timeline.history`. A server that never
# left timeline 1 has none.
if [ -f "$PG_DATA_DIR/PG_VERSION" ]; then
  if [ -d "$PG_DATA_DIR/pg_wal" ]; then WAL_DIR="$PG_DATA_DIR/pg_wal"; else WAL_DIR="$PG_DATA_DIR/pg_xlog"; fi
  # The shell lists the names in order (LC_ALL=C): the last is the newest.
  HISTORY=''
  for f in "$WAL_DIR"/[0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F].history; do
    if [ -f "$f" ]; then HISTORY=$f; fi
  done
  if [ -n "$HISTORY" ]; then
    emit timeline.file "${HISTORY##*/}"
    emit timeline.history "$(head -c 65536 "$HISTORY")"
  fi
fi
