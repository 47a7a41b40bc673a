# Makes the physical replication slot SLOT_NAME on this server (the upstream of the
# standby that streams through it), reserving WAL at once. With RECREATE=1 a slot
# that lost WAL is dropped first. The name reaches SQL only as a psql variable.
set -eu
if [ "$RECREATE" = 1 ]; then
  printf '%s\n' "select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = :'slot' and not active;" |
    pg_sql -v slot="$SLOT_NAME" >/dev/null
fi
printf '%s\n' "select pg_create_physical_replication_slot(:'slot', true) where not exists (select 1 from pg_replication_slots where slot_name = :'slot');" |
  pg_sql -v slot="$SLOT_NAME" >/dev/null
echo "slot $SLOT_NAME is ready"
