# The pgBackRest stanza PGBACKREST_STANZA, on the host that looks after its
# repository. Read-only: info reads the repository, it changes nothing.
if command -v pgbackrest >/dev/null 2>&1; then emit pgbackrest.info "$(as_pg pgbackrest --stanza="$PGBACKREST_STANZA" --output=json info 2>&1)"; else emit pgbackrest.missing yes; fi
