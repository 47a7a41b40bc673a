# After the upgrade: optimizer statistics for the new cluster, which pg_upgrade
# does not carry over, in stages so that rough ones come first.
set -eu
if ! OUT=$(as_pg "$PG_BIN_DIR/vacuumdb" --all --analyze-in-stages -h "$PG_SOCKET_DIR" -p "$PG_PORT" 2>&1); then
  printf '%s\n' "$OUT" >&2
  exit 1
fi
echo "analyzed every database"
