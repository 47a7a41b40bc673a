//! The playbook: the declarative list of steps and handlers that converge a node,
//! parsed from YAML (the embedded `playbooks/replication.yaml` or `-p FILE`).

pub use crate::actions::ActionKind;
pub use crate::actions::file::ConfigCheck;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::inventory::Role;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::path::{Path, PathBuf};

/// The playbook built into the binary, used when `-p` is not given.
pub const DEFAULT_PLAYBOOK: &str = include_str!("../playbooks/replication.yaml");
/// The name under which the built-in playbook is reported in diagnostics.
pub const DEFAULT_PLAYBOOK_NAME: &str = "playbooks/replication.yaml (built in)";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlaybook {
    steps: Vec<RawStep>,
    #[serde(default)]
    handlers: Vec<RawStep>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    id: Spanned<String>,
    action: ActionKind,
    roles: Vec<Spanned<String>>,
    #[serde(default)]
    requires: Vec<Spanned<String>>,
    #[serde(default)]
    upstream_requires: Vec<Spanned<String>>,
    #[serde(default)]
    cluster_requires: Vec<Spanned<String>>,
    #[serde(default)]
    cluster_after: Vec<Spanned<String>>,
    #[serde(default)]
    notify: Vec<Spanned<String>>,
    template: Option<String>,
    dest: Option<String>,
    path: Option<String>,
    owner: Option<String>,
    group: Option<String>,
    mode: Option<String>,
    #[serde(default)]
    sensitive: bool,
    check: Option<ConfigCheck>,
    when: Option<String>,
}

/// A reference from one step to another, with where it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRef {
    pub id: String,
    pub line: usize,
    pub column: usize,
}

/// One step or handler of the playbook. String parameters are still templates.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub id: String,
    pub action: ActionKind,
    pub roles: Vec<Role>,
    pub requires: Vec<StepRef>,
    pub upstream_requires: Vec<StepRef>,
    /// Steps that must be done first on every host where they apply.
    pub cluster_requires: Vec<StepRef>,
    /// Steps that run first on every host where they apply, whose failure does not
    /// stop this one (ordering only).
    pub cluster_after: Vec<StepRef>,
    pub notify: Vec<StepRef>,
    pub is_handler: bool,
    pub template: Option<String>,
    pub dest: Option<String>,
    pub path: Option<String>,
    pub owner: Option<String>,
    pub group: Option<String>,
    pub mode: Option<String>,
    pub sensitive: bool,
    pub check: Option<ConfigCheck>,
    /// A template; the step applies only to hosts where it renders to a true value.
    pub when: Option<String>,
    pub line: usize,
    /// Role names that are none of pgconverge's roles, reported by `parse`.
    unknown_roles: Vec<StepRef>,
}

impl Step {
    pub fn applies_to(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Playbook {
    pub source: PathBuf,
    /// Steps first, then handlers, each in file order.
    pub steps: Vec<Step>,
}

impl Playbook {
    /// Reads a playbook from disk, or the built-in one when `path` is `None`.
    pub fn load(path: Option<&Path>) -> Result<Playbook, Diagnostics> {
        match path {
            None => Playbook::parse(Path::new(DEFAULT_PLAYBOOK_NAME), DEFAULT_PLAYBOOK),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|error| {
                    Diagnostics(vec![Diagnostic::new(
                        path,
                        None,
                        None,
                        format!("cannot read the playbook: {error}"),
                    )])
                })?;
                Playbook::parse(path, &text)
            }
        }
    }

    /// Parses and checks a playbook: unknown keys, duplicate ids, references to
    /// missing steps and parameters an action needs are all reported together.
    pub fn parse(source: &Path, text: &str) -> Result<Playbook, Diagnostics> {
        let raw: RawPlaybook = serde_saphyr::from_str(text).map_err(|error| {
            let location = error.location();
            Diagnostics(vec![Diagnostic::new(
                source,
                location.map(|l| l.line() as usize),
                location.map(|l| l.column() as usize),
                first_line(&error.to_string()),
            )])
        })?;
        let steps: Vec<Step> = raw
            .steps
            .into_iter()
            .map(|step| convert(step, false))
            .chain(raw.handlers.into_iter().map(|step| convert(step, true)))
            .collect();
        let playbook = Playbook {
            source: source.to_path_buf(),
            steps,
        };
        let problems = playbook.problems();
        if problems.is_empty() {
            Ok(playbook)
        } else {
            Err(Diagnostics(problems))
        }
    }

    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|step| step.id == id)
    }

    fn problems(&self) -> Vec<Diagnostic> {
        let mut problems = Vec::new();
        let at = |line: usize, column: usize, message: String| {
            Diagnostic::new(&self.source, Some(line), Some(column), message)
        };
        for (index, step) in self.steps.iter().enumerate() {
            if self.steps[..index]
                .iter()
                .any(|earlier| earlier.id == step.id)
            {
                problems.push(at(
                    step.line,
                    1,
                    format!("step id `{}` is used twice", step.id),
                ));
            }
            let references = step
                .requires
                .iter()
                .chain(&step.upstream_requires)
                .chain(&step.cluster_requires)
                .chain(&step.cluster_after)
                .chain(&step.notify);
            for reference in references {
                if self.step(&reference.id).is_none() {
                    problems.push(at(
                        reference.line,
                        reference.column,
                        format!("step `{}` refers to `{}`, which is no step or handler of this playbook", step.id, reference.id),
                    ));
                }
            }
            for reference in &step.notify {
                if self
                    .step(&reference.id)
                    .is_some_and(|target| !target.is_handler)
                {
                    problems.push(at(
                        reference.line,
                        reference.column,
                        format!(
                            "step `{}` notifies `{}`, which is a step, not a handler",
                            step.id, reference.id
                        ),
                    ));
                }
            }
            for role in &step.unknown_roles {
                problems.push(at(
                    role.line,
                    role.column,
                    format!(
                        "step `{}` names the role `{}` (expected primary, standby, archive or pgbouncer)",
                        step.id, role.id
                    ),
                ));
            }
            for missing in missing_parameters(step) {
                problems.push(at(
                    step.line,
                    1,
                    format!(
                        "step `{}` ({:?}) needs the parameter `{missing}`",
                        step.id, step.action
                    ),
                ));
            }
        }
        problems
    }
}

