//! The safety gates of a promotion and a switchover, judged from facts: pure, so
//! every refusal is tested without a cluster.

use crate::desired::{DesiredHost, DesiredState};
use crate::facts::GatheredFacts;
use crate::facts::HostFacts;
use crate::inventory::{ReplicationMode, Role};

pub use crate::gate::Gate;

/// The gates, and the old primary to stop first when `--fence` was asked for and it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub gates: Vec<Gate>,
    pub fence: Option<String>,
    /// The inventory's primary before the change.
    pub old_primary: Option<String>,
}

impl Checked {
    pub fn passed(&self) -> bool {
        self.gates.iter().all(|gate| gate.passed)
    }
}

fn facts_of<'a>(facts: &'a GatheredFacts, host: &str) -> Option<&'a HostFacts> {
    facts.get(host).and_then(|facts| facts.as_ref().ok())
}

/// The inventory's primary of the replication cluster `host` is in.
fn primary_of<'a>(desired: &'a DesiredState, host: &str) -> Option<&'a DesiredHost> {
    let cluster = desired.hosts.get(host).map(|known| known.cluster.as_str());
    desired.hosts.values().find(|candidate| {
        candidate.role == Role::Primary && Some(candidate.cluster.as_str()) == cluster
    })
}

/// HOST is a running standby whose replay is not paused.
fn standby_gates(facts: &GatheredFacts, host: &str, gates: &mut Vec<Gate>) -> bool {
    let server = match facts.get(host) {
        None => {
            gates.push(Gate::new(
                "is a standby",
                false,
                format!("{host} is not in the inventory"),
            ));
            return false;
        }
        Some(Err(error)) => {
            gates.push(Gate::new(
                "is a standby",
                false,
                format!("{host} is unreachable: {error}"),
            ));
            return false;
        }
        Some(Ok(host_facts)) => host_facts.server.as_ref(),
    };
    match server {
        None => {
            gates.push(Gate::new(
                "is a standby",
                false,
                format!("PostgreSQL does not run on {host}"),
            ));
            false
        }
        Some(server) if !server.in_recovery => {
            gates.push(Gate::new(
                "is a standby",
                false,
                format!("{host} is not in recovery: it already is a primary"),
            ));
            false
        }
        Some(server) => {
            gates.push(Gate::new(
                "is a standby",
                true,
                format!("{host} is in recovery"),
            ));
            gates.push(Gate::new(
                "replay is not paused",
                !server.replay_paused,
                if server.replay_paused {
                    "replay is paused: resume it with pg_wal_replay_resume()".into()
                } else {
                    "replay runs".into()
                },
            ));
            true
        }
    }
}

