# On the primary of a cluster with PgBouncer hosts: whether each database that
# accepts connections has the function PgBouncer's `auth_query` calls, as
# pgconverge makes it. One psql writes a psql script (a `\connect` to each
# database, its name quoted for libpq and for psql by SQL itself, and the
# query that judges the function there), which a second psql runs: two
# processes whatever the number of databases. Each database's record is its
# name, hex-encoded, and the verdict (`ok`, or what differs).
if AUTH_VISITS=$(printf '%s\n' "$PGBOUNCER_AUTH_LIST_SQL" | as_pg "$PSQL" -XAtq -h "$PG_SOCKET_DIR" -p "$PG_PORT" -d postgres -v ON_ERROR_STOP=1 -v state_sql="$PGBOUNCER_AUTH_STATE_SQL" -v all_databases=yes 2>&1) &&
  AUTH_OUT=$(printf '%s\n' "$AUTH_VISITS" | as_pg "$PSQL" -XAtq -h "$PG_SOCKET_DIR" -p "$PG_PORT" -d postgres -v ON_ERROR_STOP=1 -v bouncer_role="$PGBOUNCER_AUTH_USER" -v auth_body="$PGBOUNCER_AUTH_BODY" 2>&1); then
  emit pgbouncer_auth.functions "$AUTH_OUT"
else
  emit pgbouncer_auth.error "${AUTH_OUT:-$AUTH_VISITS}"
fi
