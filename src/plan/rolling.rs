//! Rolling restarts: when several members restart in one run, they restart one at
//! a time, standbys first (the farthest down a cascade first) and the primary last,
//! each only after the one before came back. A change that stops a server from
//! starting is then rolled back on the first member and reaches no other, and never
//! the primary first. A lowered hot-standby limit (`max_connections`, ...) goes the
//! other way, the primary first, since a standby may not run below its primary.

use super::{HostPlan, NodeId, Operation};
use crate::actions::service::{ControlServer, RestartChecks, ServiceAction};
use crate::dag::Dag;
use crate::desired::DesiredState;
use crate::facts::GatheredFacts;
use crate::inventory::{HOT_STANDBY_SETTINGS, Role};
use indexmap::IndexMap;

/// How a rollout treats a live cluster: the command line's `--max-lag`,
/// `--max-transaction-age` and `--restart-primary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RestartPolicy {
    /// A restarted standby is this few bytes behind its upstream before the next
    /// member restarts.
    pub max_lag_bytes: u64,
    /// A primary restarts only when no transaction is older than this.
    pub max_transaction_age_seconds: u64,
    pub primary: PrimaryRestart,
}

/// How the primary of a rollout gets its restart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrimaryRestart {
    /// Restart it in place: writes stop while it restarts.
    #[default]
    Restart,
    /// Hand the primary role to a caught-up standby first, restart the old
    /// primary as a standby, then hand the role back: writes stop only for the
    /// two switchovers.
    Switchover,
}

impl Default for RestartPolicy {
    fn default() -> RestartPolicy {
        RestartPolicy {
            max_lag_bytes: 16 * 1024 * 1024,
            max_transaction_age_seconds: 300,
            primary: PrimaryRestart::Restart,
        }
    }
}

/// Puts the plan's restarts in rolling order, makes the primary's a handover
/// when the policy says so, and gives each the policy's checks.
pub fn roll(
    desired: &DesiredState,
    facts: &GatheredFacts,
    hosts: &mut [HostPlan],
    dependencies: &mut [(NodeId, Vec<NodeId>)],
    order: &mut Vec<NodeId>,
    policy: &RestartPolicy,
) -> Option<super::Handover> {
    let (edges, direction) = restart_edges(desired, facts, hosts, dependencies);
    add_rolling_edges(dependencies, order, hosts, &edges, direction);
    let handover = hand_over(desired, facts, hosts, policy, direction);
    restart_checks(desired, hosts, policy);
    handover
}

/// Makes each restart wait for the member's before it in the rolling order, says
/// so in its summary, and puts the steps in their new order.
fn add_rolling_edges(
    dependencies: &mut [(NodeId, Vec<NodeId>)],
    order: &mut Vec<NodeId>,
    hosts: &mut [HostPlan],
    rolling: &[(NodeId, NodeId)],
    direction: Direction,
) {
    if rolling.is_empty() {
        return;
    }
    for (node, before) in rolling {
        if let Some((_, waits_for)) = dependencies.iter_mut().find(|(other, _)| other == node) {
            waits_for.push(before.clone());
        }
        if let Some(step) = hosts
            .iter_mut()
            .find(|host| host.name == node.host)
            .and_then(|host| host.steps.iter_mut().find(|step| step.id == node.step))
            .filter(|step| matches!(step.operation, Some(Operation::ControlServer(_))))
        {
            step.summary.push_str(&format!(
                "; after {}'s restart ({})",
                before.host,
                direction.explained()
            ));
        }
    }
    if let Some(new_order) = super::build::in_order(dependencies) {
        *order = new_order;
    }
}

/// Gives every restart of the plan the checks of the policy: a standby catches
/// up before the rollout goes on, a primary waits for old transactions.
fn restart_checks(desired: &DesiredState, hosts: &mut [HostPlan], policy: &RestartPolicy) {
    for host in hosts {
        let role = desired.hosts.get(&host.name).map(|found| found.role);
        for step in &mut host.steps {
            let Some(Operation::ControlServer(control)) = &mut step.operation else {
                continue;
            };
            if !matches!(
                control.action,
                ServiceAction::Restart | ServiceAction::Reload
            ) {
                continue;
            }
            if role == Some(Role::Primary) {
                control.standbys = desired
                    .hosts
                    .values()
                    .filter(|member| {
                        member.role == Role::Standby
                            && member.upstream.as_deref() == Some(host.name.as_str())
                    })
                    .map(|member| member.name.clone())
                    .collect();
            }
            control.restart = match role {
                Some(Role::Standby) => RestartChecks {
                    max_lag_bytes: Some(policy.max_lag_bytes),
                    ..RestartChecks::default()
                },
                Some(Role::Primary) => RestartChecks {
                    max_transaction_age_seconds: Some(policy.max_transaction_age_seconds),
                    ..RestartChecks::default()
                },
                _ => RestartChecks::default(),
            };
        }
    }
}

