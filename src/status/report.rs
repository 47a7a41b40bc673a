//! The status report, pure: desired state × facts in, `StatusReport` out. What
//! each host was seen doing, and (through `disagreements`) every way the cluster
//! differs from the inventory. As JSON it is the document `status --format json`
//! prints.

use super::disagreements::disagreements;
use crate::actions::DesiredStep;
use crate::desired::{DesiredHost, DesiredState};
use crate::facts::GatheredFacts;
use crate::facts::{Archiver, HostFacts, Lsn, ReplicationClient, ServerFacts};
use crate::inventory::Role;
use serde::Serialize;
use std::fmt;

/// Bumped whenever a field of the status document changes meaning or disappears;
/// adding a field is not a change.
pub const FORMAT_VERSION: u32 = 1;

/// What a host was seen doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ObservedState {
    /// The server runs and is not in recovery: it accepts writes.
    Primary,
    /// The server runs in recovery.
    Standby,
    /// The host answered but its server does not accept connections.
    Stopped,
    /// The host could not be contacted or its facts could not be read.
    Unreachable,
}

impl fmt::Display for ObservedState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ObservedState::Primary => "primary",
            ObservedState::Standby => "standby",
            ObservedState::Stopped => "stopped",
            ObservedState::Unreachable => "unreachable",
        })
    }
}

/// One host: what the inventory says and what was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostStatus {
    pub name: String,
    pub address: String,
    /// `primary` or `standby`, as the inventory has it.
    pub inventory_role: String,
    pub inventory_upstream: Option<String>,
    pub state: ObservedState,
    /// Why the host is unreachable, or why its server does not accept connections.
    pub error: Option<String>,
    /// `None` when the server does not run.
    pub in_recovery: Option<bool>,
    /// The inventory host the WAL receiver streams from, when the sender is one.
    pub upstream: Option<String>,
    /// The sender as the WAL receiver reports it.
    pub sender_host: Option<String>,
    pub sender_port: Option<u16>,
    /// The WAL receiver's status (`streaming`, `waiting`, ...); `None` without one.
    pub wal_receiver: Option<String>,
    /// On a standby the timeline its receiver streams, else the latest checkpoint's.
    pub timeline: Option<u32>,
    /// The WAL position reached: written on a primary, received on a standby.
    pub position: Option<String>,
    /// On a standby, the WAL position replayed.
    pub replay_position: Option<String>,
    /// On a standby, the bytes of WAL it has yet to replay: as its upstream reports
    /// it when the upstream lists it among its replication clients, else received
    /// minus replayed on the standby itself.
    pub replay_lag_bytes: Option<i64>,
    /// On a standby, seconds since the last replayed transaction committed. It
    /// grows on an idle cluster too, so it is lag only while bytes remain.
    pub replay_lag_seconds: Option<i64>,
    pub replay_paused: bool,
    pub system_identifier: Option<String>,
    /// `pg_controldata`'s cluster state (`in production`, `shut down`, ...).
    pub cluster_state: Option<String>,
    /// The standbys streaming from this host, as it reports them.
    pub replication_clients: Vec<ReplicationClient>,
    /// `pg_stat_archiver` of a running primary.
    pub archiver: Option<Archiver>,
    /// On a standby, whether its replication connection is encrypted, as its
    /// upstream reports it (`pg_stat_ssl`); `None` when the upstream does not say.
    pub tls: Option<bool>,
    /// On a standby, how its upstream waits for it (`pg_stat_replication.sync_state`:
    /// `sync`, `potential`, `quorum`, `async`); `None` when the upstream does not say.
    pub sync_state: Option<String>,
    /// Settings made with `ALTER SYSTEM` (`postgresql.auto.conf`), in its order.
    pub altered_settings: Vec<AlteredSetting>,
    /// The physical replication slots on the host: active or not, the WAL each keeps.
    pub slots: Vec<crate::facts::ReplicationSlot>,
}

