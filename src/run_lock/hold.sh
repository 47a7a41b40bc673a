# Takes this host's run lock and holds it while the session's standard input
# stays open: pgconverge never writes to it, so it ends when the run releases
# the lock, when the run ends, or when its SSH connection does. The kernel
# then releases the flock with this process, whoever ended it; no person and
# no timer decides that a holder is gone.
#
# Everything is in root's own directory /run/pgconverge (mode 0700, made here
# in /run, which root alone may write): the lock file, the holder's record
# beside it, and sessions/, where each script of the holding run records its
# process (PID, start time) as it starts. When the lock is let go, and when it
# is taken after a holder that was killed, every recorded process still running
# is ended with what runs under it (a server pg_ctl started is its own, and is
# left alone), and the lock is free only once they are gone. The record names
# this process and its start time, so a reader can tell a live holder's record
# from one a killed holder left.
#
# Lines on standard output, for pgconverge: `pgconverge-lock: held`,
# `pgconverge-lock: busy RECORD`, `pgconverge-lock: waiting RECORD` (RECORD the
# holder's record in base64), `pgconverge-lock: ended N` and
# `pgconverge-lock: refused REASON`.
LOCK_DIR=/run/pgconverge

refuse() {
  printf 'pgconverge-lock: refused %s\n' "$1"
  exit 1
}

# The lock directory exists as a real directory of root's, mode 0700, in /run,
# which only root may write. mkdir never follows a link at its name, and a name
# taken by anything else is refused, not replaced.
lock_directory() {
  root_owns_path /run || refuse "/run is not a directory root alone may write"
  if [ ! -e "$LOCK_DIR" ] && [ ! -L "$LOCK_DIR" ]; then
    mkdir -m 0700 "$LOCK_DIR" 2>/dev/null || true
  fi
  if [ -L "$LOCK_DIR" ] || [ ! -d "$LOCK_DIR" ] || [ "$(stat -c '%u %a' "$LOCK_DIR")" != "0 700" ]; then
    refuse "$LOCK_DIR is not a directory of root's with mode 0700"
  fi
  if [ ! -e "$LOCK_DIR/sessions" ] && [ ! -L "$LOCK_DIR/sessions" ]; then
    mkdir -m 0700 "$LOCK_DIR/sessions" || refuse "cannot make $LOCK_DIR/sessions"
  fi
  if [ -L "$LOCK_DIR/sessions" ] || [ ! -d "$LOCK_DIR/sessions" ]; then
    refuse "$LOCK_DIR/sessions is not a directory"
  fi
}

# The holder's record on one line (base64), or nothing.
holder_record() {
  if [ -f "$LOCK_DIR/holder" ] && [ ! -L "$LOCK_DIR/holder" ]; then
    head -c 4000 "$LOCK_DIR/holder" | base64 -w0
  fi
}

# The holder's record for a run that finds the lock taken: a holder that has
# just taken it writes its record a moment later (after ending what a killed
# holder left running), so it is waited for, at most 5 s.
busy_record() {
  record_wait=0
  while [ "$record_wait" -lt 10 ] && { [ ! -f "$LOCK_DIR/holder" ] || [ -L "$LOCK_DIR/holder" ]; }; do
    sleep 0.5
    record_wait=$((record_wait + 1))
  done
  holder_record
}

