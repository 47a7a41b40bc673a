# Makes the cluster with the inventory's init command (initdb or
# pg_createcluster), as the inventory writes it.
set -eu
run_command "$INIT_COMMAND"
