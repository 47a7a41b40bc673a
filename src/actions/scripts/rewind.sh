# Rejoins a former primary: stops it cleanly (finishing crash recovery in
# single-user mode if it crashed), then pg_rewind copies what diverged from the
# upstream. Its configuration stays; the recovery step and the start follow.
# pg_rewind runs with --dry-run first: when that fails, nothing changed, and its
# reason is kept as pgconverge-rewind-failed in the data directory so the next
# plan clones instead of failing the same way. When the real run fails part way,
# the half-rewound directory is moved aside (never used, never deleted) and an
# empty one left, which the next apply fills with a base backup.
# While the real pg_rewind copies, DATA.pgconverge-rewinding stands beside the
# directory: a run killed then (its scripts are ended with it) leaves a half
# rewound directory and that mark, and the next plan clones instead of starting
# or rewinding it (pg_rewind removes what the source lacks, so a mark inside the
# directory would not last).
# Not `set -e`: the failure paths go on after a command that may fail (stopping
# the server that crash recovery started, moving the half-rewound directory
# aside) to say what happened (`set -u` comes with lib.sh).
DATA="$PG_DATA_DIR"
MARK="$DATA.pgconverge-rewinding"
if [ -e "$MARK" ] || [ -L "$MARK" ]; then
  echo "a pg_rewind into $DATA was cut short on an earlier run ($MARK is there): it is half rewound, and the next apply clones instead" >&2
  exit 1
fi
if server_answers; then
  run_command "$STOP_COMMAND" || {
    echo "could not stop PostgreSQL before pg_rewind" >&2
    exit 1
  }
fi
# A server that runs from the directory but does not answer yet (one a killed
# run started, still recovering) is stopped as well: crash recovery and
# pg_rewind need it down.
if as_pg "$PG_BIN_DIR/pg_ctl" status -D "$DATA" >/dev/null 2>&1; then
  if ! OUT=$(as_pg "$PG_BIN_DIR/pg_ctl" stop -w -m fast -D "$DATA" 2>&1); then
    echo "a server runs from $DATA without answering, and it could not be stopped before pg_rewind:" >&2
    printf '%s\n' "$OUT" >&2
    exit 1
  fi
fi
STATE=$(as_pg "$PG_BIN_DIR/pg_controldata" -D "$DATA" | sed -n 's/^Database cluster state: *//p')
case "$STATE" in
  "shut down" | "shut down in recovery") ;;
  *)
    # pg_rewind needs a cleanly shut down target: finish crash recovery first.
    if [ -f "$DATA/standby.signal" ] || [ -f "$DATA/recovery.conf" ]; then
      # A standby that crashed. Single-user mode refuses standby mode, and
      # ending its recovery would write WAL its upstream does not have: it
      # starts as the standby it is, recovers, and stops cleanly ("shut down in
      # recovery"). Its log is kept beside its data.
      LOG="$DATA/pgconverge-recovery.log"
      # At least the hot-standby limits its primary last logged, which a new
      # configuration may lower before the primary's lower values reach it.
      if ! OUT=$(as_pg "$PG_BIN_DIR/pg_ctl" start -w -t "$SERVER_WAIT_SECONDS" -D "$DATA" -o "-c config_file=$CONFIG_FILE $(control_file_limits)" -l "$LOG" 2>&1); then
        as_pg "$PG_BIN_DIR/pg_ctl" stop -w -m fast -D "$DATA" >/dev/null 2>&1
        echo "crash recovery of the standby $DATA before pg_rewind failed:" >&2
        printf '%s\n' "$OUT" >&2
        as_pg tail -n 20 "$LOG" >&2
        exit 1
      fi
      if ! OUT=$(as_pg "$PG_BIN_DIR/pg_ctl" stop -w -m fast -D "$DATA" 2>&1); then
        echo "the standby $DATA recovered but did not stop before pg_rewind:" >&2
        printf '%s\n' "$OUT" >&2
        exit 1
      fi
    elif ! OUT=$(as_pg "$PG_BIN_DIR/postgres" --single -D "$DATA" -c "config_file=$CONFIG_FILE" postgres </dev/null 2>&1); then
      echo "crash recovery of $DATA before pg_rewind failed:" >&2
      printf '%s\n' "$OUT" >&2
      exit 1
    fi
    ;;
esac
as_pg rm -f "$DATA/pgconverge-rewind-failed"
if ! OUT=$(as_pg env PGPASSFILE="$PASSFILE" "$PG_BIN_DIR/pg_rewind" --dry-run --target-pgdata="$DATA" --source-server="$SOURCE_CONNINFO" 2>&1); then
  printf '%s\n' "$OUT" | as_pg tee "$DATA/pgconverge-rewind-failed" >/dev/null
  echo "pg_rewind --dry-run from $UPSTREAM_HOST failed; the data directory is unchanged, and the next apply plans a base backup instead:" >&2
  printf '%s\n' "$OUT" >&2
  exit 1
fi
if ! in_directory "$(dirname "$DATA")" touch "$MARK"; then
  echo "could not mark $DATA as being rewound ($MARK); nothing was changed" >&2
  exit 1
fi
if ! OUT=$(as_pg env PGPASSFILE="$PASSFILE" "$PG_BIN_DIR/pg_rewind" --target-pgdata="$DATA" --source-server="$SOURCE_CONNINFO" 2>&1); then
  ASIDE="$DATA.pgconverge-rewind-failed-$(date -u +%Y%m%dT%H%M%SZ)"
  # Moved and made by the PostgreSQL OS user where it owns the directory above
  # (root would follow a link planted between the two).
  in_directory "$(dirname "$DATA")" mv -T "$DATA" "$ASIDE"
  make_pg_directory "$DATA" 0700
  in_directory "$(dirname "$DATA")" rm -f "$MARK"
  echo "pg_rewind from $UPSTREAM_HOST failed part way; the data directory is kept as $ASIDE and the next apply clones $UPSTREAM_HOST into an empty one:" >&2
  printf '%s\n' "$OUT" >&2
  exit 1
fi
in_directory "$(dirname "$DATA")" rm -f "$MARK"
printf '%s\n' "$OUT" | tail -n 1
