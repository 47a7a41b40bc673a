# Before a standby stops for an upgrade, after its primary stopped: it replays
# all it received (the primary's shutdown checkpoint last), bounded, so that its
# latest checkpoint can be the primary's.
set -eu
replayed_all() {
  [ "$(pg_sql -c 'select coalesce(pg_last_wal_replay_lsn() >= pg_last_wal_receive_lsn(), true)')" = t ]
}
if ! server_answers; then
  echo "PostgreSQL does not run" >&2
  exit 1
fi
if ! wait_until 30 replayed_all; then
  echo "it did not replay all it received within 30 s" >&2
  exit 1
fi
echo "replayed all it received"
