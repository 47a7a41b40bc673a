# Makes PgBouncer's auth role ROLE_NAME (LOGIN and no other right, with a SCRAM
# verifier made for this run: the plaintext never reaches the server, and
# statement logging is off for the session) and, in `postgres` or, with
# EVERY_DATABASE, in every database that accepts connections (template1 among
# them, so a new database has it), the function its auth_query calls
# (INSTALL_SQL, whose body is AUTH_BODY). One psql writes the script that
# visits each database (EVERY_DATABASE_SQL), and a second runs it. Names and
# SQL reach psql only as psql variables.
set -eu
EXISTS=$(pg_sql -v role="$ROLE_NAME" <<'SQL'
select count(*) from pg_roles where rolname = :'role';
SQL
)
if [ "$EXISTS" = 1 ]; then VERB=ALTER; else VERB=CREATE; fi
{
  printf "\\\\set verifier '%s'\n" "$VERIFIER"
  cat <<'SQL'
SET log_statement = 'none';
SET log_min_duration_statement = -1;
:verb ROLE :"role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'verifier';
SQL
} | pg_sql -v role="$ROLE_NAME" -v verb="$VERB"
VISITS=$(printf '%s\n' "$EVERY_DATABASE_SQL" | pg_sql -v state_sql="$INSTALL_SQL" -v all_databases="$EVERY_DATABASE")
printf '%s\n' "$VISITS" | pg_sql -v bouncer_role="$ROLE_NAME" -v auth_body="$AUTH_BODY" >/dev/null
if [ "$EVERY_DATABASE" = yes ]; then WHERE="every database"; else WHERE=postgres; fi
echo "role $ROLE_NAME may log in, and PgBouncer's lookup function is in $WHERE"
