#!/usr/bin/env bash
# The floor of a no-op plan on the lab: what any tool must pay to look at every
# host once. It opens one fresh SSH connection per host, all in parallel, with
# the system's ssh and the lab's ssh_config, and makes one round trip on each
# that reads what a no-op `pgconverge apply --dry-run` reads: the server's
# configuration files (postgresql.conf, the base file it includes, conf.d,
# pg_hba.conf), the data directory's control file and state files, and
# PostgreSQL's answers to the questions the facts ask (recovery state, settings,
# the replication role, WAL receiver, senders, slots, archiver, databases), in
# one psql session as the postgres user. Nothing is changed on any host.
#
#   sudo tests/lab/floor.sh [HOST...]     (default: every host of the lab)
#
# It prints nothing and exits 0 when every host answered in full; otherwise it
# names each host that did not, with ssh's last words, and exits 1. The caller
# times it (tests/lab/bench.sh runs it beside pgconverge).
set -euo pipefail

lab_dir=${PGCONVERGE_LAB_DIR:-/var/tmp/pgconverge-lab}
ssh_config=$lab_dir/ssh_config
inventory=$lab_dir/inventory
[[ -r $ssh_config && -r $inventory ]] || {
    echo "floor: no lab at $lab_dir (sudo tests/lab/lab.sh up N)" >&2
    exit 1
}

hosts=("$@")
if ((${#hosts[@]} == 0)); then
    mapfile -t hosts < <(awk '{ print $1 }' "$inventory")
fi

# Sent on standard input of `sh -s`, as pgconverge sends its facts script: the
# same files, the same control data, one psql session with the same questions.
read -r -d '' reads <<'READS' || true
conf=/etc/postgresql/15/main
data=/var/lib/postgresql/15/main
cd /
for f in "$conf/postgresql.conf" "$conf/postgresql.base.conf" "$conf"/conf.d/*.conf \
    "$conf/pg_hba.conf" "$conf/pg_ident.conf" /var/lib/postgresql/.pgpass; do
    [ -f "$f" ] && { stat -c '%U:%G:%a:%Y' "$f"; base64 -w0 <"$f"; echo; }
done
cat "$data/PG_VERSION"
control=$(runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_controldata -D "$data") || exit 1
printf '%s' "$control" | base64 -w0
echo
ls -1 "$data/pg_replslot"
[ -f "$data/standby.signal" ] && echo standby
answers=$(runuser -u postgres -- /usr/lib/postgresql/15/bin/psql -XAtq -h /var/run/postgresql -d postgres -v ON_ERROR_STOP=1 <<'SQL'
select pg_is_in_recovery(), pg_conf_load_time(), pg_postmaster_start_time(),
       case when pg_is_in_recovery() then pg_last_wal_receive_lsn() else pg_current_wal_lsn() end;
select name, context, pending_restart, setting, unit, vartype, source, sourcefile, boot_val from pg_settings;
select rolcanlogin, rolreplication, rolpassword from pg_authid where rolname = 'replicator';
select status, sender_host, sender_port, received_tli from pg_stat_wal_receiver;
select application_name, client_addr, state, replay_lsn, sync_state from pg_stat_replication;
select slot_name, active, wal_status, restart_lsn from pg_replication_slots;
select archived_count, failed_count from pg_stat_archiver;
select datname from pg_database;
SQL
) || exit 1
printf '%s' "$answers" | base64 -w0
echo
echo floor-ok
READS

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
pids=()
for h in "${hosts[@]}"; do
    # 9>&-: never hand a caller's lock to ssh.
    ssh -F "$ssh_config" -o BatchMode=yes "$h" 'sh -s' <<<"$reads" >"$out/$h" 2>"$out/$h.err" 9>&- &
    pids+=($!)
done
failed=0
for i in "${!hosts[@]}"; do
    h=${hosts[$i]}
    if ! wait "${pids[$i]}" || [[ $(tail -n 1 "$out/$h") != floor-ok ]]; then
        echo "floor: $h did not answer in full: $(tail -n 3 "$out/$h.err" | tr '\n' ' ')" >&2
        failed=1
    fi
done
exit "$failed"
