# Before the primary's rsync replaces this standby's old data directory with the
# primary's: a restore point of it made of hard links (`cp -al`: no data is
# copied, and rsync writes every file it changes as a new file that it renames,
# so the restore point keeps the standby's files as they were), and the parent
# of the new data directory. All of it is the PostgreSQL OS user's: that user
# links the files (root would link whatever a link planted in the tree leads
# to), an earlier restore point is moved aside by root only where root alone
# owns the directory, and a missing parent is made by root only in a directory
# root alone owns (make_pg_directories).
set -eu
PARENT=$(dirname "$OLD_DATA_DIR")
if [ -e "$RESTORE_POINT" ] || [ -L "$RESTORE_POINT" ]; then
  in_directory "$PARENT" mv -T -- "$RESTORE_POINT" "$RESTORE_POINT.$(date -u +%Y%m%dT%H%M%SZ)"
fi
as_pg cp -al -- "$OLD_DATA_DIR" "$RESTORE_POINT"
make_pg_directories "$(dirname "$PG_DATA_DIR")" 0755
echo "kept $OLD_DATA_DIR as the restore point $RESTORE_POINT (hard links)"
