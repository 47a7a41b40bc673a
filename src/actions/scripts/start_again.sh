# Starts the old primary again, when a switchover has to be undone.
run_command "$START_COMMAND"
wait_for_server && echo "started $PG_DATA_DIR"
