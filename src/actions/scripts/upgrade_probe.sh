# What `pgconverge upgrade` checks before it changes anything, read-only but for
# the scratch cluster of `pg_upgrade --check` (in a fresh directory under
# /var/tmp, removed whatever happens). One `KEY VALUE` line per fact; a file's
# content and pg_upgrade's output are base64 on one line, before their name.
# The last line is `end yes`: an output without it was cut short. Runs as the
# PostgreSQL OS user: the files it reads and carries over are that user's, so
# a link planted among them leads to nothing that user could not read.
# Not `set -e`: a probe reports what it could read and goes on: it reads
# pg_upgrade --check's exit code (`$?`) after it failed, and ends with `end yes`
# whatever a fact gave (`set -u` comes with lib.sh).
say() {
  printf '%s %s\n' "$1" "$2"
}
finish() {
  say end yes
  exit 0
}
for tool in pg_upgrade postgres initdb pg_controldata; do
  if [ -x "$PG_BIN_DIR/$tool" ]; then say binary "$tool yes"; else say binary "$tool no"; fi
done
if command -v rsync >/dev/null 2>&1; then say rsync yes; else say rsync no; fi
if ! server_answers; then
  say server down
  finish
fi
say server up
say checksums "$(pg_sql -c 'show data_checksums')"
say wal_segment_size "$(pg_sql -c "select setting::bigint * case unit when '8kB' then 8192 when 'MB' then 1048576 else 1 end from pg_settings where name = 'wal_segment_size'")"
say data_size "$(pg_sql -c 'select sum(pg_database_size(oid))::bigint from pg_database')"
# The new data directory goes on the filesystem of its nearest existing parent.
PARENT=$NEW_DATA_DIR
while [ ! -d "$PARENT" ] && [ "$PARENT" != / ]; do
  PARENT=$(dirname "$PARENT")
done
say free_bytes "$(df -Pk "$PARENT" | awk 'NR == 2 { print $4 * 1024 }')"
if [ "$(stat -c %d "$PARENT")" = "$(stat -c %d "$OLD_DATA_DIR")" ]; then
  say same_filesystem yes
else
  say same_filesystem no
fi
if [ -d "$NEW_DATA_DIR" ] && { ! LISTING=$(ls -A "$NEW_DATA_DIR" 2>/dev/null) || [ -n "$LISTING" ]; }; then
  say new_data_dir exists
elif [ -e "$NEW_DATA_DIR" ] && [ ! -d "$NEW_DATA_DIR" ]; then
  say new_data_dir exists
else
  say new_data_dir absent
fi
if [ "$NEW_CONFIG_DIR" != "$NEW_DATA_DIR" ] && { [ -e "$NEW_CONFIG_DIR" ] || [ -L "$NEW_CONFIG_DIR" ]; }; then
  say new_config_dir exists
else
  say new_config_dir absent