/// Logical slots made with `failover` on the primary, and the candidate's copies
/// of them (`failover_slots`, PostgreSQL 17 and later). A copy is ready when its
/// slot sync worker made it, persistent and valid: a promotion keeps it, and
/// the slot's consumer goes on from the new primary; a temporary copy goes with
/// the promotion. A switchover, planned, waits for ready copies (closed gate); a
/// failover goes on and warns, since the primary is gone or about to be fenced.
/// No gate when the inventory does not ask for failover slots and the primary
/// has none.
fn failover_slots_gate(
    desired: &DesiredState,
    facts: &GatheredFacts,
    host: &str,
    planned: bool,
    gates: &mut Vec<Gate>,
) {
    const NAME: &str = "failover slots";
    let wanted = desired
        .hosts
        .get(host)
        .is_some_and(|candidate| candidate.settings.failover_slots);
    let copies = facts_of(facts, host)
        .and_then(|facts| facts.server.as_ref())
        .map(|server| server.failover_slots.as_slice())
        .unwrap_or_default();
    let primary = primary_of(desired, host).filter(|primary| primary.name != host);
    let on_primary: Option<Vec<&str>> = primary
        .and_then(|primary| facts_of(facts, &primary.name))
        .and_then(|facts| facts.server.as_ref())
        .filter(|server| !server.in_recovery)
        .map(|server| {
            // On a primary `synced` means nothing (a promoted standby's copies
            // keep it): every failover slot there is one its consumer uses.
            server
                .failover_slots
                .iter()
                .map(|slot| slot.name.as_str())
                .collect()
        });
    if !wanted && on_primary.as_ref().is_none_or(Vec::is_empty) && copies.is_empty() {
        return;
    }
    let state = |name: &str| match copies.iter().find(|copy| copy.name == name) {
        None if wanted => format!("{name} (no copy on {host} yet)"),
        None => format!("{name} (no copy: failover_slots is not set for {host})"),
        Some(copy) if !copy.invalidation_reason.is_empty() => {
            format!(
                "{name} (its copy is invalidated: {})",
                copy.invalidation_reason
            )
        }
        Some(copy) if !copy.synced => format!(
            "{name} ({host} has a slot of its own by that name, which its slot sync worker does not replace)"
        ),
        Some(copy) if copy.temporary => format!(
            "{name} (its copy is temporary until the slot's consumer confirms a position the copy can start from)"
        ),
        Some(_) => String::new(),
    };
    let ready: Vec<&str> = copies
        .iter()
        .filter(|copy| copy.ready())
        .map(|copy| copy.name.as_str())
        .collect();
    let Some(on_primary) = on_primary else {
        // The primary is gone: what the candidate has is what the consumers get.
        let not_ready: Vec<String> = copies
            .iter()
            .filter(|copy| !copy.ready())
            .map(|copy| state(&copy.name))
            .collect();
        gates.push(if not_ready.is_empty() {
            Gate::new(
                NAME,
                true,
                if ready.is_empty() {
                    format!("{host} has no copy of a failover slot")
                } else {
                    format!("{host} has a ready copy of {}", ready.join(", "))
                },
            )
        } else {
            Gate::warning(
                NAME,
                format!(
                    "{}: its consumers start again from scratch after the promotion",
                    not_ready.join(", ")
                ),
            )
        });
        return;
    };
    let missing: Vec<String> = on_primary
        .iter()
        .filter(|name| !ready.contains(name))
        .map(|name| state(name))
        .collect();
    gates.push(if missing.is_empty() {
        Gate::new(
            NAME,
            true,
            if on_primary.is_empty() {
                "the primary has no failover slot".to_string()
            } else {
                format!("{host} has a ready copy of {}", on_primary.join(", "))
            },
        )
    } else if planned {
        Gate::new(
            NAME,
            false,
            format!(
                "{}: their consumers would lose their slot; wait for {host}'s slot sync worker, or drop the slot or make it without failover",
                missing.join(", ")
            ),
        )
    } else {
        Gate::warning(
            NAME,
            format!(
                "{}: their consumers lose their slot with this promotion",
                missing.join(", ")
            ),
        )
    });
}

/// When the cluster has synchronous standbys, only they are sure to hold every
/// commit the primary acknowledged: promoting another needs `--accept-async`.
/// No gate when there are none.
fn synchronous_gate(
    desired: &DesiredState,
    facts: &GatheredFacts,
    host: &str,
    accept_async: bool,
    gates: &mut Vec<Gate>,
) {
    let Some(cluster) = desired.hosts.get(host).map(|known| known.cluster.as_str()) else {
        return;
    };
    let synchronous: Vec<&str> = desired
        .hosts
        .values()
        .filter(|other| {
            other.cluster == cluster
                && other.role == Role::Standby
                && other.settings.replication_mode == ReplicationMode::Synchronous
        })
        .map(|other| other.name.as_str())
        .collect();
    if synchronous.is_empty() {
        return;
    }
    const NAME: &str = "synchronous standby preferred";
    if synchronous.contains(&host) {
        gates.push(Gate::new(
            NAME,
            true,
            format!("{host} is a synchronous standby: the primary waited for it before a commit returned"),
        ));
        return;
    }
    let running: Vec<&str> = synchronous
        .iter()
        .copied()
        .filter(|name| {
            facts_of(facts, name)
                .and_then(|facts| facts.server.as_ref())
                .is_some_and(|server| server.in_recovery)
        })
        .collect();
    let listed = synchronous.join(", ");
    gates.push(if accept_async {
        Gate::new(
            NAME,
            true,
            format!("{host} is asynchronous and --accept-async was given: a commit the primary acknowledged after {host} last received WAL is lost (synchronous: {listed})"),
        )
    } else if running.is_empty() {
        Gate::new(
            NAME,
            false,
            format!("{host} is asynchronous and the synchronous standbys ({listed}) do not run as standbys: a commit the primary acknowledged may exist only there; bring one back and promote it, or pass --accept-async to lose such commits"),
        )
    } else {
        Gate::new(
            NAME,
            false,
            format!("{host} is asynchronous, but {} {} synchronous and {} as a standby: promote {}, which holds every commit the primary acknowledged (or pass --accept-async)", running.join(", "), if running.len() == 1 { "is" } else { "are" }, if running.len() == 1 { "runs" } else { "run" }, running[0]),
        )
    });
}

