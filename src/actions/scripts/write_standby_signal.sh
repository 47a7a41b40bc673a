set -e
SIGNAL="$PG_DATA_DIR/standby.signal"
touch "$SIGNAL"
chown "$PG_OS_USER" "$SIGNAL"
echo "created $SIGNAL"
