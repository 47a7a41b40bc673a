# Makes the new version's cluster with the inventory's init command, given the
# old cluster's encoding, locale, data checksums and WAL segment size as initdb
# options (after `--` for pg_createcluster). Refuses a data directory that holds
# anything (listed by the PostgreSQL OS user, whose directory it is): the
# upgrade makes a new cluster, it never reuses one.
#
# The init command runs as root (pg_createcluster makes directories and gives
# them to the PostgreSQL OS user), so a link on the way to the new data or
# configuration directory that another user could have planted (one in a
# directory root does not alone own: /var/lib/postgresql/V, /etc/postgresql/V
# on Debian) is refused first, naming it.
set -eu
planted_link() {
  link_path=$1
  while [ "$link_path" != / ] && [ "$link_path" != . ]; do
    if [ -L "$link_path" ] && ! root_owns_path "$(dirname "$link_path")"; then
      printf '%s' "$link_path"
      return 0
    fi
    link_path=$(dirname "$link_path")
  done
  return 1
}
for path in "$PG_DATA_DIR" "$NEW_CONFIG_DIR"; do
  if link=$(planted_link "$path"); then
    echo "$link is a link (to $(readlink "$link")) in a directory another user can write: refusing to make the new cluster through it; remove it" >&2
    exit 1
  fi
done
if [ -d "$PG_DATA_DIR" ]; then
  if ! LISTING=$(as_pg ls -A "$PG_DATA_DIR") || [ -n "$LISTING" ]; then
    echo "$PG_DATA_DIR is not empty: the upgrade makes a new cluster there" >&2
    exit 1
  fi
fi
set -- --encoding="$ENCODING" --lc-collate="$LC_COLLATE" --lc-ctype="$LC_CTYPE" --wal-segsize="$WAL_SEGMENT_MB"
if [ "$CHECKSUMS" = yes ]; then
  set -- "$@" --data-checksums
elif [ "$NO_DATA_CHECKSUMS" = yes ]; then
  # The new version's initdb turns checksums on unless told not to
  # (versions::DATA_CHECKSUMS_BY_DEFAULT), and pg_upgrade needs both clusters
  # to agree.
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
