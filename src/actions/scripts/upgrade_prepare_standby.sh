# Before the primary's rsync replaces this standby's old data directory with the
# primary's: a restore point of it made of hard links (`cp -al`: no data is
# copied, and rsync writes every file it changes as a new file that it renames,
# so the restore point keeps the standby's files as they were), and the parent
# of the new data directory.
set -e
if [ -e "$RESTORE_POINT" ]; then
  mv "$RESTORE_POINT" "$RESTORE_POINT.$(date -u +%Y%m%dT%H%M%SZ)"
fi
cp -al "$OLD_DATA_DIR" "$RESTORE_POINT"
install -d -o "$PG_OS_USER" -g "$PG_OS_GROUP" -m 0700 "$(dirname "$PG_DATA_DIR")"
echo "kept $OLD_DATA_DIR as the restore point $RESTORE_POINT (hard links)"
