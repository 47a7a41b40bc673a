# The run lock's holder, read only by root, only in root's own 0700 directory,
# and only while the lock is held: while the holding process its record names
# runs, with the start time it records (a PID is reused). Nothing here takes
# the lock.
emit_run_lock_holder() {
  if [ "$(id -u)" = 0 ] && [ ! -L /run/pgconverge ] && [ -d /run/pgconverge ] \
    && [ "$(stat -c '%u %a' /run/pgconverge)" = "0 700" ] \
    && [ -f /run/pgconverge/holder ] && [ ! -L /run/pgconverge/holder ]; then
    LOCK_RECORD=$(head -c 4000 /run/pgconverge/holder)
    LOCK_PID=$(printf '%s\n' "$LOCK_RECORD" | sed -n 's/^holder_pid=\([0-9][0-9]*\)$/\1/p')
    LOCK_START=$(printf '%s\n' "$LOCK_RECORD" | sed -n 's/^holder_start=\([0-9][0-9]*\)$/\1/p')
    LOCK_STAT=''
    if [ -n "$LOCK_PID" ] && [ -n "$LOCK_START" ] && { IFS= read -r LOCK_STAT <"/proc/$LOCK_PID/stat"; } 2>/dev/null; then
      # shellcheck disable=SC2086 # splitting the fields is the point
      set -- ${LOCK_STAT##*) }
      if [ "$#" -ge 20 ]; then
        shift 19
        if [ "$1" = "$LOCK_START" ]; then emit run_lock.holder "$LOCK_RECORD"; fi
      fi
    fi
  fi
}
