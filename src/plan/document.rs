//! The plan as a documented, versioned JSON document: what `--format json` prints
//! and what a saved plan records. `docs/plan-format.md` describes it.

use super::{Change, Plan, SettingChange, Summary};
use crate::desired::NodeId;
use crate::inventory::Role;
use crate::plan::Outcome;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// Bumped whenever a field changes meaning or disappears; adding a field is not a change.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocumentKind {
    /// What would change (`apply --dry-run`).
    Plan,
    /// What an apply did.
    Apply,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanDocument {
    pub format_version: u32,
    pub pgconverge_version: String,
    pub kind: DocumentKind,
    pub hosts: Vec<HostEntry>,
    /// Why nothing may run (the split-brain guard), when the plan is blocked.
    #[serde(default)]
    pub blocked: Option<String>,
    /// `--restart-primary switchover`: the primary that hands its role over after the plan.
    #[serde(default)]
    pub handover: Option<super::Handover>,
    pub summary: Summary,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostEntry {
    pub name: String,
    pub address: String,
    pub role: String,
    pub upstream: Option<String>,
    /// Why the host could not be planned (unreachable); its steps are then empty.
    pub error: Option<String>,
    pub steps: Vec<StepEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepEntry {
    pub id: String,
    /// `noop`, `create`, `update`, `start`, `restart`, `reload`, `replace-data` or `check`.
    pub action: Change,
    pub summary: String,
    /// A unified diff for a file, `(sensitive)` for a secret one.
    pub diff: Option<String>,
    pub destructive: bool,
    pub refused: Option<String>,
    /// What the change means line by line: settings whose value changes, rules
    /// added or removed, what a whole file drops.
    #[serde(default)]
    pub details: Vec<String>,
    /// What a reviewer should know though nothing stops the step.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Each setting whose value in force changes: its value before and after,
    /// and whether a reload or a restart applies it.
    #[serde(default)]
    pub setting_changes: Vec<SettingChange>,
    /// What happened, in a document of kind `apply`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub outcome: Option<OutcomeEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeEntry {
    /// `unchanged`, `changed`, `verified`, `failed` or `skipped`.
    pub status: String,
    pub message: String,
}

impl PlanDocument {
    pub fn of_plan(plan: &Plan) -> PlanDocument {
        PlanDocument::build(plan, DocumentKind::Plan, None)
    }

    pub fn of_apply(plan: &Plan, outcomes: &IndexMap<NodeId, Outcome>) -> PlanDocument {
        PlanDocument::build(plan, DocumentKind::Apply, Some(outcomes))
    }

    fn build(
        plan: &Plan,
        kind: DocumentKind,
        outcomes: Option<&IndexMap<NodeId, Outcome>>,
    ) -> PlanDocument {
        let hosts = plan
            .hosts
            .iter()
            .map(|host| HostEntry {
                name: host.name.clone(),
                address: host.address.clone(),
                role: match host.role {
                    _ if host.outside => "decommissioned".to_string(),
                    Role::Primary => "primary".to_string(),
                    Role::Standby => "standby".to_string(),
                    Role::Archive => "archive".to_string(),
                    Role::Pgbouncer => "pgbouncer".to_string(),
                },
                upstream: host.upstream.clone(),
                error: host.error.clone(),
                steps: host
                    .steps
                    .iter()
                    .map(|step| StepEntry {
                        id: step.id.clone(),
                        action: step.change,
                        summary: step.summary.clone(),
                        diff: step.diff.clone(),
                        destructive: step.destructive,
                        refused: step.refused.clone(),
                        details: step.details.clone(),
                        warnings: step.warnings.clone(),
                        setting_changes: step.setting_changes.clone(),
                        outcome: outcomes
                            .and_then(|outcomes| outcomes.get(&NodeId::new(&host.name, &step.id)))
                            .map(outcome_entry),
                    })
                    .collect(),
            })
            .collect();
        PlanDocument {
            format_version: FORMAT_VERSION,
            pgconverge_version: env!("CARGO_PKG_VERSION").to_string(),
            kind,
            hosts,
            blocked: plan.blocked.clone(),
            handover: plan.handover.clone(),
            summary: plan.summary(),
        }
    }
}

fn outcome_entry(outcome: &Outcome) -> OutcomeEntry {
    let (status, message) = match outcome {
        Outcome::Unchanged => ("unchanged", String::new()),
        Outcome::Changed(message) => ("changed", message.clone()),
        Outcome::Verified(message) => ("verified", message.clone()),
        Outcome::Failed(message) => ("failed", message.clone()),
        Outcome::Skipped(message) => ("skipped", message.clone()),
    };
    OutcomeEntry {
        status: status.to_string(),
        message,
    }
}
