# Starts, stops, restarts or reloads PostgreSQL with the inventory's commands and
# waits, bounded, until the server is in the state asked for.
set -e
conf_load_time() {
  pg_sql -c 'select pg_conf_load_time()'
}
reloaded_since() {
  [ "$(conf_load_time)" != "$1" ]
}
case "$SERVICE_ACTION" in
  start)
    run_command "$START_COMMAND"
    wait_for_server
    echo started
    ;;
  stop)
    run_command "$STOP_COMMAND"
    wait_until "$SERVER_WAIT_SECONDS" server_is_down || {
      echo "PostgreSQL still answers after the stop" >&2
      exit 1
    }
    echo stopped
    ;;
  restart)
    run_command "$RESTART_COMMAND"
    wait_for_server
    echo restarted
    ;;
  reload)
    # After a reload PostgreSQL reports settings that need a restart; the restart
    # follows from the server's own answer, not from what this run remembers.
    BEFORE=$(conf_load_time)
    run_command "$RELOAD_COMMAND"
    wait_until 5 reloaded_since "$BEFORE" || true
    PENDING=$(pg_sql -c "select string_agg(name, ', ') from pg_settings where pending_restart")
    if [ -n "$PENDING" ]; then
      run_command "$RESTART_COMMAND"
      wait_for_server
      echo "reloaded, then restarted: $PENDING need a restart"
    else
      echo reloaded
    fi
    ;;
esac
