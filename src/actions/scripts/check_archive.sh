# Switches to a new WAL segment on the primary and waits until the archiver has
# archived it (and, for a directory, until it is there) with no new failure.
# With pgBackRest (PGBACKREST_STANZA), its own `check` does that end to end: a
# segment switched and found in the repository.
# Not `set -e`: a statistic that cannot be read (psql failing) leaves its
# variable empty and the wait goes on to say what it saw, as before (`set -u`
# comes with lib.sh).
if [ -n "$PGBACKREST_STANZA" ]; then
  if ! OUT=$(as_pg pgbackrest --stanza="$PGBACKREST_STANZA" check 2>&1); then
    echo "archiving into $DESTINATION fails: pgbackrest check says:" >&2
    printf '%s\n' "$OUT" | sed 's/^/    /' >&2
    exit 1
  fi
  echo "pgbackrest check passes: WAL reaches $DESTINATION"
  exit 0
fi
FAILED_BEFORE=$(pg_sql -c 'select failed_count from pg_stat_archiver')
# A switch with no WAL written since the last one does nothing and returns a
# place in the segment in use, which is not archived until it fills: a
# transaction's commit record first makes sure there is something to switch.
pg_sql -c 'select txid_current()' >/dev/null
if [ "$PG_MAJOR_NUM" -ge 1000 ]; then
  SEGMENT=$(pg_sql -c 'select pg_walfile_name(pg_switch_wal())')
else
  SEGMENT=$(pg_sql -c 'select pg_xlogfile_name(pg_switch_xlog())')
fi
archiver_state() {
  pg_sql -F ' ' -v segment="$SEGMENT" <<'SQL'
select coalesce(last_archived_wal >= :'segment', false), failed_count, coalesce(last_failed_wal, '-') from pg_stat_archiver;
SQL
}
archived_or_failed() {
  STATE=$(archiver_state)
  ARCHIVED=${STATE%% *}
  REST=${STATE#* }
  FAILED=${REST%% *}
  LAST_FAILED=${REST#* }
  [ "$FAILED" != "$FAILED_BEFORE" ] || [ "$ARCHIVED" = t ]
}
if ! wait_until "$WAIT_SECONDS" archived_or_failed; then
  echo "segment $SEGMENT did not reach $DESTINATION within $WAIT_SECONDS s" >&2
  exit 1
fi
if [ "$FAILED" != "$FAILED_BEFORE" ]; then
  echo "archiving into $DESTINATION fails: pg_stat_archiver failed_count rose from $FAILED_BEFORE to $FAILED (last failed segment $LAST_FAILED); see the server log for the archive command's error" >&2
  exit 1
fi
if [ -n "$ARCHIVE_DIR" ] && [ ! -f "$ARCHIVE_DIR/$SEGMENT" ]; then
  echo "pg_stat_archiver reports $SEGMENT archived, but it is not in $DESTINATION" >&2
  exit 1
fi
echo "segment $SEGMENT reached $DESTINATION"
