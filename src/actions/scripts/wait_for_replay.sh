# Waits until the standby has replayed past POSITION.
set -eu
if [ "$PG_MAJOR_NUM" -ge 1000 ]; then
  REPLAYED='pg_last_wal_replay_lsn()'
  DIFF=pg_wal_lsn_diff
else
  REPLAYED='pg_last_xlog_replay_location()'
  DIFF=pg_xlog_location_diff
fi
replayed_past() {
  [ "$(pg_sql -v position="$POSITION" <<SQL
select $DIFF($REPLAYED, :'position') > 0;
SQL
)" = t ]
}
if wait_until "$WAIT_SECONDS" replayed_past; then
  echo "replayed past $POSITION"
  exit 0
fi
echo "did not replay past $POSITION within $WAIT_SECONDS s (replayed: $(pg_sql -c "select $REPLAYED"))" >&2
exit 1
