# Points PgBouncer at the new primary once its pgbouncer.databases.ini names it
# (written just before, by the same step): RELOAD, then wait, bounded, until its
# console sends the database `postgres` to EXPECTED_HOST:EXPECTED_PORT; with
# RECONNECT (a promote, where the old primary may still run somewhere) every
# server connection closes as soon as it is released; then RESUME, which a
# PgBouncer that a switchover did not pause refuses, and which is then no
# failure.
set -eu
bouncer_console -c RELOAD >/dev/null
if ! wait_until "$SERVICE_WAIT_SECONDS" bouncer_goes_to "$EXPECTED_HOST" "$EXPECTED_PORT"; then
  echo "PgBouncer reloaded, but after $SERVICE_WAIT_SECONDS s its console does not send the database postgres to $EXPECTED_HOST:$EXPECTED_PORT: it did not take its files (its log says why)" >&2
  exit 1
fi
RECONNECTED=
if [ "$RECONNECT" = yes ]; then
  bouncer_console -c RECONNECT >/dev/null
  RECONNECTED=", its server connections to the old primary closing as they are released"
fi
RESUMED=
if OUT=$(bouncer_console -c RESUME 2>&1); then
  RESUMED=", resumed"
else
  case $OUT in
    *"not paused"*) ;;
    *)
      printf '%s\n' "$OUT" >&2
      exit 1
      ;;
  esac
fi
echo "PgBouncer sends clients to $EXPECTED_HOST:$EXPECTED_PORT$RECONNECTED$RESUMED"
