//! The disagreement rules: every way the observed cluster differs from the
//! inventory (split brain, a standby that accepts writes, a primary in recovery or
//! down, a standby unreachable, streaming from the wrong host or not at all,
//! failing archiving, paused replay, a virtual IP on another member than the
//! primary or on none), each with a message saying what to do.

use super::report::{
    Disagreement, DisagreementKind, HostStatus, ObservedState, VirtualIpStatus, client_entry,
    server_of,
};
use crate::desired::{DesiredHost, DesiredState};
use crate::facts::GatheredFacts;
use crate::inventory::ReplicationMode;
use crate::inventory::Role;
use crate::versions::WalFunctions;

/// The WAL receiver status of a standby that receives WAL from its upstream.
pub(super) const STREAMING: &str = "streaming";

/// Every disagreement of `hosts` (the status of each host of `desired`, in
/// inventory order) with the inventory.
pub(super) fn disagreements(
    desired: &DesiredState,
    facts: &GatheredFacts,
    hosts: &[HostStatus],
    virtual_ips: &[VirtualIpStatus],
) -> Vec<Disagreement> {
    let mut found = Vec::new();
    // Each replication cluster is judged on its own: primaries of different
    // clusters are no split brain.
    let cluster_of = |name: &str| desired.hosts.get(name).map(|host| host.cluster.as_str());
    let clusters: indexmap::IndexSet<&str> = desired
        .hosts
        .values()
        .map(|host| host.cluster.as_str())
        .collect();
    let mut writable_in: indexmap::IndexMap<&str, Vec<&str>> = indexmap::IndexMap::new();
    for cluster in clusters {
        // An archive or PgBouncer host may run a PostgreSQL of its own: only
        // members count.
        let writable: Vec<&str> = hosts
            .iter()
            .filter(|host| {
                host.state == ObservedState::Primary
                    && !["archive", "pgbouncer"].contains(&host.inventory_role.as_str())
                    && cluster_of(&host.name) == Some(cluster)
            })
            .map(|host| host.name.as_str())
            .collect();
        split_brain(desired, cluster, &writable, &mut found);
        for status in virtual_ips
            .iter()
            .filter(|status| status.cluster == cluster)
        {
            virtual_ip(status, &mut found);
        }
        writable_in.insert(cluster, writable);
    }
    for (host, status) in desired.hosts.values().zip(hosts) {
        let writable = writable_in
            .get(host.cluster.as_str())
            .map(Vec::as_slice)
            .unwrap_or_default();
        match host.role {
            Role::Primary => primary_disagreements(host, status, writable, &mut found),
            Role::Standby => standby_disagreements(host, status, facts, &mut found),
            Role::Archive | Role::Pgbouncer => {}
        }
        others(host, status, &mut found);
    }
    found
}

/// The cluster's virtual IP (`cluster_vip`) on the primary alone: on another
/// member clients write to the wrong server, on none they reach nothing.
/// Members whose addresses could not be read are left out.
fn virtual_ip(status: &VirtualIpStatus, found: &mut Vec<Disagreement>) {
    let cidr = &status.address;
    let primary = &status.primary;
    let message = match status.holders.as_slice() {
        [only] if only == primary => return,
        [] if !status.primary_seen => return,
        [] => format!(
            "the virtual IP {cidr} is on no member: `pgconverge apply` adds it to {primary}, the primary"
        ),
        several => format!(
            "the virtual IP {cidr} is on {}, and only {primary}, the primary, should hold it: `pgconverge apply` moves it",
            names(&several.iter().map(String::as_str).collect::<Vec<_>>())
        ),
    };
    found.push(Disagreement {
        kind: DisagreementKind::VirtualIp,
        hosts: if status.holders.is_empty() {
            vec![primary.clone()]
        } else {
            status.holders.clone()
        },
        message,
    });
}

/// Two writable members of one cluster.
fn split_brain(
    desired: &DesiredState,
    cluster: &str,
    writable: &[&str],
    found: &mut Vec<Disagreement>,
) {
    let inventory_primaries: Vec<&str> = desired
        .hosts
        .values()
        .filter(|host| host.role == Role::Primary && host.cluster == cluster)
        .map(|host| host.name.as_str())
        .collect();
    if writable.len() > 1 {
        found.push(Disagreement {
            kind: DisagreementKind::SplitBrain,
            hosts: writable.iter().map(|name| name.to_string()).collect(),
            message: format!(
                "split brain: {} accept writes at the same time; let applications write to one of them only (the inventory's primary is {}), then make the others standbys again",
                names(writable),
                names(&inventory_primaries)
            ),
        });
    }
}

