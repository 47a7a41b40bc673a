//! The PostgreSQL service: started when it does not run, restarted when a setting
//! that only a restart applies changed, reloaded for the others, stopped to fence
//! a former primary. Whether to restart is read from the server, so a run
//! interrupted between writing and restarting is finished by the next one.

use super::{Action, AppliesBy, Change, PlanContext, PlannedStep, RemoteOperation, StepInput};
use crate::diagnostic::Diagnostic;
use crate::inventory::HostSettings;
use crate::script::{HostScript, Script};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Service {}

/// How the service step brings the server to its new configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceAction {
    Start,
    /// Stop (the split-brain guard fences a former primary).
    Stop,
    Restart,
    /// Reload, then restart if PostgreSQL reports `pending_restart`.
    Reload,
}

impl ServiceAction {
    fn name(self) -> &'static str {
        match self {
            ServiceAction::Start => "start",
            ServiceAction::Stop => "stop",
            ServiceAction::Restart => "restart",
            ServiceAction::Reload => "reload",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ControlServer {
    pub action: ServiceAction,
    /// Configuration files this run replaced: when the server does not come up
    /// with them, their versions before are put back and it is started again.
    pub roll_back: Vec<String>,
    /// How a restart treats the members of a running cluster (set by the planner's
    /// rolling order, `plan::rolling`).
    pub restart: RestartChecks,
    /// A primary's standbys as the inventory has them (their `application_name`s):
    /// those that streamed from it before its restart must stream again before
    /// the restart is done. A standby leaving the cluster in this run is not
    /// among them (its access may be gone with this very restart).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub standbys: Vec<String>,
    #[serde(skip)]
    pub server: HostSettings,
}

/// The checks around a restart that keep a live cluster safe.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RestartChecks {
    /// A standby: after it restarted, it must be this few bytes of WAL behind its
    /// upstream, within [`CATCH_UP_SECONDS`], before the step succeeds (and the
    /// rollout goes on).
    pub max_lag_bytes: Option<u64>,
    /// A primary: it restarts only once no transaction has been open longer than
    /// this, waiting for one at most [`TRANSACTION_WAIT_SECONDS`].
    pub max_transaction_age_seconds: Option<u64>,
}

/// How long a restarted standby may take to catch up to `--max-lag`.
pub const CATCH_UP_SECONDS: u32 = 120;
/// How long a primary's restart waits for old transactions to end.
pub const TRANSACTION_WAIT_SECONDS: u32 = 60;

impl Action for Service {
    fn desire(_input: &StepInput) -> Result<Service, Diagnostic> {
        Ok(Service {})
    }

    fn plan(&self, context: &PlanContext) -> PlannedStep {
        let operation = |action| ControlServer {
            action,
            roll_back: context.replaced_configuration.to_vec(),
            restart: RestartChecks::default(),
            standbys: Vec::new(),
            server: context.settings().clone(),
        };
        let replaced = context.host.data_replaced;
        let Some(server) = context.facts.server.as_ref().filter(|_| !replaced) else {
            let why = if replaced {
                "new data directory".to_string()
            } else {
                match &context.facts.server_error {
                    Some(error) => format!(
                        "it does not answer: {}",
                        error.lines().next().unwrap_or_default()
                    ),
                    None => "not running".into(),
                }
            };
            return PlannedStep::change(
                Change::Start,
                format!("start PostgreSQL ({why})"),
                operation(ServiceAction::Start),
            );
        };
        let mut needs_restart: Vec<String> = server
            .settings_pending_restart()
            .iter()
            .map(|name| format!("{name} (pending restart)"))
            .collect();
        needs_restart.extend(
            context
                .setting_changes
                .iter()
                .filter(|change| change.applies_by == AppliesBy::Restart)
                .map(|change| change.name.clone()),
        );
        if !needs_restart.is_empty() {
            return PlannedStep::change(
                Change::Restart,
                format!(
                    "restart PostgreSQL: {} need a restart",
                    needs_restart.join(", ")
                ),
                operation(ServiceAction::Restart),
            );
        }
        if !context.notified_by.is_empty() {
            return PlannedStep::change(
                Change::Reload,
                format!(
                    "reload PostgreSQL: {} changed",
                    context.notified_by.join(", ")
                ),
                operation(ServiceAction::Reload),
            );
        }
        let stale_files: Vec<&str> = context
            .host
            .config_files
            .iter()
            .copied()
            .filter(|path| {
                context
                    .facts
                    .file(path)
                    .is_some_and(|file| file.attributes.modified > server.configuration_loaded)
            })
            .collect();
        if !stale_files.is_empty() {
            return PlannedStep::change(
                Change::Reload,
                format!(
                    "reload PostgreSQL: {} changed on disk after the server last read it",
                    stale_files.join(", ")
                ),
                operation(ServiceAction::Reload),
            );
        }
        PlannedStep::noop("PostgreSQL runs with the current configuration".to_string())
    }
}

impl ControlServer {
    /// Stops the server (a fence, a switchover's first step).
    pub fn stop(server: &HostSettings) -> ControlServer {
        ControlServer {
            action: ServiceAction::Stop,
            roll_back: Vec::new(),
            restart: RestartChecks::default(),
            standbys: Vec::new(),
            server: server.clone(),
        }
    }

