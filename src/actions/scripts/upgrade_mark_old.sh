# The old cluster no longer starts at boot (Debian: its start.conf says manual;
# the previous one is kept as start.conf.pgconverge-upgrade), and a marker lists
# the old directories that `upgrade --cleanup` removes once the upgrade is done.
#
# start.conf is the PostgreSQL OS user's, in that user's directory: it is
# changed by that user (by root only where root alone owns the directory), a
# new file made beside it and renamed over it. The marker decides what
# `--cleanup` deletes, so it is root's and lives where only root can write
# (MARKER's directory, made 0700 here in a directory root alone owns), written
# to a temporary name there and renamed into place.
set -eu
START_CONF="$OLD_CONFIG_DIR/start.conf"
if [ -f "$START_CONF" ]; then
  in_directory "$OLD_CONFIG_DIR" rm -f -- "$START_CONF.pgconverge-upgrade"
  in_directory "$OLD_CONFIG_DIR" cp -p -- "$START_CONF" "$START_CONF.pgconverge-upgrade"
  NEW=$(in_directory "$OLD_CONFIG_DIR" mktemp "$START_CONF.pgconverge-new.XXXXXX")
  in_directory "$OLD_CONFIG_DIR" cp -p -- "$START_CONF" "$NEW"
  printf '%s\n' "# pgconverge upgrade: PostgreSQL $NEW_VERSION runs now; this cluster starts only by hand" manual |
    in_directory "$OLD_CONFIG_DIR" tee "$NEW" >/dev/null
  in_directory "$OLD_CONFIG_DIR" mv -fT -- "$NEW" "$START_CONF"
fi
MARKER_DIR=$(dirname "$MARKER")
if [ "$(id -u)" != 0 ] || ! root_owns_path "$(dirname "$MARKER_DIR")"; then
  echo "$(dirname "$MARKER_DIR") is not a directory root alone owns (or this is not root): refusing to keep the upgrade's marker there" >&2
  exit 1
fi
[ -e "$MARKER_DIR" ] || [ -L "$MARKER_DIR" ] || mkdir -m 0700 "$MARKER_DIR"
if ! root_owns_path "$MARKER_DIR"; then
  echo "$MARKER_DIR is not a directory root alone owns: refusing to keep the upgrade's marker there" >&2
  exit 1
fi
TMP=$(mktemp "$MARKER.XXXXXX")
printf '%s\n' "$MARKER_CONTENT" >"$TMP"
mv -fT "$TMP" "$MARKER"
echo "the old cluster starts only by hand now; its directories are listed in $MARKER"
