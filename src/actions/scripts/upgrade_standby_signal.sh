# The new data directory the rsync brought is the primary's: this member starts
# as a standby (standby.signal; its primary_conninfo comes with the apply after).
# Runs as the PostgreSQL OS user, who owns that directory.
set -eu
[ -d "$PG_DATA_DIR" ] || {
  echo "$PG_DATA_DIR is missing after the rsync" >&2
  exit 1
}
: >>"$PG_DATA_DIR/standby.signal" || exit 1
echo "marked $PG_DATA_DIR as a standby"
