//! The planner: desired state × facts → `Plan`. Pure: every decision is made from
//! the facts gathered before, so the same inputs always give the same plan.

use super::managed_block;
use super::*;
use crate::desired::{DesiredFile, DesiredHost, DesiredState, DesiredStep};
use crate::facts::{HostFacts, PathAttributes};
use crate::playbook::Playbook;
use crate::scram;
use crate::secret::REDACTED;
use indexmap::{IndexMap, IndexSet};
use std::path::Path;

/// Choices the user makes on the command line that change the plan.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Only these hosts are planned (all when empty).
    pub limit: Vec<String>,
    /// Hosts whose data directory may be replaced although it holds user databases.
    pub replace_data: Vec<String>,
}

/// Facts of each host, or why they could not be gathered.
pub type GatheredFacts = IndexMap<String, Result<HostFacts, String>>;

pub fn plan(
    desired: &DesiredState,
    playbook: &Playbook,
    facts: &GatheredFacts,
    options: &PlanOptions,
) -> Plan {
    let in_scope =
        |host: &str| options.limit.is_empty() || options.limit.iter().any(|name| name == host);
    let guard = super::guard::split_brain_guard(desired, facts);
    let mut order: Vec<NodeId> = match desired.graph.topological_order() {
        Ok(order) => order
            .into_iter()
            .filter(|node| in_scope(&node.host))
            .collect(),
        // `DesiredState::build` already refused a graph with a cycle.
        Err(_) => Vec::new(),
    };
    let data_replaced: IndexSet<String> = desired
        .hosts
        .values()
        .filter(|host| {
            facts
                .get(&host.name)
                .and_then(|f| f.as_ref().ok())
                .is_some_and(|f| replaces_data(host, f, desired, facts))
        })
        .map(|host| host.name.clone())
        .collect();
    let mut hosts: Vec<HostPlan> = desired
        .hosts
        .values()
        .filter(|host| in_scope(&host.name))
        .map(|host| {
            let host_order: Vec<&str> = order
                .iter()
                .filter(|node| node.host == host.name)
                .map(|node| node.step.as_str())
                .collect();
            match facts.get(&host.name) {
                Some(Ok(host_facts)) => {
                    let planner = HostPlanner {
                        desired,
                        playbook,
                        options,
                        host,
                        facts: host_facts,
                        all_facts: facts,
                        data_replaced: &data_replaced,
                    };
                    planner.plan(&host_order)
                }
                Some(Err(error)) => unreachable_host(host, error.clone()),
                None => unreachable_host(host, "no facts were gathered".to_string()),
            }
        })
        .collect();
    let mut blocked = guard.blocked.clone();
    let guard_edges = guard.edges(desired, &order);
    for (host_name, fence) in &guard.fences {
        match hosts.iter_mut().find(|host| &host.name == host_name) {
            Some(host) if host.error.is_none() => {
                host.steps.insert(0, fence.clone());
                order.insert(0, fence.node(host_name));
            }
            _ => {
                blocked.get_or_insert_with(|| {
                    format!("split-brain guard: `{host_name}` is a writable primary beside the inventory's primary and is not part of this run: include it (--limit) or stop it first. Nothing was changed")
                });
            }
        }
    }
    let dependencies = order
        .iter()
        .map(|node| {
            let mut dependencies: Vec<NodeId> = desired
                .graph
                .dependencies_of(node)
                .filter(|dep| in_scope(&dep.host))
                .cloned()
                .collect();
            dependencies.extend(
                guard_edges
                    .iter()
                    .filter(|(dependent, _)| dependent == node)
                    .map(|(_, fence)| fence.clone()),
            );
            (node.clone(), dependencies)
        })
        .collect();
    Plan {
        hosts,
        blocked,
        order,
        dependencies,
        ordering_only: desired.ordering_only.clone(),
    }
}

fn unreachable_host(host: &DesiredHost, error: String) -> HostPlan {
    HostPlan {
        name: host.name.clone(),
        address: host.address.clone(),
        role: host.role,
        upstream: host.upstream.clone(),
        error: Some(error),
        steps: Vec::new(),
    }
}

