# Starts, restarts or reloads PgBouncer (BOUNCER_ACTION), then waits, bounded,
# until its console shows the settings pgconverge wrote (EXPECTED_SETTINGS, one
# `NAME VALUE` a line) and sends the database `postgres` to EXPECTED_HOST and
# EXPECTED_PORT. Where systemd runs Debian's `pgbouncer.service`, systemd starts
# and restarts it (root acts through systemd, by no path); elsewhere PgBouncer
# starts daemonized (`-d`) as the PostgreSQL OS user, as the service would run
# it, and a restart first shuts it down from its console. A reload is the
# console's RELOAD, as that user. A PgBouncer that does not take its new files
# keeps running as it was; the step fails and says so.
set -eu
SEP=$(printf '\037')
answers() {
  bouncer_console -c 'SHOW VERSION' >/dev/null 2>&1
}
is_down() {
  ! answers
}
under_systemd() {
  [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1 &&
    systemctl cat pgbouncer.service >/dev/null 2>&1
}
start_and_wait() {
  if under_systemd; then
    systemctl start pgbouncer.service
  else
    as_pg "$PGBOUNCER_BIN" -d "$PGBOUNCER_INI"
  fi
  if ! wait_until "$SERVICE_WAIT_SECONDS" answers; then
    echo "PgBouncer does not answer on its console ($PGBOUNCER_SOCKET_DIR, port $PGBOUNCER_PORT) $SERVICE_WAIT_SECONDS s after its start: its log says why" >&2
    exit 1
  fi
}
# Each expected setting as SHOW CONFIG shows it (key, value, default, changeable).
shows_the_settings() {
  CONFIG=$(bouncer_console -F "$SEP" -c 'SHOW CONFIG' 2>/dev/null) || return 1
  DIFFERENT=
  while IFS= read -r wanted; do
    [ -n "$wanted" ] || continue
    name=${wanted%% *}
    value=${wanted#* }
    found=no
    while IFS= read -r line; do
      case $line in "$name$SEP$value$SEP"*) found=yes ;; esac
    done <<LINES
$CONFIG
LINES
    [ "$found" = yes ] || DIFFERENT="$DIFFERENT $name"
  done <<LINES
$EXPECTED_SETTINGS
LINES
  [ -z "$DIFFERENT" ]
}
in_force() {
  shows_the_settings || return 1
  [ -z "$EXPECTED_HOST" ] || bouncer_goes_to "$EXPECTED_HOST" "$EXPECTED_PORT"
}
case "$BOUNCER_ACTION" in
  start)
    start_and_wait
    ;;
  restart)
    if under_systemd; then
      systemctl restart pgbouncer.service
      if ! wait_until "$SERVICE_WAIT_SECONDS" answers; then
        echo "PgBouncer does not answer on its console $SERVICE_WAIT_SECONDS s after its restart: its log says why" >&2
        exit 1
      fi
    else
      # The console closes the connection as PgBouncer goes: psql's complaint is no failure.
      bouncer_console -c SHUTDOWN >/dev/null 2>&1 || true
      if ! wait_until "$SERVICE_WAIT_SECONDS" is_down; then
        echo "PgBouncer still answers $SERVICE_WAIT_SECONDS s after SHUTDOWN" >&2
        exit 1
      fi
      start_and_wait
    fi
    ;;
  reload)
    bouncer_console -c RELOAD >/dev/null
    ;;
esac
DIFFERENT=
if ! wait_until "$SERVICE_WAIT_SECONDS" in_force; then
  if [ -n "$DIFFERENT" ]; then
    echo "PgBouncer runs, but after $SERVICE_WAIT_SECONDS s its console still shows other values of${DIFFERENT} than $PGBOUNCER_INI sets: it did not take the file (its log says why)" >&2
  else
    echo "PgBouncer runs, but after $SERVICE_WAIT_SECONDS s its console does not send the database postgres to $EXPECTED_HOST:$EXPECTED_PORT: it did not take its files (its log says why)" >&2
  fi
  exit 1
fi
case "$BOUNCER_ACTION" in
  start) echo "PgBouncer started" ;;
  restart) echo "PgBouncer restarted" ;;
  reload) echo "PgBouncer reloaded" ;;
esac