/// Failing archiving and paused replay, whatever the role.
fn others(host: &DesiredHost, status: &HostStatus, found: &mut Vec<Disagreement>) {
    {
        if let Some(archiver) = status
            .archiver
            .as_ref()
            .filter(|archiver| archiver.failing())
        {
            found.push(Disagreement {
                kind: DisagreementKind::ArchiveFailing,
                hosts: vec![host.name.clone()],
                message: format!(
                    "archiving fails on {}: the last attempt ({}) failed, {} failures in all; the server log has the archive command's error, and `pgconverge apply` verifies the archive once it is fixed",
                    host.name, archiver.last_failed_wal, archiver.failed_count
                ),
            });
        }
        if status.replay_paused {
            found.push(Disagreement {
                kind: DisagreementKind::ReplayPaused,
                hosts: vec![host.name.clone()],
                message: format!(
                    "replay is paused on {}, so it falls behind: resume it with `select {}();` on {}",
                    host.name,
                    WalFunctions::for_version(host.settings.pg_version).replay_resume,
                    host.name
                ),
            });
        }
    }
}

fn primary_disagreements(
    host: &DesiredHost,
    status: &HostStatus,
    writable: &[&str],
    found: &mut Vec<Disagreement>,
) {
    let name = &host.name;
    let others: Vec<&str> = writable
        .iter()
        .copied()
        .filter(|other| other != name)
        .collect();
    let down = |what: String| {
        let mut message = if others.is_empty() {
            match status.state {
                ObservedState::Unreachable => format!("{what}: check the host and its SSH access"),
                _ if status.system_identifier.is_none() => {
                    format!("{what}: `pgconverge apply` creates and starts it")
                }
                _ => format!("{what}: start it with `pgconverge apply`"),
            }
        } else {
            format!(
                "{what} while {} {} writes: do not start {name} as a primary; if {} is the primary now, make it the primary in the inventory",
                names(&others),
                if others.len() == 1 {
                    "accepts"
                } else {
                    "accept"
                },
                names(&others)
            )
        };
        if status.state == ObservedState::Unreachable {
            message.push_str(&format!(
                "; the error was: {}",
                status.error.as_deref().unwrap_or("none given")
            ));
        }
        Disagreement {
            kind: DisagreementKind::PrimaryDown,
            hosts: vec![name.clone()],
            message,
        }
    };
    match status.state {
        ObservedState::Primary => {}
        ObservedState::Unreachable => found.push(down(format!(
            "{name}, the inventory's primary, is unreachable"
        ))),
        ObservedState::Stopped => found.push(down(format!(
            "{name}, the inventory's primary, {}",
            stopped_reason(host, status)
        ))),
        ObservedState::Standby => found.push(Disagreement {
            kind: DisagreementKind::PrimaryInRecovery,
            hosts: vec![name.clone()],
            message: format!(
                "{name} runs in recovery{} although the inventory makes it the primary: if another host is the primary now, make it the primary in the inventory",
                status
                    .upstream
                    .as_deref()
                    .or(status.sender_host.as_deref())
                    .map(|upstream| format!(" (streaming from {upstream})"))
                    .unwrap_or_default()
            ),
        }),
    }
}