/// No host but `allowed` is a writable primary.
fn single_primary_gate(
    desired: &DesiredState,
    facts: &GatheredFacts,
    allowed: &[&str],
    gates: &mut Vec<Gate>,
) {
    // Only members of the cluster count: an archive host may run a PostgreSQL of
    // its own, and another replication cluster has a primary of its own.
    let cluster = allowed
        .first()
        .and_then(|name| desired.hosts.get(*name))
        .map(|host| host.cluster.as_str());
    let member = |name: &str| {
        desired.hosts.get(name).is_some_and(|host| {
            host.role.is_member() && (cluster.is_none() || Some(host.cluster.as_str()) == cluster)
        })
    };
    let writable: Vec<&str> = facts
        .iter()
        .filter(|(name, facts)| {
            member(name)
                && !allowed.contains(&name.as_str())
                && facts.as_ref().is_ok_and(HostFacts::is_writable_primary)
        })
        .map(|(name, _)| name.as_str())
        .collect();
    gates.push(if writable.is_empty() {
        Gate::new(
            "no other writable primary",
            true,
            "no other host accepts writes".into(),
        )
    } else {
        Gate::new(
            "no other writable primary",
            false,
            format!(
                "{} already {} writes",
                writable.join(", "),
                if writable.len() == 1 {
                    "accepts"
                } else {
                    "accept"
                }
            ),
        )
    });
}

