//! A primary's cluster: made with the inventory's `pg_init_command` when its data
//! directory holds none.

use super::{Action, Change, Member, PlanContext, PlannedStep, RemoteOperation, StepInput};
use crate::diagnostic::Diagnostic;
use crate::script::{HostScript, Script};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterInit {}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InitCluster {
    pub command: String,
}

impl Action for ClusterInit {
    fn desire(_input: &StepInput) -> Result<ClusterInit, Diagnostic> {
        Ok(ClusterInit {})
    }

    fn expose<'a>(&'a self, member: &mut Member<'a>) {
        member.initialises_cluster = true;
    }

    fn plan(&self, context: &PlanContext) -> PlannedStep {
        let settings = context.settings();
        if let Some(version) = &context.facts.data_directory.pg_version {
            return PlannedStep::noop(format!(
                "cluster in {} exists (PostgreSQL {version})",
                settings.data_dir
            ));
        }
        let mut step = PlannedStep::change(
            Change::Create,
            format!(
                "create a cluster in {} with `{}`",
                settings.data_dir, settings.init_command
            ),
            InitCluster {
                command: settings.init_command.clone(),
            },
        );
        if !context.facts.postgres_installed {
            step.refused = Some(format!(
                "PostgreSQL {} is not installed: {}/postgres is missing",
                settings.pg_version, settings.bin_dir
            ));
        }
        step
    }
}

impl RemoteOperation for InitCluster {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        let script = Script::new(
            "init_cluster",
            include_str!("scripts/init_cluster.sh"),
            "root",
        )
        .text("INIT_COMMAND", &self.command);
        Ok(vec![HostScript::own(script)])
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::check::{Fixture, check};

    #[test]
    fn an_empty_data_directory_gets_a_cluster() {
        let fixture = Fixture::fresh().edit("db1", |facts| {
            facts.data_directory = Default::default();
            facts.server = None;
        });
        insta::assert_snapshot!(check(&fixture, "db1", "cluster"));
    }

    #[test]
    fn without_postgresql_installed_the_cluster_is_refused() {
        let fixture = Fixture::fresh().edit("db1", |facts| {
            facts.data_directory = Default::default();
            facts.server = None;
            facts.postgres_installed = false;
        });
        insta::assert_snapshot!(check(&fixture, "db1", "cluster"));
    }

    #[test]
    fn an_existing_cluster_is_kept() {
        insta::assert_snapshot!(check(&Fixture::fresh(), "db1", "cluster"));
    }
}
