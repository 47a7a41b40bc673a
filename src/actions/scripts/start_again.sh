# Starts a server again when a failover step is undone (the old primary a
# switchover stopped, a candidate stopped so that a promotion cannot finish late).
# A server that runs is left alone.
set -eu
if server_answers; then
  echo "already runs"
  exit 0
fi
run_command "$START_COMMAND" || exit 1
wait_for_server && echo "started $PG_DATA_DIR"
