# Starts, stops, restarts or reloads PostgreSQL with the inventory's commands and
# waits, bounded, until the server is in the state asked for.
#
# ROLL_BACK_FILES holds the configuration files this run replaced, one a line,
# each with its version before as FILE.pgconverge-backup. When the server does not
# come up with them, those versions are put back (the rejected ones kept as
# FILE.pgconverge-rejected), the server is started with them and checked, and the
# step fails quoting why the new configuration did not start.
set -eu
conf_load_time() {
  pg_sql -c 'select pg_conf_load_time()'
}
reloaded_since() {
  [ "$(conf_load_time)" != "$1" ]
}
streams() {
  [ "$(pg_sql -c "select count(*) from pg_stat_wal_receiver where status = 'streaming'")" = 1 ]
}
in_recovery() {
  [ "$(pg_sql -c 'select pg_is_in_recovery()')" = t ]
}
# After a restart a streaming standby must be back in replication before the
# rollout goes on to the next member: bounded, and a failure stops it there.
back_in_replication() {
  [ "$PG_MAJOR_NUM" -ge 1200 ] || return 0
  in_recovery || return 0
  [ -n "$(pg_sql -c 'show primary_conninfo')" ] || return 0
  if ! wait_until "$SERVER_WAIT_SECONDS" streams; then
    echo "PostgreSQL restarted, but does not stream from its upstream after $SERVER_WAIT_SECONDS s" >&2
    exit 1
  fi
}
# A primary's restart is complete only once the standbys that streamed from it
# before stream from it again: they reconnect on their own, and a run that said
# "complete" while they were still away would let the next role change find no
# caught-up standby. Only the inventory's standbys of this primary count
# (EXPECTED_STANDBYS, one application_name a line): a host leaving the cluster
# in this run may have lost its access with this very restart. The names are
# read before the restart; a name may appear more than once, so each is
# counted. Bounded.
streaming_standbys() {
  pg_sql -c "select application_name from pg_stat_replication where state = 'streaming' order by 1" 2>/dev/null || true
}
remember_standbys() {
  STANDBYS_BEFORE=
  STANDBYS_BACK=
  [ -n "$EXPECTED_STANDBYS" ] || return 0
  server_answers || return 0
  ! in_recovery || return 0
  STANDBYS_BEFORE=$(streaming_standbys | grep -xF -- "$EXPECTED_STANDBYS" || true)
}
missing_standbys() {
  now=$(streaming_standbys)
  printf '%s\n' "$STANDBYS_BEFORE" | sort | uniq -c | while read -r count name; do
    [ -n "$name" ] || continue
    back=$(printf '%s\n' "$now" | grep -cxF -- "$name" || true)
    [ "$back" -ge "$count" ] || printf '%s ' "$name"
  done
}
standbys_stream_again() {
  MISSING=$(missing_standbys)
  [ -z "$MISSING" ]
}
standbys_back() {
  [ -n "$STANDBYS_BEFORE" ] || return 0
  MISSING=
  if ! wait_until "$CATCH_UP_SECONDS" standbys_stream_again; then
    echo "PostgreSQL restarted, but these standbys, streaming from it before, do not stream again after $CATCH_UP_SECONDS s: ${MISSING% }" >&2
    exit 1
  fi
  STANDBYS_BACK="; $(printf '%s\n' "$STANDBYS_BEFORE" | paste -sd' ' - | sed 's/ /, /g') stream from it again"
}
# After a standby restarted and streams again, it must catch up to within
# MAX_LAG_BYTES of its upstream before the rollout goes on: the upstream's
# position comes from the replication connection the standby itself uses
# (IDENTIFY_SYSTEM), the standby's from its replay. Bounded. `dbname=replication`
# is what the walreceiver gives libpq too: the .pgpass line of a physical
# replication connection names that database, and without it libpq looks for
# one of the user's name and finds no password.
lag_behind_upstream() {
  conninfo=$(pg_sql -c 'show primary_conninfo')
  upstream_position=$(as_pg psql -XAtq -d "$conninfo dbname=replication replication=true connect_timeout=5" -c IDENTIFY_SYSTEM 2>/dev/null | cut -d'|' -f3)
  [ -n "$upstream_position" ] || return 1
  printf '%s\n' "select greatest(pg_wal_lsn_diff(:'upstream', pg_last_wal_replay_lsn()), 0)::bigint;" |
    pg_sql -v upstream="$upstream_position" 2>/dev/null
}
within_max_lag() {
  LAG=$(lag_behind_upstream) || return 1
  [ -n "$LAG" ] && [ "$LAG" -le "$MAX_LAG_BYTES" ]
}
caught_up() {
  [ -n "$MAX_LAG_BYTES" ] || return 0
  [ "$PG_MAJOR_NUM" -ge 1200 ] || return 0
  in_recovery || return 0
  [ -n "$(pg_sql -c 'show primary_conninfo')" ] || return 0
  LAG=
  if ! wait_until "$CATCH_UP_SECONDS" within_max_lag; then
    echo "PostgreSQL restarted and streams, but its replay is ${LAG:-an unknown number of} bytes behind its upstream after $CATCH_UP_SECONDS s (--max-lag $MAX_LAG_BYTES): the rollout stops here" >&2
    exit 1
  fi
}
# Before a primary restarts, no transaction may have been open longer than
# MAX_TRANSACTION_AGE seconds: they are waited for, at most
# TRANSACTION_WAIT_SECONDS, and if they are still open the server is not
# restarted and the step fails naming them.
old_transactions() {
  printf '%s\n' "select string_agg(format('pid %s (user %s, application %s, open %s s)', pid, usename, coalesce(nullif(application_name, ''), '-'), extract(epoch from now() - xact_start)::bigint), '; ') from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid() and xact_start < now() - make_interval(secs => :'age');" |
    pg_sql -v age="$MAX_TRANSACTION_AGE"
}
no_old_transactions() {
  OLD=$(old_transactions) && [ -z "$OLD" ]
}
wait_for_old_transactions() {
  [ -n "$MAX_TRANSACTION_AGE" ] || return 0
  [ "$PG_MAJOR_NUM" -ge 1000 ] || return 0
  server_answers || return 0
  ! in_recovery || return 0
  OLD=
  if ! wait_until "$TRANSACTION_WAIT_SECONDS" no_old_transactions; then
    echo "not restarted: transactions open longer than $MAX_TRANSACTION_AGE s did not end within $TRANSACTION_WAIT_SECONDS s: ${OLD:-unknown} (end them, or raise --max-transaction-age)" >&2
    exit 1
  fi
}
# A hot standby may not run with a hot-standby limit below the one its primary
# last logged. Before a standby restarts with a lower one, the primary (which
# restarts first) must have logged it and this standby replayed it: bounded, and
# the step fails before any restart when it does not come.
limit_ok() {
  control=$(as_pg "$PG_BIN_DIR/pg_controldata" -D "$PG_DATA_DIR" 2>/dev/null | sed -n "s/^$1 setting: *//p")
  wanted=$(as_pg "$PG_BIN_DIR/postgres" -D "$PG_DATA_DIR" -c "config_file=$CONFIG_FILE" -C "$2" 2>/dev/null)
  [ -z "$control" ] || [ -z "$wanted" ] || [ "$wanted" -ge "$control" ]
}
limits_replayed() {
  limit_ok max_connections max_connections &&
    limit_ok max_worker_processes max_worker_processes &&
    limit_ok max_wal_senders max_wal_senders &&
    limit_ok max_prepared_xacts max_prepared_transactions &&
    limit_ok max_locks_per_xact max_locks_per_transaction
}
wait_for_primary_limits() {
  server_answers || return 0
  in_recovery || return 0
  CONFIG_FILE=$(pg_sql -c 'show config_file')
  if ! wait_until "$SERVER_WAIT_SECONDS" limits_replayed; then
    echo "not restarted: the new configuration lowers a hot-standby limit below what this standby's primary last logged, and the primary's lower value has not reached it within $SERVER_WAIT_SECONDS s" >&2
    exit 1
  fi
}
# A stopped standby whose configuration lowers a hot-standby limit below what
# its control file holds (its primary's last logged value) would stop at once
# on start. It is first started with the control file's limits (pg_ctl, as the
# PostgreSQL OS user), until it has replayed its primary's lower values, and
# stopped cleanly; then it starts with its configuration. Bounded; when the
# primary's lower values do not come, the step fails before any start with it.
catch_up_on_primary_limits() {
  [ -f "$PG_DATA_DIR/standby.signal" ] || [ -f "$PG_DATA_DIR/recovery.conf" ] || return 0
  ! server_answers || return 0
  ! limits_replayed || return 0
  LOG="$PG_DATA_DIR/pgconverge-catch-up.log"
  if ! OUT=$(as_pg "$PG_BIN_DIR/pg_ctl" start -w -t "$SERVER_WAIT_SECONDS" -D "$PG_DATA_DIR" -o "-c config_file=$CONFIG_FILE $(control_file_limits)" -l "$LOG" 2>&1); then
    as_pg "$PG_BIN_DIR/pg_ctl" stop -w -m fast -D "$PG_DATA_DIR" >/dev/null 2>&1 || true
    echo "not started: its configuration lowers a hot-standby limit below what its primary last logged, and starting it with the primary's values to replay the lower ones failed:" >&2
    printf '%s\n' "$OUT" >&2
    exit 1
  fi
  REPLAYED=yes
  wait_until "$SERVER_WAIT_SECONDS" limits_replayed || REPLAYED=no
  if ! OUT=$(as_pg "$PG_BIN_DIR/pg_ctl" stop -w -m fast -D "$PG_DATA_DIR" 2>&1); then
    echo "the standby started to replay its primary's lower hot-standby limits did not stop:" >&2
    printf '%s\n' "$OUT" >&2
    exit 1
  fi
  if [ "$REPLAYED" = no ]; then
    echo "not started: its configuration lowers a hot-standby limit below what its primary last logged, and the primary's lower value did not reach it within $SERVER_WAIT_SECONDS s (restart the primary with it first)" >&2
    exit 1
  fi
}
put_back_previous_configuration() {
  printf '%s\n' "$ROLL_BACK_FILES" | while IFS= read -r file; do
    [ -n "$file" ] || continue
    if [ -f "$file.pgconverge-backup" ]; then
      # The PostgreSQL OS user's own files, so that user copies them: root never
      # writes through a name in a directory that user may change.
      as_pg cp -p "$file" "$file.pgconverge-rejected"
      as_pg cp -p "$file.pgconverge-backup" "$file"
      echo "put back the previous $file (the rejected one is $file.pgconverge-rejected)"
    fi
  done
}
# Runs a command that starts the server ($1) and waits until it accepts
# connections. When the command fails (the server did not start), puts the
# previous configuration back and starts the server with it, and exits 1 whether
# or not that worked. A server that started but is slow to accept connections
# (a long recovery) is waited for, never rolled back under its feet.
start_with_way_back() {
  if OUT=$(run_command "$1" 2>&1); then
    [ -z "$OUT" ] || printf '%s\n' "$OUT"
    wait_for_server
    return 0
  fi
  REASON=$OUT
  if [ -z "$ROLL_BACK_FILES" ]; then
    printf '%s\n' "$REASON" >&2
    exit 1
  fi
  {
    echo "PostgreSQL did not start with the new configuration:"
    printf '%s\n' "$REASON" | sed 's/^/    /'
  } >&2
  put_back_previous_configuration >&2
  if AGAIN=$(run_command "$START_COMMAND" 2>&1) && wait_for_server >/dev/null 2>&1; then
    if in_recovery; then
      if wait_until 30 streams; then
        echo "PostgreSQL runs again with the previous configuration and streams" >&2
      else
        echo "PostgreSQL runs again with the previous configuration, but does not stream after 30 s" >&2
      fi
    else
      echo "PostgreSQL runs again with the previous configuration" >&2
    fi
  else
    echo "PostgreSQL does not start with the previous configuration either:" >&2
    printf '%s\n' "$AGAIN" | sed 's/^/    /' >&2
  fi
  exit 1
}
case "$SERVICE_ACTION" in
  start)
    catch_up_on_primary_limits
    start_with_way_back "$START_COMMAND"
    echo started
    ;;
  stop)
    # An upgrade stops the primary only when no transaction is older than asked.
    wait_for_old_transactions
    run_command "$STOP_COMMAND"
    wait_until "$SERVER_WAIT_SECONDS" server_is_down || {
      echo "PostgreSQL still answers after the stop" >&2
      exit 1
    }
    echo stopped
    ;;
  restart)
    wait_for_primary_limits
    catch_up_on_primary_limits
    wait_for_old_transactions
    remember_standbys
    start_with_way_back "$RESTART_COMMAND"
    back_in_replication
    caught_up
    standbys_back
    echo "restarted$STANDBYS_BACK"
    ;;
  reload)
    # After a reload PostgreSQL reports settings that need a restart; the restart
    # follows from the server's own answer, not from what this run remembers.
    BEFORE=$(conf_load_time)
    run_command "$RELOAD_COMMAND"
    wait_until 5 reloaded_since "$BEFORE" || true
    PENDING=$(pg_sql -c "select string_agg(name, ', ') from pg_settings where pending_restart")
    if [ -n "$PENDING" ]; then
      wait_for_primary_limits
      wait_for_old_transactions
      remember_standbys
      start_with_way_back "$RESTART_COMMAND"
      back_in_replication
      caught_up
      standbys_back
      echo "reloaded, then restarted: $PENDING need a restart$STANDBYS_BACK"
    else
      echo reloaded
    fi
    ;;
esac
