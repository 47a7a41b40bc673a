# Creates standby.signal in the data directory. Runs as the PostgreSQL OS user,
# who owns that directory; a link there is refused, never followed.
set -eu
SIGNAL="$PG_DATA_DIR/standby.signal"
if [ -L "$SIGNAL" ]; then
  echo "$SIGNAL is a link: refusing to follow it; remove it" >&2
  exit 1
fi
: >>"$SIGNAL"
echo "created $SIGNAL"