/// Whether this run gives the host a new data directory (a new cluster, a base
/// backup, or a rewind that stops it and brings it onto its upstream's timeline).
fn replaces_data(
    host: &DesiredHost,
    facts: &HostFacts,
    desired: &DesiredState,
    all_facts: &GatheredFacts,
) -> bool {
    if host
        .steps
        .values()
        .any(|step| matches!(step, DesiredStep::ClusterInit))
        && !facts.data_directory.exists()
    {
        return true;
    }
    host.steps
        .values()
        .any(|step| matches!(step, DesiredStep::BaseBackup))
        && !matches!(
            data_directory_action(host, facts, desired, all_facts),
            DataDirectoryAction::Keep
        )
}

/// What a standby's data directory needs, judged by facts.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DataDirectoryAction {
    /// It already is a standby of its upstream's cluster.
    Keep,
    /// A fresh base backup, for the reason given.
    Clone(String),
    /// It belongs to the upstream's cluster but ran as a primary (a former primary
    /// after a failover): `pg_rewind` brings it onto the upstream's timeline.
    Rewind(String),
}

/// A standby not streaming from its upstream, on an older timeline than the upstream.
fn behind_upstream_timeline(
    facts: &HostFacts,
    upstream_facts: Option<&HostFacts>,
    host: &DesiredHost,
    desired: &DesiredState,
) -> bool {
    let upstream_address = host
        .upstream
        .as_ref()
        .and_then(|name| desired.hosts.get(name))
        .map(|upstream| upstream.settings.replication_host.as_str());
    let streaming = facts
        .server
        .as_ref()
        .and_then(|server| server.wal_receiver.as_ref())
        .is_some_and(|receiver| {
            receiver.status == "streaming"
                && Some(receiver.sender_host.as_str()) == upstream_address
        });
    let own = facts
        .server
        .as_ref()
        .and_then(|server| server.wal_receiver.as_ref())
        .and_then(|receiver| receiver.timeline)
        .or(facts.data_directory.timeline);
    let theirs = upstream_facts.and_then(|facts| facts.data_directory.timeline);
    !streaming && matches!((own, theirs), (Some(own), Some(theirs)) if own < theirs)
}

fn data_directory_action(
    host: &DesiredHost,
    facts: &HostFacts,
    desired: &DesiredState,
    all_facts: &GatheredFacts,
) -> DataDirectoryAction {
    let upstream = host.upstream.as_deref().unwrap_or("?");
    let data = &facts.data_directory;
    if !data.exists() {
        return DataDirectoryAction::Clone(format!("{} holds no cluster", host.settings.data_dir));
    }
    let upstream_facts = all_facts
        .get(upstream)
        .and_then(|facts| facts.as_ref().ok());
    let upstream_initialised_now = desired.hosts.get(upstream).is_some_and(|upstream_host| {
        upstream_host
            .steps
            .values()
            .any(|step| matches!(step, DesiredStep::ClusterInit))
            && upstream_facts.is_some_and(|f| !f.data_directory.exists())
    });
    let upstream_id = upstream_facts.and_then(HostFacts::system_identifier);
    let clone = |reason: String| DataDirectoryAction::Clone(reason);
    match (facts.system_identifier(), upstream_id) {
        _ if upstream_initialised_now => clone(format!("{upstream} gets a new cluster in this run")),
        (Some(own), Some(theirs)) if own != theirs => clone(format!("its system identifier {own} is not {upstream}'s ({theirs})")),
        (None, _) => clone("its system identifier cannot be read".to_string()),
        (_, None) => clone(format!("{upstream}'s system identifier is unknown")),
        _ if (data.standby_signal || data.recovery_conf) && !behind_upstream_timeline(facts, upstream_facts, host, desired) => DataDirectoryAction::Keep,
        _ if data.standby_signal || data.recovery_conf => {
            // A standby left on an older timeline than its upstream, not streaming from
            // it: it may have received WAL past the fork (from an old primary that came
            // back). pg_rewind repairs that, or reports that nothing diverged.
            if host.settings.pg_version.0 < 1100 || !(data.wal_log_hints || data.checksums) {
                clone(format!("it does not stream from {upstream}, whose timeline is newer, and pg_rewind cannot run here"))
            } else {
                DataDirectoryAction::Rewind(format!("it does not stream from {upstream}, whose timeline is newer (it may have received WAL past the fork)"))
            }
        }
        _ if host.settings.pg_version.0 < 1100 => {
            clone(format!("it ran as a primary, and pg_rewind needs PostgreSQL 11 or later to run without a superuser (this is {})", host.settings.pg_version))
        }
        _ if !(data.wal_log_hints || data.checksums) => clone("it ran as a primary, and pg_rewind needs wal_log_hints or data checksums, which it has neither of".to_string()),
        _ => DataDirectoryAction::Rewind(format!("it ran as a primary of the same cluster (timeline {})", data.timeline.map(|t| t.to_string()).unwrap_or_else(|| "?".into()))),
    }
}

