//! A directory (the WAL archive): created or corrected with its owner and mode.

use super::{Action, Change, PlanContext, PlannedStep, RemoteOperation, StepInput};
use crate::diagnostic::Diagnostic;
use crate::facts::FactsRequest;
use crate::script::{HostScript, Script};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Directory {
    pub path: String,
    pub owner: String,
    pub group: String,
    pub mode: u32,
    /// The PostgreSQL OS user, who makes a directory under one it owns.
    pub pg_os_user: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnsureDirectory {
    pub path: String,
    pub owner: String,
    pub group: String,
    pub mode: u32,
    pub pg_os_user: String,
}

impl Action for Directory {
    const PARAMETERS: &'static [&'static str] = &["path"];

    fn desire(input: &StepInput) -> Result<Directory, Diagnostic> {
        Ok(Directory {
            path: input.path.clone().unwrap_or_default(),
            owner: input.owner.clone(),
            group: input.group.clone(),
            mode: input.mode_or(0o700),
            pg_os_user: input.settings.os_user.clone(),
        })
    }

    fn facts_needed(&self, request: &mut FactsRequest) {
        request.want_directory(&self.path);
    }

    fn plan(&self, context: &PlanContext) -> PlannedStep {
        let Directory {
            path,
            owner,
            group,
            mode,
            pg_os_user,
        } = self;
        let operation = EnsureDirectory {
            path: path.clone(),
            owner: owner.clone(),
            group: group.clone(),
            mode: *mode,
            pg_os_user: pg_os_user.clone(),
        };
        let Some(observed) = context.facts.directories.get(path) else {
            return PlannedStep::change(
                Change::Create,
                format!("create directory {path} ({owner}:{group} {mode:04o})"),
                operation,
            );
        };
        let differences = super::outcome::attribute_differences(observed, owner, group, *mode);
        if differences.is_empty() {
            return PlannedStep::noop(format!("directory {path} is as wanted"));
        }
        PlannedStep::change(
            Change::Update,
            format!("directory {path}: {}", differences.join(", ")),
            operation,
        )
    }
}

impl RemoteOperation for EnsureDirectory {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        let script = Script::new(
            "ensure_directory",
            include_str!("scripts/ensure_directory.sh"),
            &self.pg_os_user,
        )
        .text("DIR_PATH", &self.path)
        .text("OWNER", &self.owner)
        .text("GROUP", &self.group)
        .number("MODE", format!("{:04o}", self.mode));
        Ok(vec![HostScript::own(script)])
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::check::{Fixture, check};

    #[test]
    fn a_missing_directory_is_created() {
        insta::assert_snapshot!(check(&Fixture::fresh(), "db1", "wal_archive_dir"));
    }

    #[test]
    fn a_directory_with_the_wrong_owner_is_corrected() {
        let fixture = Fixture::converged().edit("db1", |facts| {
            for attributes in facts.directories.values_mut() {
                attributes.owner = "root".into();
            }
        });
        insta::assert_snapshot!(check(&fixture, "db1", "wal_archive_dir"));
    }

    /// The PostgreSQL OS user replaced the archive directory with a link to a
    /// directory of root's: the plan names it and refuses, never plans a mode
    /// change that root would make on the link's target.
    #[test]
    fn a_directory_replaced_by_a_link_is_refused_by_name() {
        let fixture = Fixture::converged().edit("db1", |facts| {
            let paths: Vec<String> = facts.directories.keys().cloned().collect();
            for path in paths {
                facts.directories.shift_remove(&path);
                facts.links.insert(path, "/usr/local/sbin".into());
            }
        });
        let plan = check(&fixture, "db1", "wal_archive_dir");
        assert!(
            plan.contains("is a link to `/usr/local/sbin`") && plan.contains("refused"),
            "{plan}"
        );
        assert!(!plan.contains("ensure_directory"), "{plan}");
    }

    #[test]
    fn a_directory_as_wanted_is_left_alone() {
        insta::assert_snapshot!(check(&Fixture::converged(), "db1", "wal_archive_dir"));
    }
}