/// With `--restart-primary switchover`: the primary's restart becomes a switchover
/// to a standby that streams from it (a synchronous one first), run once every
/// other step succeeded; the old primary then restarts as a standby. The
/// primary restarts in place when no standby can take over, or when a lowered
/// hot-standby limit must reach it first, and its step says why.
fn hand_over(
    desired: &DesiredState,
    facts: &GatheredFacts,
    hosts: &mut [HostPlan],
    policy: &RestartPolicy,
    direction: Direction,
) -> Option<super::Handover> {
    if policy.primary != PrimaryRestart::Switchover {
        return None;
    }
    let host = hosts.iter_mut().find(|host| {
        desired
            .hosts
            .get(&host.name)
            .is_some_and(|found| found.role == Role::Primary)
            && host.steps.iter().any(restarts)
    })?;
    let primary = host.name.clone();
    let candidate = candidate(desired, facts, &primary);
    let step = host.steps.iter_mut().find(|step| restarts(step))?;
    let Some(candidate) = candidate.filter(|_| direction == Direction::StandbysFirst) else {
        let why = if direction == Direction::PrimaryFirst {
            "a lowered hot-standby limit must reach the primary first"
        } else {
            "no standby streams from it to take over"
        };
        step.warnings.push(format!(
            "--restart-primary switchover: restarted in place, because {why}"
        ));
        return None;
    };
    step.summary = format!(
        "{}; by a switchover to {candidate} once every other step succeeded: {candidate} becomes the primary (recorded in the inventory) and {primary} restarts as its standby",
        step.summary.replacen("restart PostgreSQL", "restart", 1)
    );
    step.operation = None;
    Some(super::Handover { primary, candidate })
}

fn restarts(step: &super::PlannedStep) -> bool {
    matches!(
        &step.operation,
        Some(Operation::ControlServer(ControlServer {
            action: ServiceAction::Restart,
            ..
        }))
    )
}

/// The standby that takes over from `primary`: one streaming from it, a
/// synchronous one first, else the first in inventory order.
fn candidate(desired: &DesiredState, facts: &GatheredFacts, primary: &str) -> Option<String> {
    let streaming = |name: &str| {
        facts
            .get(name)
            .and_then(|facts| facts.as_ref().ok())
            .and_then(|facts| facts.server.as_ref())
            .is_some_and(|server| {
                server.in_recovery
                    && server
                        .wal_receiver
                        .as_ref()
                        .is_some_and(|receiver| receiver.status == "streaming")
            })
    };
    let standbys: Vec<&crate::desired::DesiredHost> = desired
        .hosts
        .values()
        .filter(|host| {
            host.role == Role::Standby
                && host.upstream.as_deref() == Some(primary)
                && streaming(&host.name)
        })
        .collect();
    standbys
        .iter()
        .find(|host| {
            host.settings.replication_mode == crate::inventory::ReplicationMode::Synchronous
        })
        .or(standbys.first())
        .map(|host| host.name.clone())
}

