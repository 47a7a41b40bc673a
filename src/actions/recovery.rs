//! A standby's recovery configuration: `standby.signal` from PostgreSQL 12 (the
//! settings live in `postgresql.conf`), a rendered `recovery.conf` before.

use super::file::DesiredFile;
use super::{Action, Change, PlanContext, PlannedStep, RemoteOperation, StepInput};
use crate::diagnostic::Diagnostic;
use crate::facts::FactsRequest;
use crate::inventory::HostSettings;
use crate::script::{HostScript, Script};
use crate::versions::STANDBY_SIGNAL;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecoveryConfig {
    /// The rendered `recovery.conf` for PostgreSQL 11 and earlier; from 12 the step
    /// writes `standby.signal`.
    pub recovery_conf: Option<DesiredFile>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WriteStandbySignal {
    #[serde(skip)]
    pub server: HostSettings,
}

impl Action for RecoveryConfig {
    const PARAMETERS: &'static [&'static str] = &["template"];

    fn desire(input: &StepInput) -> Result<RecoveryConfig, Diagnostic> {
        if STANDBY_SIGNAL.in_version(input.settings.pg_version) {
            return Ok(RecoveryConfig {
                recovery_conf: None,
            });
        }
        let path = format!("{}/recovery.conf", input.settings.data_dir);
        Ok(RecoveryConfig {
            recovery_conf: Some(DesiredFile::from_step(input, path, 0o600)?),
        })
    }

    fn facts_needed(&self, request: &mut FactsRequest) {
        if let Some(file) = &self.recovery_conf {
            request.want_file(&file.path);
        }
    }

    fn plan(&self, context: &PlanContext) -> PlannedStep {
        if let Some(file) = &self.recovery_conf {
            return file.plan(context);
        }
        let data_dir = &context.settings().data_dir;
        if context.host.data_replaced || !context.facts.data_directory.standby_signal {
            PlannedStep::change(
                Change::Create,
                format!("create {data_dir}/standby.signal"),
                WriteStandbySignal {
                    server: context.settings().clone(),
                },
            )
        } else {
            PlannedStep::noop(format!("{data_dir}/standby.signal exists"))
        }
    }
}

impl RemoteOperation for WriteStandbySignal {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        let script = Script::for_server(
            "write_standby_signal",
            include_str!("scripts/write_standby_signal.sh"),
            &self.server,
        )
        .as_pg_user();
        Ok(vec![HostScript::own(script)])
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::check::{Fixture, check};

    #[test]
    fn a_new_standby_gets_its_signal_file() {
        insta::assert_snapshot!(check(&Fixture::fresh(), "db2", "recovery_config"));
    }

    #[test]
    fn a_standby_with_its_signal_file_is_left_alone() {
        insta::assert_snapshot!(check(&Fixture::converged(), "db2", "recovery_config"));
    }

    #[test]
    fn postgresql_11_writes_recovery_conf() {
        insta::assert_snapshot!(check(
            &Fixture::fresh_version("11"),
            "db2",
            "recovery_config"
        ));
    }
}