fn standby_disagreements(
    host: &DesiredHost,
    status: &HostStatus,
    facts: &GatheredFacts,
    found: &mut Vec<Disagreement>,
) {
    let name = &host.name;
    let wanted = host.upstream.as_deref().unwrap_or("its upstream");
    let mut disagreement = |kind: DisagreementKind, message: String| {
        found.push(Disagreement {
            kind,
            hosts: vec![name.clone()],
            message,
        })
    };
    match status.state {
        ObservedState::Primary => disagreement(
            DisagreementKind::StandbyAcceptsWrites,
            format!(
                "{name} accepts writes although the inventory makes it a standby of {wanted}: if {name} is the primary now, make it the primary in the inventory; otherwise `pgconverge apply --dry-run` shows how {name} becomes a standby of {wanted} again"
            ),
        ),
        ObservedState::Unreachable => {
            // The upstream may still say whether the standby streams; one that
            // does not run cannot say either.
            let running_upstream = host
                .upstream
                .as_deref()
                .filter(|upstream| server_of(facts, upstream).is_some());
            let upstream_says = match running_upstream {
                Some(upstream) => match client_entry(facts, upstream, name) {
                    Some(client) => format!(" ({upstream} reports it {})", client.state),
                    None => format!(" ({upstream} does not report it streaming)"),
                },
                None => String::new(),
            };
            disagreement(
                DisagreementKind::Unreachable,
                format!(
                    "{name} is unreachable, so its state is unknown{upstream_says}: check the host and its SSH access; the error was: {}",
                    status.error.as_deref().unwrap_or("none given")
                ),
            )
        }
        ObservedState::Stopped => disagreement(
            DisagreementKind::NotStreaming,
            format!(
                "{name} {}, so it does not stream from {wanted}: `pgconverge apply` {}",
                stopped_reason(host, status),
                if status.system_identifier.is_some() {
                    "starts it"
                } else {
                    "clones it"
                }
            ),
        ),
        ObservedState::Standby => {
            let streaming = status.wal_receiver.as_deref() == Some(STREAMING);
            let source = status.upstream.as_deref().or(status.sender_host.as_deref());
            match source {
                Some(source) if streaming && Some(source) != host.upstream.as_deref() => {
                    let raw = match (&status.upstream, &status.sender_host) {
                        (Some(_), Some(sender)) if sender != source => format!(" ({sender})"),
                        _ => String::new(),
                    };
                    disagreement(
                        DisagreementKind::WrongUpstream,
                        format!(
                            "{name} streams from {source}{raw}, not from its inventory upstream {wanted}: make {source} its upstream in the inventory, or run `pgconverge apply` to point it back at {wanted}"
                        ),
                    )
                }
                // A warm standby recovers from the archive and streams from nobody.
                _ if !streaming && host.settings.replication_mode.streams() => disagreement(
                    DisagreementKind::NotStreaming,
                    format!(
                        "{name} is in recovery but does not stream from {wanted} (WAL receiver: {}): check that {wanted} runs and accepts replication connections from {name}; `pgconverge apply --dry-run` shows what differs",
                        status.wal_receiver.as_deref().unwrap_or("none")
                    ),
                ),
                _ if streaming
                    && host.settings.replication_mode == ReplicationMode::Synchronous
                    && status
                        .sync_state
                        .as_deref()
                        .is_some_and(|state| state == "async") =>
                {
                    disagreement(
                        DisagreementKind::NotSynchronous,
                        format!(
                            "{name} is a synchronous standby in the inventory, but {wanted} does not wait for it (sync_state async): `pgconverge apply` sets {wanted}'s synchronous_standby_names"
                        ),
                    )
                }
                _ => {}
            }
        }
    }
}

/// `is stopped (cluster state `shut down`)`, or `holds no cluster in DIR`.
fn stopped_reason(host: &DesiredHost, status: &HostStatus) -> String {
    if status.system_identifier.is_none() && status.cluster_state.is_none() {
        return format!("holds no cluster in `{}`", host.settings.data_dir);
    }
    match &status.cluster_state {
        Some(state) => format!("is stopped (cluster state `{state}`)"),
        None => "is stopped".to_string(),
    }
}

