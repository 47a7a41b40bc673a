//! The PostgreSQL OS user: created with its group and home when it is missing.

use super::{Action, Change, PlanContext, PlannedStep, RemoteOperation, StepInput};
use crate::diagnostic::Diagnostic;
use crate::script::{HostScript, Script};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OsUser {}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreateOsUser {
    pub name: String,
    pub group: String,
    pub home: String,
}

impl Action for OsUser {
    fn desire(_input: &StepInput) -> Result<OsUser, Diagnostic> {
        Ok(OsUser {})
    }

    fn plan(&self, context: &PlanContext) -> PlannedStep {
        let settings = context.settings();
        let name = &settings.os_user;
        match &context.facts.os_user_home {
            Some(home) => PlannedStep::noop(format!("user {name} exists (home {home})")),
            None => PlannedStep::change(
                Change::Create,
                format!("create OS user {name}"),
                CreateOsUser {
                    name: name.clone(),
                    group: settings.os_group.clone(),
                    home: settings.home_dir.clone(),
                },
            ),
        }
    }
}

impl RemoteOperation for CreateOsUser {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        let script = Script::new(
            "create_os_user",
            include_str!("scripts/create_os_user.sh"),
            "root",
        )
        .text("OS_USER", &self.name)
        .text("OS_GROUP", &self.group)
        .text("HOME_DIR", &self.home);
        Ok(vec![HostScript::own(script)])
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::check::{Fixture, check};

    #[test]
    fn a_missing_user_is_created() {
        let fixture = Fixture::fresh().edit("db1", |facts| facts.os_user_home = None);
        insta::assert_snapshot!(check(&fixture, "db1", "os_user"));
    }

    #[test]
    fn an_existing_user_is_left_alone() {
        insta::assert_snapshot!(check(&Fixture::fresh(), "db1", "os_user"));
    }
}
