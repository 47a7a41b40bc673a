//! The status tests' fixtures (a three-host inventory and the facts of primaries,
//! standbys and stopped hosts, all fake: `report` is pure) and `check`, through
//! which they run: fake facts in, the disagreements found and the status as the
//! user reads it out.

use super::disagreements::STREAMING;
use super::{DisagreementKind, report, text};
use crate::desired::DesiredState;
use crate::facts::{
    DataDirectory, GatheredFacts, HostFacts, Lsn, ReplicationClient, ServerFacts, WalReceiver,
};
use crate::inventory::Inventory;
use crate::playbook::Playbook;
use crate::render::Renderer;

pub const THREE_HOSTS: &str = "all:\n  vars:\n    pg_version: 15\n    replication_password: secret-pw\n  children:\n    primary:\n      hosts:\n        db1: { ansible_host: 10.0.0.11 }\n    standby:\n      hosts:\n        db2: { ansible_host: 10.0.0.12 }\n        db3: { ansible_host: 10.0.0.13, replication_host: db3-replication.internal }\n";

const SYSTEM_IDENTIFIER: &str = "7300000000000000001";
pub const MIB: i64 = 1024 * 1024;

pub fn desired(inventory: &str) -> DesiredState {
    let inventory = Inventory::parse(std::path::Path::new("inventory.yaml"), inventory, &|_| None)
        .unwrap_or_else(|error| panic!("{error}"));
    let playbook = Playbook::load(None).unwrap_or_else(|error| panic!("{error}"));
    DesiredState::build(&inventory, &playbook, &Renderer::new(None))
        .unwrap_or_else(|error| panic!("{error}"))
}

fn lsn(text: &str) -> Option<Lsn> {
    Some(Lsn::parse(text).unwrap_or_else(|| panic!("bad LSN {text}")))
}

fn data_directory(cluster_state: &str, timeline: u32) -> DataDirectory {
    DataDirectory {
        pg_version: Some("15".into()),
        system_identifier: Some(SYSTEM_IDENTIFIER.into()),
        cluster_state: Some(cluster_state.into()),
        timeline: Some(timeline),
        database_directories: 3,
        ..DataDirectory::default()
    }
}

fn server(in_recovery: bool, position: &str) -> ServerFacts {
    ServerFacts {
        in_recovery,
        configuration_loaded: 2_000,
        started: 1_500,
        position: lsn(position),
        replay_position: None,
        replay_paused: false,
        replay_lag_seconds: None,
        settings: Default::default(),
        replication_role: None,
        wal_receiver: None,
        replication_clients: Vec::new(),
        slots: Vec::new(),
        failover_slots: Vec::new(),
        user_databases: Vec::new(),
        md5_roles: Vec::new(),
        pgbouncer_role: None,
        archiver: None,
    }
}

/// A standby as the primary sees it: `lag` bytes behind, when it says.
pub fn client(name: &str, address: &str, lag: Option<i64>) -> ReplicationClient {
    ReplicationClient {
        application_name: name.into(),
        client_address: address.into(),
        state: "streaming".into(),
        replay_lag_bytes: lag,
        ssl: Some(true),
        sync_state: "async".into(),
    }
}

/// A running, writable primary on `timeline` with these standbys streaming from it.
pub fn primary(timeline: u32, position: &str, clients: Vec<ReplicationClient>) -> HostFacts {
    let mut running = server(false, position);
    running.replication_clients = clients;
    HostFacts {
        postgres_installed: true,
        data_directory: DataDirectory {
            postmaster_pid: true,
            ..data_directory("in production", timeline)
        },
        server: Some(running),
        ..HostFacts::default()
    }
}

/// A running standby whose WAL receiver streams from `sender` (`None`: no receiver).
pub fn standby(sender: Option<&str>, received: &str, replayed: &str) -> HostFacts {
    let mut running = server(true, received);
    running.replay_position = lsn(replayed);
    running.replay_lag_seconds = Some(3_600);
    running.wal_receiver = sender.map(|sender| WalReceiver {
        status: STREAMING.into(),
        sender_host: sender.into(),
        sender_port: Some(5432),
        timeline: Some(1),
    });
    HostFacts {
        postgres_installed: true,
        data_directory: DataDirectory {
            standby_signal: true,
            postmaster_pid: true,
            ..data_directory("in archive recovery", 1)
        },
        server: Some(running),
        ..HostFacts::default()
    }
}

pub fn stopped() -> HostFacts {
    HostFacts {
        postgres_installed: true,
        data_directory: data_directory("shut down", 1),
        server_error: Some("psql: error: connection to server on socket \"/var/run/postgresql/.s.PGSQL.5432\" failed: No such file or directory".into()),
        ..HostFacts::default()
    }
}

/// db1 primary at `0/5000060`, db2 and db3 streaming from it, caught up.
pub fn healthy() -> GatheredFacts {
    facts(vec![
        (
            "db1",
            Ok(primary(
                1,
                "0/5000060",
                vec![
                    client("db2", "10.0.0.12", Some(0)),
                    client("db3", "10.0.0.13", Some(0)),
                ],
            )),
        ),
        (
            "db2",
            Ok(standby(Some("10.0.0.11"), "0/5000060", "0/5000060")),
        ),
        (
            "db3",
            Ok(standby(Some("10.0.0.11"), "0/5000060", "0/5000060")),
        ),
    ])
}

pub fn facts(hosts: Vec<(&str, Result<HostFacts, String>)>) -> GatheredFacts {
    hosts
        .into_iter()
        .map(|(name, facts)| (name.to_string(), facts))
        .collect()
}

/// Reports on `facts` against the three-host inventory, checks the kinds of
/// disagreement found, and returns the status as the user reads it.
pub fn check(facts: GatheredFacts, expected: &[(DisagreementKind, &str)]) -> String {
    let report = report(&desired(THREE_HOSTS), &facts);
    let text = anstream::adapter::strip_str(&text(&report)).to_string();
    let found: Vec<(DisagreementKind, String)> = report
        .disagreements
        .iter()
        .map(|disagreement| (disagreement.kind, disagreement.hosts.join(",")))
        .collect();
    let expected: Vec<(DisagreementKind, String)> = expected
        .iter()
        .map(|(kind, hosts)| (*kind, hosts.to_string()))
        .collect();
    assert_eq!(found, expected, "{text}");
    assert_eq!(report.agrees(), expected.is_empty(), "{text}");
    text
}
