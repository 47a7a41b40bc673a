//! Actions: one module per kind of step. Each owns what it needs from the desired
//! state (`Action::desire`), the facts it reads (`facts_needed`), the pure decision
//! (`plan`: desired state and facts in, a `PlannedStep` out) and the operations it
//! runs, each with its remote script. The playbook names actions; the planner and
//! the executor reach them only through the registry below.
//!
//! A new step kind is a new module and one line in `register!`.

mod context;
pub mod managed_block;
pub mod outcome;

pub mod altered_settings;
pub mod cluster_init;
pub mod data_directory;
pub mod decommission;
pub mod directory;
pub mod file;
pub mod os_user;
pub mod pg_hba_conf;
pub mod pgbackrest;
pub mod pgbouncer;
pub mod postgresql_conf;
pub mod promotion;
pub mod recovery;
pub mod replication_slot;
pub mod role;
pub mod service;
pub mod ssh_keys;
pub mod upgrade;
pub mod verify;
pub mod virtual_ip;

pub use context::{DerivedValues, Member, PlanContext, StepInput};
pub use outcome::{AppliesBy, Change, PlannedStep, SettingChange};

use crate::diagnostic::Diagnostic;
use crate::facts::FactsRequest;
use crate::script::{HostScript, Script};

/// What every kind of step provides.
pub trait Action: Sized {
    /// Playbook parameters the step cannot do without (`template`, `dest`, `path`).
    const PARAMETERS: &'static [&'static str] = &[];

    /// The step as one host wants it, from the playbook's rendered parameters.
    fn desire(input: &StepInput) -> Result<Self, Diagnostic>;

    /// Files and directories the facts script must read for `plan` to compare.
    fn facts_needed(&self, _request: &mut FactsRequest) {}

    /// The pure decision: what changes, or why nothing does.
    fn plan(&self, context: &PlanContext) -> PlannedStep;

    /// What this step does that the steps of other hosts (and later ones of its
    /// own) depend on, written into its host's `Member`: the slot it streams
    /// through, its key pair, the configuration files PostgreSQL checks...
    fn expose<'a>(&'a self, _member: &mut Member<'a>) {}

    /// The file the step renders from a template, as it is wanted.
    fn rendered_file(&self) -> Option<&file::DesiredFile> {
        None
    }
}

/// A read-only script an operation needs run when its step runs, before its own
/// scripts, for what it cannot know when it is planned (a public key another
/// member makes in the same run).
pub struct RunTimeRead {
    pub host: String,
    pub script: Script,
    /// What it reads, as the host's: "its public key".
    pub what: String,
    /// What it reads, named in full: "the public key PATH of HOST".
    pub named: String,
}

/// An operation the executor runs: its scripts, in order, each on its host.
pub trait RemoteOperation: Clone + Into<Operation> {
    fn scripts(&self) -> Result<Vec<HostScript>, String>;

    /// What the executor reads from hosts when the step runs, before anything
    /// else; the outputs go to `given_reads`.
    fn reads_when_run(&self) -> Vec<RunTimeRead> {
        Vec::new()
    }

    /// The operation this one stands for, given what each of `reads_when_run`
    /// printed, in its order.
    fn given_reads(&self, _outputs: &[String]) -> Result<Operation, String> {
        Ok(self.clone().into())
    }

    /// A script's failure as the user should read it (a rejected setting with the
    /// line of the new file that sets it).
    fn explained_failure(&self, failure: String) -> String {
        failure
    }

    /// The step, `(host, step id)`, whose report this operation needs before it
    /// can run (a switchover's wait needs the old primary's last checkpoint).
    fn needs_report_of(&self) -> Option<(&str, &str)> {
        None
    }

    /// The operation given the report `needs_report_of` names.
    fn given_report(&self, _report: &str) -> Result<Self, String> {
        Ok(self.clone())
    }

    /// What to run when this operation fails, if anything can be put back.
    fn undo(&self) -> Option<Undo> {
        None
    }

    /// The configuration file this operation replaces, keeping the version before
    /// it as `FILE.pgconverge-backup`, so a server that does not start with the new
    /// one can be started with that again.
    fn replaced_configuration(&self) -> Option<String> {
        None
    }

    /// What the step reports, from what its scripts printed (their output, by
    /// default; a backup turns pgBackRest's JSON into one line).
    fn reported(&self, output: &str) -> String {
        output.to_string()
    }
}

/// What to run when a step fails to put back what it changed: scripts in order,
/// each with what it means when it fails (the executor adds the script's own
/// words), and what to say when all of them worked. The first that fails ends it.
pub struct Undo {
    pub scripts: Vec<UndoScript>,
    pub done: String,
}

/// One script of an undo, and what its failure leaves as it is.
pub struct UndoScript {
    pub script: HostScript,
    pub failed: String,
}

