//! The plan: plain data saying, host by host and step by step, what would change and
//! the operation that changes it. `--dry-run` prints it; `apply` executes exactly it.

pub mod build;
pub mod conf;
pub mod document;
pub mod guard;
pub mod managed_block;
pub mod saved;
#[cfg(test)]
mod tests;

use crate::desired::NodeId;
use crate::inventory::Role;
use crate::playbook::ConfigCheck;
use crate::secret::Sensitive;
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

// The variants differ in size, but a plan holds a few operations per host and is
// never copied in bulk: boxing the contexts would buy nothing.
#[allow(clippy::large_enum_variant)]
/// Exactly what the executor does for one step. Every parameter is here, so the
/// executor needs nothing but the operation and a connection.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "operation", rename_all = "snake_case")]
pub enum Operation {
    CreateOsUser {
        name: String,
        group: String,
        home: String,
    },
    EnsureDirectory {
        path: String,
        owner: String,
        group: String,
        mode: u32,
    },
    InitCluster {
        command: String,
    },
    /// Writes a file atomically (temporary file, then rename) and keeps the
    /// previous version beside it; with `check`, PostgreSQL checks the new file and
    /// a rejected one is put back.
    WriteFile {
        path: String,
        content: Sensitive<String>,
        owner: String,
        group: String,
        mode: u32,
        check: Option<ConfigCheck>,
        #[serde(skip)]
        context: ServerContext,
    },
    BaseBackup {
        upstream: String,
        upstream_host: String,
        upstream_port: u16,
        #[serde(skip)]
        context: ServerContext,
    },
    /// Brings a former primary onto its upstream's timeline with `pg_rewind`.
    Rewind {
        upstream: String,
        upstream_host: String,
        upstream_port: u16,
        #[serde(skip)]
        context: ServerContext,
    },
    WriteStandbySignal {
        data_dir: String,
        owner: String,
    },
    ReplicationRole {
        name: String,
        /// A SCRAM verifier made from the password: the plaintext never leaves this machine.
        verifier: Sensitive<String>,
        #[serde(skip)]
        context: ServerContext,
    },
    Service {
        action: ServiceAction,
        #[serde(skip)]
        context: ServerContext,
    },
    /// Makes a key pair for the PostgreSQL OS user when it has none.
    GenerateSshKey {
        private_path: String,
        os_user: String,
    },
    /// Writes `authorized_keys` once the public keys made in this run are read from
    /// their hosts (`collect`: host and public key path); `known` holds the others.
    CollectAuthorizedKeys {
        path: String,
        existing: String,
        known: Vec<String>,
        collect: Vec<(String, String)>,
        owner: String,
        group: String,
        #[serde(skip)]
        context: ServerContext,
    },
    /// Switches to a new WAL segment on the primary and waits until the archiver
    /// has archived it (and, for a directory, until it is there) with no new failure.
    VerifyArchive {
        directory: Option<String>,
        destination: String,
        #[serde(skip)]
        context: ServerContext,
    },
    VerifyStreaming {
        upstream: String,
        upstream_host: String,
        #[serde(skip)]
        context: ServerContext,
        #[serde(skip)]
        upstream_context: ServerContext,
        application_name: String,
    },
}

/// How to reach and control PostgreSQL on a host from a script running there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerContext {
    pub os_user: String,
    pub os_group: String,
    pub pg_version_num: u32,
    pub bin_dir: String,
    pub data_dir: String,
    pub config_dir: String,
    pub socket_dir: String,
    pub port: u16,
    pub home_dir: String,
    pub replication_user: String,
    pub start_command: String,
    pub stop_command: String,
    pub restart_command: String,
    pub reload_command: String,
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
    pub operation: Option<Operation>,
}

impl PlannedStep {
    pub fn node(&self, host: &str) -> NodeId {
        NodeId {
            host: host.to_string(),
            step: self.id.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostPlan {
    pub name: String,
    pub address: String,
    pub role: Role,
    pub upstream: Option<String>,
    /// Why the host could not be planned (unreachable, facts unreadable).
    pub error: Option<String>,
    pub steps: Vec<PlannedStep>,
}

/// Counts for the closing line of a plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub start: usize,
    pub stop: usize,
    pub restart: usize,
    pub reload: usize,
    pub replace_data: usize,
    pub destructive: usize,
    pub refused: usize,
    pub unreachable: usize,
}

impl Summary {
    pub fn changes(&self) -> usize {
        self.create
            + self.update
            + self.start
            + self.stop
            + self.restart
            + self.reload
            + self.replace_data
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub hosts: Vec<HostPlan>,
    /// Why nothing may run (the split-brain guard), when the plan is blocked.
    pub blocked: Option<String>,
    /// Every step of every host, each after the steps it depends on.
    #[serde(skip)]
    pub order: Vec<NodeId>,
    /// Each step with the steps it waits for.
    #[serde(skip)]
    pub dependencies: Vec<(NodeId, Vec<NodeId>)>,
    /// Dependencies that only order: their failure does not stop the step.
    #[serde(skip)]
    pub ordering_only: Vec<(NodeId, NodeId)>,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for host in &self.hosts {
            if host.error.is_some() {
                summary.unreachable += 1;
            }
            for step in &host.steps {
                match step.change {
                    Change::Create => summary.create += 1,
                    Change::Update => summary.update += 1,
                    Change::Start => summary.start += 1,
                    Change::Stop => summary.stop += 1,
                    Change::Restart => summary.restart += 1,
                    Change::Reload => summary.reload += 1,
                    Change::ReplaceData => summary.replace_data += 1,
                    Change::Noop | Change::Check => {}
                }
                summary.destructive += usize::from(step.destructive);
                summary.refused += usize::from(step.refused.is_some());
            }
        }
        summary
    }

    pub fn step(&self, node: &NodeId) -> Option<&PlannedStep> {
        self.hosts
            .iter()
            .find(|host| host.name == node.host)?
            .steps
            .iter()
            .find(|step| step.id == node.step)
    }

    pub fn host(&self, name: &str) -> Option<&HostPlan> {
        self.hosts.iter().find(|host| host.name == name)
    }
}
