//! The server's physical replication slots (`pg_replication_slots`, 9.4): each
//! slot's name, whether a standby streams through it, whether it still has the
//! WAL that standby needs, and how much WAL it keeps; and its logical slots made
//! with `failover` (17), which standbys copy. Read by `server.sh`'s psql; the
//! slots a stopped server keeps on disk are `data_directory`'s.

use super::server::{Row, field, flag};
use super::{FailoverSlot, ReplicationSlot};
use crate::versions::{FAILOVER_SLOTS, PG_WAL, PgVersion, REPLICATION_SLOTS, SLOT_WAL_STATUS};

/// From 13, with `wal_status` ([`SLOT_WAL_STATUS`]).
const SLOTS: &str = "select slot_name, active, coalesce(wal_status, ''), coalesce(pg_wal_lsn_diff(case when pg_is_in_recovery() then pg_last_wal_replay_lsn() else pg_current_wal_lsn() end, restart_lsn)::bigint::text, '') from pg_replication_slots where slot_type = 'physical' order by slot_name;";

/// [`SLOTS`] from 10 to 12: no `wal_status`.
const SLOTS_WITHOUT_WAL_STATUS: &str = "select slot_name, active, '', coalesce(pg_wal_lsn_diff(case when pg_is_in_recovery() then pg_last_wal_replay_lsn() else pg_current_wal_lsn() end, restart_lsn)::bigint::text, '') from pg_replication_slots where slot_type = 'physical' order by slot_name;";

/// [`SLOTS_WITHOUT_WAL_STATUS`] from 9.4 to 9.6, with the WAL functions' `xlog`
/// names ([`PG_WAL`]).
const SLOTS_XLOG: &str = "select slot_name, active, '', coalesce(pg_xlog_location_diff(case when pg_is_in_recovery() then pg_last_xlog_replay_location() else pg_current_xlog_location() end, restart_lsn)::bigint::text, '') from pg_replication_slots where slot_type = 'physical' order by slot_name;";

/// Before 9.4 ([`REPLICATION_SLOTS`]): no slot, and a query that says so in the
/// same columns.
const NO_SLOTS: &str = "select '', false, '', '' where false;";

pub(super) fn query(version: PgVersion) -> &'static str {
    if SLOT_WAL_STATUS.in_version(version) {
        SLOTS
    } else if !REPLICATION_SLOTS.in_version(version) {
        NO_SLOTS
    } else if PG_WAL.in_version(version) {
        SLOTS_WITHOUT_WAL_STATUS
    } else {
        SLOTS_XLOG
    }
}

/// Logical slots made with `failover` ([`FAILOVER_SLOTS`]): on a primary, the
/// ones its standbys copy; on a standby, its copies. A temporary slot of the
/// primary is no consumer's to keep.
const FAILOVER: &str = "select slot_name, coalesce(plugin, ''), coalesce(database, ''), synced, temporary, coalesce(invalidation_reason, '') from pg_replication_slots where slot_type = 'logical' and failover and (synced or not temporary) order by slot_name;";

/// Before 17: none, in the same columns.
const NO_FAILOVER: &str = "select '', '', '', false, false, '' where false;";

pub(super) fn failover_query(version: PgVersion) -> &'static str {
    if FAILOVER_SLOTS.in_version(version) {
        FAILOVER
    } else {
        NO_FAILOVER
    }
}

pub(super) fn read_failover(rows: &[Row]) -> Vec<FailoverSlot> {
    rows.iter()
        .map(|row| FailoverSlot {
            name: field(row, 0),
            plugin: field(row, 1),
            database: field(row, 2),
            synced: flag(row, 3),
            temporary: flag(row, 4),
            invalidation_reason: field(row, 5),
        })
        .collect()
}

pub(super) fn read(rows: &[Row]) -> Vec<ReplicationSlot> {
    rows.iter()
        .map(|row| ReplicationSlot {
            name: field(row, 0),
            active: flag(row, 1),
            wal_status: field(row, 2),
            retained_bytes: field(row, 3).parse().ok(),
        })
        .collect()
}
