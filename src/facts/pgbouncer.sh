# PgBouncer on a host of the group `pgbouncer`: the version its binary reports,
# the psql that reaches its console, and what the console says (its databases,
# with where each goes, and its settings). The console is reached as the
# PostgreSQL OS user, as whom PgBouncer runs, over PgBouncer's Unix socket and
# as the user `pgbouncer`, whom PgBouncer lets in without a password when the
# socket's peer has its own uid: no password and no rule of its own. A console
# that does not answer gives `pgbouncer.error`, psql's words.
if [ -x "$PGBOUNCER_BIN" ]; then emit pgbouncer.version "$("$PGBOUNCER_BIN" --version 2>&1 | head -n 1)"; fi
if [ -x "$PG_BIN_DIR/psql" ]; then BOUNCER_PSQL=$PG_BIN_DIR/psql; else BOUNCER_PSQL=$(command -v psql || true); fi
if [ -n "$BOUNCER_PSQL" ]; then
  emit pgbouncer.psql "$BOUNCER_PSQL"
  if BOUNCER_OUT=$(as_pg "$BOUNCER_PSQL" -XAtq -h "$PGBOUNCER_SOCKET_DIR" -p "$PGBOUNCER_PORT" -U pgbouncer -d pgbouncer -F "$FIELD_SEPARATOR" -c 'SHOW DATABASES' 2>&1); then
    emit pgbouncer.databases "$BOUNCER_OUT"
    if BOUNCER_OUT=$(as_pg "$BOUNCER_PSQL" -XAtq -h "$PGBOUNCER_SOCKET_DIR" -p "$PGBOUNCER_PORT" -U pgbouncer -d pgbouncer -F "$FIELD_SEPARATOR" -c 'SHOW CONFIG' 2>&1); then
      emit pgbouncer.config "$BOUNCER_OUT"
    fi
  else
    emit pgbouncer.error "$BOUNCER_OUT"
  fi
fi
