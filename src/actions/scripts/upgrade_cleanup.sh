# `upgrade --cleanup`: deletes the old cluster's directories the plan names
# (PATHS, one a line), which pgconverge read from the upgrade's marker and
# checked against the inventory's directories of the old version, once the new
# version runs here. Destructive by design: only with that explicit flag, and
# the plan names every directory first.
#
# The marker is root's, in a directory only root can write, and must still say
# what the plan was made from. A directory is deleted by the PostgreSQL OS user
# where that user owns the directory above it (rm follows no link, and that
# user can delete nothing it could not delete by itself), by root only where
# root alone owns it; a link in place of a directory is refused, never followed.
# Not `set -e`: the marker's removal after the directories are gone may fail
# without undoing what was removed; the script says what it removed either way
# (`set -u` comes with lib.sh).
if [ ! -e "$MARKER" ] && [ ! -L "$MARKER" ]; then
  echo "no upgrade marker $MARKER: nothing to clean up"
  exit 0
fi
if [ -L "$MARKER" ] || [ ! -f "$MARKER" ] || ! root_owns_path "$(dirname "$MARKER")"; then
  echo "$MARKER is not a file in a directory root alone owns: refusing to act on it" >&2
  exit 1
fi
if [ "$(cat "$MARKER")" != "$MARKER_CONTENT" ]; then
  echo "$MARKER changed since the plan was made: nothing was removed; run \`upgrade --cleanup\` again" >&2
  exit 1
fi
if ! server_answers; then
  echo "PostgreSQL $NEW_VERSION does not run here: the old cluster is kept" >&2
  exit 1
fi
if [ "$(pg_sql -c 'show server_version_num')" -lt "$((PG_MAJOR_NUM * 100))" ]; then
  echo "the server that runs is not PostgreSQL $NEW_VERSION: the old cluster is kept" >&2
  exit 1
fi
printf '%s\n' "$PATHS" | while IFS= read -r path; do
  [ -n "$path" ] || continue
  case "$path" in
    /* ) ;;
    *)
      echo "refusing to remove $path: not an absolute path" >&2
      exit 1
      ;;
  esac
  case "$path" in
    / | "$PG_DATA_DIR" | "$CONFIG_DIR")
      echo "refusing to remove $path" >&2
      exit 1
      ;;
  esac
  if [ -L "$path" ]; then
    echo "$path is a link (to $(readlink "$path")): refusing to remove through it; remove the link by hand" >&2
    exit 1
  fi
  if [ ! -e "$path" ]; then
    echo "$path is gone already"
    continue
  fi
  if ! in_directory "$(dirname "$path")" rm -rf -- "$path"; then
    echo "could not remove all of $path" >&2
    exit 1
  fi
  echo "removed $path"
done || exit 1
rm -f -- "$MARKER"
echo "removed the marker $MARKER"
