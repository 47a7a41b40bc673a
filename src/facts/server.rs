//! The running server's facts: one psql (`server.sh`) runs the SQL of every
//! family (`state` and `databases` here, `settings`, `replication`, `slots`),
//! each in a section marked `@@NAME`, in the text the host's version
//! understands, and `read` hands each section's rows to its family's parser.

use super::parse::{FactsError, Records};
use super::{FactsRequest, HostFacts, Lsn, ServerFacts};
use super::{replication, settings, slots};
use crate::script::Script;
use crate::versions::{PG_WAL, PgVersion};
use std::collections::HashMap;

/// The separator psql puts between columns: the ASCII unit separator, which no
/// setting name, role attribute or address contains.
pub(super) const FIELD_SEPARATOR: char = '\u{1f}';

const SCRIPT: &str = include_str!("server.sh");

/// The position a server has reached: written on a primary, received on a
/// standby; the replay position and pause state only mean something in
/// recovery. From 10, with the WAL functions' new names ([`PG_WAL`]).
const STATE: &str = "select pg_is_in_recovery(), extract(epoch from pg_conf_load_time())::bigint, extract(epoch from pg_postmaster_start_time())::bigint, \
case when pg_is_in_recovery() then coalesce(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::text else pg_current_wal_lsn()::text end, \
case when pg_is_in_recovery() then coalesce(pg_last_wal_replay_lsn()::text, '') else '' end, \
case when pg_is_in_recovery() then pg_is_wal_replay_paused()::text else 'false' end, \
coalesce(extract(epoch from now() - pg_last_xact_replay_timestamp())::bigint::text, '');";

/// [`STATE`] before 10, with the functions' `xlog` names.
const STATE_XLOG: &str = "select pg_is_in_recovery(), extract(epoch from pg_conf_load_time())::bigint, extract(epoch from pg_postmaster_start_time())::bigint, \
case when pg_is_in_recovery() then coalesce(pg_last_xlog_receive_location(), pg_last_xlog_replay_location())::text else pg_current_xlog_location()::text end, \
case when pg_is_in_recovery() then coalesce(pg_last_xlog_replay_location()::text, '') else '' end, \
case when pg_is_in_recovery() then pg_is_xlog_replay_paused()::text else 'false' end, \
coalesce(extract(epoch from now() - pg_last_xact_replay_timestamp())::bigint::text, '');";

/// The databases besides the three every cluster has.
const DATABASES: &str =
    "select datname from pg_database where datname not in ('postgres', 'template0', 'template1');";

/// Adds the server's part to the facts script: its psql, the SQL of every
/// section for the host's version, and what it connects with.
pub(super) fn ask(script: Script, request: &FactsRequest) -> Script {
    script
        .text("PG_REPLICATION_USER", &request.settings.replication_user)
        .text("PGBOUNCER_AUTH_USER", &request.settings.pgbouncer.auth_user)
        .text("FIELD_SEPARATOR", &FIELD_SEPARATOR.to_string())
        .text("FACTS_SQL", &sql(request.settings.pg_version))
        .piece(SCRIPT)
}

/// The SQL psql runs: each section's query after its `\echo @@NAME` line, in
/// the order `read` expects nothing of (sections are found by name).
pub(super) fn sql(version: PgVersion) -> String {
    let state = if PG_WAL.in_version(version) {
        STATE
    } else {
        STATE_XLOG
    };
    let sections = [
        ("state", state),
        ("settings", settings::settings_query(version)),
        ("role", settings::role_query(version)),
        ("wal_receiver", replication::wal_receiver_query(version)),
        ("replication", replication::clients_query(version)),
        ("slots", slots::query(version)),
        ("failover_slots", slots::failover_query(version)),
        ("archiver", replication::archiver_query(version)),
        ("databases", DATABASES),
        ("md5_roles", settings::MD5_ROLES),
        ("pgbouncer_role", settings::pgbouncer_role_query(version)),
    ];
    sections
        .iter()
        .map(|(name, query)| format!("\\echo @@{name}\n{query}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The server's facts, or why psql could not get them.
pub(super) fn read(records: &Records, facts: &mut HostFacts) -> Result<(), FactsError> {
    if let Some(server) = records.text("server") {
        facts.server = Some(parse_server(&server)?);
    } else {
        facts.server_error = records
            .text("server_error")
            .map(|error| error.trim().to_string());
    }
    Ok(())
}

/// One row of a section: its fields as psql wrote them.
pub(super) type Row<'a> = Vec<&'a str>;

/// Splits psql's output into the sections the script marked with `@@name`.
fn sections(output: &str) -> HashMap<&str, Vec<Row<'_>>> {
    let mut sections: HashMap<&str, Vec<Row<'_>>> = HashMap::new();
    let mut current = "";
    for line in output.lines() {
        if let Some(name) = line.strip_prefix("@@") {
            current = name.trim();
            sections.entry(current).or_default();
        } else if !line.is_empty() {
            sections
                .entry(current)
                .or_default()
                .push(line.split(FIELD_SEPARATOR).collect());
        }
    }
    sections
}

/// A field of a row, empty when the row is shorter.
pub(super) fn field(row: &Row, index: usize) -> String {
    row.get(index).copied().unwrap_or("").to_string()
}

/// A Boolean field as psql writes it (`t`).
pub(super) fn flag(row: &Row, index: usize) -> bool {
    row.get(index) == Some(&"t")
}

fn parse_server(output: &str) -> Result<ServerFacts, FactsError> {
    let sections = sections(output);
    let rows = |name: &str| sections.get(name).cloned().unwrap_or_default();
    let state = rows("state");
    let state_row = state.first().ok_or_else(|| FactsError::BadValue {
        key: "server.state".into(),
        value: output.chars().take(200).collect(),
    })?;
    Ok(ServerFacts {
        slots: slots::read(&rows("slots")),
        failover_slots: slots::read_failover(&rows("failover_slots")),
        in_recovery: flag(state_row, 0),
        configuration_loaded: field(state_row, 1).parse().unwrap_or(0),
        started: field(state_row, 2).parse().unwrap_or(0),
        position: Lsn::parse(&field(state_row, 3)),
        replay_position: Lsn::parse(&field(state_row, 4)),
        replay_paused: flag(state_row, 5) || field(state_row, 5) == "true",
        replay_lag_seconds: field(state_row, 6).parse().ok(),
        settings: settings::read_settings(&rows("settings")),
        replication_role: settings::read_role(&rows("role")),
        wal_receiver: replication::read_wal_receiver(&rows("wal_receiver")),
        replication_clients: replication::read_clients(&rows("replication")),
        archiver: replication::read_archiver(&rows("archiver")),
        user_databases: rows("databases").iter().map(|row| field(row, 0)).collect(),
        md5_roles: settings::read_md5_roles(&rows("md5_roles")),
        pgbouncer_role: settings::read_pgbouncer_role(&rows("pgbouncer_role")),
    })
}
