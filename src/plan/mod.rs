//! The plan: plain data saying, host by host and step by step, what would change and
//! the operation that changes it. `--dry-run` prints it; `apply` executes exactly it.

pub mod backup;
pub mod build;
#[cfg(test)]
pub mod check;
pub mod document;
pub mod guard;
pub mod restart;
pub mod rolling;
pub mod saved;
pub mod sequence;
#[cfg(test)]
mod tests;

pub use crate::actions::{Change, Operation, PlannedStep, SettingChange};

use crate::desired::NodeId;
use crate::inventory::Role;
use serde::{Deserialize, Serialize};

/// How one step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to do.
    Unchanged,
    /// The step changed the host; the text is what its script reported.
    Changed(String),
    /// A read-only check passed.
    Verified(String),
    Failed(String),
    /// Not run because a step it depends on did not succeed.
    Skipped(String),
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        matches!(
            self,
            Outcome::Unchanged | Outcome::Changed(_) | Outcome::Verified(_)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostPlan {
    pub name: String,
    pub address: String,
    pub role: Role,
    pub upstream: Option<String>,
    /// Why the host could not be planned (unreachable, facts unreadable).
    pub error: Option<String>,
    /// No member of the replication cluster any more: only decommissioned
    /// (`--decommission`); its `role` and `upstream` mean nothing.
    pub outside: bool,
    pub steps: Vec<PlannedStep>,
}

impl HostPlan {
    /// The host with no steps yet.
    pub fn of(host: &crate::desired::DesiredHost) -> HostPlan {
        HostPlan {
            name: host.name.clone(),
            address: host.address.clone(),
            role: host.role,
            upstream: host.upstream.clone(),
            error: None,
            outside: host.outside,
            steps: Vec::new(),
        }
    }
}

/// Counts for the closing line of a plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub start: usize,
    pub stop: usize,
    pub restart: usize,
    pub reload: usize,
    pub replace_data: usize,
    pub destructive: usize,
    pub refused: usize,
    pub unreachable: usize,
}

impl Summary {
    pub fn changes(&self) -> usize {
        self.create
            + self.update
            + self.start
            + self.stop
            + self.restart
            + self.reload
            + self.replace_data
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub hosts: Vec<HostPlan>,
    /// Why nothing may run (the split-brain guard), when the plan is blocked.
    pub blocked: Option<String>,
    /// Every step of every host, each after the steps it depends on.
    #[serde(skip)]
    pub order: Vec<NodeId>,
    /// Each step with the steps it waits for.
    #[serde(skip)]
    pub dependencies: Vec<(NodeId, Vec<NodeId>)>,
    /// Dependencies that only order: their failure does not stop the step.
    #[serde(skip)]
    pub ordering_only: Vec<(NodeId, NodeId)>,
    /// `--restart-primary switchover`: the primary whose restart is a switchover
    /// to a standby once every step of the plan succeeded.
    pub handover: Option<Handover>,
}

/// A primary that hands its role to a standby instead of restarting in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handover {
    pub primary: String,
    pub candidate: String,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for host in &self.hosts {
            if host.error.is_some() {
                summary.unreachable += 1;
            }
            for step in &host.steps {
                match step.change {
                    Change::Create => summary.create += 1,
                    Change::Update => summary.update += 1,
                    Change::Start => summary.start += 1,
                    Change::Stop => summary.stop += 1,
                    Change::Restart => summary.restart += 1,
                    Change::Reload => summary.reload += 1,
                    Change::ReplaceData => summary.replace_data += 1,
                    Change::Noop | Change::Check => {}
                }
                summary.destructive += usize::from(step.destructive);
                summary.refused += usize::from(step.refused.is_some());
            }
        }
        summary
    }

    pub fn step(&self, node: &NodeId) -> Option<&PlannedStep> {
        self.hosts
            .iter()
            .find(|host| host.name == node.host)?
            .steps
            .iter()
            .find(|step| step.id == node.step)
    }

    pub fn host(&self, name: &str) -> Option<&HostPlan> {
        self.hosts.iter().find(|host| host.name == name)
    }
}
