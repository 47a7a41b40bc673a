# What the host offers a server: PostgreSQL's binaries, the memory, the
# libraries installed for `shared_preload_libraries`, and the TCP sockets in
# the LISTEN state (state 0A, as `ADDRESS:PORT` in hex: a port the new
# configuration names may already be taken; procfs has them on every Linux,
# where `ss` may not be installed).
if [ -x "$PG_BIN_DIR/postgres" ]; then emit postgres_installed yes; fi
if [ -r /proc/meminfo ]; then while read -r key value _; do if [ "$key" = MemTotal: ]; then emit memory_kb "$value"; break; fi; done < /proc/meminfo; fi
LIBDIR=$("$PG_BIN_DIR/pg_config" --pkglibdir 2>/dev/null || echo "$PG_BIN_DIR/../lib")
if [ -d "$LIBDIR" ]; then emit libraries "$(for f in "$LIBDIR"/*.so; do [ -e "$f" ] && printf '%s\n' "${f##*/}"; done)"; fi
if [ -r /proc/net/tcp ]; then emit listening "$(awk '$4 == "0A" { print $2 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null)"; fi
# The addresses of each interface (`INTERFACE ADDRESS/PREFIX` a line), where a
# virtual IP is looked for, and whether `arping` can announce one.
if [ -n "$VIRTUAL_IP" ] && command -v ip >/dev/null 2>&1; then emit addresses "$(ip -o addr show 2>/dev/null | awk '$3 == "inet" || $3 == "inet6" { print $2, $4 }')"; fi
if [ -n "$VIRTUAL_IP" ] && command -v arping >/dev/null 2>&1; then emit arping yes; fi
