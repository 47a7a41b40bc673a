//! The split-brain guard: pgconverge never starts, restarts or leaves writable a
//! primary while another host of the cluster is observed as a writable primary.
//!
//! - A host the inventory calls standby that is a writable primary, while the
//!   inventory's primary is also writable, is a former primary: it is fenced
//!   (stopped) first, the primary's start or restart waits for that, and the rest
//!   of the plan rejoins it.
//! - The same host while the inventory's primary is *not* writable is probably the
//!   real primary and the inventory out of date: rejoining it would leave the
//!   cluster without a primary, so the plan is blocked and nothing runs.
//!
//! Each replication cluster of the inventory is guarded on its own: two
//! primaries of different clusters are no split brain.

use crate::actions::service::ControlServer;
use crate::actions::{Change, DesiredStep, PlannedStep};
use crate::desired::{DesiredState, NodeId};
use crate::facts::GatheredFacts;
use crate::inventory::Role;

/// The id of the step the guard adds in front of a former primary's steps.
pub const FENCE_STEP: &str = "fence";

/// What the guard decided for the whole plan.
#[derive(Debug, Default)]
pub struct Guard {
    /// Why nothing may run, when the plan is blocked.
    pub blocked: Option<String>,
    /// Former primaries to stop first, each with its fence step.
    pub fences: Vec<(String, PlannedStep)>,
}

pub fn split_brain_guard(desired: &DesiredState, facts: &GatheredFacts) -> Guard {
    let clusters: indexmap::IndexSet<&str> = desired
        .hosts
        .values()
        .map(|host| host.cluster.as_str())
        .collect();
    let mut guard = Guard::default();
    let mut blocked = Vec::new();
    for cluster in clusters {
        let found = guard_cluster(desired, facts, cluster);
        blocked.extend(found.blocked);
        guard.fences.extend(found.fences);
    }
    if !blocked.is_empty() {
        guard.blocked = Some(blocked.join("\n"));
        guard.fences.clear();
    }
    guard
}

/// The primary of `cluster` in the inventory.
fn primary_of<'a>(
    desired: &'a DesiredState,
    cluster: &str,
) -> Option<&'a crate::desired::DesiredHost> {
    desired
        .hosts
        .values()
        .find(|host| host.role == Role::Primary && host.cluster == cluster)
}

fn guard_cluster(desired: &DesiredState, facts: &GatheredFacts, cluster: &str) -> Guard {
    let Some(primary) = primary_of(desired, cluster) else {
        return Guard::default();
    };
    let facts_of = |name: &str| facts.get(name).and_then(|facts| facts.as_ref().ok());
    let writable = |name: &str| facts_of(name).is_some_and(|facts| facts.is_writable_primary());
    // Only a host of the same cluster (the same system identifier) can split it; a
    // fresh standby still runs a cluster of its own. Unknown identifiers count as
    // the same cluster, to err on the safe side.
    let primary_id = facts_of(&primary.name).and_then(|facts| facts.system_identifier());
    let same_cluster = |name: &str| match (
        primary_id,
        facts_of(name).and_then(|facts| facts.system_identifier()),
    ) {
        (Some(primary_id), Some(id)) => primary_id == id,
        _ => true,
    };
    let others: Vec<&str> = desired
        .hosts
        .values()
        .filter(|host| {
            host.cluster == cluster
                && host.role == Role::Standby
                && writable(&host.name)
                && same_cluster(&host.name)
        })
        .map(|host| host.name.as_str())
        .collect();
    if others.is_empty() {
        return Guard::default();
    }
    let names = others
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if !writable(&primary.name) {
        return Guard {
            blocked: Some(format!(
                "split-brain guard: {names} {verb} a writable primary, but the inventory names `{primary}` as the primary and `{primary}` is not one. \
                 Rejoining {names} would leave the cluster without a primary: if {names} {verb} the primary now, record it in the inventory \
                 (`pgconverge promote` with --write-inventory does); otherwise stop {names} first. Nothing was changed",
                verb = if others.len() == 1 { "is" } else { "are" },
                primary = primary.name,
            )),
            fences: Vec::new(),
        };
    }
    let fences = others
        .iter()
        .filter_map(|name| desired.hosts.get(*name))
        .map(|host| {
            let summary = format!(
                "stop PostgreSQL: it is a writable primary beside `{}`, and the inventory makes it a standby (split-brain guard)",
                primary.name
            );
            let operation = ControlServer::stop(&host.settings);
            let step = PlannedStep {
                id: FENCE_STEP.to_string(),
                ..PlannedStep::change(Change::Stop, summary, operation)
            };
            (host.name.clone(), step)
        })
        .collect();
    Guard {
        blocked: None,
        fences,
    }
}

impl Guard {
    /// The edges the fences add: the primary's service step and each former primary's
    /// own steps wait for the fence.
    pub fn edges(&self, desired: &DesiredState, order: &[NodeId]) -> Vec<(NodeId, NodeId)> {
        let mut edges = Vec::new();
        for (host, _) in &self.fences {
            let Some(primary) = desired
                .hosts
                .get(host)
                .and_then(|fenced| primary_of(desired, &fenced.cluster))
            else {
                continue;
            };
            let is_service = |step: &str| {
                primary
                    .steps
                    .get(step)
                    .is_some_and(|step| matches!(step, DesiredStep::Service(_)))
            };
            let fence = NodeId {
                host: host.clone(),
                step: FENCE_STEP.to_string(),
            };
            for node in order.iter().filter(|node| {
                &node.host == host || (node.host == primary.name && is_service(&node.step))
            }) {
                edges.push((node.clone(), fence.clone()));
            }
        }
        edges
    }
}
