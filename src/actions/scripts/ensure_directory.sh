set -e
mkdir -p "$DIR_PATH"
chown "$OWNER:$GROUP" "$DIR_PATH"
chmod "$MODE" "$DIR_PATH"
echo "directory $DIR_PATH is $OWNER:$GROUP $MODE"
