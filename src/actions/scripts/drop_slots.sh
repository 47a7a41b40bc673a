# Drops the replication slots SLOT_NAMES (one a line) that no member streams
# through any more; a walsender still using one (a host removed from the inventory
# that still streams) is ended first. Then, on a standby with failover slots, its
# own logical failover slots SUPERSEDED_NAMES that its primary carries on, each
# only if it still is one now (logical, made with failover, not a synced copy).
# Names reach SQL only as psql variables.
set -eu
slot_inactive() {
  [ "$(printf '%s\n' "select count(*) from pg_replication_slots where slot_name = :'slot' and active;" | pg_sql -v slot="$1")" = 0 ]
}
printf '%s\n' "$SLOT_NAMES" | while IFS= read -r slot; do
  [ -n "$slot" ] || continue
  printf '%s\n' "select pg_terminate_backend(active_pid) from pg_replication_slots where slot_name = :'slot' and active_pid is not null;" |
    pg_sql -v slot="$slot" >/dev/null
  wait_until 10 slot_inactive "$slot" || true
  DROPPED=$(printf '%s\n' "select count(*) from (select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = :'slot') as dropped;" |
    pg_sql -v slot="$slot")
  if [ "$DROPPED" = 1 ]; then
    echo "dropped slot $slot"
  else
    echo "slot $slot was already gone"
  fi
done
printf '%s\n' "$SUPERSEDED_NAMES" | while IFS= read -r slot; do
  [ -n "$slot" ] || continue
  DROPPED=$(printf '%s\n' "select count(*) from (select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = :'slot' and slot_type = 'logical' and failover and not synced and not active) as dropped;" |
    pg_sql -v slot="$slot")
  if [ "$DROPPED" = 1 ]; then
    echo "dropped its own failover slot $slot"
  else
    echo "left slot $slot: it is no longer a failover slot of this standby's own, or it is in use"
  fi
done