/// The restarts of this plan in rolling order, each with the one it waits for.
/// An edge that would make a cycle with the steps' own dependencies (a standby
/// cloned from a primary that restarts in the same run) is left out.
fn restart_edges(
    desired: &DesiredState,
    facts: &GatheredFacts,
    hosts: &[HostPlan],
    dependencies: &[(NodeId, Vec<NodeId>)],
) -> (Vec<(NodeId, NodeId)>, Direction) {
    let mut restarts: Vec<(usize, usize, NodeId)> = hosts
        .iter()
        .enumerate()
        .flat_map(|(index, host)| {
            host.steps
                .iter()
                .filter(|step| {
                    matches!(
                        &step.operation,
                        Some(Operation::ControlServer(ControlServer {
                            action: ServiceAction::Restart,
                            ..
                        }))
                    )
                })
                .map(move |step| (index, NodeId::new(&host.name, &step.id)))
        })
        .map(|(index, node)| (rank(desired, &node.host), index, node))
        .collect();
    let direction = if restarts
        .iter()
        .any(|(_, _, node)| lowers_a_limit(desired, facts, &node.host))
    {
        Direction::PrimaryFirst
    } else {
        Direction::StandbysFirst
    };
    match direction {
        // The primary (rank 0) last; below it, the deepest standbys first.
        Direction::StandbysFirst => restarts.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1))),
        Direction::PrimaryFirst => restarts.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1))),
    }
    let mut graph: Dag<NodeId> = Dag::default();
    for (node, waits_for) in dependencies {
        graph.add_node(node.clone());
        for dependency in waits_for {
            graph.add_edge(node.clone(), dependency.clone());
        }
    }
    let mut edges = Vec::new();
    // Each replication cluster rolls on its own.
    let cluster_of = |host: &str| desired.hosts.get(host).map(|host| host.cluster.as_str());
    let mut previous: IndexMap<Option<&str>, &NodeId> = IndexMap::new();
    for (_, index, node) in &restarts {
        let cluster = cluster_of(&node.host);
        let Some(before) = previous.get(&cluster).copied() else {
            previous.insert(cluster, node);
            continue;
        };
        // The host's configuration is not even written before the member ahead of
        // it came back: a rollout that stops leaves the later members as they were.
        let host = &hosts[*index];
        let gated: Vec<NodeId> = host
            .steps
            .iter()
            .filter(|step| {
                step.operation
                    .as_ref()
                    .is_some_and(|operation| operation.replaced_configuration().is_some())
            })
            .map(|step| NodeId::new(&host.name, &step.id))
            .chain([node.clone()])
            .collect();
        let mut trial = graph.clone();
        for step in &gated {
            trial.add_edge(step.clone(), before.clone());
        }
        if trial.topological_order().is_ok() {
            graph = trial;
            edges.extend(gated.into_iter().map(|step| (step, before.clone())));
            previous.insert(cluster, node);
        }
    }
    (edges, direction)
}

/// Which way a rollout goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    StandbysFirst,
    /// A hot-standby limit is lowered: the primary must run with it first.
    PrimaryFirst,
}

impl Direction {
    pub fn explained(self) -> &'static str {
        match self {
            Direction::StandbysFirst => "standbys first, the primary last",
            Direction::PrimaryFirst => "the primary first: a hot-standby limit is lowered",
        }
    }
}

/// The host's new postgresql.conf lowers a hot-standby limit below what it runs with.
fn lowers_a_limit(desired: &DesiredState, facts: &GatheredFacts, host: &str) -> bool {
    let Some(settings) = facts
        .get(host)
        .and_then(|facts| facts.as_ref().ok())
        .and_then(|facts| facts.server.as_ref())
        .map(|server| &server.settings)
    else {
        return false;
    };
    let Some(file) = desired.hosts.get(host).and_then(|host| {
        host.steps.values().find_map(|step| match step {
            crate::actions::DesiredStep::PostgresqlConf(conf) => Some(&conf.file),
            _ => None,
        })
    }) else {
        return false;
    };
    let wanted = crate::pgconf::settings(&file.content);
    HOT_STANDBY_SETTINGS.iter().any(|name| {
        let new = wanted
            .get(*name)
            .and_then(|value| value.parse::<i64>().ok());
        let old = settings
            .get(*name)
            .and_then(|setting| setting.value.parse::<i64>().ok());
        matches!((new, old), (Some(new), Some(old)) if new < old)
    })
}

/// How far down the cascade a host is: 0 for a primary, 1 for its standbys, ...
fn rank(desired: &DesiredState, host: &str) -> usize {
    let mut rank = 0;
    let mut current = desired.hosts.get(host);
    while let Some(found) = current {
        if found.role != Role::Standby || rank > desired.hosts.len() {
            break;
        }
        rank += 1;
        current = found
            .upstream
            .as_deref()
            .and_then(|upstream| desired.hosts.get(upstream));
    }
    rank
}