    pub fn script(&self) -> Script {
        let server = &self.server;
        Script::for_server(
            "control_server",
            include_str!("scripts/control_server.sh"),
            server,
        )
        .number("SERVICE_ACTION", self.action.name())
        .text("START_COMMAND", &server.start_command)
        .text("STOP_COMMAND", &server.stop_command)
        .text("RESTART_COMMAND", &server.restart_command)
        .text("RELOAD_COMMAND", &server.reload_command)
        .text(
            "CONFIG_FILE",
            &format!("{}/postgresql.conf", server.config_dir),
        )
        .text("ROLL_BACK_FILES", &self.roll_back.join("\n"))
        .text("EXPECTED_STANDBYS", &self.standbys.join("\n"))
        .text(
            "MAX_LAG_BYTES",
            &self
                .restart
                .max_lag_bytes
                .map(|bytes| bytes.to_string())
                .unwrap_or_default(),
        )
        .number("CATCH_UP_SECONDS", CATCH_UP_SECONDS)
        .text(
            "MAX_TRANSACTION_AGE",
            &self
                .restart
                .max_transaction_age_seconds
                .map(|seconds| seconds.to_string())
                .unwrap_or_default(),
        )
        .number("TRANSACTION_WAIT_SECONDS", TRANSACTION_WAIT_SECONDS)
    }
}

impl RemoteOperation for ControlServer {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        Ok(vec![HostScript::own(self.script())])
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::check::{Fixture, check};

    #[test]
    fn a_stopped_server_is_started() {
        let fixture = Fixture::converged().edit("db1", |facts| facts.server = None);
        insta::assert_snapshot!(check(&fixture, "db1", "pg_service"));
    }

    #[test]
    fn a_changed_postmaster_setting_restarts() {
        let fixture = Fixture::converged().edit("db1", |facts| {
            if let Some(file) = facts
                .files
                .get_mut("/etc/postgresql/15/main/postgresql.conf")
            {
                file.content = b"max_connections = 50\n".to_vec();
            }
            if let Some(setting) = facts
                .server
                .as_mut()
                .and_then(|server| server.settings.get_mut("max_connections"))
            {
                setting.value = "50".into();
            }
        });
        insta::assert_snapshot!(check(&fixture, "db1", "pg_service"));
    }

    #[test]
    fn a_changed_access_rule_reloads() {
        let fixture = Fixture::converged().edit("db1", |facts| {
            if let Some(file) = facts.files.get_mut("/etc/postgresql/15/main/pg_hba.conf") {
                file.content = b"local all all peer\n".to_vec();
            }
        });
        insta::assert_snapshot!(check(&fixture, "db1", "pg_service"));
    }

    #[test]
    fn a_file_written_after_the_last_reload_reloads() {
        let fixture = Fixture::converged().edit("db1", |facts| {
            if let Some(file) = facts.files.get_mut("/etc/postgresql/15/main/pg_hba.conf") {
                file.attributes.modified = 3_000;
            }
        });
        insta::assert_snapshot!(check(&fixture, "db1", "pg_service"));
    }

    #[test]
    fn a_server_with_the_current_configuration_is_left_alone() {
        insta::assert_snapshot!(check(&Fixture::converged(), "db1", "pg_service"));
    }
}