fn missing_parameters(step: &Step) -> Vec<&'static str> {
    let present = |name: &str| match name {
        "template" => step.template.is_some(),
        "dest" => step.dest.is_some(),
        "path" => step.path.is_some(),
        _ => true,
    };
    step.action
        .parameters()
        .iter()
        .copied()
        .filter(|name| !present(name))
        .collect()
}

fn parse_role(name: &str) -> Option<Role> {
    match name {
        "primary" => Some(Role::Primary),
        "standby" => Some(Role::Standby),
        "archive" => Some(Role::Archive),
        "pgbouncer" => Some(Role::Pgbouncer),
        _ => None,
    }
}

fn convert(raw: RawStep, is_handler: bool) -> Step {
    let reference = |spanned: Spanned<String>| StepRef {
        line: spanned.referenced.line() as usize,
        column: spanned.referenced.column() as usize,
        id: spanned.value,
    };
    Step {
        line: raw.id.referenced.line() as usize,
        id: raw.id.value,
        action: raw.action,
        roles: raw
            .roles
            .iter()
            .filter_map(|role| parse_role(&role.value))
            .collect(),
        unknown_roles: raw
            .roles
            .into_iter()
            .filter(|role| parse_role(&role.value).is_none())
            .map(reference)
            .collect(),
        requires: raw.requires.into_iter().map(reference).collect(),
        upstream_requires: raw.upstream_requires.into_iter().map(reference).collect(),
        cluster_requires: raw.cluster_requires.into_iter().map(reference).collect(),
        cluster_after: raw.cluster_after.into_iter().map(reference).collect(),
        notify: raw.notify.into_iter().map(reference).collect(),
        is_handler,
        template: raw.template,
        dest: raw.dest,
        path: raw.path,
        owner: raw.owner,
        group: raw.group,
        mode: raw.mode,
        sensitive: raw.sensitive,
        check: raw.check,
        when: raw.when,
    }
}

/// serde-saphyr appends a source excerpt to its messages; the diagnostic already
/// carries the location, so only the first line is kept.
fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or(message).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> String {
        match Playbook::parse(Path::new("play.yaml"), text) {
            Ok(_) => "ok".to_string(),
            Err(diagnostics) => diagnostics.to_string(),
        }
    }

    #[test]
    fn built_in_playbook_parses() {
        let playbook = Playbook::load(None).expect("the built-in playbook is valid");
        assert!(playbook.step("base_backup").is_some());
        assert!(
            playbook
                .step("pg_service")
                .is_some_and(|step| step.is_handler)
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_place() {
        let text = "steps:\n  - id: a\n    action: file\n    roles: [primary]\n    requires: [nothing]\n    notify: [b]\n  - id: b\n    action: os_user\n    roles: [primary]\n  - id: b\n    action: os_user\n    roles: [standby]\n";
        insta::assert_snapshot!(problems(text), @r"
        play.yaml:5:16: step `a` refers to `nothing`, which is no step or handler of this playbook
        play.yaml:6:14: step `a` notifies `b`, which is a step, not a handler
        play.yaml:2:1: step `a` (File) needs the parameter `template`
        play.yaml:2:1: step `a` (File) needs the parameter `dest`
        play.yaml:10:1: step id `b` is used twice
        ");
    }

    #[test]
    fn unknown_key_names_line_and_column() {
        let text =
            "steps:\n  - id: a\n    action: os_user\n    roles: [primary]\n    requirez: [b]\n";
        let report = problems(text);
        assert!(report.starts_with("play.yaml:5:"), "{report}");
        assert!(report.contains("requirez"), "{report}");
    }
}
