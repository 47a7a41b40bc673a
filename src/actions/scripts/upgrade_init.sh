# Makes the new version's cluster with the inventory's init command, given the
# old cluster's encoding, locale, data checksums and WAL segment size as initdb
# options (after `--` for pg_createcluster). Refuses a data directory that holds
# anything: the upgrade makes a new cluster, it never reuses one.
if [ -d "$PG_DATA_DIR" ] && [ -n "$(ls -A "$PG_DATA_DIR")" ]; then
  echo "$PG_DATA_DIR is not empty: the upgrade makes a new cluster there" >&2
  exit 1
fi
set -- --encoding="$ENCODING" --lc-collate="$LC_COLLATE" --lc-ctype="$LC_CTYPE" --wal-segsize="$WAL_SEGMENT_MB"
if [ "$CHECKSUMS" = yes ]; then
  set -- "$@" --data-checksums
elif [ "$PG_MAJOR_NUM" -ge 1800 ]; then
  # From 18 initdb turns checksums on unless told not to.
  set -- "$@" --no-data-checksums
fi
case "$INIT_COMMAND" in
  *pg_createcluster*) set -- -- "$@" ;;
esac
if ! OUT=$(sh -c "$INIT_COMMAND \"\$@\"" init "$@" 2>&1); then
  printf '%s\n' "$OUT" >&2
  exit 1
fi
echo "made a PostgreSQL $NEW_VERSION cluster in $PG_DATA_DIR"
