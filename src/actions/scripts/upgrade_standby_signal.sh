# The new data directory the rsync brought is the primary's: this member starts
# as a standby (standby.signal; its primary_conninfo comes with the apply after).
[ -d "$PG_DATA_DIR" ] || {
  echo "$PG_DATA_DIR is missing after the rsync" >&2
  exit 1
}
as_pg touch "$PG_DATA_DIR/standby.signal"
echo "marked $PG_DATA_DIR as a standby"