/// A setting made with `ALTER SYSTEM`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlteredSetting {
    pub name: String,
    pub value: String,
    /// pgconverge manages the setting, so `apply` resets it.
    pub managed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DisagreementKind {
    /// Two or more hosts accept writes.
    SplitBrain,
    /// A host the inventory calls standby accepts writes.
    StandbyAcceptsWrites,
    /// A host the inventory calls primary runs in recovery.
    PrimaryInRecovery,
    /// The inventory's primary is stopped or unreachable.
    PrimaryDown,
    /// A standby could not be contacted, so its state is unknown.
    Unreachable,
    /// A standby streams from another host than its inventory upstream.
    WrongUpstream,
    /// A standby does not stream (stopped, or no streaming WAL receiver).
    NotStreaming,
    ArchiveFailing,
    /// WAL replay is paused on a standby.
    ReplayPaused,
    /// A synchronous standby of the inventory that its primary does not wait for.
    NotSynchronous,
    /// The cluster's virtual IP is on a member other than the primary, on
    /// several, or on none.
    VirtualIp,
}

/// One way the cluster differs from the inventory, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Disagreement {
    pub kind: DisagreementKind,
    pub hosts: Vec<String>,
    pub message: String,
}

/// What a note is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoteKind {
    /// Roles with an md5 password or pg_hba.conf rules using md5 (`md5.rs`).
    Md5,
}

/// Something to act on that is no disagreement with the inventory (the cluster
/// runs as the inventory says), so it leaves the exit code alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    pub kind: NoteKind,
    pub hosts: Vec<String>,
    pub message: String,
}

/// The status of every host and every disagreement with the inventory; as JSON,
/// the versioned document `status --format json` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    pub format_version: u32,
    pub pgconverge_version: String,
    pub hosts: Vec<HostStatus>,
    pub disagreements: Vec<Disagreement>,
    /// Left out of the JSON when there is none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
    /// Each replication cluster's virtual IP and the members that hold it; left
    /// out of the JSON when no cluster has one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub virtual_ips: Vec<VirtualIpStatus>,
}

/// Where a cluster's virtual IP (`cluster_vip`) is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VirtualIpStatus {
    pub cluster: String,
    /// `ADDRESS/PREFIX`.
    pub address: String,
    /// The inventory's primary, which alone should hold it.
    pub primary: String,
    /// The members whose addresses include it.
    pub holders: Vec<String>,
    /// Whether the primary's addresses could be read (else it may hold it unseen).
    pub primary_seen: bool,
}

/// Each cluster's virtual IP, from the members' addresses.
fn virtual_ips(desired: &DesiredState, facts: &GatheredFacts) -> Vec<VirtualIpStatus> {
    let addresses_of =
        |name: &str| facts_of(facts, name).and_then(|facts| facts.addresses.as_ref());
    desired
        .hosts
        .values()
        .filter(|host| host.role == Role::Primary)
        .filter_map(|primary| {
            let vip = primary.settings.virtual_ip.as_ref()?;
            let address = vip.address.to_string();
            let holders = desired
                .hosts
                .values()
                .filter(|host| host.cluster == primary.cluster && host.role.is_member())
                .filter(|host| {
                    addresses_of(&host.name)
                        .is_some_and(|list| list.iter().any(|found| found.address() == address))
                })
                .map(|host| host.name.clone())
                .collect();
            Some(VirtualIpStatus {
                cluster: primary.cluster.clone(),
                address: vip.cidr(),
                primary: primary.name.clone(),
                holders,
                primary_seen: addresses_of(&primary.name).is_some(),
            })
        })
        .collect()
}

impl StatusReport {
    pub fn agrees(&self) -> bool {
        self.disagreements.is_empty()
    }
}

