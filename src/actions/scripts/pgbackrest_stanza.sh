# Makes pgBackRest's stanza STANZA ready where its repository is looked after:
# stanza-create when CREATE is yes (it refuses a repository of another cluster),
# `check` when CHECK is yes (a WAL segment goes through archive-push into the
# repository), and a
# full backup when FIRST_BACKUP is yes. As the PostgreSQL OS user, like the
# archiver that runs archive-push.
set -eu
command -v pgbackrest >/dev/null 2>&1 || {
  echo "pgBackRest is not installed: install the package $PACKAGE" >&2
  exit 1
}
if [ "$CREATE" = yes ]; then
  as_pg pgbackrest --stanza="$STANZA" stanza-create
  echo "created stanza $STANZA"
fi
if [ "$CHECK" = yes ]; then
  as_pg pgbackrest --stanza="$STANZA" check
  echo "stanza $STANZA passes pgbackrest check"
fi
if [ "$FIRST_BACKUP" = yes ]; then
  as_pg pgbackrest --stanza="$STANZA" --type=full backup
  LAST=$(as_pg pgbackrest --stanza="$STANZA" --output=json info | sed -n 's/.*"label":"\([^"]*\)".*/\1/p' | tail -n 1)
  echo "took a full backup${LAST:+ ($LAST)}"
fi
