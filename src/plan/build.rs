//! The planner: desired state × facts → `Plan`. Pure: every decision is made from
//! the facts gathered before, so the same inputs always give the same plan. Each
//! step's decision is its action's (`crate::actions`); the planner orders the
//! steps, tells each what the steps before it planned, and adds the split-brain
//! guard's fences and, after everything, the steps of the hosts `--decommission`
//! names.

use super::*;
use crate::actions::{Member, PlanContext};
use crate::actions::{data_directory, decommission};
use crate::desired::{DesiredHost, DesiredState};
use crate::facts::{FactsRequest, GatheredFacts, HostFacts};
use crate::playbook::Playbook;
use indexmap::IndexMap;

/// Choices the user makes on the command line that change the plan.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Only these hosts are planned (all when empty).
    pub limit: Vec<String>,
    /// Hosts whose data directory may be replaced although it holds user databases.
    pub replace_data: Vec<String>,
    /// How restarts treat the live cluster.
    pub restarts: super::rolling::RestartPolicy,
    /// Writable primaries beside the inventory's primary whose writes after the
    /// fork may be discarded: they are stopped and rejoined (`--rejoin HOST`).
    pub rejoin: Vec<String>,
    /// Hosts outside the replication cluster to decommission: stop the server,
    /// keep its data (`--decommission HOST`).
    pub decommission: Vec<String>,
}

pub fn plan(
    desired: &DesiredState,
    playbook: &Playbook,
    facts: &GatheredFacts,
    options: &PlanOptions,
) -> Plan {
    let in_scope =
        |host: &str| options.limit.is_empty() || options.limit.iter().any(|name| name == host);
    let guard = super::guard::split_brain_guard(desired, facts, &options.rejoin);
    let mut order: Vec<NodeId> = match desired.graph.topological_order() {
        Ok(order) => order
            .into_iter()
            .filter(|node| in_scope(&node.host))
            .collect(),
        // `DesiredState::build` already refused a graph with a cycle.
        Err(_) => Vec::new(),
    };
    let members = members(desired, facts);
    let mut hosts: Vec<HostPlan> = desired
        .hosts
        .values()
        .filter(|host| in_scope(&host.name))
        .map(|host| {
            let host_order: Vec<&str> = order
                .iter()
                .filter(|node| node.host == host.name)
                .map(|node| node.step.as_str())
                .collect();
            match facts.get(&host.name) {
                Some(Ok(host_facts)) => HostPlanner {
                    playbook,
                    options,
                    host,
                    facts: host_facts,
                    members: &members,
                }
                .plan(&host_order),
                Some(Err(error)) => unreachable_host(host, error.clone()),
                None => unreachable_host(host, "no facts were gathered".to_string()),
            }
        })
        .collect();
    let mut blocked = guard.blocked.clone();
    let guard_edges = guard.edges(desired, &order);
    for (host_name, fence) in &guard.fences {
        match hosts.iter_mut().find(|host| &host.name == host_name) {
            Some(host) if host.error.is_none() => {
                host.steps.insert(0, fence.clone());
                order.insert(0, NodeId::new(host_name, &fence.id));
            }
            _ => {
                blocked.get_or_insert_with(|| {
                    format!("split-brain guard: `{host_name}` is a writable primary beside the inventory's primary and is not part of this run: include it (--limit) or stop it first. Nothing was changed")
                });
            }
        }
    }
    // A step with nothing to do waits for nothing on other hosts: a base backup
    // that is not needed does not hold its host's restart behind the upstream's.
    let noop = |node: &NodeId| {
        hosts
            .iter()
            .find(|host| host.name == node.host)
            .and_then(|host| host.steps.iter().find(|step| step.id == node.step))
            .is_some_and(|step| step.change == Change::Noop)
    };
    let mut dependencies: Vec<(NodeId, Vec<NodeId>)> = order
        .iter()
        .map(|node| {
            let mut dependencies: Vec<NodeId> = desired
                .graph
                .dependencies_of(node)
                .filter(|dep| in_scope(&dep.host))
                .filter(|dep| dep.host == node.host || !noop(node))
                .cloned()
                .collect();
            dependencies.extend(
                guard_edges
                    .iter()
                    .filter(|(dependent, _)| dependent == node)
                    .map(|(_, fence)| fence.clone()),
            );
            (node.clone(), dependencies)
        })
        .collect();
    let handover = super::rolling::roll(
        desired,
        facts,
        &mut hosts,
        &mut dependencies,
        &mut order,
        &options.restarts,
    );
    decommissioned(
        desired,
        facts,
        options,
        &mut hosts,
        &mut order,
        &mut dependencies,
    );
    Plan {
        hosts,
        blocked,
        order,
        dependencies,
        ordering_only: desired.ordering_only.clone(),
        handover,
    }
}

