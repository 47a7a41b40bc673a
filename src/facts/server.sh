# What the running server says of itself: one psql, as the PostgreSQL OS user
# over the local socket, runs FACTS_SQL (its sections marked `@@NAME`, the SQL
# the version understands), columns separated by FIELD_SEPARATOR; the roles'
# names reach SQL only as the psql variables `role` and `bouncer_role`. A server that does not
# answer gives `server_error`, psql's words.
# The version's own psql where it is: Debian's psql in PATH is a Perl wrapper
# that finds it, at the cost of a Perl interpreter per host.
if [ -x "$PG_BIN_DIR/psql" ]; then PSQL=$PG_BIN_DIR/psql; else PSQL=psql; fi
if SQL_OUT=$(printf '%s\n' "$FACTS_SQL" | as_pg "$PSQL" -XAtq -h "$PG_SOCKET_DIR" -p "$PG_PORT" -d postgres -v ON_ERROR_STOP=1 -v role="$PG_REPLICATION_USER" -v bouncer_role="$PGBOUNCER_AUTH_USER" -F "$FIELD_SEPARATOR" 2>&1); then emit server "$SQL_OUT"; else emit server_error "$SQL_OUT"; fi
