# The old cluster no longer starts at boot (Debian: its start.conf says manual;
# the previous one is kept as start.conf.pgconverge-upgrade), and a marker beside
# the new configuration lists the old directories that `upgrade --cleanup`
# removes once the upgrade is done.
set -e
if [ -f "$OLD_CONFIG_DIR/start.conf" ]; then
  cp -p "$OLD_CONFIG_DIR/start.conf" "$OLD_CONFIG_DIR/start.conf.pgconverge-upgrade"
  printf '%s\n' "# pgconverge upgrade: PostgreSQL $NEW_VERSION runs now; this cluster starts only by hand" manual >"$OLD_CONFIG_DIR/start.conf"
fi
install -d "$(dirname "$MARKER")"
printf '%s\n' "$MARKER_CONTENT" >"$MARKER.pgconverge-new"
mv "$MARKER.pgconverge-new" "$MARKER"
echo "the old cluster starts only by hand now; its directories are listed in $MARKER"
