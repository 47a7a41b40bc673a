# Proves the backup LABEL (the latest) of STANZA restores: pgBackRest restores it into a
# scratch directory here, a throwaway PostgreSQL (BIN_DIR) starts on a free local
# port with no network, no archiving and no upstream, recovers to the end of the
# archive and answers a query (the rows of TABLE when given); then it is stopped
# and the directory removed. No member's server or data is touched.
set -eu
command -v pgbackrest >/dev/null 2>&1 || {
  echo "pgBackRest is not installed: install the package $PACKAGE" >&2
  exit 1
}
SCRATCH=$(as_pg mktemp -d "${TMPDIR:-/var/tmp}/pgconverge-verify-backup.XXXXXX")
PGPID=
cleanup() {
  if [ -n "$PGPID" ] && [ -f "$SCRATCH/data/postmaster.pid" ]; then
    as_pg "$BIN_DIR/pg_ctl" -D "$SCRATCH/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  as_pg rm -rf "$SCRATCH"
}
trap cleanup EXIT
port_taken() {
  hex=$(printf ':%04X$' "$1")
  awk '$4 == "0A" { print $2 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null | grep -q "$hex"
}
PORT=
candidate=$FIRST_PORT
while [ "$candidate" -lt $((FIRST_PORT + 100)) ]; do
  if ! port_taken "$candidate"; then
    PORT=$candidate
    break
  fi
  candidate=$((candidate + 1))
done
[ -n "$PORT" ] || { echo "no free port from $FIRST_PORT to $((FIRST_PORT + 99))" >&2; exit 1; }
STARTED=$(date +%s)
# The repository's own check first: a damaged file is named here.
if ! VERIFIED=$(as_pg pgbackrest --stanza="$STANZA" verify 2>&1); then
  echo "pgbackrest verify fails for stanza $STANZA:" >&2
  printf '%s\n' "$VERIFIED" | sed 's/^/    /' >&2
  exit 1
fi
as_pg mkdir -m 0700 "$SCRATCH/data"
if ! RESTORED=$(as_pg pgbackrest --stanza="$STANZA" --set="$LABEL" --reset-pg1-host --pg1-path="$SCRATCH/data" \
  --type=default --archive-mode=off restore 2>&1); then
  echo "pgbackrest restore of stanza $STANZA failed:" >&2
  printf '%s\n' "$RESTORED" | sed 's/^/    /' >&2
  exit 1
fi
# Only what the restored server needs to start here: its own access rule, no
# network, no archiving, no upstream; command-line settings win over the files.
printf '%s\n' "local all all peer" | as_pg tee "$SCRATCH/pg_hba.conf" >/dev/null
: | as_pg tee "$SCRATCH/pg_ident.conf" >/dev/null
: | as_pg tee "$SCRATCH/postgresql.conf" >/dev/null
if ! as_pg "$BIN_DIR/pg_ctl" -D "$SCRATCH/data" -l "$SCRATCH/server.log" -w -t "$RECOVERY_SECONDS" start -o \
  "-c config_file=$SCRATCH/postgresql.conf -c hba_file=$SCRATCH/pg_hba.conf -c ident_file=$SCRATCH/pg_ident.conf -c port=$PORT -c listen_addresses= -c unix_socket_directories=$SCRATCH -c archive_mode=off -c primary_conninfo= -c hot_standby=off -c shared_buffers=32MB" >/dev/null; then
  echo "the restored server did not start:" >&2
  tail -n 20 "$SCRATCH/server.log" | sed 's/^/    /' >&2
  exit 1
fi
PGPID=yes
scratch_sql() {
  as_pg psql -XAtq -h "$SCRATCH" -p "$PORT" -d postgres -v ON_ERROR_STOP=1 "$@"
}
recovered() {
  [ "$(scratch_sql -c 'select pg_is_in_recovery()' 2>/dev/null)" = f ]
}
if ! wait_until "$RECOVERY_SECONDS" recovered; then
  echo "the restored server did not finish recovery within $RECOVERY_SECONDS s:" >&2
  tail -n 20 "$SCRATCH/server.log" | sed 's/^/    /' >&2
  exit 1
fi
POINT=$(scratch_sql -c "select coalesce(to_char(pg_last_xact_replay_timestamp(), 'YYYY-MM-DD HH24:MI:SS TZ'), 'no transaction replayed')")
ROWS=
if [ -n "$TABLE" ]; then
  ROWS=$(printf '%s\n' "select format('select count(*) from %s', coalesce(to_regclass(:'table')::text, 'pgconverge_no_such_table')) \gexec" |
    scratch_sql -v table="$TABLE" 2>&1) || {
    echo "the restored server cannot count the rows of $TABLE: $ROWS" >&2
    exit 1
  }
fi
ELAPSED=$(($(date +%s) - STARTED))
printf 'restored backup %s of stanza %s and recovered to the end of the archive in %s s: last transaction %s' \
  "$LABEL" "$STANZA" "$ELAPSED" "$POINT"
if [ -n "$TABLE" ]; then printf '; %s has %s rows' "$TABLE" "$ROWS"; fi
printf '\n'
