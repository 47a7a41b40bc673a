# Waits until the upstream's pg_stat_replication shows the standby streaming.
set -eu
standby_streams() {
  STATE=$(pg_sql -v application_name="$APPLICATION_NAME" 2>/dev/null <<'SQL'
select state from pg_stat_replication where application_name = :'application_name';
SQL
)
  [ "$STATE" = streaming ]
}
if wait_until "$WAIT_SECONDS" standby_streams; then
  echo "pg_stat_replication shows $APPLICATION_NAME streaming"
  exit 0
fi
echo "pg_stat_replication does not show $APPLICATION_NAME streaming after $WAIT_SECONDS s" >&2
exit 1
