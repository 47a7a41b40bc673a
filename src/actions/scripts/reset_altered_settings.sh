# Resets settings made with ALTER SYSTEM that override settings pgconverge manages.
# SETTING_NAMES holds one name per line, each checked by pgconverge to be letters,
# digits, `_` and `.` only. A running server resets them itself (ALTER SYSTEM RESET,
# the name passed as a psql variable); for a stopped one their lines are removed
# from postgresql.auto.conf, which PostgreSQL writes one `name = 'value'` a line.
# Runs as the PostgreSQL OS user, who owns the data directory and every file here.
set -eu
AUTO="$PG_DATA_DIR/postgresql.auto.conf"
# The version before, for a server that does not start without these settings.
if [ -f "$AUTO" ]; then
  rm -f "$AUTO.pgconverge-backup"
  cp -p "$AUTO" "$AUTO.pgconverge-backup"
fi
if server_answers; then
  printf '%s\n' "$SETTING_NAMES" | while IFS= read -r name; do
    [ -n "$name" ] || continue
    printf '%s\n' 'ALTER SYSTEM RESET :"name";' | pg_sql -v name="$name"
    echo "reset $name (ALTER SYSTEM RESET)"
  done
  exit 0
fi
[ -f "$AUTO" ] || exit 0
TMP=$(mktemp "$PG_DATA_DIR/.pgconverge.XXXXXX")
trap 'rm -f "$TMP"' EXIT
awk -v names="$SETTING_NAMES" '
  BEGIN { count = split(names, list, "\n"); for (i = 1; i <= count; i++) drop[list[i]] = 1 }
  {
    key = $0
    sub(/^[ \t]*/, "", key)
    sub(/[ \t=].*$/, "", key)
    if (!(tolower(key) in drop)) print
  }' "$AUTO" >"$TMP"
chmod 0600 "$TMP"
mv -fT "$TMP" "$AUTO"
printf '%s\n' "$SETTING_NAMES" | while IFS= read -r name; do
  [ -n "$name" ] && echo "removed $name from $AUTO (the server is not running)"
done
exit 0