struct HostPlanner<'a> {
    desired: &'a DesiredState,
    playbook: &'a Playbook,
    options: &'a PlanOptions,
    host: &'a DesiredHost,
    facts: &'a HostFacts,
    all_facts: &'a GatheredFacts,
    data_replaced: &'a IndexSet<String>,
}

/// What earlier steps of the same host planned, for the steps after them.
#[derive(Default)]
struct Progress {
    changed_settings: Vec<String>,
    notified: IndexMap<String, Vec<String>>,
}

impl HostPlanner<'_> {
    fn plan(&self, order: &[&str]) -> HostPlan {
        let mut progress = Progress::default();
        let mut steps = Vec::new();
        for id in order {
            let Some(desired_step) = self.host.steps.get(*id) else {
                continue;
            };
            let planned = self.plan_step(id, desired_step, &progress);
            if planned.change.is_change() {
                for handler in self
                    .playbook
                    .step(id)
                    .map(|step| step.notify.clone())
                    .unwrap_or_default()
                {
                    progress
                        .notified
                        .entry(handler.id)
                        .or_default()
                        .push(id.to_string());
                }
            }
            if let Some(Operation::WriteFile {
                check: Some(ConfigCheck::PostgresqlConf),
                ..
            }) = &planned.operation
                && let DesiredStep::File(file) = desired_step
            {
                let old = self
                    .facts
                    .file(&file.path)
                    .map(|f| String::from_utf8_lossy(&f.content).into_owned())
                    .unwrap_or_default();
                progress.changed_settings = conf::changed_settings(&old, &file.content);
            }
            steps.push(planned);
        }
        HostPlan {
            name: self.host.name.clone(),
            address: self.host.address.clone(),
            role: self.host.role,
            upstream: self.host.upstream.clone(),
            error: None,
            steps,
        }
    }

    fn data_replaced(&self) -> bool {
        self.data_replaced.contains(&self.host.name)
    }

    fn plan_step(&self, id: &str, step: &DesiredStep, progress: &Progress) -> PlannedStep {
        let planned = match step {
            DesiredStep::OsUser => self.os_user(),
            DesiredStep::Directory {
                path,
                owner,
                group,
                mode,
            } => self.directory(path, owner, group, *mode),
            DesiredStep::ClusterInit => self.cluster_init(),
            DesiredStep::File(file) => self.file(file),
            DesiredStep::BaseBackup => self.base_backup(),
            DesiredStep::RecoveryConfig { recovery_conf } => {
                self.recovery_config(recovery_conf.as_ref())
            }
            DesiredStep::ReplicationRole => self.replication_role(),
            DesiredStep::VerifyArchive {
                directory,
                destination,
            } => self.verify_archive(
                directory.as_deref(),
                destination,
                !progress.notified.is_empty(),
            ),
            DesiredStep::SshKey {
                private_path,
                public_path,
            } => self.ssh_key(private_path, public_path),
            DesiredStep::AuthorizedKeys { path } => self.authorized_keys(path),
            DesiredStep::KnownHosts { path } => self.known_hosts(path),
            DesiredStep::Service => self.service(
                progress
                    .notified
                    .get(id)
                    .map(Vec::as_slice)
                    .unwrap_or_default(),
                &progress.changed_settings,
            ),
            DesiredStep::VerifyStreaming => self.verify_streaming(),
        };
        PlannedStep {
            id: id.to_string(),
            ..planned
        }
    }

    fn context(&self) -> ServerContext {
        server_context(self.host)
    }

    fn os_user(&self) -> PlannedStep {
        let name = &self.host.settings.os_user;
        match &self.facts.os_user_home {
            Some(home) => noop(format!("user {name} exists (home {home})")),
            None => change(
                Change::Create,
                format!("create OS user {name}"),
                Operation::CreateOsUser {
                    name: name.clone(),
                    group: self.host.settings.os_group.clone(),
                    home: self.host.settings.home_dir.clone(),
                },
            ),
        }
    }

    fn directory(&self, path: &str, owner: &str, group: &str, mode: u32) -> PlannedStep {
        let operation = Operation::EnsureDirectory {
            path: path.to_string(),
            owner: owner.to_string(),
            group: group.to_string(),
            mode,
        };
        match self.facts.directories.get(path) {
            None => change(
                Change::Create,
                format!("create directory {path} ({owner}:{group} {mode:04o})"),
                operation,
            ),
            Some(observed) => match attribute_differences(observed, owner, group, mode) {
                differences if differences.is_empty() => {
                    noop(format!("directory {path} is as wanted"))
                }
                differences => change(
                    Change::Update,
                    format!("directory {path}: {}", differences.join(", ")),
                    operation,
                ),
            },
        }
    }

    fn cluster_init(&self) -> PlannedStep {
        let settings = &self.host.settings;
        if let Some(version) = &self.facts.data_directory.pg_version {
            return noop(format!(
                "cluster in {} exists (PostgreSQL {version})",
                settings.data_dir
            ));
        }
        let mut step = change(
            Change::Create,
            format!(
                "create a cluster in {} with `{}`",
                settings.data_dir, settings.init_command
            ),
            Operation::InitCluster {
                command: settings.init_command.clone(),
            },
        );
        if !self.facts.postgres_installed {
            step.refused = Some(format!(
                "PostgreSQL {} is not installed: {}/postgres is missing",
                settings.pg_version, settings.bin_dir
            ));
        }
        step
    }

    fn file(&self, file: &DesiredFile) -> PlannedStep {
        // A file inside a data directory that this run replaces will be whatever the
        // base backup copies, not what is there now: it is planned as new.
        let observed = if self.inside_replaced_data_directory(&file.path) {
            None
        } else {
            self.facts.file(&file.path)
        };
        let operation = Operation::WriteFile {
            path: file.path.clone(),
            content: Sensitive::new(file.content.clone()),
            owner: file.owner.clone(),
            group: file.group.clone(),
            mode: file.mode,
            check: file.check,
            context: self.context(),
        };
        let old_content =
            observed.map(|observed| String::from_utf8_lossy(&observed.content).into_owned());
        let content_differs = old_content.as_deref() != Some(file.content.as_str());
        let diff = content_differs.then(|| {
            if file.sensitive {
                REDACTED.to_string()
            } else {
                unified_diff(
                    old_content.as_deref().unwrap_or(""),
                    &file.content,
                    &file.path,
                    &self.host.name,
                )
            }
        });
        match observed {
            None => PlannedStep {
                diff,
                ..change(
                    Change::Create,
                    format!(
                        "create {} ({}:{} {:04o})",
                        file.path, file.owner, file.group, file.mode
                    ),
                    operation,
                )
            },
            Some(observed) => {
                let mut differences = attribute_differences(
                    &observed.attributes,
                    &file.owner,
                    &file.group,
                    file.mode,
                );
                if content_differs {
                    differences.insert(0, "content".to_string());
                }
                if differences.is_empty() {
                    noop(format!("{} is up to date", file.path))
                } else {
                    PlannedStep {
                        diff,
                        ..change(
                            Change::Update,
                            format!("update {}: {}", file.path, differences.join(", ")),
                            operation,
                        )
                    }
                }
            }
        }
    }

    fn base_backup(&self) -> PlannedStep {
        let upstream_name = self.host.upstream.clone().unwrap_or_default();
        let Some(upstream) = self.desired.hosts.get(&upstream_name) else {
            return refused(format!(
                "upstream `{upstream_name}` is not in the inventory"
            ));
        };
        let data_dir = &self.host.settings.data_dir;
        let reason = match data_directory_action(
            self.host,
            self.facts,
            self.desired,
            self.all_facts,
        ) {
            DataDirectoryAction::Keep => {
                return noop(format!(
                    "data directory is a standby of {upstream_name} (system identifier {})",
                    self.facts.system_identifier().unwrap_or("?")
                ));
            }
            DataDirectoryAction::Rewind(reason) => {
                let operation = Operation::Rewind {
                    upstream: upstream_name.clone(),
                    upstream_host: upstream.settings.replication_host.clone(),
                    upstream_port: upstream.settings.port,
                    context: self.context(),
                };
                return change(
                    Change::Update,
                    format!(
                        "rejoin {upstream_name} with pg_rewind: {reason}; what was written on it after the split is discarded"
                    ),
                    operation,
                );
            }
            DataDirectoryAction::Clone(reason) => reason,
        };
        let exists = self.facts.data_directory.exists();
        let operation = Operation::BaseBackup {
            upstream: upstream_name.clone(),
            upstream_host: upstream.settings.replication_host.clone(),
            upstream_port: upstream.settings.port,
            context: self.context(),
        };
        if !exists {
            return change(
                Change::Create,
                format!("clone {upstream_name} into {data_dir} with pg_basebackup ({reason})"),
                operation,
            );
        }
        let mut step = change(
            Change::ReplaceData,
            format!(
                "replace {data_dir} with a base backup of {upstream_name}: {reason}; the old directory is moved aside, not deleted"
            ),
            operation,
        );
        if self.facts.has_user_databases() {
            step.destructive = true;
            if !self.options.replace_data.contains(&self.host.name) {
                let databases = self
                    .facts
                    .server
                    .as_ref()
                    .map(|server| server.user_databases.join(", "))
                    .filter(|list| !list.is_empty());
                step.refused = Some(format!(
                    "{data_dir} holds user databases{}: pass `--replace-data {}` to replace it",
                    databases
                        .map(|list| format!(" ({list})"))
                        .unwrap_or_default(),
                    self.host.name
                ));
            }
        }
        step
    }

    fn inside_replaced_data_directory(&self, path: &str) -> bool {
        self.data_replaced() && Path::new(path).starts_with(&self.host.settings.data_dir)
    }

    fn recovery_config(&self, recovery_conf: Option<&DesiredFile>) -> PlannedStep {
        if let Some(file) = recovery_conf {
            return self.file(file);
        }
        let data_dir = &self.host.settings.data_dir;
        let operation = Operation::WriteStandbySignal {
            data_dir: data_dir.clone(),
            owner: self.host.settings.os_user.clone(),
        };
        if self.data_replaced() || !self.facts.data_directory.standby_signal {
            change(
                Change::Create,
                format!("create {data_dir}/standby.signal"),
                operation,
            )
        } else {
            noop(format!("{data_dir}/standby.signal exists"))
        }
    }

    fn replication_role(&self) -> PlannedStep {
        let settings = &self.host.settings;
        let name = &settings.replication_user;
        let Some(password) = &settings.replication_password else {
            return refused("the variable `replication_password` is not set".to_string());
        };
        let verifier = match scram::new_verifier(password.expose()) {
            Ok(verifier) => verifier.to_string(),
            Err(error) => {
                return refused(format!("the replication password cannot be used: {error}"));
            }
        };
        let operation = || Operation::ReplicationRole {
            name: name.clone(),
            verifier: Sensitive::new(verifier.clone()),
            context: self.context(),
        };
        let Some(server) = self.facts.server.as_ref().filter(|_| !self.data_replaced()) else {
            return change(
                Change::Create,
                format!(
                    "create role {name} (REPLICATION LOGIN, password {REDACTED}) once the server runs"
                ),
                operation(),
            );
        };
        let Some(role) = &server.replication_role else {
            return change(
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
        if settings.pg_version.0 >= 1100 && !role.rewind_grants {
            differences.push("the grants pg_rewind needs".to_string());
        }
        if !scram::verifier_matches(role.password_verifier.expose(), password.expose()) {
            differences.push(format!("password {REDACTED}"));
        }
        if differences.is_empty() {
            noop(format!(
                "role {name} has REPLICATION LOGIN and the wanted password"
            ))
        } else {
            change(
                Change::Update,
                format!("alter role {name}: set {}", differences.join(", ")),
                operation(),
            )
        }
    }

    fn service(&self, notified_by: &[String], changed_settings: &[String]) -> PlannedStep {
        let context = self.context();
        let operation = |action| Operation::Service {
            action,
            context: context.clone(),
        };
        let Some(server) = self.facts.server.as_ref().filter(|_| !self.data_replaced()) else {
            let why = if self.data_replaced() {
                "new data directory".to_string()
            } else {
                self.facts
                    .server_error
                    .clone()
                    .unwrap_or_else(|| "not running".into())
            };
            return change(
                Change::Start,
                format!("start PostgreSQL ({})", first_line(&why)),
                operation(ServiceAction::Start),
            );
        };
        let mut needs_restart: Vec<String> = server
            .settings_pending_restart()
            .iter()
            .map(|name| format!("{name} (pending restart)"))
            .collect();
        needs_restart.extend(
            changed_settings
                .iter()
                .filter(|name| {
                    server
                        .settings
                        .get(name.as_str())
                        .is_some_and(|setting| setting.context == "postmaster")
                })
                .cloned(),
        );
        if !needs_restart.is_empty() {
            return change(
                Change::Restart,
                format!(
                    "restart PostgreSQL: {} need a restart",
                    needs_restart.join(", ")
                ),
                operation(ServiceAction::Restart),
            );
        }
        if !notified_by.is_empty() {
            return change(
                Change::Reload,
                format!("reload PostgreSQL: {} changed", notified_by.join(", ")),
                operation(ServiceAction::Reload),
            );
        }
        let stale_files: Vec<&str> = self
            .host
            .steps
            .values()
            .filter_map(|step| match step {
                DesiredStep::File(file) if file.check.is_some() => Some(file.path.as_str()),
                _ => None,
            })
            .filter(|path| {
                self.facts
                    .file(path)
                    .is_some_and(|file| file.attributes.modified > server.configuration_loaded)
            })
            .collect();
        if !stale_files.is_empty() {
            return change(
                Change::Reload,
                format!(
                    "reload PostgreSQL: {} changed on disk after the server last read it",
                    stale_files.join(", ")
                ),
                operation(ServiceAction::Reload),
            );
        }
        noop("PostgreSQL runs with the current configuration".to_string())
    }

    /// Verified when this run changes the server, or when the archiver has never
    /// archived or its last attempt failed; otherwise its statistics vouch for it.
    fn verify_archive(
        &self,
        directory: Option<&str>,
        destination: &str,
        server_changes: bool,
    ) -> PlannedStep {
        let operation = Operation::VerifyArchive {
            directory: directory.map(str::to_string),
            destination: destination.to_string(),
            context: self.context(),
        };
        let archiver = self
            .facts
            .server
            .as_ref()
            .filter(|_| !self.data_replaced())
            .and_then(|server| server.archiver.as_ref());
        let reason = match archiver {
            _ if server_changes => {
                Some("the server's configuration changes in this run".to_string())
            }
            None => Some("the server does not run yet".to_string()),
            Some(archiver) if archiver.failing() => Some(format!(
                "its last attempt failed ({}, {} failures in all)",
                archiver.last_failed_wal, archiver.failed_count
            )),
            Some(archiver) if archiver.archived_count == 0 => {
                Some("it has archived nothing yet".to_string())
            }
            Some(_) => None,
        };
        match (reason, archiver) {
            (Some(reason), _) => PlannedStep {
                change: Change::Check,
                summary: format!(
                    "verify that a segment switch reaches {destination} after apply: {reason}"
                ),
                operation: Some(operation),
                ..noop(String::new())
            },
            (None, Some(archiver)) => noop(format!(
                "the archiver works: last archived {}, {} archived, {} failed in all",
                archiver.last_archived_wal, archiver.archived_count, archiver.failed_count
            )),
            (None, None) => noop(String::new()),
        }
    }

    fn ssh_key(&self, private_path: &str, public_path: &str) -> PlannedStep {
        match self.facts.file(public_path) {
            Some(file) => noop(format!(
                "{} has a key pair ({})",
                self.host.settings.os_user,
                key_fingerprint(&String::from_utf8_lossy(&file.content))
            )),
            None => change(
                Change::Create,
                format!(
                    "make a key pair for {} in {private_path} (the private key stays on {})",
                    self.host.settings.os_user, self.host.name
                ),
                Operation::GenerateSshKey {
                    private_path: private_path.to_string(),
                    os_user: self.host.settings.os_user.clone(),
                },
            ),
        }
    }

    /// Every other member's public key, so postgres on each node reaches the others
    /// (and the archive host) without a password, whichever is primary.
    /// Other hosts whose facts are missing: their keys are unknown, so a key file
    /// is left as it is rather than losing their entries.
    fn unreachable_others(&self) -> Vec<&str> {
        self.desired
            .hosts
            .keys()
            .filter(|name| {
                *name != &self.host.name && !matches!(self.all_facts.get(*name), Some(Ok(_)))
            })
            .map(String::as_str)
            .collect()
    }

    fn authorized_keys(&self, path: &str) -> PlannedStep {
        let unreachable = self.unreachable_others();
        if !unreachable.is_empty() {
            return noop(format!(
                "{path} left as it is: the keys of {} are unknown (unreachable)",
                unreachable.join(", ")
            ));
        }
        let mut known = Vec::new();
        let mut collect = Vec::new();
        for other in self
            .desired
            .hosts
            .values()
            .filter(|other| other.name != self.host.name)
        {
            let Some(DesiredStep::SshKey { public_path, .. }) = other
                .steps
                .values()
                .find(|step| matches!(step, DesiredStep::SshKey { .. }))
            else {
                continue;
            };
            match self
                .all_facts
                .get(&other.name)
                .and_then(|facts| facts.as_ref().ok())
                .and_then(|facts| facts.file(public_path))
            {
                Some(file) => known.push(String::from_utf8_lossy(&file.content).trim().to_string()),
                None => collect.push((other.name.clone(), public_path.clone())),
            }
        }
        let existing = self
            .facts
            .file(path)
            .map(|file| String::from_utf8_lossy(&file.content).into_owned())
            .unwrap_or_default();
        let names = |keys: &[String]| {
            keys.iter()
                .map(|key| key_fingerprint(key))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let os_user = &self.host.settings.os_user;
        if !collect.is_empty() {
            let made_now: Vec<&str> = collect.iter().map(|(host, _)| host.as_str()).collect();
            return change(
                if self.facts.file(path).is_some() {
                    Change::Update
                } else {
                    Change::Create
                },
                format!(
                    "authorize the keys of the other members in {path}: {}{}made in this run on {}",
                    names(&known),
                    if known.is_empty() { "" } else { "; " },
                    made_now.join(", ")
                ),
                Operation::CollectAuthorizedKeys {
                    path: path.to_string(),
                    existing,
                    known,
                    collect,
                    owner: os_user.clone(),
                    group: self.host.settings.os_group.clone(),
                    context: self.context(),
                },
            );
        }
        let desired = managed_block::with_block(&existing, &known);
        self.key_file(
            path,
            &existing,
            &desired,
            format!("the keys of the other members ({})", names(&known)),
        )
    }

    /// Every other host's sshd key under its name and address, so the archiver's and
    /// pg_rewind's SSH connections check host keys strictly.
    fn known_hosts(&self, path: &str) -> PlannedStep {
        let unreachable = self.unreachable_others();
        if !unreachable.is_empty() {
            return noop(format!(
                "{path} left as it is: the host keys of {} are unknown (unreachable)",
                unreachable.join(", ")
            ));
        }
        let lines: Vec<String> = self
            .desired
            .hosts
            .values()
            .filter(|other| other.name != self.host.name)
            .filter_map(|other| {
                let key = self
                    .all_facts
                    .get(&other.name)?
                    .as_ref()
                    .ok()?
                    .file(crate::desired::HOST_KEY)?;
                let key = String::from_utf8_lossy(&key.content);
                let mut fields = key.split_whitespace();
                let (kind, blob) = (fields.next()?, fields.next()?);
                Some(format!("{},{} {kind} {blob}", other.name, other.address))
            })
            .collect();
        let existing = self
            .facts
            .file(path)
            .map(|file| String::from_utf8_lossy(&file.content).into_owned())
            .unwrap_or_default();
        let desired = managed_block::with_block(&existing, &lines);
        let hosts: Vec<&str> = lines
            .iter()
            .filter_map(|line| line.split(',').next())
            .collect();
        self.key_file(
            path,
            &existing,
            &desired,
            format!("the host keys of {}", hosts.join(", ")),
        )
    }

    /// A file of keys owned by the OS user, mode 0600, as `file` plans any other.
    fn key_file(&self, path: &str, existing: &str, desired: &str, what: String) -> PlannedStep {
        let file = DesiredFile {
            path: path.to_string(),
            content: desired.to_string(),
            owner: self.host.settings.os_user.clone(),
            group: self.host.settings.os_group.clone(),
            mode: 0o600,
            sensitive: false,
            check: None,
        };
        let planned = self.file(&file);
        if planned.change == Change::Noop && existing == desired {
            return noop(format!("{path} holds {what}"));
        }
        PlannedStep {
            summary: format!("{} with {what}", planned.summary),
            ..planned
        }
    }

    fn verify_streaming(&self) -> PlannedStep {
        let upstream_name = self.host.upstream.clone().unwrap_or_default();
        let Some(upstream) = self.desired.hosts.get(&upstream_name) else {
            return refused(format!(
                "upstream `{upstream_name}` is not in the inventory"
            ));
        };
        let upstream_host = upstream.settings.replication_host.clone();
        let operation = Operation::VerifyStreaming {
            upstream: upstream_name.clone(),
            upstream_host: upstream_host.clone(),
            context: self.context(),
            upstream_context: server_context(upstream),
            application_name: self.host.name.clone(),
        };
        let streaming = self
            .facts
            .server
            .as_ref()
            .and_then(|server| server.wal_receiver.as_ref())
            .is_some_and(|receiver| {
                receiver.status == "streaming" && receiver.sender_host == upstream_host
            });
        if streaming && !self.data_replaced() {
            return noop(format!("streams from {upstream_name} ({upstream_host})"));
        }
        PlannedStep {
            change: Change::Check,
            summary: format!(
                "verify that it streams from {upstream_name} ({upstream_host}) after apply"
            ),
            operation: Some(operation),
            ..noop(String::new())
        }
    }
}

/// `SHA256:...` of a public key line, as `ssh-keygen -l` shows it.
fn key_fingerprint(line: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let blob = line
        .split_whitespace()
        .nth(1)
        .and_then(|blob| base64::engine::general_purpose::STANDARD.decode(blob).ok());
    match blob {
        Some(blob) => format!(
            "SHA256:{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(sha2::Sha256::digest(&blob))
        ),
        None => "an unreadable key".to_string(),
    }
}

/// The server facts a script needs to reach PostgreSQL on `host`.
pub fn server_context(host: &DesiredHost) -> ServerContext {
    let settings = &host.settings;
    ServerContext {
        os_user: settings.os_user.clone(),
        os_group: settings.os_group.clone(),
        pg_version_num: settings.pg_version.0,
        bin_dir: settings.bin_dir.clone(),
        data_dir: settings.data_dir.clone(),
        config_dir: settings.config_dir.clone(),
        socket_dir: settings.socket_dir.clone(),
        port: settings.port,
        home_dir: settings.home_dir.clone(),
        replication_user: settings.replication_user.clone(),
        start_command: settings.start_command.clone(),
        stop_command: settings.stop_command.clone(),
        restart_command: settings.restart_command.clone(),
        reload_command: settings.reload_command.clone(),
    }
}

fn attribute_differences(
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

fn unified_diff(old: &str, new: &str, path: &str, host: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(2)
        .header(&format!("{path} (on {host})"), &format!("{path} (wanted)"))
        .to_string()
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

fn noop(summary: String) -> PlannedStep {
    PlannedStep {
        id: String::new(),
        change: Change::Noop,
        summary,
        diff: None,
        destructive: false,
        refused: None,
        operation: None,
    }
}

fn change(change: Change, summary: String, operation: Operation) -> PlannedStep {
    PlannedStep {
        change,
        operation: Some(operation),
        ..noop(summary)
    }
}

fn refused(reason: String) -> PlannedStep {
    PlannedStep {
        change: Change::Update,
        refused: Some(reason.clone()),
        ..noop(reason)
    }
}