fi
say tablespaces "$(pg_sql -c "select coalesce(string_agg(spcname, ' '), '') from pg_tablespace where spcname not in ('pg_default', 'pg_global')")"
say encoding "$(pg_sql -c "select pg_encoding_to_char(encoding) from pg_database where datname = 'template0'")"
say lc_collate "$(pg_sql -c "select datcollate from pg_database where datname = 'template0'")"
say lc_ctype "$(pg_sql -c "select datctype from pg_database where datname = 'template0'")"
carry() {
  if [ -f "$1" ]; then
    printf 'file %s %s\n' "$(base64 -w0 <"$1")" "$1"
  fi
}
carry "$OLD_CONFIG_DIR/postgresql.base.conf"
carry "$OLD_CONFIG_DIR/pg_hba.conf"
carry "$OLD_CONFIG_DIR/pg_ident.conf"
carry "$OLD_DATA_DIR/postgresql.auto.conf"
if [ -d "$OLD_CONFIG_DIR/conf.d" ]; then
  for file in "$OLD_CONFIG_DIR"/conf.d/*; do
    carry "$file"
  done
fi
[ "$ROLE" = primary ] || finish
# Transactions open longer than MAX_TRANSACTION_AGE seconds.
printf '%s\n' "select coalesce(string_agg(format('pid %s (user %s, application %s, open %s s)', pid, usename, coalesce(nullif(application_name, ''), '-'), extract(epoch from now() - xact_start)::bigint), '; '), '') from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid() and xact_start < now() - make_interval(secs => :'age');" |
  pg_sql -v age="$MAX_TRANSACTION_AGE" | sed 's/^/old_transactions /'
# Every extension of every database, and whether the new version has it.
SHARE_DIR=""
if [ -x "$PG_BIN_DIR/pg_config" ]; then
  SHARE_DIR=$("$PG_BIN_DIR/pg_config" --sharedir 2>/dev/null) || SHARE_DIR=""
fi
if [ -z "$SHARE_DIR" ] && [ -d "/usr/share/postgresql/$NEW_VERSION" ]; then
  SHARE_DIR="/usr/share/postgresql/$NEW_VERSION"
fi
pg_sql -c 'select datname from pg_database where datallowconn' | while IFS= read -r database; do
  as_pg env PGDATABASE="$database" psql -XAtq -h "$PG_SOCKET_DIR" -p "$PG_PORT" -c "select extname from pg_extension where extname <> 'plpgsql'" | while IFS= read -r extension; do
    if [ -n "$SHARE_DIR" ] && [ -f "$SHARE_DIR/extension/$extension.control" ]; then
      say extension "$extension yes $database"
    else
      say extension "$extension no $database"
    fi
  done
done
# Columns whose options carry an attribute version (`pg_attver`, which
# PostgreSQL 17.11 and later stamp on every column), per database: the new
# version's pg_upgrade dumps them as column options, which its server must know.
pg_sql -c 'select datname from pg_database where datallowconn' | while IFS= read -r database; do
  COUNT=$(as_pg env PGDATABASE="$database" psql -XAtq -h "$PG_SOCKET_DIR" -p "$PG_PORT" -c "select count(*) from pg_attribute a join pg_class c on c.oid = a.attrelid where c.relnamespace not in ('pg_catalog'::regnamespace, 'information_schema'::regnamespace) and exists (select from unnest(a.attoptions) o where o like 'pg\\_attver=%')")
  if [ -n "$COUNT" ] && [ "$COUNT" != 0 ]; then
    say attribute_versions "$COUNT $database"
  fi
done
# SSH from the primary's PostgreSQL user to each standby's, for rsync.
printf '%s\n' "$STANDBY_LOGINS" | while IFS= read -r login; do
  [ -n "$login" ] || continue
  if as_pg ssh -n -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=5 -- "$login" true >/dev/null 2>&1; then
    say ssh "yes $login"
  else
    say ssh "no $login"
  fi
done
[ "$RUN_CHECK" = yes ] || finish
# pg_upgrade --check against the live server, with a scratch new cluster made
# as the real one will be.
SCRATCH=$(mktemp -d /var/tmp/pgconverge-upgrade-check.XXXXXX) || exit 1
trap 'rm -rf "$SCRATCH"' EXIT
set -- -D "$SCRATCH/data" --encoding="$(pg_sql -c "select pg_encoding_to_char(encoding) from pg_database where datname = 'template0'")"
set -- "$@" --lc-collate="$(pg_sql -c "select datcollate from pg_database where datname = 'template0'")"
set -- "$@" --lc-ctype="$(pg_sql -c "select datctype from pg_database where datname = 'template0'")"
if [ "$(pg_sql -c 'show data_checksums')" = on ]; then
  set -- "$@" --data-checksums
elif [ "$PG_MAJOR_NUM" -ge 1800 ]; then
  set -- "$@" --no-data-checksums
fi
SEGMENT_MB=$(pg_sql -c "select setting::bigint * case unit when '8kB' then 8192 when 'MB' then 1048576 else 1 end / 1048576 from pg_settings where name = 'wal_segment_size'")
set -- "$@" --wal-segsize="$SEGMENT_MB"
if ! INIT_OUT=$(cd "$SCRATCH" && as_pg "$PG_BIN_DIR/initdb" "$@" 2>&1); then
  say check_status 1
  printf 'check_output %s\n' "$(printf 'initdb of the scratch cluster failed:\n%s\n' "$INIT_OUT" | base64 -w0)"
  finish
fi
set -- --check -b "$OLD_BIN_DIR" -B "$PG_BIN_DIR" -d "$OLD_DATA_DIR" -D "$SCRATCH/data" -p "$PG_PORT" -P "$CHECK_PORT" -s "$PG_SOCKET_DIR"
if [ -n "$OLD_CONFIG_FILE" ]; then
  set -- "$@" -o "-c config_file=$OLD_CONFIG_FILE"
fi
CHECK_OUT=$(cd "$SCRATCH" && as_pg "$PG_BIN_DIR/pg_upgrade" "$@" 2>&1)
say check_status "$?"
printf 'check_output %s\n' "$(printf '%s\n' "$CHECK_OUT" | base64 -w0)"
# Whether the new version's server takes an attribute version as a column
# option, as the schema pg_upgrade restores sets them: asked of the scratch
# cluster (stopped again by pg_upgrade --check) in single-user mode.
say new_server "$(as_pg "$PG_BIN_DIR/postgres" --version 2>/dev/null | sed 's/^postgres (PostgreSQL) //')"
ATTVER_OUT=$(printf '%s\n' 'create table pgconverge_attribute_version (a int);' \
  'alter table pgconverge_attribute_version alter column a set (pg_attver = 1);' |
  as_pg "$PG_BIN_DIR/postgres" --single -D "$SCRATCH/data" postgres 2>&1)
if printf '%s\n' "$ATTVER_OUT" | grep -q 'unrecognized parameter "pg_attver"'; then
  say new_attribute_versions no
elif printf '%s\n' "$ATTVER_OUT" | grep -q 'ERROR'; then
  say new_attribute_versions unknown
else
  say new_attribute_versions yes
fi
# The lists pg_upgrade writes of what it refuses (tables_using_aclitem.txt).
find "$SCRATCH" -name '*.txt' -type f 2>/dev/null | head -n 10 | while IFS= read -r list; do
  printf 'check_list %s %s\n' "$(head -n 20 "$list" | base64 -w0)" "$(basename "$list")"
done
say end yes
