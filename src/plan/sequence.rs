//! A plan of steps that run one after the other, each on its host, in the order
//! they were added: what a failover, a switchover and an upgrade run. Pure.

use crate::actions::{Change, Operation, PlannedStep};
use crate::desired::{DesiredState, NodeId};
use crate::plan::{HostPlan, Plan};

/// Steps in the order they run, each on its host.
pub struct Sequence<'a> {
    desired: &'a DesiredState,
    steps: Vec<(String, PlannedStep)>,
}

impl<'a> Sequence<'a> {
    pub fn new(desired: &'a DesiredState) -> Sequence<'a> {
        Sequence {
            desired,
            steps: Vec::new(),
        }
    }

    /// The desired state the steps are planned from.
    pub fn desired(&self) -> &'a DesiredState {
        self.desired
    }

    /// Adds a step `id` on `host`, after every step added before.
    pub fn add(
        &mut self,
        host: &str,
        id: &str,
        change: Change,
        summary: String,
        operation: Operation,
    ) {
        let step = PlannedStep {
            id: id.to_string(),
            ..PlannedStep::change(change, summary, operation)
        };
        self.push(host, step);
    }

    /// Adds a step made whole by the caller (one marked destructive, say).
    pub fn push(&mut self, host: &str, step: PlannedStep) {
        self.steps.push((host.to_string(), step));
    }

    /// The plan: hosts in inventory order, each step depending on the one before.
    pub fn into_plan(self) -> Plan {
        let order: Vec<NodeId> = self
            .steps
            .iter()
            .map(|(host, step)| NodeId::new(host, &step.id))
            .collect();
        let dependencies = order
            .iter()
            .enumerate()
            .map(|(index, node)| {
                (
                    node.clone(),
                    order[..index].last().cloned().into_iter().collect(),
                )
            })
            .collect();
        let hosts = self
            .desired
            .hosts
            .values()
            .filter(|host| self.steps.iter().any(|(name, _)| name == &host.name))
            .map(|host| HostPlan {
                steps: self
                    .steps
                    .iter()
                    .filter(|(name, _)| name == &host.name)
                    .map(|(_, step)| step.clone())
                    .collect(),
                ..HostPlan::of(host)
            })
            .collect();
        Plan {
            hosts,
            blocked: None,
            order,
            dependencies,
            ordering_only: Vec::new(),
            handover: None,
        }
    }
}