/// Plans the hosts `--decommission` names, after everything else: each of their
/// steps that changes something waits for every step of the members, which drop
/// the host's slot, access rules and standby name first, so that no member
/// still expects it when it stops.
fn decommissioned(
    desired: &DesiredState,
    facts: &GatheredFacts,
    options: &PlanOptions,
    hosts: &mut Vec<HostPlan>,
    order: &mut Vec<NodeId>,
    dependencies: &mut Vec<(NodeId, Vec<NodeId>)>,
) {
    let members: Vec<NodeId> = order.clone();
    for name in &options.decommission {
        let Some(host) = desired.outside.get(name) else {
            continue;
        };
        let host_plan = match facts.get(name) {
            Some(Ok(host_facts)) => HostPlan {
                steps: decommission::plan(name, &host.settings, host_facts),
                ..host_plan(host, None)
            },
            Some(Err(error)) => unreachable_host(host, error.clone()),
            None => unreachable_host(host, "no facts were gathered".to_string()),
        };
        let mut before: Option<NodeId> = None;
        for step in &host_plan.steps {
            let node = NodeId::new(name, &step.id);
            let mut waits_for: Vec<NodeId> = if step.change == Change::Noop {
                Vec::new()
            } else {
                members.clone()
            };
            waits_for.extend(before.take());
            dependencies.push((node.clone(), waits_for));
            order.push(node.clone());
            before = Some(node);
        }
        hosts.push(host_plan);
    }
}

/// The steps after the steps they wait for, ties in their present order.
pub(super) fn in_order(dependencies: &[(NodeId, Vec<NodeId>)]) -> Option<Vec<NodeId>> {
    let mut graph: crate::dag::Dag<NodeId> = crate::dag::Dag::default();
    for (node, _) in dependencies {
        graph.add_node(node.clone());
    }
    for (node, waits_for) in dependencies {
        for dependency in waits_for {
            graph.add_edge(node.clone(), dependency.clone());
        }
    }
    graph.topological_order().ok()
}

/// Every host as the actions see it, with its facts and what this run does to
/// its data directory.
fn members<'a>(
    desired: &'a DesiredState,
    facts: &'a GatheredFacts,
) -> IndexMap<String, Member<'a>> {
    let mut members: IndexMap<String, Member> = desired
        .hosts
        .values()
        .map(|host| (host.name.clone(), member(host, facts)))
        .collect();
    let replaced: Vec<String> = members
        .values()
        .filter(|member| data_directory::replaces_data(member, &members))
        .map(|member| member.name.to_string())
        .collect();
    for name in replaced {
        if let Some(member) = members.get_mut(&name) {
            member.data_replaced = true;
        }
    }
    members
}

/// A host as the actions see it: who it is, its facts, and what each of its
/// steps exposes to the others.
fn member<'a>(host: &'a DesiredHost, facts: &'a GatheredFacts) -> Member<'a> {
    let mut member = Member::new(
        &host.name,
        &host.address,
        &host.cluster,
        host.upstream.as_deref(),
        &host.settings,
        facts.get(&host.name).and_then(|facts| facts.as_ref().ok()),
    );
    for step in host.steps.values() {
        step.expose(&mut member);
        if let Some(file) = step.rendered_file()
            && file.check.is_some()
        {
            member.config_files.push(file.path.as_str());
        }
    }
    member
}

fn unreachable_host(host: &DesiredHost, error: String) -> HostPlan {
    host_plan(host, Some(error))
}

fn host_plan(host: &DesiredHost, error: Option<String>) -> HostPlan {
    HostPlan {
        error,
        ..HostPlan::of(host)
    }
}

struct HostPlanner<'a> {
    playbook: &'a Playbook,
    options: &'a PlanOptions,
    host: &'a DesiredHost,
    facts: &'a HostFacts,
    members: &'a IndexMap<String, Member<'a>>,
}

impl HostPlanner<'_> {
    /// Plans the host's steps in order; each learns what the ones before it do
    /// (handlers notified, settings changed in `postgresql.conf`).
    fn plan(&self, order: &[&str]) -> HostPlan {
        let mut setting_changes: Vec<crate::actions::SettingChange> = Vec::new();
        let mut replaced_configuration: Vec<String> = Vec::new();
        let mut notified: IndexMap<String, Vec<String>> = IndexMap::new();
        let mut steps = Vec::new();
        let Some(member) = self.members.get(&self.host.name) else {
            return unreachable_host(self.host, "the host is not a member".to_string());
        };
        for id in order {
            let Some(desired_step) = self.host.steps.get(*id) else {
                continue;
            };
            let context = PlanContext {
                host: member,
                facts: self.facts,
                members: self.members,
                replace_data_allowed: self.options.replace_data.contains(&self.host.name),
                notified_by: notified.get(*id).map(Vec::as_slice).unwrap_or_default(),
                setting_changes: &setting_changes,
                replaced_configuration: &replaced_configuration,
                server_changes: !notified.is_empty(),
            };
            let mut paths = FactsRequest::new(self.host.settings.clone());
            desired_step.facts_needed(&mut paths);
            let planned = PlannedStep {
                id: id.to_string(),
                ..match paths.refused_path(self.facts) {
                    Some(reason) => PlannedStep::refused(reason),
                    None => desired_step.plan(&context),
                }
            };
            if planned.change.is_change() {
                for handler in self
                    .playbook
                    .step(id)
                    .map(|step| step.notify.clone())
                    .unwrap_or_default()
                {
                    notified.entry(handler.id).or_default().push(id.to_string());
                }
            }
            setting_changes.extend(planned.setting_changes.iter().cloned());
            replaced_configuration.extend(
                planned
                    .operation
                    .as_ref()
                    .and_then(Operation::replaced_configuration),
            );
            steps.push(planned);
        }
        HostPlan {
            steps,
            ..HostPlan::of(self.host)
        }
    }
}