/// Registers each kind of step: `Kind => module::DesiredType [Operations it owns]`.
macro_rules! register {
    (
        steps { $( $kind:ident => $module:ident :: $desired:ident [ $( $operation:ident ),* ] ),* $(,)? }
        operations { $( $other:ident [ $( $other_operation:ident ),* ] ),* $(,)? }
    ) => {
        /// What a step does, as the playbook's `action` names it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum ActionKind { $($kind,)* }

        /// A playbook step with its parameters rendered for one host.
        #[derive(Debug, Clone, PartialEq, serde::Serialize)]
        #[serde(tag = "action", rename_all = "snake_case")]
        pub enum DesiredStep { $($kind($module::$desired),)* }

        // The variants differ in size, but a plan holds a few operations per host
        // and is never copied in bulk: boxing them would buy nothing.
        #[allow(clippy::large_enum_variant)]
        /// Exactly what the executor does for one step. Every parameter is here, so
        /// the executor needs nothing but the operation and a connection.
        #[derive(Debug, Clone, PartialEq, serde::Serialize)]
        #[serde(tag = "operation", rename_all = "snake_case")]
        pub enum Operation {
            $($($operation($module::$operation),)*)*
            $($($other_operation($other::$other_operation),)*)*
        }

        impl ActionKind {
            pub fn parameters(self) -> &'static [&'static str] {
                match self { $(ActionKind::$kind => <$module::$desired as Action>::PARAMETERS,)* }
            }

            pub fn desire(self, input: &StepInput) -> Result<DesiredStep, Diagnostic> {
                match self {
                    $(ActionKind::$kind => <$module::$desired as Action>::desire(input).map(DesiredStep::$kind),)*
                }
            }
        }

        impl DesiredStep {
            pub fn kind(&self) -> ActionKind {
                match self { $(DesiredStep::$kind(_) => ActionKind::$kind,)* }
            }

            pub fn facts_needed(&self, request: &mut FactsRequest) {
                match self { $(DesiredStep::$kind(step) => step.facts_needed(request),)* }
            }

            pub fn plan(&self, context: &PlanContext) -> PlannedStep {
                match self { $(DesiredStep::$kind(step) => step.plan(context),)* }
            }

            pub fn expose<'a>(&'a self, member: &mut Member<'a>) {
                match self { $(DesiredStep::$kind(step) => step.expose(member),)* }
            }

            /// The file a step renders from a template, as it is wanted (for
            /// `postgresql.conf` and `pg_hba.conf` adopted from the host, what
            /// pgconverge writes of it).
            pub fn rendered_file(&self) -> Option<&file::DesiredFile> {
                match self { $(DesiredStep::$kind(step) => step.rendered_file(),)* }
            }
        }

        impl Operation {
            /// The name of every kind of operation, so tests can see they cover all.
            pub const NAMES: &'static [&'static str] = &[
                $($(stringify!($operation),)*)*
                $($(stringify!($other_operation),)*)*
            ];

            pub fn name(&self) -> &'static str {
                match self {
                    $($(Operation::$operation(_) => stringify!($operation),)*)*
                    $($(Operation::$other_operation(_) => stringify!($other_operation),)*)*
                }
            }

            pub fn scripts(&self) -> Result<Vec<HostScript>, String> {
                match self {
                    $($(Operation::$operation(operation) => operation.scripts(),)*)*
                    $($(Operation::$other_operation(operation) => operation.scripts(),)*)*
                }
            }

            pub fn needs_report_of(&self) -> Option<(&str, &str)> {
                match self {
                    $($(Operation::$operation(operation) => operation.needs_report_of(),)*)*
                    $($(Operation::$other_operation(operation) => operation.needs_report_of(),)*)*
                }
            }

            pub fn given_report(&self, report: &str) -> Result<Operation, String> {
                match self {
                    $($(Operation::$operation(operation) => operation.given_report(report).map(Operation::$operation),)*)*
                    $($(Operation::$other_operation(operation) => operation.given_report(report).map(Operation::$other_operation),)*)*
                }
            }

            pub fn replaced_configuration(&self) -> Option<String> {
                match self {
                    $($(Operation::$operation(operation) => operation.replaced_configuration(),)*)*
                    $($(Operation::$other_operation(operation) => operation.replaced_configuration(),)*)*
                }
            }

            pub fn reported(&self, output: &str) -> String {
                match self {
                    $($(Operation::$operation(operation) => operation.reported(output),)*)*
                    $($(Operation::$other_operation(operation) => operation.reported(output),)*)*
                }
            }

            pub fn reads_when_run(&self) -> Vec<RunTimeRead> {
                match self {
                    $($(Operation::$operation(operation) => operation.reads_when_run(),)*)*
                    $($(Operation::$other_operation(operation) => operation.reads_when_run(),)*)*
                }
            }

            pub fn given_reads(&self, outputs: &[String]) -> Result<Operation, String> {
                match self {
                    $($(Operation::$operation(operation) => operation.given_reads(outputs),)*)*
                    $($(Operation::$other_operation(operation) => operation.given_reads(outputs),)*)*
                }
            }

            pub fn explained_failure(&self, failure: String) -> String {
                match self {
                    $($(Operation::$operation(operation) => operation.explained_failure(failure),)*)*
                    $($(Operation::$other_operation(operation) => operation.explained_failure(failure),)*)*
                }
            }

            pub fn undo(&self) -> Option<Undo> {
                match self {
                    $($(Operation::$operation(operation) => operation.undo(),)*)*
                    $($(Operation::$other_operation(operation) => operation.undo(),)*)*
                }
            }
        }

        $($(impl From<$module::$operation> for Operation {
            fn from(operation: $module::$operation) -> Operation { Operation::$operation(operation) }
        })*)*
        $($(impl From<$other::$other_operation> for Operation {
            fn from(operation: $other::$other_operation) -> Operation { Operation::$other_operation(operation) }
        })*)*
    };
}

