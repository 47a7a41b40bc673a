# Creates or alters the replication role with a SCRAM verifier made for this run,
# so the plaintext password never reaches the server. Statement logging is off for
# the session, so the verifier does not land in the server log either. The role
# name and the verifier reach SQL only as psql variables.
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
:verb ROLE :"role" WITH REPLICATION LOGIN PASSWORD :'verifier';
SQL
} | pg_sql -v role="$ROLE_NAME" -v verb="$VERB"
if [ "$REWIND_GRANTS" = yes ]; then
  # From PostgreSQL 11 the replication role may run pg_rewind against this server
  # once it can read the files pg_rewind compares.
  pg_sql -v role="$ROLE_NAME" <<'SQL'
GRANT EXECUTE ON FUNCTION pg_catalog.pg_ls_dir(text, boolean, boolean) TO :"role";
GRANT EXECUTE ON FUNCTION pg_catalog.pg_stat_file(text, boolean) TO :"role";
GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text) TO :"role";
GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) TO :"role";
SQL
fi
echo "role $ROLE_NAME has REPLICATION LOGIN and the wanted password"
