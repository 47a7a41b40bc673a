# Makes DIR_PATH a directory owned by OWNER:GROUP with MODE. Root acts on it only
# where root alone owns the directory above it (the path's every part a real,
# root-owned directory no one else can write), so no other user can swap it for
# a link in between; a directory under one the PostgreSQL OS user owns (the WAL
# archive in its home) is made and set by that user. A link at DIR_PATH is
# refused, never followed.
set -eu
PARENT=$(dirname "$DIR_PATH")
if [ -L "$DIR_PATH" ]; then
  echo "$DIR_PATH is a link (to $(readlink "$DIR_PATH")): refusing to follow it; remove the link, or name its target in the inventory" >&2
  exit 1
fi
if [ "$(id -u)" = 0 ] && root_owns_path "$(existing_ancestor "$PARENT")"; then
  # Made one level at a time: each new directory is root's until its owner is set.
  [ -d "$DIR_PATH" ] || mkdir -p "$DIR_PATH"
  chown -h "$OWNER:$GROUP" "$DIR_PATH"
  chmod "$MODE" "$DIR_PATH"
elif [ "$OWNER" = "$PG_OS_USER" ]; then
  as_pg mkdir -p "$DIR_PATH"
  as_pg chmod "$MODE" "$DIR_PATH"
  if [ "$(as_pg stat -c %G "$DIR_PATH")" != "$GROUP" ]; then as_pg chgrp "$GROUP" "$DIR_PATH"; fi
else
  echo "$PARENT can be changed by a user other than root: refusing to give $DIR_PATH to $OWNER there" >&2
  exit 1
fi
echo "directory $DIR_PATH is $OWNER:$GROUP $MODE"