register! {
    steps {
    OsUser => os_user::OsUser [CreateOsUser],
    Directory => directory::Directory [EnsureDirectory],
    ClusterInit => cluster_init::ClusterInit [InitCluster],
    File => file::File [WriteFile],
    PostgresqlConf => postgresql_conf::PostgresqlConf [],
    PgHbaConf => pg_hba_conf::PgHbaConf [],
    ResetAlteredSettings => altered_settings::AlteredSettings [ResetAlteredSettings],
    ReplicationSlot => replication_slot::StandbySlot [CreateSlot],
    StaleSlots => replication_slot::StaleSlots [DropSlots],
    BaseBackup => data_directory::BaseBackup [CloneUpstream, Rewind],
    RecoveryConfig => recovery::RecoveryConfig [WriteStandbySignal],
    ReplicationRole => role::ReplicationRole [SetReplicationRole],
    Service => service::Service [ControlServer],
    VerifyStreaming => verify::VerifyStreaming [CheckStreaming],
    VerifyArchive => verify::VerifyArchive [CheckArchive],
    SshKey => ssh_keys::SshKey [GenerateSshKey],
    AuthorizedKeys => ssh_keys::AuthorizedKeys [CollectAuthorizedKeys],
    KnownHosts => ssh_keys::KnownHosts [],
    PgbackrestStanza => pgbackrest::PgbackrestStanza [PrepareStanza, TakeBackup, VerifyBackup],
    PgbackrestFirstBackup => pgbackrest::PgbackrestFirstBackup [],
    VirtualIp => virtual_ip::VirtualIpStep [HoldVirtualIp, ReleaseVirtualIp],
    PgbouncerIni => pgbouncer::PgbouncerIni [],
    PgbouncerDatabases => pgbouncer::PgbouncerDatabases [],
    PgbouncerService => pgbouncer::PgbouncerService [ControlPgbouncer, PausePgbouncer, RepointPgbouncer],
    PgbouncerAuth => pgbouncer::PgbouncerAuth [SetPgbouncerAuth],
    }
    operations {
        promotion [Checkpoint, StopPrimary, ReadLastCheckpoint, WaitForReplay, Promote],
        upgrade [ProbeUpgrade, StopForUpgrade, CompareCheckpoint, InitNewCluster, CarryConfiguration, RunPgUpgrade, TransferStandby, MarkOldCluster, AnalyzeNewCluster, ReadUpgradeMarker, CleanUpOldCluster],
    }
}

#[cfg(test)]
mod tests {
    /// Every action script opens with a comment saying what it does, and stops
    /// at the first failing command (`set -eu`) or says why it must not (a line
    /// `# Not \`set -e\`: ...`, for a script that reads a failed command's
    /// status or must go on to undo what it did).
    #[test]
    fn every_script_says_what_it_does_and_stops_at_a_failure_or_says_why_not() {
        let directory =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/actions/scripts");
        let mut problems = Vec::new();
        let mut seen = 0;
        for entry in std::fs::read_dir(&directory).expect("the scripts are readable") {
            let path = entry.expect("a directory entry").path();
            if path.extension().is_none_or(|extension| extension != "sh") {
                continue;
            }
            seen += 1;
            let name = path.display().to_string();
            let text = std::fs::read_to_string(&path).expect("a script is text");
            let first = text.lines().next().unwrap_or_default();
            if !first.starts_with("# ") || first.len() < 10 {
                problems.push(format!("{name}: no header comment saying what it does"));
            }
            let header_end = text
                .lines()
                .position(|line| !line.starts_with('#'))
                .unwrap_or(0);
            let after_header = text.lines().nth(header_end).unwrap_or_default();
            let exempted = text
                .lines()
                .take(header_end)
                .any(|line| line.starts_with("# Not `set -e`: "));
            if after_header != "set -eu" && !exempted {
                problems.push(format!(
                    "{name}: neither `set -eu` right after its header comment nor a `# Not \\`set -e\\`: WHY` line in it"
                ));
            }
        }
        assert!(
            seen > 30,
            "only {seen} scripts found in {}",
            directory.display()
        );
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