/// `db1`, `db1 and db2`, `db1, db2 and db3`.
fn names(list: &[&str]) -> String {
    match list {
        [] => "none".to_string(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    //! Each situation as fake facts, the disagreements it yields and the status as
    //! the user reads it, pinned with insta.

    use super::DisagreementKind::{self, *};
    use crate::status::check::{check, client, facts, healthy, primary, standby, stopped};

    #[test]
    fn a_standby_promoted_while_the_inventory_primary_is_stopped() {
        let mut db2 = primary(2, "0/6000000", Vec::new());
        db2.data_directory.standby_signal = false;
        let text = check(
            facts(vec![
                ("db1", Ok(stopped())),
                ("db2", Ok(db2)),
                ("db3", Ok(standby(None, "0/5000060", "0/5000060"))),
            ]),
            &[
                (PrimaryDown, "db1"),
                (StandbyAcceptsWrites, "db2"),
                (NotStreaming, "db3"),
            ],
        );
        assert!(
            text.contains("while db2 accepts writes: do not start db1 as a primary"),
            "{text}"
        );
        insta::assert_snapshot!(text);
    }

    #[test]
    fn the_virtual_ip_belongs_on_the_primary_alone() {
        let desired = crate::status::check::desired(
            &crate::status::check::THREE_HOSTS
                .replace("  vars:\n", "  vars:\n    cluster_vip: 10.0.0.100/24\n"),
        );
        let with = |holders: &[&str]| {
            let mut cluster = healthy();
            for (name, host) in cluster.iter_mut() {
                if let Ok(host) = host {
                    let mut list = vec![crate::facts::InterfaceAddress {
                        interface: "eth0".into(),
                        cidr: "10.0.0.1/24".into(),
                    }];
                    if holders.contains(&name.as_str()) {
                        list.push(crate::facts::InterfaceAddress {
                            interface: "eth0".into(),
                            cidr: "10.0.0.100/24".into(),
                        });
                    }
                    host.addresses = Some(list);
                }
            }
            crate::status::report::report(&desired, &cluster).disagreements
        };
        assert_eq!(with(&["db1"]), Vec::new());
        let on_standby = with(&["db2"]);
        assert_eq!(on_standby.len(), 1, "{on_standby:?}");
        assert_eq!(on_standby[0].kind, VirtualIp);
        assert_eq!(
            on_standby[0].message,
            "the virtual IP 10.0.0.100/24 is on db2, and only db1, the primary, should hold it: `pgconverge apply` moves it"
        );
        let two = with(&["db1", "db3"]);
        assert_eq!(
            two.first().map(|found| found.hosts.clone()),
            Some(vec!["db1".to_string(), "db3".to_string()])
        );
        // The status document with its virtual IPs matches its schema.
        let mut cluster = healthy();
        if let Some(Ok(db2)) = cluster.get_mut("db2") {
            db2.addresses = Some(vec![crate::facts::InterfaceAddress {
                interface: "eth0".into(),
                cidr: "10.0.0.100/24".into(),
            }]);
        }
        let report = crate::status::report::report(&desired, &cluster);
        assert_eq!(report.virtual_ips.len(), 1);
        crate::plan::check::assert_matches_schema("status", &serde_json::json!(report));
        let none = with(&[]);
        assert!(
            none.first().is_some_and(|found| found.message
                == "the virtual IP 10.0.0.100/24 is on no member: `pgconverge apply` adds it to db1, the primary"),
            "{none:?}"
        );
    }

    #[test]
    fn primaries_of_two_replication_clusters_are_no_split_brain() {
        // db1 is the primary of cluster `a`; db2 that of `b`, with db3 its standby.
        let inventory = crate::status::check::THREE_HOSTS
            .replace(
                "db1: { ansible_host: 10.0.0.11 }",
                "db1: { ansible_host: 10.0.0.11, replication_cluster: a }",
            )
            .replace(
                "db2: { ansible_host: 10.0.0.12 }",
                "db2: { ansible_host: 10.0.0.12, replication_cluster: b, pg_role: primary }",
            )
            .replace(
                "replication_host: db3-replication.internal }",
                "replication_host: db3-replication.internal, replication_cluster: b }",
            );
        let desired = crate::status::check::desired(&inventory);
        let facts = facts(vec![
            ("db1", Ok(primary(1, "0/5000060", Vec::new()))),
            (
                "db2",
                Ok(primary(
                    1,
                    "0/5000060",
                    vec![client("db3", "10.0.0.13", Some(0))],
                )),
            ),
            (
                "db3",
                Ok(standby(Some("10.0.0.12"), "0/5000060", "0/5000060")),
            ),
        ]);
        let report = crate::status::report::report(&desired, &facts);
        let kinds: Vec<DisagreementKind> = report
            .disagreements
            .iter()
            .map(|found| found.kind)
            .collect();
        assert!(!kinds.contains(&SplitBrain), "{kinds:?}");
        assert!(!kinds.contains(&StandbyAcceptsWrites), "{kinds:?}");
        // In one cluster the same facts are a split brain.
        let one = crate::status::check::desired(crate::status::check::THREE_HOSTS);
        let report = crate::status::report::report(&one, &facts);
        assert!(
            report
                .disagreements
                .iter()
                .any(|found| found.kind == SplitBrain)
        );
    }

    #[test]
    fn two_writable_primaries_are_a_split_brain_that_names_both() {
        let mut facts = healthy();
        facts.insert("db2".into(), Ok(primary(2, "0/6000000", Vec::new())));
        let text = check(
            facts,
            &[(SplitBrain, "db1,db2"), (StandbyAcceptsWrites, "db2")],
        );
        assert!(
            text.contains("split brain: db1 and db2 accept writes at the same time"),
            "{text}"
        );
        insta::assert_snapshot!(text);
    }

    #[test]
    fn a_standby_streaming_from_the_wrong_host() {
        let mut facts = healthy();
        facts.insert(
            "db1".into(),
            Ok(primary(
                1,
                "0/5000060",
                vec![client("db2", "10.0.0.12", Some(0))],
            )),
        );
        let mut db2 = standby(Some("10.0.0.11"), "0/5000060", "0/5000060");
        if let Some(server) = &mut db2.server {
            server.replication_clients = vec![client("db3", "10.0.0.13", Some(0))];
        }
        facts.insert("db2".into(), Ok(db2));
        facts.insert(
            "db3".into(),
            Ok(standby(Some("10.0.0.12"), "0/5000060", "0/5000060")),
        );
        let text = check(facts, &[(WrongUpstream, "db3")]);
        assert!(
            text.contains("db3 streams from db2 (10.0.0.12), not from its inventory upstream db1"),
            "{text}"
        );
        insta::assert_snapshot!(text);
    }

    #[test]
    fn an_unreachable_host_is_reported_with_its_error() {
        let mut facts = healthy();
        facts.insert(
            "db1".into(),
            Ok(primary(
                1,
                "0/5000060",
                vec![client("db2", "10.0.0.12", Some(0))],
            )),
        );
        facts.insert(
            "db3".into(),
            Err("cannot connect to db3 (10.0.0.13): ssh: connect to host 10.0.0.13 port 22: Connection refused".into()),
        );
        let text = check(facts, &[(Unreachable, "db3")]);
        assert!(text.contains("Connection refused"), "{text}");
        assert!(text.contains("db1 does not report it streaming"), "{text}");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn an_unreachable_upstream_is_not_quoted_about_its_unreachable_standby() {
        let unreachable = |host: &str| Err(format!("cannot connect to {host}: Connection refused"));
        let text = check(
            facts(vec![
                ("db1", unreachable("db1")),
                ("db2", unreachable("db2")),
                ("db3", unreachable("db3")),
            ]),
            &[
                (PrimaryDown, "db1"),
                (Unreachable, "db2"),
                (Unreachable, "db3"),
            ],
        );
        assert!(
            text.contains("db2 is unreachable, so its state is unknown: check the host"),
            "{text}"
        );
    }

    #[test]
    fn an_unreachable_standby_the_upstream_reports_streaming_says_so() {
        let mut facts = healthy();
        facts.insert("db3".into(), Err("Connection timed out".into()));
        let text = check(facts, &[(Unreachable, "db3")]);
        assert!(text.contains("(db1 reports it streaming)"), "{text}");
    }

    #[test]
    fn an_unreachable_inventory_primary_is_down() {
        let mut facts = healthy();
        facts.insert(
            "db1".into(),
            Err("ssh: connect to host 10.0.0.11 port 22: No route to host".into()),
        );
        facts.insert("db2".into(), Ok(standby(None, "0/5000060", "0/5000060")));
        facts.insert("db3".into(), Ok(standby(None, "0/5000060", "0/5000060")));
        let text = check(
            facts,
            &[
                (PrimaryDown, "db1"),
                (NotStreaming, "db2"),
                (NotStreaming, "db3"),
            ],
        );
        assert!(
            text.contains("db1, the inventory's primary, is unreachable: check the host and its SSH access; the error was: ssh: connect to host 10.0.0.11 port 22: No route to host"),
            "{text}"
        );
    }

    #[test]
    fn paused_replay_is_a_disagreement() {
        let mut facts = healthy();
        let mut db2 = standby(Some("10.0.0.11"), "0/5000060", "0/4000000");
        if let Some(server) = &mut db2.server {
            server.replay_paused = true;
        }
        facts.insert("db2".into(), Ok(db2));
        let text = check(facts, &[(ReplayPaused, "db2")]);
        assert!(
            text.contains("select pg_wal_replay_resume();` on db2"),
            "{text}"
        );
    }

    #[test]
    fn a_standby_streaming_from_a_host_outside_the_inventory_shows_the_raw_host() {
        let mut facts = healthy();
        facts.insert(
            "db3".into(),
            Ok(standby(Some("10.9.9.9"), "0/5000060", "0/5000060")),
        );
        let text = check(facts, &[(WrongUpstream, "db3")]);
        assert!(
            text.contains("db3 streams from 10.9.9.9, not from its inventory upstream db1"),
            "{text}"
        );
    }
}