/// The status of every host of `desired`, in inventory order, and every
/// disagreement with the inventory. Pure.
pub fn report(desired: &DesiredState, facts: &GatheredFacts) -> StatusReport {
    let hosts: Vec<HostStatus> = desired
        .hosts
        .values()
        .map(|host| host_status(desired, facts, host))
        .collect();
    let virtual_ips = virtual_ips(desired, facts);
    let disagreements = disagreements(desired, facts, &hosts, &virtual_ips);
    StatusReport {
        format_version: FORMAT_VERSION,
        pgconverge_version: env!("CARGO_PKG_VERSION").to_string(),
        hosts,
        disagreements,
        notes: super::md5::notes(desired, facts),
        virtual_ips,
    }
}

fn facts_of<'a>(facts: &'a GatheredFacts, host: &str) -> Option<&'a HostFacts> {
    facts.get(host).and_then(|result| result.as_ref().ok())
}

pub(super) fn server_of<'a>(facts: &'a GatheredFacts, host: &str) -> Option<&'a ServerFacts> {
    facts_of(facts, host).and_then(|facts| facts.server.as_ref())
}

fn host_status(desired: &DesiredState, facts: &GatheredFacts, host: &DesiredHost) -> HostStatus {
    let mut status = HostStatus {
        name: host.name.clone(),
        address: host.address.clone(),
        inventory_role: role_name(host.role).to_string(),
        inventory_upstream: host.upstream.clone(),
        state: ObservedState::Unreachable,
        error: None,
        in_recovery: None,
        upstream: None,
        sender_host: None,
        sender_port: None,
        wal_receiver: None,
        timeline: None,
        position: None,
        replay_position: None,
        replay_lag_bytes: None,
        replay_lag_seconds: None,
        replay_paused: false,
        system_identifier: None,
        cluster_state: None,
        replication_clients: Vec::new(),
        archiver: None,
        tls: None,
        sync_state: None,
        altered_settings: Vec::new(),
        slots: Vec::new(),
    };
    let host_facts = match facts.get(&host.name) {
        Some(Ok(host_facts)) => host_facts,
        Some(Err(error)) => {
            status.error = Some(one_line(error));
            return status;
        }
        None => {
            status.error = Some("its facts were not gathered".to_string());
            return status;
        }
    };
    status.altered_settings = altered_settings(host, host_facts);
    let data = &host_facts.data_directory;
    status.system_identifier = data.system_identifier.clone();
    status.cluster_state = data.cluster_state.clone();
    status.timeline = data.timeline;
    let Some(server) = &host_facts.server else {
        status.state = ObservedState::Stopped;
        status.error = host_facts.server_error.as_deref().map(one_line);
        return status;
    };
    status.in_recovery = Some(server.in_recovery);
    status.position = server.position.map(|lsn| lsn.to_string());
    status.replication_clients = server.replication_clients.clone();
    status.slots = server.slots.clone();
    if !server.in_recovery {
        status.state = ObservedState::Primary;
        status.archiver = server.archiver.clone();
        return status;
    }
    status.state = ObservedState::Standby;
    status.replay_position = server.replay_position.map(|lsn| lsn.to_string());
    status.replay_paused = server.replay_paused;
    status.replay_lag_seconds = server.replay_lag_seconds;
    if let Some(receiver) = &server.wal_receiver {
        status.wal_receiver = Some(receiver.status.clone());
        status.timeline = receiver.timeline.or(status.timeline);
        if !receiver.sender_host.is_empty() {
            status.sender_host = Some(receiver.sender_host.clone());
            status.sender_port = receiver.sender_port;
            status.upstream =
                inventory_host_at(desired, &receiver.sender_host, receiver.sender_port)
                    .map(str::to_string);
        }
    }
    // The upstream's view counts what the standby has not even received yet;
    // the standby's own view is the fallback when the upstream does not list it.
    let client = status
        .upstream
        .as_deref()
        .and_then(|upstream| client_entry(facts, upstream, &host.name));
    status.tls = client.and_then(|client| client.ssl);
    status.sync_state = client
        .map(|client| client.sync_state.clone())
        .filter(|state| !state.is_empty());
    let upstream_view = client.and_then(|client| client.replay_lag_bytes);
    status.replay_lag_bytes = upstream_view.or_else(|| own_lag_bytes(server));
    status
}

