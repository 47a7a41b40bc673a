//! The replication role on the primary: REPLICATION LOGIN, the inventory's
//! password (compared with the stored SCRAM verifier, never sent in plaintext) and,
//! from PostgreSQL 11, the grants `pg_rewind` needs.

use super::{Action, Change, PlanContext, PlannedStep, RemoteOperation, StepInput};
use crate::diagnostic::Diagnostic;
use crate::inventory::HostSettings;
use crate::scram;
use crate::script::{HostScript, Script};
use crate::secret::{REDACTED, Sensitive};
use crate::versions::REWIND_WITHOUT_SUPERUSER;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplicationRole {}

/// Creates or alters the role. The verifier is made from the password when the
/// script is built, just before it runs: the plan holds no salt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SetReplicationRole {
    pub name: String,
    pub password: Sensitive<String>,
    #[serde(skip)]
    pub server: HostSettings,
}

impl Action for ReplicationRole {
    fn desire(_input: &StepInput) -> Result<ReplicationRole, Diagnostic> {
        Ok(ReplicationRole {})
    }

    fn plan(&self, context: &PlanContext) -> PlannedStep {
        let settings = context.settings();
        let name = &settings.replication_user;
        let Some(password) = &settings.replication_password else {
            return PlannedStep::refused(
                "the variable `replication_password` is not set".to_string(),
            );
        };
        if let Err(error) = scram::check_password(password.expose()) {
            return PlannedStep::refused(format!(
                "the replication password cannot be used: {error}"
            ));
        }
        let operation = || SetReplicationRole {
            name: name.clone(),
            password: password.clone(),
            server: settings.clone(),
        };
        let Some(server) = context.lasting_server() else {
            return PlannedStep::change(
                Change::Create,
                format!(
                    "create role {name} (REPLICATION LOGIN, password {REDACTED}) once the server runs"
                ),
                operation(),
            );
        };
        let Some(role) = &server.replication_role else {
            return PlannedStep::change(
                Change::Create,
                format!("create role {name} (REPLICATION LOGIN, password {REDACTED})"),
                operation(),
            );
        };
        let mut differences = Vec::new();
        if !role.replication {
            differences.push("REPLICATION".to_string());
        }
        if !role.can_login {
            differences.push("LOGIN".to_string());
        }
        if REWIND_WITHOUT_SUPERUSER.in_version(settings.pg_version) && !role.rewind_grants {
            differences.push("the grants pg_rewind needs".to_string());
        }
        if !scram::verifier_matches(role.password_verifier.expose(), password.expose()) {
            differences.push(format!("password {REDACTED}"));
        }
        if differences.is_empty() {
            return PlannedStep::noop(format!(
                "role {name} has REPLICATION LOGIN and the wanted password"
            ));
        }
        PlannedStep::change(
            Change::Update,
            format!("alter role {name}: set {}", differences.join(", ")),
            operation(),
        )
    }
}

impl RemoteOperation for SetReplicationRole {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        let verifier =
            scram::verifier_for_psql(self.password.expose(), "the replication password")?;
        let script = Script::for_server(
            "set_replication_role",
            include_str!("scripts/set_replication_role.sh"),
            &self.server,
        )
        .text("ROLE_NAME", &self.name)
        .hidden("VERIFIER", &verifier)
        .flag(
            "REWIND_GRANTS",
            REWIND_WITHOUT_SUPERUSER.in_version(self.server.pg_version),
        );
        Ok(vec![HostScript::own(script)])
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::check::{Fixture, check};

    #[test]
    fn a_missing_role_is_created() {
        insta::assert_snapshot!(check(&Fixture::fresh(), "db1", "replication_role"));
    }

    #[test]
    fn a_role_with_the_wanted_password_is_left_alone() {
        insta::assert_snapshot!(check(&Fixture::converged(), "db1", "replication_role"));
    }

    #[test]
    fn a_role_without_login_and_grants_is_altered() {
        let fixture = Fixture::converged().edit("db1", |facts| {
            if let Some(role) = facts
                .server
                .as_mut()
                .and_then(|server| server.replication_role.as_mut())
            {
                role.can_login = false;
                role.rewind_grants = false;
            }
        });
        insta::assert_snapshot!(check(&fixture, "db1", "replication_role"));
    }
}
