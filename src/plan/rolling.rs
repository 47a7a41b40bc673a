//! Rolling restarts: when several members restart in one run, they restart one at
//! a time, standbys first (the farthest down a cascade first) and the primary last,
//! each only after the one before came back. A change that stops a server from
//! starting is then rolled back on the first member and reaches no other, and never
//! the primary first.

use super::{HostPlan, NodeId, Operation};
use crate::actions::service::{ControlServer, ServiceAction};
use crate::dag::Dag;
use crate::desired::DesiredState;
use crate::inventory::Role;

/// The restarts of this plan in rolling order, each with the one it waits for.
/// An edge that would make a cycle with the steps' own dependencies (a standby
/// cloned from a primary that restarts in the same run) is left out.
pub fn restart_edges(
    desired: &DesiredState,
    hosts: &[HostPlan],
    dependencies: &[(NodeId, Vec<NodeId>)],
) -> Vec<(NodeId, NodeId)> {
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
    // The primary (rank 0) last; below it, the deepest standbys first.
    restarts.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut graph: Dag<NodeId> = Dag::default();
    for (node, waits_for) in dependencies {
        graph.add_node(node.clone());
        for dependency in waits_for {
            graph.add_edge(node.clone(), dependency.clone());
        }
    }
    let mut edges = Vec::new();
    let mut previous: Option<&NodeId> = None;
    for (_, index, node) in &restarts {
        let Some(before) = previous else {
            previous = Some(node);
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
            previous = Some(node);
        }
    }
    edges
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
}
