# `upgrade --cleanup`: removes the old cluster's directories that the upgrade's
# marker lists, once the new version runs here. Destructive by design: only
# with that explicit flag, and the plan names every directory first.
if [ ! -f "$MARKER" ]; then
  echo "no upgrade marker $MARKER: nothing to clean up"
  exit 0
fi
if ! server_answers; then
  echo "PostgreSQL $NEW_VERSION does not run here: the old cluster is kept" >&2
  exit 1
fi
if [ "$(pg_sql -c 'show server_version_num')" -lt "$((PG_MAJOR_NUM * 100))" ]; then
  echo "the server that runs is not PostgreSQL $NEW_VERSION: the old cluster is kept" >&2
  exit 1
fi
while read -r kind path; do
  case "$kind" in
    old_data_dir | old_config_dir | restore_point) ;;
    *) continue ;;
  esac
  case "$path" in
    / | "" | "$PG_DATA_DIR" | "$CONFIG_DIR")
      echo "refusing to remove $path" >&2
      exit 1
      ;;
  esac
  if [ -e "$path" ]; then
    rm -rf -- "$path"
    echo "removed $path"
  fi
done <"$MARKER"
rm -f "$MARKER"
