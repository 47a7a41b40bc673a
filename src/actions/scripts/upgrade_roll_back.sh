# Puts a member back on the old version after an upgrade failed before the new
# primary first started: the new cluster and configuration moved aside (never
# deleted), the old pg_control back in place (pg_upgrade --link renamed it
# pg_control.old), a standby's data directory back from its restore point (the
# rsync replaced it with the primary's), the old start.conf back, and the old
# server started. Every part is skipped when there is nothing to put back.
#
# Every directory moved is the PostgreSQL OS user's, in directories that user
# usually owns: a move is root's only where root alone owns both directories,
# else that user's (`mv -T`: a name is renamed, never followed into).
set -eu
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
move() {
  if [ "$(id -u)" = 0 ] && root_owns_path "$(dirname "$1")" && root_owns_path "$(dirname "$2")"; then
    mv -T -- "$1" "$2"
  else
    as_pg mv -T -- "$1" "$2"
  fi
}
if [ -d "$NEW_DATA_DIR" ] || [ -L "$NEW_DATA_DIR" ]; then
  move "$NEW_DATA_DIR" "$NEW_DATA_DIR.pgconverge-failed-$STAMP"
  echo "moved the new $NEW_DATA_DIR aside to $NEW_DATA_DIR.pgconverge-failed-$STAMP" >&2
fi
if [ "$NEW_CONFIG_DIR" != "$NEW_DATA_DIR" ] && { [ -d "$NEW_CONFIG_DIR" ] || [ -L "$NEW_CONFIG_DIR" ]; }; then
  # Beside the new data directory, not under the configuration root, where the
  # service tools would take it for a cluster.
  if move "$NEW_CONFIG_DIR" "$NEW_DATA_DIR.pgconverge-failed-$STAMP-config"; then
    echo "moved the new $NEW_CONFIG_DIR aside to $NEW_DATA_DIR.pgconverge-failed-$STAMP-config" >&2
  else
    echo "could not move the new $NEW_CONFIG_DIR aside: remove it by hand before the next upgrade" >&2
  fi
fi
if [ -d "$RESTORE_POINT" ]; then
  move "$OLD_DATA_DIR" "$OLD_DATA_DIR.pgconverge-rsynced-$STAMP"
  move "$RESTORE_POINT" "$OLD_DATA_DIR"
  echo "put $OLD_DATA_DIR back from its restore point (the rsynced one is $OLD_DATA_DIR.pgconverge-rsynced-$STAMP)" >&2
fi
if [ -f "$OLD_DATA_DIR/global/pg_control.old" ] && [ ! -f "$OLD_DATA_DIR/global/pg_control" ]; then
  as_pg mv -T -- "$OLD_DATA_DIR/global/pg_control.old" "$OLD_DATA_DIR/global/pg_control"
  echo "put $OLD_DATA_DIR/global/pg_control back" >&2
fi
if [ -f "$OLD_CONFIG_DIR/start.conf.pgconverge-upgrade" ]; then
  in_directory "$OLD_CONFIG_DIR" mv -fT -- "$OLD_CONFIG_DIR/start.conf.pgconverge-upgrade" "$OLD_CONFIG_DIR/start.conf"
fi
# The marker is root's, in a directory only root can write.
if root_owns_path "$(dirname "$MARKER")"; then
  rm -f -- "$MARKER"
fi
set +e
if server_answers; then
  echo "PostgreSQL $OLD_VERSION runs"
  exit 0
fi
run_command "$START_COMMAND" || exit 1
wait_for_server && echo "PostgreSQL $OLD_VERSION runs again"
