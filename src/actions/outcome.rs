//! What planning one step yields: the change it makes, its summary line, its diff
//! and its operation, with the helpers every action uses to say so.

use super::Operation;
use crate::facts::{ObservedSetting, PathAttributes};
use serde::{Deserialize, Serialize};

/// What a step will do, as the plan shows it (`+`, `~`, `!`, `-/+`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    Noop,
    Create,
    Update,
    Start,
    Stop,
    Restart,
    Reload,
    ReplaceData,
    /// A read-only check that runs on every apply (verification).
    Check,
}

impl Change {
    pub fn symbol(self) -> &'static str {
        match self {
            Change::Noop => " ",
            Change::Create => "+",
            Change::Update => "~",
            Change::Start | Change::Stop | Change::Restart | Change::Reload => "!",
            Change::ReplaceData => "-/+",
            Change::Check => "?",
        }
    }

    /// Whether executing the step changes the host.
    pub fn is_change(self) -> bool {
        !matches!(self, Change::Noop | Change::Check)
    }
}

/// What makes PostgreSQL apply a setting's new value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AppliesBy {
    /// A reload: the setting's context is `sighup` or one that new sessions take
    /// after a reload, or the server does not report the setting (it does not
    /// run, or does not know the name yet).
    Reload,
    /// A restart: the setting's context is `postmaster`.
    Restart,
    /// Nothing: PostgreSQL fixes the setting (`internal`).
    CannotChange,
}

impl AppliesBy {
    /// The one decision between a reload and a restart, from the setting as the
    /// server reports it (`pg_settings.context`): every step that changes a
    /// setting, the service step after them and the plan's lines all take it
    /// from here.
    pub fn of(setting: Option<&ObservedSetting>) -> AppliesBy {
        match setting.map(|setting| setting.context.as_str()) {
            Some("postmaster") => AppliesBy::Restart,
            Some("internal") => AppliesBy::CannotChange,
            _ => AppliesBy::Reload,
        }
    }

    /// As the plan's lines say it.
    pub fn name(self) -> &'static str {
        match self {
            AppliesBy::Reload => "reload",
            AppliesBy::Restart => "restart",
            AppliesBy::CannotChange => "cannot change",
        }
    }
}

/// One setting whose value in force changes, as the plan document lists it
/// (`setting_changes`, docs/plan-format.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingChange {
    pub name: String,
    /// The value in force now, as `SHOW` shows it (the server's, else what the
    /// files set); `None` when nothing says.
    pub before: Option<String>,
    /// The value the new configuration sets, as written; `None` when no file
    /// sets it any more and it goes back to PostgreSQL's default.
    pub after: Option<String>,
    pub applies_by: AppliesBy,
}

/// One step of one host in the plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedStep {
    pub id: String,
    pub change: Change,
    /// One line saying what the step does or why nothing is to do.
    pub summary: String,
    /// A unified diff for a file, `(sensitive)` for a secret one.
    pub diff: Option<String>,
    /// The step replaces data that cannot be restored by pgconverge.
    pub destructive: bool,
    /// Why the step will not run even though a change is needed (for example a
    /// data directory with user databases without `--replace-data`).
    pub refused: Option<String>,
    /// What the change means, line by line, shown instead of the diff: each setting
    /// whose value changes, each rule added or removed, what a whole file drops.
    pub details: Vec<String>,
    /// What the reviewer should know though nothing stops the step (a host rule
    /// that decides before a managed one).
    pub warnings: Vec<String>,
    /// Settings whose value in force changes, each with what applies it: the
    /// service step restarts for those a restart applies, and the plan document
    /// lists them.
    pub setting_changes: Vec<SettingChange>,
    pub operation: Option<Operation>,
}

impl PlannedStep {
    /// Nothing to do, and why.
    pub fn noop(summary: String) -> PlannedStep {
        PlannedStep {
            id: String::new(),
            change: Change::Noop,
            summary,
            diff: None,
            destructive: false,
            refused: None,
            details: Vec::new(),
            warnings: Vec::new(),
            setting_changes: Vec::new(),
            operation: None,
        }
    }

    pub fn change(change: Change, summary: String, operation: impl Into<Operation>) -> PlannedStep {
        PlannedStep {
            change,
            operation: Some(operation.into()),
            ..PlannedStep::noop(summary)
        }
    }

    /// A check that runs after apply: read-only, but it runs.
    pub fn check(summary: String, operation: impl Into<Operation>) -> PlannedStep {
        PlannedStep::change(Change::Check, summary, operation)
    }

    /// A change that is needed but will not run, for the reason given.
    pub fn refused(reason: String) -> PlannedStep {
        PlannedStep {
            change: Change::Update,
            refused: Some(reason.clone()),
            ..PlannedStep::noop(reason)
        }
    }
}

/// How a path's owner, group and mode differ from the wanted ones, for the plan.
pub fn attribute_differences(
    observed: &PathAttributes,
    owner: &str,
    group: &str,
    mode: u32,
) -> Vec<String> {
    let mut differences = Vec::new();
    if observed.owner != owner || observed.group != group {
        differences.push(format!(
            "owner {}:{} -> {owner}:{group}",
            observed.owner, observed.group
        ));
    }
    if observed.mode != mode {
        differences.push(format!("mode {:04o} -> {mode:04o}", observed.mode));
    }
    differences
}