/// The gates of `promote HOST`: a standby in recovery, replay not paused, caught up
/// within `max_lag` bytes of what it received, the old primary unreachable, stopped
/// or to be fenced, and no other writable primary.
pub fn promote(
    desired: &DesiredState,
    facts: &GatheredFacts,
    host: &str,
    max_lag: u64,
    fence: bool,
    accept_async: bool,
) -> Checked {
    let mut gates = Vec::new();
    let old_primary = primary_of(desired, host)
        .map(|primary| primary.name.clone())
        .filter(|primary| primary != host);
    synchronous_gate(desired, facts, host, accept_async, &mut gates);
    if standby_gates(facts, host, &mut gates)
        && let Some(server) = facts_of(facts, host).and_then(|facts| facts.server.as_ref())
    {
        let lag = match (server.position, server.replay_position) {
            (Some(received), Some(replayed)) => Some(received.0.saturating_sub(replayed.0)),
            _ => None,
        };
        gates.push(match lag {
            Some(lag) => Gate::new(
                "caught up",
                lag <= max_lag,
                format!(
                    "replayed {} of {} received: {lag} bytes behind (--max-lag {max_lag})",
                    server
                        .replay_position
                        .map(|lsn| lsn.to_string())
                        .unwrap_or_default(),
                    server
                        .position
                        .map(|lsn| lsn.to_string())
                        .unwrap_or_default()
                ),
            ),
            None => Gate::new(
                "caught up",
                false,
                "its received and replayed positions are unknown".into(),
            ),
        });
    }
    if let Some(position) = facts_of(facts, host)
        .and_then(|facts| facts.server.as_ref())
        .and_then(|server| server.position)
    {
        let ahead: Vec<String> = facts
            .iter()
            .filter(|(name, _)| name.as_str() != host)
            .filter_map(|(name, facts)| {
                let server = facts
                    .as_ref()
                    .ok()?
                    .server
                    .as_ref()
                    .filter(|server| server.in_recovery)?;
                server
                    .position
                    .filter(|other| *other > position)
                    .map(|other| format!("{name} ({other})"))
            })
            .collect();
        gates.push(if ahead.is_empty() {
            Gate::new("most advanced standby", true, format!("no other standby has received more than {position}"))
        } else {
            Gate::new(
                "most advanced standby",
                false,
                format!("{} received more WAL than {host} ({position}): promote the most advanced standby, or transactions are lost", ahead.join(", ")),
            )
        });
    }
    failover_slots_gate(desired, facts, host, false, &mut gates);
    let mut to_fence = None;
    match &old_primary {
        None => gates.push(Gate::new("old primary is down", true, "the inventory names no other primary".into())),
        Some(primary) => match facts.get(primary) {
            Some(Err(error)) => gates.push(Gate::new("old primary is down", true, format!("{primary} is unreachable ({error})"))),
            Some(Ok(primary_facts)) if !primary_facts.is_running() => {
                gates.push(Gate::new("old primary is down", true, format!("PostgreSQL does not run on {primary}")))
            }
            _ if fence => {
                to_fence = Some(primary.clone());
                gates.push(Gate::new("old primary is down", true, format!("{primary} runs and will be fenced: stopped over SSH before the promotion")));
            }
            _ => gates.push(Gate::new(
                "old primary is down",
                false,
                format!("{primary} runs and accepts connections: stop it, or pass --fence to have pgconverge stop it first"),
            )),
        },
    }
    let mut allowed = vec![host];
    if let Some(primary) = &to_fence {
        allowed.push(primary.as_str());
    }
    single_primary_gate(desired, facts, &allowed, &mut gates);
    Checked {
        gates,
        fence: to_fence,
        old_primary,
    }
}

