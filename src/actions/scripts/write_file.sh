# Writes FILE_PATH through a temporary file in the same directory and a rename, so
# a reader never sees half a file. With a CHECK, PostgreSQL reads the new file and
# a rejected one is put back, leaving the earlier backup alone; an accepted one
# keeps the version it replaced as FILE.pgconverge-backup. With KEEP_AS, a file there
# before the first write is kept under that name (the host's own postgresql.conf, which
# the new one includes), unless that name exists already; a rejected write removes it.
set -e
DIR=$(dirname "$FILE_PATH")
if [ ! -d "$DIR" ]; then
  mkdir -p "$DIR"
  chown "$OWNER:$GROUP" "$DIR"
  chmod 0700 "$DIR"
fi
TMP=$(mktemp "$DIR/.pgconverge.XXXXXX")
PREVIOUS=""
trap 'rm -f "$TMP" ${PREVIOUS:+"$PREVIOUS"}' EXIT
printf '%s' "$CONTENT_BASE64" | base64 -d >"$TMP"
chown "$OWNER:$GROUP" "$TMP"
chmod "$MODE" "$TMP"
if [ -e "$FILE_PATH" ]; then
  PREVIOUS=$(mktemp "$DIR/.pgconverge-previous.XXXXXX")
  cp -p "$FILE_PATH" "$PREVIOUS"
fi
KEPT=""
if [ -n "$KEEP_AS" ] && [ ! -e "$KEEP_AS" ] && [ -e "$FILE_PATH" ]; then
  cp -p "$FILE_PATH" "$KEEP_AS"
  KEPT=yes
fi
# A setting of the new file, as the server would read it.
candidate() {
  as_pg "$PG_BIN_DIR/postgres" -D "$PG_DATA_DIR" -c "config_file=$FILE_PATH" -C "$1" 2>/dev/null
}
# Well-formed values a server still cannot start with, caught before any restart:
# a library in shared_preload_libraries that is not installed, shared_buffers
# beyond the host's memory, a TLS certificate or key the server cannot read.
# Prints each reason; fails when there is one.
cannot_start() {
  reasons=""
  libraries=$(candidate shared_preload_libraries | tr ',' ' ')
  libdir=$("$PG_BIN_DIR/pg_config" --pkglibdir 2>/dev/null || echo "$PG_BIN_DIR/../lib")
  set -f
  for library in $libraries; do
    library=$(printf '%s' "$library" | tr -d "\"' ")
    case "$library" in
      '') continue ;;
      \$libdir/*) file="$libdir/${library#*/}" ;;
      /*) file=$library ;;
      *) file="$libdir/$library" ;;
    esac
    case "$file" in
      *.so) ;;
      *) file="$file.so" ;;
    esac
    if [ ! -f "$file" ]; then
      reasons="${reasons}shared_preload_libraries names \"$library\", which is not installed ($file does not exist)
"
    fi
  done
  set +f
  buffers=$(candidate shared_buffers)
  memory_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo 2>/dev/null)
  buffers_kb=$(printf '%s\n' "$buffers" | awk '
    /^[0-9]+kB$/ { print $0 + 0 } /^[0-9]+MB$/ { print $0 * 1024 }
    /^[0-9]+GB$/ { print $0 * 1048576 } /^[0-9]+TB$/ { print $0 * 1073741824 }')
  if [ -n "$buffers_kb" ] && [ -n "$memory_kb" ] && [ "$buffers_kb" -ge "$memory_kb" ]; then
    reasons="${reasons}shared_buffers = $buffers is not less than this host's memory ($((memory_kb / 1024)) MB)
"
  fi
  if [ "$(candidate ssl)" = on ]; then
    for name in ssl_cert_file ssl_key_file; do
      file=$(candidate "$name")
      case "$file" in
        /*) ;;
        *) file="$PG_DATA_DIR/$file" ;;
      esac
      if ! as_pg test -r "$file"; then
        reasons="${reasons}$name = $file cannot be read by $PG_OS_USER, and ssl is on
"
      fi
    done
  fi
  if [ -n "$reasons" ]; then
    printf '%s' "$reasons"
    return 1
  fi
  return 0
}
put_back() {
  if [ -n "$KEPT" ]; then
    rm -f "$KEEP_AS"
  fi
  if [ -n "$PREVIOUS" ]; then
    mv -f "$PREVIOUS" "$FILE_PATH"
    PREVIOUS=""
  else
    rm -f "$FILE_PATH"
  fi
}
rejected() {
  put_back
  echo "PostgreSQL rejects the new $FILE_PATH; the previous file is back in place:" >&2
}
mv -f "$TMP" "$FILE_PATH"
set +e
case "$CHECK" in
  postgresql_conf)
    if ! FOUND=$(as_pg "$PG_BIN_DIR/postgres" -D "$PG_DATA_DIR" -c "config_file=$FILE_PATH" -C data_directory 2>&1 >/dev/null); then
      rejected
      printf '%s\n' "$FOUND" | sed -e 's/^.*\(LOG\|FATAL\|ERROR\): *//' >&2
      exit 1
    fi
    if ! FOUND=$(cannot_start); then
      rejected
      printf '%s\n' "$FOUND" >&2
      exit 1
    fi
    ;;
  pg_hba_conf)
    if server_answers; then
      FOUND=$(pg_sql -F ': ' -c 'select line_number, error from pg_hba_file_rules where error is not null' 2>&1)
      if [ -n "$FOUND" ]; then
        rejected
        printf '%s\n' "$FOUND" | while IFS= read -r line; do
          printf '%s line %s\n' "$FILE_PATH" "$line"
        done >&2
        exit 1
      fi
    fi
    ;;
esac
if [ -n "$PREVIOUS" ]; then
  mv -f "$PREVIOUS" "$FILE_PATH.pgconverge-backup"
  PREVIOUS=""
fi
if [ -n "$KEPT" ]; then
  echo "kept the host's $FILE_PATH as $KEEP_AS"
fi
echo "wrote $FILE_PATH"
