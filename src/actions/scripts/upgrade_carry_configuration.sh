# Writes the configuration carried over to the new version: one `MODE PATH
# CONTENT` line per file in FILES (path and content base64), each written to a
# temporary file and renamed, owned by the PostgreSQL user. The files of the old
# configuration directory that only the service tools read (start.conf,
# pg_ctl.conf, environment) are copied when the new directory lacks them.
set -e
if [ "$CONFIG_DIR" != "$PG_DATA_DIR" ]; then
  install -d -o "$PG_OS_USER" -g "$PG_OS_GROUP" -m 0755 "$CONFIG_DIR" "$CONFIG_DIR/conf.d"
  for name in start.conf pg_ctl.conf environment; do
    if [ -f "$OLD_CONFIG_DIR/$name" ] && [ ! -e "$CONFIG_DIR/$name" ]; then
      cp -p "$OLD_CONFIG_DIR/$name" "$CONFIG_DIR/$name"
    fi
  done
fi
printf '%s\n' "$FILES" | while read -r mode path content; do
  [ -n "$path" ] || continue
  path=$(printf '%s' "$path" | base64 -d)
  # Only a missing directory is made: `install -d` would reset the mode of a
  # data directory, which PostgreSQL then refuses to start in.
  directory=$(dirname "$path")
  [ -d "$directory" ] || install -d -o "$PG_OS_USER" -g "$PG_OS_GROUP" "$directory"
  printf '%s' "$content" | base64 -d >"$path.pgconverge-new"
  chown "$PG_OS_USER:$PG_OS_GROUP" "$path.pgconverge-new"
  chmod "$mode" "$path.pgconverge-new"
  mv "$path.pgconverge-new" "$path"
  echo "wrote $path" >&2
done
echo "carried the configuration over to $CONFIG_DIR"