/// The gates of `switchover HOST`: HOST a standby streaming from the primary, replay
/// not paused, within `max_lag` bytes of the primary, the primary writable, and no
/// other writable primary.
pub fn switchover(
    desired: &DesiredState,
    facts: &GatheredFacts,
    host: &str,
    max_lag: u64,
) -> Checked {
    let mut gates = Vec::new();
    let Some(primary) = primary_of(desired, host).filter(|primary| primary.name != host) else {
        gates.push(Gate::new(
            "has a primary to take over from",
            false,
            format!("the inventory names no primary other than {host}"),
        ));
        return Checked {
            gates,
            fence: None,
            old_primary: None,
        };
    };
    let primary_facts = facts_of(facts, &primary.name);
    gates.push(Gate::new(
        "primary accepts writes",
        primary_facts.is_some_and(HostFacts::is_writable_primary),
        match primary_facts {
            Some(facts) if facts.is_writable_primary() => {
                format!("{} is a writable primary", primary.name)
            }
            Some(_) => format!(
                "{} is not a running primary: use `pgconverge promote` for a failover",
                primary.name
            ),
            None => format!(
                "{} is unreachable: use `pgconverge promote` for a failover",
                primary.name
            ),
        },
    ));
    if standby_gates(facts, host, &mut gates)
        && let Some(server) = facts_of(facts, host).and_then(|facts| facts.server.as_ref())
    {
        let streaming = server.wal_receiver.as_ref().filter(|receiver| {
            receiver.status == "streaming"
                && receiver.sender_host == primary.settings.replication_host
        });
        gates.push(Gate::new(
            "streams from the primary",
            streaming.is_some(),
            match &server.wal_receiver {
                Some(receiver) => format!(
                    "WAL receiver {} from {}",
                    receiver.status, receiver.sender_host
                ),
                None => "no WAL receiver".into(),
            },
        ));
        let lag = primary_facts
            .and_then(|facts| facts.server.as_ref())
            .and_then(|server| {
                server
                    .replication_clients
                    .iter()
                    .find(|client| client.application_name == host)
            })
            .and_then(|client| client.replay_lag_bytes);
        gates.push(match lag {
            Some(lag) => Gate::new(
                "within --max-lag",
                lag.unsigned_abs() <= max_lag,
                format!("{lag} bytes behind {} (--max-lag {max_lag})", primary.name),
            ),
            None => Gate::new(
                "within --max-lag",
                false,
                format!(
                    "{} does not list {host} in pg_stat_replication",
                    primary.name
                ),
            ),
        });
    }
    failover_slots_gate(desired, facts, host, true, &mut gates);
    single_primary_gate(desired, facts, &[host, primary.name.as_str()], &mut gates);
    Checked {
        gates,
        fence: None,
        old_primary: Some(primary.name.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::check::{THREE_HOSTS, desired, facts, standby, stopped};

    /// db2 synchronous, db1 (the primary) down; db2 and db3 caught up.
    fn synchronous_cluster() -> DesiredState {
        desired(&THREE_HOSTS.replace(
            "db2: { ansible_host: 10.0.0.12 }",
            "db2: { ansible_host: 10.0.0.12, replication_mode: synchronous }",
        ))
    }

    fn gate<'a>(checked: &'a Checked, name: &str) -> Option<&'a Gate> {
        checked.gates.iter().find(|gate| gate.name == name)
    }

    fn primary_down(db2: HostFacts) -> GatheredFacts {
        facts(vec![
            ("db1", Ok(stopped())),
            ("db2", Ok(db2)),
            (
                "db3",
                Ok(standby(Some("10.0.0.11"), "0/5000060", "0/5000060")),
            ),
        ])
    }

    #[test]
    fn a_synchronous_standby_is_preferred() {
        let desired = synchronous_cluster();
        let up = primary_down(standby(Some("10.0.0.11"), "0/5000060", "0/5000060"));
        let to_db2 = promote(&desired, &up, "db2", 0, false, false);
        let passed = gate(&to_db2, "synchronous standby preferred");
        assert!(passed.is_some_and(|gate| gate.passed), "{to_db2:?}");
        let to_db3 = promote(&desired, &up, "db3", 0, false, false);
        let refused = gate(&to_db3, "synchronous standby preferred");
        assert!(
            refused.is_some_and(|gate| !gate.passed
                && gate.detail.contains(
                    "db3 is asynchronous, but db2 is synchronous and runs as a standby: promote db2"
                )),
            "{to_db3:?}"
        );
        assert!(!to_db3.passed());
        let accepted = promote(&desired, &up, "db3", 0, false, true);
        assert!(accepted.passed(), "{accepted:?}");
    }

    #[test]
    fn a_stopped_synchronous_standby_still_holds_commits_nobody_else_has() {
        let desired = synchronous_cluster();
        let down = primary_down(stopped());
        let to_db3 = promote(&desired, &down, "db3", 0, false, false);
        let refused = gate(&to_db3, "synchronous standby preferred");
        assert!(
            refused
                .is_some_and(|gate| !gate.passed && gate.detail.contains("do not run as standbys")),
            "{to_db3:?}"
        );
    }

    /// A 17 cluster with `failover_slots`: db1 has the logical slot `cdc`.
    fn failover_slots_cluster() -> DesiredState {
        desired(
            &THREE_HOSTS
                .replace("pg_version: 15", "pg_version: 17")
                .replace("  vars:\n", "  vars:\n    failover_slots: true\n"),
        )
    }

    fn slot(name: &str, synced: bool, temporary: bool) -> crate::facts::FailoverSlot {
        crate::facts::FailoverSlot::example(name, synced, temporary)
    }

    fn with_slots(mut host: HostFacts, slots: Vec<crate::facts::FailoverSlot>) -> HostFacts {
        if let Some(server) = host.server.as_mut() {
            server.failover_slots = slots;
        }
        host
    }

    #[test]
    fn a_switchover_waits_for_a_ready_copy_of_each_failover_slot_and_a_failover_warns() {
        let desired = failover_slots_cluster();
        let cluster = |db2_copies: Vec<crate::facts::FailoverSlot>| {
            facts(vec![
                (
                    "db1",
                    Ok(with_slots(
                        crate::status::check::primary(1, "0/5000060", Vec::new()),
                        vec![slot("cdc", false, false)],
                    )),
                ),
                (
                    "db2",
                    Ok(with_slots(
                        standby(Some("10.0.0.11"), "0/5000060", "0/5000060"),
                        db2_copies,
                    )),
                ),
                (
                    "db3",
                    Ok(standby(Some("10.0.0.11"), "0/5000060", "0/5000060")),
                ),
            ])
        };
        let ready = switchover(
            &desired,
            &cluster(vec![slot("cdc", true, false)]),
            "db2",
            1 << 30,
        );
        let passed = gate(&ready, "failover slots");
        assert!(
            passed.is_some_and(|gate| gate.passed && gate.detail == "db2 has a ready copy of cdc"),
            "{ready:?}"
        );
        let temporary = switchover(
            &desired,
            &cluster(vec![slot("cdc", true, true)]),
            "db2",
            1 << 30,
        );
        let refused = gate(&temporary, "failover slots");
        assert!(
            refused.is_some_and(|gate| !gate.passed
                && gate.detail.contains("cdc (its copy is temporary")
                && gate.detail.contains("wait for db2's slot sync worker")),
            "{temporary:?}"
        );
        let none = switchover(&desired, &cluster(Vec::new()), "db2", 1 << 30);
        assert!(
            gate(&none, "failover slots").is_some_and(
                |gate| !gate.passed && gate.detail.contains("cdc (no copy on db2 yet)")
            ),
            "{none:?}"
        );
        // A failover with the primary still up (to be fenced) goes on, warned.
        let fenced = promote(&desired, &cluster(Vec::new()), "db2", 1 << 30, true, false);
        assert!(
            gate(&fenced, "failover slots").is_some_and(|gate| gate.passed
                && gate.warning
                && gate.detail.contains("lose their slot with this promotion")),
            "{fenced:?}"
        );
        // The primary gone: the candidate's copies are what there is.
        let down = primary_down(with_slots(
            standby(Some("10.0.0.11"), "0/5000060", "0/5000060"),
            vec![slot("cdc", true, false), slot("audit", true, true)],
        ));
        let promoted = promote(&desired, &down, "db2", 1 << 30, false, false);
        assert!(
            gate(&promoted, "failover slots").is_some_and(|gate| gate.passed
                && gate.warning
                && gate.detail.contains("audit (its copy is temporary")
                && !gate.detail.contains("cdc")),
            "{promoted:?}"
        );
        // Without failover slots anywhere, no gate.
        let plain = desired_plain();
        let checked = switchover(&plain, &cluster_plain(), "db2", 1 << 30);
        assert!(gate(&checked, "failover slots").is_none(), "{checked:?}");
    }

    fn desired_plain() -> DesiredState {
        desired(&THREE_HOSTS.replace("pg_version: 15", "pg_version: 17"))
    }

    fn cluster_plain() -> GatheredFacts {
        facts(vec![
            (
                "db1",
                Ok(crate::status::check::primary(1, "0/5000060", Vec::new())),
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

    #[test]
    fn without_synchronous_standbys_there_is_no_such_gate() {
        let desired = desired(THREE_HOSTS);
        let up = primary_down(standby(Some("10.0.0.11"), "0/5000060", "0/5000060"));
        let checked = promote(&desired, &up, "db3", 0, false, false);
        assert!(gate(&checked, "synchronous standby preferred").is_none());
        assert!(checked.passed(), "{checked:?}");
    }
}
