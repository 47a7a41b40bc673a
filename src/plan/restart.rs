//! `pgconverge restart`: a plan of restarts alone, no configuration change, in the
//! rolling order of an apply (`plan::rolling`): standbys one at a time, each back
//! and caught up before the next, the primary last and only once no old
//! transaction is open. Pure, like the planner.

use super::build::PlanOptions;
use super::{Change, HostPlan, NodeId, Plan, PlannedStep};
use crate::actions::service::{ControlServer, RestartChecks, ServiceAction};
use crate::desired::DesiredState;
use crate::facts::GatheredFacts;

/// The id of a member's restart step.
pub const RESTART_STEP: &str = "restart";

/// Which members a restart plan restarts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestartSelection {
    /// Only the members with a setting waiting for a restart (`pending_restart`).
    pub pending_only: bool,
}

/// A restart of every member in scope (or of those with a pending restart), in
/// rolling order. Blocked when the split-brain guard would block or fence
/// anything: a restart never runs beside a second writable primary.
pub fn plan(
    desired: &DesiredState,
    facts: &GatheredFacts,
    options: &PlanOptions,
    selection: RestartSelection,
) -> Plan {
    let in_scope =
        |host: &str| options.limit.is_empty() || options.limit.iter().any(|name| name == host);
    let hosts: Vec<HostPlan> = desired
        .hosts
        .values()
        .filter(|host| in_scope(&host.name) && host.role.is_member())
        .map(|host| {
            let mut planned = HostPlan::of(host);
            let step = match facts.get(&host.name) {
                Some(Ok(host_facts)) => match &host_facts.server {
                    None => PlannedStep::noop(
                        "PostgreSQL does not run: `pgconverge apply` starts it".to_string(),
                    ),
                    Some(server) => {
                        let pending = server.settings_pending_restart();
                        if selection.pending_only && pending.is_empty() {
                            PlannedStep::noop("no setting waits for a restart".to_string())
                        } else {
                            let why = if pending.is_empty() {
                                "asked for".to_string()
                            } else {
                                format!("{} pending restart", pending.join(", "))
                            };
                            PlannedStep::change(
                                Change::Restart,
                                format!("restart PostgreSQL ({why})"),
                                ControlServer {
                                    action: ServiceAction::Restart,
                                    roll_back: Vec::new(),
                                    restart: RestartChecks::default(),
                                    standbys: Vec::new(),
                                    server: host.settings.clone(),
                                },
                            )
                        }
                    }
                },
                Some(Err(error)) => {
                    planned.error = Some(error.clone());
                    return planned;
                }
                None => {
                    planned.error = Some("no facts were gathered".to_string());
                    return planned;
                }
            };
            planned.steps.push(PlannedStep {
                id: RESTART_STEP.to_string(),
                ..step
            });
            planned
        })
        .collect();
    let guard = super::guard::split_brain_guard(desired, facts, &options.rejoin);
    let blocked = guard.blocked.or_else(|| {
        let fenced: Vec<&str> = guard.fences.iter().map(|(host, _)| host.as_str()).collect();
        (!fenced.is_empty()).then(|| {
            format!(
                "split-brain guard: {} {} a writable primary beside the inventory's primary: nothing is restarted; `pgconverge apply --dry-run` shows how the cluster gets one primary again",
                fenced.join(", "),
                if fenced.len() == 1 { "is" } else { "are" }
            )
        })
    });
    let mut hosts = hosts;
    let mut dependencies: Vec<(NodeId, Vec<NodeId>)> = hosts
        .iter()
        .filter(|host| host.error.is_none())
        .map(|host| (NodeId::new(&host.name, RESTART_STEP), Vec::new()))
        .collect();
    let mut order: Vec<NodeId> = dependencies.iter().map(|(node, _)| node.clone()).collect();
    let handover = super::rolling::roll(
        desired,
        facts,
        &mut hosts,
        &mut dependencies,
        &mut order,
        &options.restarts,
    );
    Plan {
        hosts,
        blocked,
        order,
        dependencies,
        ordering_only: Vec::new(),
        handover,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::check::{THREE_HOSTS, converged_cluster, desired};

    fn position(plan: &Plan, host: &str) -> Option<usize> {
        plan.order
            .iter()
            .position(|node| node == &NodeId::new(host, RESTART_STEP))
    }

    #[test]
    fn every_member_restarts_standbys_first_each_after_the_one_before() {
        let (desired, _) = desired(THREE_HOSTS);
        let facts = converged_cluster(&desired);
        let plan = plan(
            &desired,
            &facts,
            &PlanOptions::default(),
            RestartSelection::default(),
        );
        assert_eq!(plan.summary().restart, 3);
        assert!(position(&plan, "db2") < position(&plan, "db3"));
        assert!(position(&plan, "db3") < position(&plan, "db1"));
        let waits_for = |host: &str| {
            plan.dependencies
                .iter()
                .find(|(node, _)| node.host == host)
                .map(|(_, before)| before.clone())
                .unwrap_or_default()
        };
        assert_eq!(waits_for("db1"), vec![NodeId::new("db3", RESTART_STEP)]);
        assert_eq!(waits_for("db3"), vec![NodeId::new("db2", RESTART_STEP)]);
        let text = anstream::adapter::strip_str(&crate::printer::plan_text(&plan)).to_string();
        assert!(
            text.contains("restart PostgreSQL (asked for); after db3's restart (standbys first, the primary last)"),
            "{text}"
        );
        // The standbys catch up before the next member, the primary waits for
        // old transactions: the defaults of the policy.
        let checks = |host: &str| {
            plan.host(host)
                .and_then(|host| host.steps.first())
                .and_then(|step| match &step.operation {
                    Some(crate::plan::Operation::ControlServer(control)) => Some(control.restart),
                    _ => None,
                })
        };
        assert_eq!(
            checks("db2").and_then(|checks| checks.max_lag_bytes),
            Some(16 * 1024 * 1024)
        );
        assert_eq!(
            checks("db1").and_then(|checks| checks.max_transaction_age_seconds),
            Some(300)
        );
    }

    #[test]
    fn pending_only_restarts_the_members_that_wait_for_one() {
        let (desired, _) = desired(THREE_HOSTS);
        let mut facts = converged_cluster(&desired);
        if let Some(Ok(db3)) = facts.get_mut("db3")
            && let Some(setting) = db3
                .server
                .as_mut()
                .and_then(|server| server.settings.get_mut("shared_buffers"))
        {
            setting.pending_restart = true;
        }
        let plan = plan(
            &desired,
            &facts,
            &PlanOptions::default(),
            RestartSelection { pending_only: true },
        );
        assert_eq!(plan.summary().restart, 1);
        let step = |host: &str| plan.host(host).and_then(|host| host.steps.first());
        assert!(step("db3").is_some_and(
            |step| step.summary == "restart PostgreSQL (shared_buffers pending restart)"
        ));
        assert!(step("db1").is_some_and(|step| step.change == Change::Noop));
    }
}
