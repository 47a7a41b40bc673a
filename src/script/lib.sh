# shellcheck shell=sh
# The library every remote script starts with, after its header of parameters.
# Scripts run with `sh -s` over SSH; nothing here reads a value from anywhere but
# the header, and every wait is bounded.
set -u
cd / || exit 1
export LC_ALL=C
# runuser, pg_ctlcluster and the like live in sbin, which an ordinary login's PATH
# (kept by su) may lack.
PATH="/usr/local/sbin:/usr/sbin:/sbin:$PATH"
export PATH

# Runs a command as the PostgreSQL OS user, whether we logged in as root, as that
# user, or as another user with sudo. Who we are is asked once, here: a script
# may run many commands, several in subshells.
if [ "$(id -u)" = 0 ]; then AS_PG_HOW=runuser
elif [ "$(id -un)" = "$PG_OS_USER" ]; then AS_PG_HOW=self
else AS_PG_HOW=sudo
fi
as_pg() {
  case $AS_PG_HOW in
    self) "$@" ;;
    runuser) runuser -u "$PG_OS_USER" -- "$@" ;;
    *) sudo -n -u "$PG_OS_USER" -- "$@" ;;
  esac
}

# Whether root may act by path in the directory $1: it and every directory above
# it are real directories (no link), owned by root and writable by no one else,
# so no other user can change what a name in it leads to. A relative path, or
# one with `.` or `..` in it, never is.
root_owns_path() {
  owned_path=$1
  case $owned_path in /*) ;; *) return 1 ;; esac
  case $owned_path/ in */./* | */../*) return 1 ;; esac
  while :; do
    if [ -L "$owned_path" ] || [ ! -d "$owned_path" ]; then return 1; fi
    owned_stat=$(stat -c '%u %a' "$owned_path") || return 1
    [ "${owned_stat% *}" = 0 ] || return 1
    [ $((0${owned_stat#* } & 022)) = 0 ] || return 1
    [ "$owned_path" = / ] && return 0
    owned_path=$(dirname "$owned_path")
  done
}

# The nearest of $1 and the directories above it that exists (or is a link).
existing_ancestor() {
  ancestor=$1
  while [ ! -e "$ancestor" ] && [ ! -L "$ancestor" ]; do ancestor=$(dirname "$ancestor"); done
  printf '%s' "$ancestor"
}

# Runs a command that acts on a name in the directory $1: as root only where
# root alone owns that directory, else as the PostgreSQL OS user, who can then
# do nothing it could not do by itself (a data directory moved aside in
# /var/lib/postgresql, which that user owns).
in_directory() {
  in_directory_path=$1
  shift
  if [ "$(id -u)" = 0 ] && root_owns_path "$in_directory_path"; then "$@"; else as_pg "$@"; fi
}

# Makes the directory $1 with mode $2 for the PostgreSQL OS user: root makes it
# only in a directory root alone owns (then no one can swap the new name for a
# link before its owner is set), else that user makes it.
make_pg_directory() {
  if [ "$(id -u)" = 0 ] && root_owns_path "$(dirname "$1")"; then
    mkdir -m "$2" "$1" && chown -h "$PG_OS_USER:$PG_OS_GROUP" "$1"
  else
    as_pg mkdir -m "$2" "$1"
  fi
}

# Makes the directory $1 and each missing one above it with mode $2 for the
# PostgreSQL OS user, one level at a time by make_pg_directory: root makes a
# level only in a directory root alone owns. An existing directory is left as
# it is.
make_pg_directories() {
  [ -d "$1" ] && return 0
  make_pg_directories "$(dirname "$1")" "$2" || return 1
  make_pg_directory "$1" "$2"
}

# psql as the PostgreSQL OS user over the local socket: unaligned, tuples only,
# stopping at the first error. SQL comes on standard input or with -c; values
# reach it only as psql variables (-v name=value, then :'name' or :"name").
# pgconverge's own commits (a role, a slot) wait for no synchronous standby:
# the standby they would wait for may be the one this run is still cloning.
pg_sql() {
  as_pg psql -XAtq -h "$PG_SOCKET_DIR" -p "$PG_PORT" -d "dbname=postgres options=-csynchronous_commit=local" -v ON_ERROR_STOP=1 "$@"
}

# PgBouncer's console (PGBOUNCER_SOCKET_DIR, PGBOUNCER_PORT): psql as the
# PostgreSQL OS user, as whom PgBouncer runs, over PgBouncer's Unix socket and as
# its own user `pgbouncer`, whom PgBouncer lets in without a password when the
# socket's peer has its own uid. The version's psql where it is (a PgBouncer
# host of its own may have only the client's). Unaligned, tuples only.
bouncer_psql() {
  if [ -x "$PG_BIN_DIR/psql" ]; then printf '%s' "$PG_BIN_DIR/psql"; else printf 'psql'; fi
}
bouncer_console() {
  as_pg "$(bouncer_psql)" -XAtq -h "$PGBOUNCER_SOCKET_DIR" -p "$PGBOUNCER_PORT" -U pgbouncer -d pgbouncer "$@"
}

# Whether PgBouncer's console sends the database `postgres` to host $1, port
# $2 (SHOW DATABASES: name, host, port, database, ...).
bouncer_goes_to() {
  bouncer_databases=$(bouncer_console -F ' ' -c 'SHOW DATABASES' 2>/dev/null) || return 1
  while IFS= read -r bouncer_line; do
    case $bouncer_line in "postgres $1 $2 "*) return 0 ;; esac
  done <<EOF
$bouncer_databases
EOF
  return 1
}

# Runs a command the inventory gives (pg_start_command and the like) as a shell
# command line, as the inventory means it.
run_command() {
  sh -c "$1"
}

# Runs a command every half second until it succeeds, at most $1 seconds.
wait_until() {
  wait_limit=$(($1 * 2))
  shift
  wait_round=0
  while [ "$wait_round" -lt "$wait_limit" ]; do
    "$@" && return 0
    wait_round=$((wait_round + 1))
    sleep 0.5
  done
  return 1
}

server_answers() {
  pg_sql -c 'select 1' >/dev/null 2>&1
}

server_is_down() {
  ! server_answers
}

# The hot-standby limits the data directory's control file holds (for a
# standby, the values its primary last logged), as `-c` options: a standby
# started below them stops at once ("insufficient parameter settings"), so a
# start that only recovers, or replays its primary's lower values, uses these.
control_file_limits() {
  as_pg "$PG_BIN_DIR/pg_controldata" -D "$PG_DATA_DIR" 2>/dev/null | sed -n \
    -e 's/^max_connections setting: *\([0-9][0-9]*\)$/-c max_connections=\1/p' \
    -e 's/^max_worker_processes setting: *\([0-9][0-9]*\)$/-c max_worker_processes=\1/p' \
    -e 's/^max_wal_senders setting: *\([0-9][0-9]*\)$/-c max_wal_senders=\1/p' \
    -e 's/^max_prepared_xacts setting: *\([0-9][0-9]*\)$/-c max_prepared_transactions=\1/p' \
    -e 's/^max_locks_per_xact setting: *\([0-9][0-9]*\)$/-c max_locks_per_transaction=\1/p' |
    tr '\n' ' '
}

# Waits until PostgreSQL accepts connections, at most $SERVER_WAIT_SECONDS.
wait_for_server() {
  wait_until "$SERVER_WAIT_SECONDS" server_answers && return 0
  echo "PostgreSQL did not accept connections within $SERVER_WAIT_SECONDS s" >&2
  return 1
}


# Runs a command (a long copy) so that pgconverge sees its progress while it
# runs: the lines it writes that read as a copy's progress (pg_basebackup
# --progress: `12/345 kB (3%), 0/1 tablespace`) go to standard error at once,
# marked; its other words, standard output and error both, go to standard
# output. Ends as the command ends.
with_progress() {
  progress_status=$(mktemp) || return 1
  { "$@" 2>&1; echo "$?" >"$progress_status"; } | while IFS= read -r progress_line; do
    case $progress_line in
      *' kB ('*'%), '*) printf 'pgconverge-progress: %s\n' "$progress_line" >&2 ;;
      *) printf '%s\n' "$progress_line" ;;
    esac
  done
  progress_code=$(cat "$progress_status")
  rm -f "$progress_status"
  return "${progress_code:-1}"
}
