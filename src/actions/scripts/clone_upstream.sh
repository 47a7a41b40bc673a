# Clones the upstream with pg_basebackup, or, with PGBACKREST_STANZA, restores
# the latest backup of that stanza as a standby (`pgbackrest restore
# --type=standby`: the repository rather than the upstream does the copying, and
# the standby catches up from the archive, then streams). The old data directory is moved aside
# with a timestamp, never deleted (an empty one is reused); if the clone fails, it
# is moved back and the server started again if it ran before.
#
# The copy is made in DATA.pgconverge-cloning beside it and renamed into place
# only once the tool finished: a copy cut short (the run killed, the connection
# lost) is never at the data directory's name, so no later run takes it for a
# finished one; the next clone removes it first (it holds nothing of its own).
# Not `set -e`: when the copy fails the script must go on to remove the staging
# directory, move the previous data directory back and start the server again,
# whatever a step of that undoing says (`set -u` comes with lib.sh).
DATA="$PG_DATA_DIR"
case "$DATA" in
  / | "")
    echo "refusing to replace data directory '$DATA'" >&2
    exit 1
    ;;
esac
WAS_RUNNING=0
if [ -f "$DATA/postmaster.pid" ]; then
  WAS_RUNNING=1
  run_command "$STOP_COMMAND" || {
    echo "could not stop PostgreSQL before the base backup" >&2
    exit 1
  }
fi
# The directory holding the data directory is usually the PostgreSQL OS user's
# (/var/lib/postgresql/V): moved aside and made by that user there, by root only
# where root alone owns it, and a new directory is never made through a link.
PARENT=$(dirname "$DATA")
STAGING="$DATA.pgconverge-cloning"
if [ -e "$STAGING" ] || [ -L "$STAGING" ]; then
  in_directory "$PARENT" rm -rf "$STAGING"
fi
ASIDE=""
if [ -d "$DATA" ] && [ ! -L "$DATA" ] && [ -z "$(as_pg ls -A "$DATA")" ]; then
  # An empty directory (left by a rewind that failed part way) holds nothing to keep.
  in_directory "$PARENT" rmdir "$DATA"
elif [ -e "$DATA" ] || [ -L "$DATA" ]; then
  ASIDE="$DATA.pgconverge-$(date -u +%Y%m%dT%H%M%SZ)"
  in_directory "$PARENT" mv -T "$DATA" "$ASIDE"
fi
# A missing parent (/var/lib/postgresql/17 on a standby an upgrade left to be
# cloned) is made as well, each level as make_pg_directory makes it.
{ make_pg_directories "$PARENT" 0755 && make_pg_directory "$STAGING" 0700; } || {
  echo "could not make the directory $STAGING for the copy" >&2
  [ -z "$ASIDE" ] || in_directory "$PARENT" mv -T "$ASIDE" "$DATA"
  exit 1
}
clone() {
  if [ -n "$PGBACKREST_STANZA" ]; then
    as_pg pgbackrest --stanza="$PGBACKREST_STANZA" --pg1-path="$STAGING" --type=standby restore 2>&1
  else
    with_progress as_pg env PGPASSFILE="$PASSFILE" PGSSLMODE="$SSLMODE" ${REQUIRE_AUTH:+PGREQUIREAUTH="$REQUIRE_AUTH"} ${CHANNEL_BINDING:+PGCHANNELBINDING="$CHANNEL_BINDING"} "$PG_BIN_DIR/pg_basebackup" -h "$UPSTREAM_HOST" -p "$UPSTREAM_PORT" -U "$REPLICATION_USER" -D "$STAGING" "$WAL_METHOD" ${SLOT_NAME:+"--slot=$SLOT_NAME"} --checkpoint=fast --no-password --progress
  fi
}
if [ -n "$PGBACKREST_STANZA" ]; then
  SOURCE="the pgBackRest repository (stanza $PGBACKREST_STANZA)"
  TOOL="pgbackrest restore"
else
  SOURCE=$UPSTREAM_HOST
  TOOL=pg_basebackup
fi
if OUT=$(clone); then
  if ! in_directory "$PARENT" mv -T "$STAGING" "$DATA"; then
    OUT="could not rename $STAGING to $DATA"
    CLONED=no
  else
    CLONED=yes
  fi
else
  CLONED=no
fi
if [ "$CLONED" = no ]; then
  in_directory "$PARENT" rm -rf "$STAGING"
  if [ -n "$ASIDE" ]; then
    in_directory "$PARENT" mv -T "$ASIDE" "$DATA"
    if [ "$WAS_RUNNING" = 1 ]; then
      run_command "$START_COMMAND" >/dev/null 2>&1 && wait_for_server
    fi
    echo "$TOOL from $SOURCE failed; the previous data directory is back in place:" >&2
  else
    echo "$TOOL from $SOURCE failed:" >&2
  fi
  printf '%s\n' "$OUT" >&2
  exit 1
fi
# A rewind cut short left its mark beside the directory now kept aside.
in_directory "$PARENT" rm -f "$DATA.pgconverge-rewinding"
if [ -n "$ASIDE" ]; then
  echo "cloned from $SOURCE; the previous data directory is kept as $ASIDE"
else
  echo "cloned from $SOURCE"
fi
