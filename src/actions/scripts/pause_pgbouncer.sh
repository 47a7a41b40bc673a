# Pauses PgBouncer before a switchover's old primary stops: PAUSE makes new
# clients and new transactions wait, and returns once every server connection
# is released (in session pooling, once every client has left). The step waits
# at most PAUSE_WAIT_SECONDS for that, then goes on all the same: PgBouncer
# stays paused (psql leaving does not resume it), and the old primary's stop
# ends the sessions still connected. A PgBouncer paused already is paused.
# Not `set -e`: the pause's wait is cut short on purpose, and its status read.
set -u
OUT=$(as_pg timeout "$PAUSE_WAIT_SECONDS" "$(bouncer_psql)" -XAtq -h "$PGBOUNCER_SOCKET_DIR" -p "$PGBOUNCER_PORT" -U pgbouncer -d pgbouncer -c PAUSE 2>&1)
STATUS=$?
case $STATUS in
  0) echo "PgBouncer paused: every server connection released" ;;
  124) echo "PgBouncer paused: new clients and transactions wait; the server connections still in use after $PAUSE_WAIT_SECONDS s end with the old primary's stop" ;;
  *)
    case $OUT in
      *"already suspended/paused"*) echo "PgBouncer was paused already" ;;
      *)
        printf '%s\n' "$OUT" >&2
        exit 1
        ;;
    esac
    ;;
esac
