//! Replication as the running server sees it: its WAL receiver (on a
//! standby), the clients that stream from it (`pg_stat_replication`) and its
//! archiver (`pg_stat_archiver`), read by `server.sh`'s psql.

use super::server::{Row, field};
use super::{Archiver, ReplicationClient, WalReceiver};
use crate::versions::{
    ARCHIVER_STATISTICS, CONNECTION_TLS_STATISTICS, PG_WAL, PgVersion, SYNCHRONOUS_REPLICATION,
    WAL_RECEIVER_SENDER,
};

/// The WAL receiver: its state, the host and port it streams from
/// ([`WAL_RECEIVER_SENDER`], 11) and the timeline it receives.
const WAL_RECEIVER: &str = "select status, coalesce(sender_host, ''), coalesce(sender_port::text, ''), coalesce(received_tli::text, '') from pg_stat_wal_receiver;";

/// [`WAL_RECEIVER`] before 11: the receiver reports only its connection string,
/// from which `read_wal_receiver` reads host and port.
const WAL_RECEIVER_CONNINFO: &str = "select status, coalesce(conninfo, ''), '', coalesce(received_tli::text, '') from pg_stat_wal_receiver;";

/// The clients that stream from this server: how far each one's replay is
/// behind, whether its connection is encrypted ([`CONNECTION_TLS_STATISTICS`],
/// 9.5) and whether it is synchronous ([`SYNCHRONOUS_REPLICATION`], 9.1). From
/// 10, with the WAL functions' new names ([`PG_WAL`]).
const CLIENTS: &str = "select coalesce(application_name, ''), coalesce(host(client_addr), ''), coalesce(state, ''), \
coalesce(pg_wal_lsn_diff(case when pg_is_in_recovery() then pg_last_wal_replay_lsn() else pg_current_wal_lsn() end, replay_lsn)::bigint::text, ''), coalesce(pg_stat_ssl.ssl::text, ''), coalesce(sync_state, '') from pg_stat_replication left join pg_stat_ssl using (pid);";

/// [`CLIENTS`] in 9.5 and 9.6, with the `xlog` names.
const CLIENTS_XLOG: &str = "select coalesce(application_name, ''), coalesce(host(client_addr), ''), coalesce(state, ''), \
coalesce(pg_xlog_location_diff(case when pg_is_in_recovery() then pg_last_xlog_replay_location() else pg_current_xlog_location() end, replay_location)::bigint::text, ''), coalesce(pg_stat_ssl.ssl::text, ''), coalesce(sync_state, '') from pg_stat_replication left join pg_stat_ssl using (pid);";

/// [`CLIENTS_XLOG`] from 9.1 to 9.4: no TLS statistics.
const CLIENTS_WITHOUT_TLS: &str = "select coalesce(application_name, ''), coalesce(host(client_addr), ''), coalesce(state, ''), \
coalesce(pg_xlog_location_diff(case when pg_is_in_recovery() then pg_last_xlog_replay_location() else pg_current_xlog_location() end, replay_location)::bigint::text, ''), '', coalesce(sync_state, '') from pg_stat_replication;";

/// [`CLIENTS_WITHOUT_TLS`] before 9.1: every standby is asynchronous.
const CLIENTS_WITHOUT_SYNCHRONOUS: &str = "select coalesce(application_name, ''), coalesce(host(client_addr), ''), coalesce(state, ''), \
coalesce(pg_xlog_location_diff(case when pg_is_in_recovery() then pg_last_xlog_replay_location() else pg_current_xlog_location() end, replay_location)::bigint::text, ''), '', '' from pg_stat_replication;";

/// How archiving goes ([`ARCHIVER_STATISTICS`], 9.4).
const ARCHIVER: &str = "select archived_count, coalesce(last_archived_wal, ''), coalesce(extract(epoch from last_archived_time)::bigint::text, ''), \
failed_count, coalesce(last_failed_wal, ''), coalesce(extract(epoch from last_failed_time)::bigint::text, '') from pg_stat_archiver;";

/// [`ARCHIVER`] before 9.4: nothing archived, nothing failed, as far as the server says.
const ARCHIVER_UNKNOWN: &str = "select 0, '', '', 0, '', '';";

pub(super) fn wal_receiver_query(version: PgVersion) -> &'static str {
    if WAL_RECEIVER_SENDER.in_version(version) {
        WAL_RECEIVER
    } else {
        WAL_RECEIVER_CONNINFO
    }
}

pub(super) fn clients_query(version: PgVersion) -> &'static str {
    if PG_WAL.in_version(version) {
        CLIENTS
    } else if CONNECTION_TLS_STATISTICS.in_version(version) {
        CLIENTS_XLOG
    } else if SYNCHRONOUS_REPLICATION.in_version(version) {
        CLIENTS_WITHOUT_TLS
    } else {
        CLIENTS_WITHOUT_SYNCHRONOUS
    }
}

pub(super) fn archiver_query(version: PgVersion) -> &'static str {
    if ARCHIVER_STATISTICS.in_version(version) {
        ARCHIVER
    } else {
        ARCHIVER_UNKNOWN
    }
}

pub(super) fn read_wal_receiver(rows: &[Row]) -> Option<WalReceiver> {
    rows.first().map(|row| WalReceiver {
        timeline: field(row, 3).parse().ok(),
        ..wal_receiver(&field(row, 0), &field(row, 1), &field(row, 2))
    })
}

pub(super) fn read_clients(rows: &[Row]) -> Vec<ReplicationClient> {
    rows.iter()
        .map(|row| ReplicationClient {
            application_name: field(row, 0),
            client_address: field(row, 1),
            state: field(row, 2),
            replay_lag_bytes: field(row, 3).parse().ok(),
            ssl: match field(row, 4).as_str() {
                "t" | "true" => Some(true),
                "f" | "false" => Some(false),
                _ => None,
            },
            sync_state: field(row, 5),
        })
        .collect()
}

pub(super) fn read_archiver(rows: &[Row]) -> Option<Archiver> {
    rows.first().map(|row| Archiver {
        archived_count: field(row, 0).parse().unwrap_or(0),
        last_archived_wal: field(row, 1),
        last_archived: field(row, 2).parse().ok(),
        failed_count: field(row, 3).parse().unwrap_or(0),
        last_failed_wal: field(row, 4),
        last_failed: field(row, 5).parse().ok(),
    })
}

/// Before PostgreSQL 11 the receiver's host is only in its connection string.
fn wal_receiver(status: &str, host_or_conninfo: &str, port: &str) -> WalReceiver {
    if host_or_conninfo.contains('=') {
        let value = |name: &str| {
            host_or_conninfo
                .split_whitespace()
                .find_map(|pair| {
                    pair.strip_prefix(name)
                        .and_then(|rest| rest.strip_prefix('='))
                })
                .map(|value| value.trim_matches('\'').to_string())
        };
        return WalReceiver {
            timeline: None,
            status: status.to_string(),
            sender_host: value("host").unwrap_or_default(),
            sender_port: value("port").and_then(|port| port.parse().ok()),
        };
    }
    WalReceiver {
        status: status.to_string(),
        sender_host: host_or_conninfo.to_string(),
        sender_port: port.parse().ok(),
        timeline: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_receiver_conninfo_gives_host_and_port() {
        let receiver = wal_receiver(
            "streaming",
            "user=replicator host=10.0.0.11 port=5433 application_name=db2",
            "",
        );
        assert_eq!(receiver.sender_host, "10.0.0.11");
        assert_eq!(receiver.sender_port, Some(5433));
    }
}
