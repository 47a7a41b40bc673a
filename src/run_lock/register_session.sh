# Run before each script of a run that holds this host's lock: records the
# script's process (its PID and start time) in root's /run/pgconverge/sessions,
# so that the lock's holder can end it if the run ends first.
if [ "$(id -u)" = 0 ] && [ -d /run/pgconverge/sessions ] && [ ! -L /run/pgconverge ] && [ ! -L /run/pgconverge/sessions ]; then
  pgconverge_stat=''
  IFS= read -r pgconverge_stat </proc/$$/stat || true
  # shellcheck disable=SC2086 # splitting the fields is the point
  set -- ${pgconverge_stat##*) }
  if [ "$#" -ge 20 ]; then
    shift 19
    printf '%s\n' "$1" >"/run/pgconverge/sessions/$$"
  fi
  set --
  unset pgconverge_stat
fi
