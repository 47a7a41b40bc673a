# On the primary, as its PostgreSQL user over the members' SSH trust: the old and
# the new data directories to the standby in one rsync, so the hard links
# between them (pg_upgrade --link) are kept there too, and only what pg_upgrade
# changed travels (--size-only: the user data files are the old standby's).
set -eu
set -- --archive --delete --hard-links --size-only --no-inc-recursive --relative
set -- "$@" -e "ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=10"
if ! OUT=$(as_pg rsync "$@" "$COMMON_PARENT/./$OLD_RELATIVE" "$COMMON_PARENT/./$NEW_RELATIVE" "$STANDBY_LOGIN:$COMMON_PARENT/" 2>&1); then
  echo "rsync to $STANDBY_LOGIN failed:" >&2
  printf '%s\n' "$OUT" >&2
  exit 1
fi
echo "copied $COMMON_PARENT/$OLD_RELATIVE and $COMMON_PARENT/$NEW_RELATIVE to $STANDBY_LOGIN"
