set -e
run_command "$INIT_COMMAND"
