# After the clean stops of an upgrade: the `Latest checkpoint location` of this
# member, read with the old version's pg_controldata. A standby's must equal the
# primary's (EXPECTED): it then replayed every record the primary wrote.
set -eu
OUT=$(as_pg "$PG_BIN_DIR/pg_controldata" -D "$PG_DATA_DIR") || exit 1
STATE=$(printf '%s\n' "$OUT" | sed -n 's/^Database cluster state: *//p')
case "$STATE" in
  "shut down" | "shut down in recovery") ;;
  *)
    echo "the server is not cleanly shut down (cluster state: $STATE)" >&2
    exit 1
    ;;
esac
LOCATION=$(printf '%s\n' "$OUT" | sed -n 's/^Latest checkpoint location: *//p')
if [ -n "$EXPECTED" ] && [ "$LOCATION" != "$EXPECTED" ]; then
  echo "its latest checkpoint location $LOCATION is not the primary's $EXPECTED: it did not replay everything the primary wrote" >&2
  exit 1
fi
printf '%s\n' "$LOCATION"