# The start time of process $1 (field 22 of /proc/PID/stat, after the command
# name in parentheses, which may hold anything), or nothing.
start_time() {
  stat_line=''
  IFS= read -r stat_line 2>/dev/null <"/proc/$1/stat" || return 0
  stat_fields=${stat_line##*) }
  # shellcheck disable=SC2086 # splitting the fields is the point
  set -- $stat_fields
  [ "$#" -ge 20 ] || return 0
  shift 19
  printf '%s' "$1"
}

# Process $1 and every process under it, one per line, but not a PostgreSQL
# server (a postmaster pg_ctl started runs on after its session) nor what runs
# under one.
process_tree() {
  for status_file in /proc/[0-9]*/status; do
    process_name='' process_id='' parent_id=''
    while read -r field value _; do
      case $field in
        Name:) process_name=$value ;;
        Pid:) process_id=$value ;;
        PPid:) parent_id=$value; break ;;
      esac
    done 2>/dev/null <"$status_file"
    [ -n "$process_id" ] && printf '%s %s %s\n' "$process_id" "$parent_id" "$process_name"
  done | awk -v root="$1" '
    { parent[$1] = $2; name[$1] = $3 }
    END {
      if (!(root in parent)) exit
      tree[root] = 1
      grown = 1
      while (grown) {
        grown = 0
        for (p in parent)
          if (!(p in tree) && (parent[p] in tree) && name[p] != "postgres" && name[p] != "postmaster") {
            tree[p] = 1
            grown = 1
          }
      }
      for (p in tree) print p
    }'
}

# Ends every recorded session of a run that still runs, and what runs under
# it: TERM, up to 10 s to go, then KILL. Prints how many sessions it ended.
end_sessions() {
  ended=0
  for record in "$LOCK_DIR"/sessions/*; do
    [ -f "$record" ] || continue
    session_pid=${record##*/}
    recorded=''
    IFS= read -r recorded <"$record" || true
    rm -f "$record"
    case $session_pid in '' | *[!0-9]*) continue ;; esac
    # The same process only if it started when the record says: a PID is reused.
    if [ -z "$recorded" ] || [ "$(start_time "$session_pid")" != "$recorded" ]; then continue; fi
    tree=$(process_tree "$session_pid")
    [ -n "$tree" ] || continue
    ended=$((ended + 1))
    # shellcheck disable=SC2086 # one PID per word
    kill -TERM $tree 2>/dev/null
    waited=0
    while [ "$waited" -lt 20 ]; do
      alive=''
      for p in $tree; do [ -d "/proc/$p" ] && alive="$alive $p"; done
      [ -n "$alive" ] || break
      sleep 0.5
      waited=$((waited + 1))
    done
    # shellcheck disable=SC2086 # one PID per word
    [ -z "$alive" ] || kill -KILL $alive 2>/dev/null
  done
  [ "$ended" = 0 ] || printf 'pgconverge-lock: ended %s\n' "$ended"
}

hold() {
  [ "$(id -u)" = 0 ] || refuse "the run lock needs root"
  command -v flock >/dev/null 2>&1 || refuse "flock is not installed (util-linux)"
  lock_directory
  exec 9>>"$LOCK_DIR/lock" || refuse "cannot open $LOCK_DIR/lock"
  if ! flock -n 9; then
    if [ "$LOCK_WAIT_SECONDS" -gt 0 ]; then
      printf 'pgconverge-lock: waiting %s\n' "$(busy_record)"
      if ! flock -w "$LOCK_WAIT_SECONDS" 9; then
        printf 'pgconverge-lock: busy %s\n' "$(busy_record)"
        exit 3
      fi
    else
      printf 'pgconverge-lock: busy %s\n' "$(busy_record)"
      exit 3
    fi
  fi
  # A holder killed before it let go may have left sessions running.
  end_sessions
  # The record ends with this process and its start time: the lock is held
  # exactly while it runs (a reader of /proc/locks in a PID namespace does not
  # see a lock whose taker, flock(1), has ended).
  printf '%sholder_pid=%s\nholder_start=%s\n' "$HOLDER" "$$" "$(start_time "$$")" >"$LOCK_DIR/holder.new" \
    && mv -f "$LOCK_DIR/holder.new" "$LOCK_DIR/holder"
  echo 'pgconverge-lock: held'
  # Until standard input ends; nothing is ever written to it.
  while IFS= read -r _; do :; done
  end_sessions >/dev/null
  rm -f "$LOCK_DIR/holder"
}

# The whole script is read before it runs: what `hold` reads from standard
# input must be nothing but the end of it.
hold
