# Writes the configuration carried over to the new version: one `MODE PATH
# CONTENT` line per file in FILES (path and content base64). Every file is the
# PostgreSQL OS user's and is written by that user: a temporary file it makes
# beside the file (mktemp), renamed into place (`mv -T` replaces a name, never
# follows it), so a link it planted leads nowhere it could not go itself. Root
# only makes a missing directory, and only in a directory root alone owns
# (make_pg_directories); elsewhere that user makes it. The files of the old
# configuration directory that only the service tools read (start.conf,
# pg_ctl.conf, environment) are copied, by that user, when the new directory
# lacks them.
set -eu
if [ "$CONFIG_DIR" != "$PG_DATA_DIR" ]; then
  make_pg_directories "$CONFIG_DIR" 0755
  make_pg_directories "$CONFIG_DIR/conf.d" 0755
  for name in start.conf pg_ctl.conf environment; do
    if [ -f "$OLD_CONFIG_DIR/$name" ] && [ ! -e "$CONFIG_DIR/$name" ] && [ ! -L "$CONFIG_DIR/$name" ]; then
      as_pg cp "$OLD_CONFIG_DIR/$name" "$CONFIG_DIR/$name"
    fi
  done
fi
printf '%s\n' "$FILES" | while read -r mode path content; do
  [ -n "$path" ] || continue
  path=$(printf '%s' "$path" | base64 -d)
  # Only a missing directory is made: an existing one keeps its mode (PostgreSQL
  # refuses to start in a data directory of another mode).
  make_pg_directories "$(dirname "$path")" 0755
  new=$(as_pg mktemp "$path.pgconverge-new.XXXXXX")
  printf '%s' "$content" | base64 -d | as_pg tee "$new" >/dev/null
  as_pg chmod "$mode" "$new"
  if [ "$(as_pg stat -c %G "$new")" != "$PG_OS_GROUP" ]; then as_pg chgrp "$PG_OS_GROUP" "$new"; fi
  as_pg mv -fT "$new" "$path"
  echo "wrote $path" >&2
done
echo "carried the configuration over to $CONFIG_DIR"