#[cfg(test)]
mod tests {
    use crate::plan::NodeId;
    use crate::plan::build::{PlanOptions, plan};
    use crate::plan::check::{THREE_HOSTS, converged_cluster, desired};

    #[test]
    fn standbys_restart_one_at_a_time_before_the_primary() {
        // A converged cluster, and an inventory that raises max_connections.
        let (before, _) = desired(THREE_HOSTS);
        let facts = converged_cluster(&before);
        let (desired, playbook) = desired(&THREE_HOSTS.replace(
            "    pg_version: 15\n",
            "    pg_version: 15\n    max_connections: 200\n",
        ));
        let plan = plan(&desired, &playbook, &facts, &PlanOptions::default());
        let waits_for = |host: &str| {
            plan.dependencies
                .iter()
                .find(|(node, _)| node == &NodeId::new(host, "pg_service"))
                .map(|(_, dependencies)| dependencies.clone())
                .unwrap_or_default()
        };
        assert!(waits_for("db3").contains(&NodeId::new("db2", "pg_service")));
        assert!(waits_for("db1").contains(&NodeId::new("db3", "pg_service")));
        assert!(
            !waits_for("db2")
                .iter()
                .any(|node| node.step == "pg_service")
        );
        let position = |host: &str| {
            plan.order
                .iter()
                .position(|node| node == &NodeId::new(host, "pg_service"))
        };
        assert!(position("db2") < position("db3") && position("db3") < position("db1"));
        let text = anstream::adapter::strip_str(&crate::printer::plan_text(&plan)).to_string();
        assert!(
            text.contains("restart PostgreSQL: max_connections need a restart; after db3's restart (standbys first, the primary last)"),
            "{text}"
        );
    }

    #[test]
    fn a_lowered_limit_reaches_the_primary_first() {
        let (before, _) = desired(&THREE_HOSTS.replace(
            "    pg_version: 15\n",
            "    pg_version: 15\n    max_connections: 200\n",
        ));
        let facts = converged_cluster(&before);
        let (desired, playbook) = desired(&THREE_HOSTS.replace(
            "    pg_version: 15\n",
            "    pg_version: 15\n    max_connections: 150\n",
        ));
        let plan = plan(&desired, &playbook, &facts, &PlanOptions::default());
        let position = |host: &str| {
            plan.order
                .iter()
                .position(|node| node == &NodeId::new(host, "pg_service"))
        };
        assert!(position("db1") < position("db2") && position("db2") < position("db3"));
        let text = anstream::adapter::strip_str(&crate::printer::plan_text(&plan)).to_string();
        assert!(
            text.contains(
                "after db1's restart (the primary first: a hot-standby limit is lowered)"
            ),
            "{text}"
        );
    }

    #[test]
    fn with_restart_primary_switchover_the_primary_hands_over_to_a_synchronous_standby() {
        let inventory = THREE_HOSTS.replace(
            "db3: { ansible_host: 10.0.0.13 }",
            "db3: { ansible_host: 10.0.0.13, replication_mode: synchronous }",
        );
        let (before, _) = desired(&inventory);
        let facts = converged_cluster(&before);
        let (desired, playbook) = desired(&inventory.replace(
            "    pg_version: 15\n",
            "    pg_version: 15\n    max_connections: 200\n",
        ));
        let options = PlanOptions {
            restarts: super::RestartPolicy {
                primary: super::PrimaryRestart::Switchover,
                ..super::RestartPolicy::default()
            },
            ..PlanOptions::default()
        };
        let handed = plan(&desired, &playbook, &facts, &options);
        assert_eq!(
            handed.handover,
            Some(crate::plan::Handover {
                primary: "db1".into(),
                candidate: "db3".into(),
            })
        );
        let step = handed.step(&NodeId::new("db1", "pg_service"));
        assert!(
            step.is_some_and(|step| step.operation.is_none()
                && step
                    .summary
                    .contains("by a switchover to db3 once every other step succeeded")),
            "{step:?}"
        );
        // The standbys still restart in place, one after the other.
        assert!(
            handed
                .step(&NodeId::new("db2", "pg_service"))
                .is_some_and(|step| step.operation.is_some())
        );
        // Without the option, the primary restarts in place.
        let in_place = plan(&desired, &playbook, &facts, &PlanOptions::default());
        assert_eq!(in_place.handover, None);
    }
}
