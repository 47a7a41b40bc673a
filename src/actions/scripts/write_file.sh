# Writes FILE_PATH through a temporary file in the same directory and a rename, so
# a reader never sees half a file. With a CHECK, PostgreSQL reads the new file and
# a rejected one is put back, leaving the earlier backup alone; an accepted one
# keeps the version it replaced as FILE.pgconverge-backup. With KEEP_AS, a file there
# before the first write is kept under that name (the host's own postgresql.conf, which
# the new one includes), unless that name exists already; a rejected write removes it.
#
# A file of the PostgreSQL OS user (every configuration file, .pgpass, its SSH
# files) is written by that user: pgconverge runs this whole script as it. Root
# writes only another owner's file, and only in a directory root alone owns
# (every part of its path a real, root-owned directory no one else can write),
# where no other user can swap a name for a link between two commands.
set -eu
DIR=$(dirname "$FILE_PATH")
if [ "$(id -u)" = 0 ] && ! root_owns_path "$(existing_ancestor "$DIR")"; then
  echo "$DIR can be changed by a user other than root: refusing to write $FILE_PATH there as root" >&2
  exit 1
fi
for name in "$FILE_PATH" ${KEEP_AS:+"$KEEP_AS"}; do
  if [ -L "$name" ]; then
    echo "$name is a link: refusing to write through it; remove it" >&2
    exit 1
  fi
done
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
# The same setting in the file this one replaces.
previous() {
  as_pg "$PG_BIN_DIR/postgres" -D "$PG_DATA_DIR" -c "config_file=$PREVIOUS" -C "$1" 2>/dev/null
}
# An address of /proc/net/tcp or tcp6 (32-bit words in the host's byte order, read
# as little-endian) as listen_addresses writes it: IPv4 in full, IPv6 only as the
# wildcard, the loopback, or "ipv6".
proc_address() {
  case "$1" in
    ????????)
      printf '%d.%d.%d.%d' "0x$(printf '%s' "$1" | cut -c7-8)" "0x$(printf '%s' "$1" | cut -c5-6)" \
        "0x$(printf '%s' "$1" | cut -c3-4)" "0x$(printf '%s' "$1" | cut -c1-2)"
      ;;
    00000000000000000000000000000000) printf '::' ;;
    00000000000000000000000001000000) printf '::1' ;;
    *) printf 'ipv6' ;;
  esac
}
# Whether a server binding $1 (an entry of listen_addresses) collides with a socket
# listening on $2 at the same port, as the planner judges it (postgresql_conf.rs).
binds_over() {
  case "$2" in 0.0.0.0 | ::) return 0 ;; esac
  case "$1" in
    '*') return 0 ;;
    0.0.0.0) case "$2" in *.*) return 0 ;; esac ;;
    ::) case "$2" in *.*) ;; *) return 0 ;; esac ;;
    localhost) case "$2" in 127.0.0.1 | ::1) return 0 ;; esac ;;
    "$2") return 0 ;;
  esac
  return 1
}
# When the new file changes port or listen_addresses: another process that listens
# on that port where the server would bind. The server's own sockets, on the port
# postmaster.pid names, do not count: a restart frees them.
port_taken() {
  set -f
  port=$(candidate port)
  listen=$(candidate listen_addresses)
  if [ -n "$PREVIOUS" ] && [ "$port" = "$(previous port)" ] && [ "$listen" = "$(previous listen_addresses)" ]; then
    return 1
  fi
  own_port=$(sed -n 4p "$PG_DATA_DIR/postmaster.pid" 2>/dev/null || true)
  [ -n "$port" ] && [ "$port" != "$own_port" ] && [ -r /proc/net/tcp ] || return 1
  taken=$(awk '$4 == "0A" { print $2 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null | while IFS= read -r socket; do
    [ "$(printf '%d' "0x${socket#*:}")" = "$port" ] || continue
    address=$(proc_address "${socket%:*}")
    for entry in $(printf '%s' "$listen" | tr ',' ' '); do
      if binds_over "$entry" "$address"; then
        echo "$address:$port"
      fi
    done
  done | head -n 1)
  [ -n "$taken" ] || return 1
  echo "port $port is taken: another process listens on $taken"
}
# Well-formed values a server still cannot start with, caught before any restart:
# a library in shared_preload_libraries that is not installed, shared_buffers
# beyond the host's memory, a TLS certificate or key the server cannot read, a
# port another process listens on. Prints each reason; fails when there is one.
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
  if taken=$(port_taken); then
    reasons="${reasons}${taken}
"
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
    mv -fT "$PREVIOUS" "$FILE_PATH"
    PREVIOUS=""
  else
    rm -f "$FILE_PATH"
  fi
}
rejected() {
  put_back
  echo "PostgreSQL rejects the new $FILE_PATH; the previous file is back in place:" >&2
}
mv -fT "$TMP" "$FILE_PATH"
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
  mv -fT "$PREVIOUS" "$FILE_PATH.pgconverge-backup"
  PREVIOUS=""
fi
if [ -n "$KEPT" ]; then
  echo "kept the host's $FILE_PATH as $KEEP_AS"
fi
echo "wrote $FILE_PATH"
