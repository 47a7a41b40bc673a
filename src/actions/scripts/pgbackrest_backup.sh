# Takes a pgBackRest backup of BACKUP_TYPE (full, diff or incr) of stanza STANZA,
# then prints the newest backup as pgbackrest info's JSON on a line `INFO ...`,
# which pgconverge turns into its summary line.
set -eu
command -v pgbackrest >/dev/null 2>&1 || {
  echo "pgBackRest is not installed: install the package $PACKAGE" >&2
  exit 1
}
as_pg pgbackrest --stanza="$STANZA" --type="$BACKUP_TYPE" backup
printf 'INFO %s\n' "$(as_pg pgbackrest --stanza="$STANZA" --output=json info)"