/// What `ALTER SYSTEM` set on the host, each marked when pgconverge manages it.
fn altered_settings(host: &DesiredHost, facts: &HostFacts) -> Vec<AlteredSetting> {
    let managed: indexmap::IndexMap<String, String> = host
        .steps
        .values()
        .find_map(|step| match step {
            DesiredStep::PostgresqlConf(conf) => Some(conf.managed_settings()),
            _ => None,
        })
        .unwrap_or_default();
    crate::actions::altered_settings::altered(facts, &host.settings)
        .into_iter()
        .map(|(name, value)| AlteredSetting {
            managed: managed.contains_key(&name),
            name,
            value,
        })
        .collect()
}

/// Received minus replayed, on the standby itself.
fn own_lag_bytes(server: &ServerFacts) -> Option<i64> {
    let (Some(Lsn(received)), Some(Lsn(replayed))) = (server.position, server.replay_position)
    else {
        return None;
    };
    i64::try_from(received.saturating_sub(replayed)).ok()
}

/// The replication client `standby` as `upstream` reports it: standbys connect
/// with their inventory name as `application_name`.
pub(super) fn client_entry<'a>(
    facts: &'a GatheredFacts,
    upstream: &str,
    standby: &str,
) -> Option<&'a ReplicationClient> {
    server_of(facts, upstream)?
        .replication_clients
        .iter()
        .find(|client| client.application_name == standby)
}

/// The inventory host a WAL receiver's sender names: the one whose
/// `replication_host` or address is `sender_host`, preferring one whose port
/// matches too.
fn inventory_host_at<'a>(
    desired: &'a DesiredState,
    sender_host: &str,
    sender_port: Option<u16>,
) -> Option<&'a str> {
    let candidates: Vec<&DesiredHost> = desired
        .hosts
        .values()
        .filter(|host| host.settings.replication_host == sender_host || host.address == sender_host)
        .collect();
    candidates
        .iter()
        .find(|host| sender_port == Some(host.settings.port))
        .or(candidates.first())
        .map(|host| host.name.as_str())
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Primary => "primary",
        Role::Standby => "standby",
        Role::Archive => "archive",
        Role::Pgbouncer => "pgbouncer",
    }
}

fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    //! The report's own rules, apart from the disagreements: which inventory host
    //! a WAL receiver's sender is, and the JSON document, pinned with insta.

    use super::*;
    use crate::status::check::{THREE_HOSTS, desired, facts, primary, standby, stopped};

    #[test]
    fn the_upstream_is_named_by_inventory_host_when_the_sender_is_one() {
        let desired = desired(THREE_HOSTS);
        let cases = [
            ("10.0.0.11", Some(5432), Some("db1")),
            ("10.0.0.12", None, Some("db2")),
            // db3's `replication_host` differs from its address; either names it.
            ("db3-replication.internal", Some(5432), Some("db3")),
            ("10.0.0.13", Some(5432), Some("db3")),
            ("10.9.9.9", Some(5432), None),
        ];
        for (sender, port, expected) in cases {
            assert_eq!(
                inventory_host_at(&desired, sender, port),
                expected,
                "{sender}"
            );
        }
    }

    #[test]
    fn json_document_is_pinned() {
        let mut db2 = primary(2, "0/6000000", Vec::new());
        db2.data_directory.standby_signal = false;
        let facts = facts(vec![
            ("db1", Ok(stopped())),
            ("db2", Ok(db2)),
            ("db3", Ok(standby(None, "0/5000060", "0/5000060"))),
        ]);
        let report = report(&desired(THREE_HOSTS), &facts);
        let text = serde_json::to_string_pretty(&report)
            .unwrap_or_else(|error| panic!("{error}"))
            .replace(env!("CARGO_PKG_VERSION"), "VERSION");
        let value: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(value["format_version"], 1);
        crate::plan::check::assert_matches_schema("status", &value);
        insta::assert_snapshot!(text);
    }

    /// The status of clusters in every state the report knows, each matches
    /// `docs/schemas/status.schema.json`: healthy with slots, an archiver and
    /// ALTER SYSTEM settings; md5 notes; a split brain; stopped and unreachable
    /// hosts; paused replay.
    #[test]
    fn every_status_document_matches_its_schema() {
        use crate::status::check::{client, healthy};
        let mut busy = healthy();
        if let Some(Ok(db1)) = busy.get_mut("db1") {
            db1.files.insert(
                "/var/lib/postgresql/15/main/postgresql.auto.conf".into(),
                crate::facts::ObservedFile {
                    attributes: crate::plan::check::attributes("postgres", 0o600),
                    content: b"work_mem = '32MB'\nwal_level = 'logical'\n".to_vec(),
                },
            );
            if let Some(server) = db1.server.as_mut() {
                server.md5_roles = vec!["legacy_app".into()];
                server.slots.push(crate::facts::ReplicationSlot {
                    name: "pgconverge_db2".into(),
                    active: true,
                    wal_status: "reserved".into(),
                    retained_bytes: Some(0),
                });
                server.archiver = Some(crate::facts::Archiver {
                    archived_count: 5,
                    last_archived_wal: "000000010000000000000005".into(),
                    last_archived: Some(1_000),
                    failed_count: 1,
                    last_failed_wal: "000000010000000000000006".into(),
                    last_failed: Some(2_000),
                });
            }
        }
        if let Some(Ok(db3)) = busy.get_mut("db3")
            && let Some(server) = db3.server.as_mut()
        {
            server.replay_paused = true;
        }
        let split = facts(vec![
            ("db1", Ok(primary(1, "0/5000060", Vec::new()))),
            ("db2", Ok(primary(2, "0/6000000", Vec::new()))),
            (
                "db3",
                Err("ssh: connect to host 10.0.0.13 port 22: Connection refused".into()),
            ),
        ]);
        let down = facts(vec![
            ("db1", Ok(stopped())),
            (
                "db2",
                Ok(standby(Some("10.0.0.13"), "0/5000060", "0/5000000")),
            ),
            (
                "db3",
                Ok(primary(
                    1,
                    "0/5000060",
                    vec![client("db2", "10.0.0.12", Some(96))],
                )),
            ),
        ]);
        let mut kinds = std::collections::BTreeSet::new();
        for (name, facts) in [("busy", busy), ("split", split), ("down", down)] {
            let report = report(&desired(THREE_HOSTS), &facts);
            kinds.extend(
                report
                    .disagreements
                    .iter()
                    .map(|found| format!("{:?}", found.kind)),
            );
            let value = serde_json::json!(report);
            let problems = crate::plan::check::schema_problems("status", &value);
            assert!(problems.is_empty(), "{name}: {problems:#?}\n{value:#}");
        }
        assert!(
            kinds.len() >= 5,
            "the fixtures show few kinds of disagreement: {kinds:?}"
        );
        // A PgBouncer host of its own, which runs no PostgreSQL of the cluster,
        // is no disagreement.
        let bouncers = crate::plan::check::Fixture::pgbouncer_converged();
        let with_bouncers = report(&bouncers.desired, &bouncers.facts);
        assert!(with_bouncers.disagreements.is_empty(), "{with_bouncers:#?}");
        let value = serde_json::json!(with_bouncers);
        let problems = crate::plan::check::schema_problems("status", &value);
        assert!(problems.is_empty(), "pgbouncer: {problems:#?}\n{value:#}");
        // A host seen as a primary but in recovery, or an unknown field, does not match.
        let report = report(&desired(THREE_HOSTS), &healthy());
        let mut value = serde_json::json!(report);
        value["hosts"][0]["in_recovery"] = true.into();
        assert!(!crate::plan::check::schema_problems("status", &value).is_empty());
        let mut value = serde_json::json!(report);
        value["hosts"][1]["lag"] = 0.into();
        assert!(!crate::plan::check::schema_problems("status", &value).is_empty());
    }
}
