# After a clean stop: the location of the shutdown checkpoint, the last record the
# old primary wrote, which the new one must have replayed.
# Not `set -e`: a pg_controldata that fails leaves the state empty, which is
# reported as a server not cleanly shut down (`set -u` comes with lib.sh).
OUT=$(as_pg "$PG_BIN_DIR/pg_controldata" -D "$PG_DATA_DIR")
case "$(printf '%s\n' "$OUT" | sed -n 's/^Database cluster state: *//p')" in
  "shut down") ;;
  *)
    echo 'the primary is not cleanly shut down' >&2
    exit 1
    ;;
esac
printf '%s\n' "$OUT" | sed -n "s/^Latest checkpoint location: *//p"
