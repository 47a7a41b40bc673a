//! What an action is given: the rendered playbook parameters when the desired
//! state is built, and a view of the cluster with its facts when it is planned.

use crate::diagnostic::Diagnostic;
use crate::facts::HostFacts;
use crate::inventory::HostSettings;
use indexmap::IndexMap;

use super::file::ConfigCheck;

/// What pgconverge derives for a host that actions read, typed. Templates see
/// each under its field's name (`replication_slot`, `pgbackrest_stanza`, ...):
/// `desired.rs` writes them there from this, so an action and a template can
/// never read two different things.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DerivedValues {
    /// The slot the host streams through on its upstream.
    pub replication_slot: String,
    /// The pgBackRest stanza, when `wal_archive` is pgBackRest.
    pub pgbackrest_stanza: Option<String>,
    /// The directory on this host that holds the archived segments, when the
    /// archive is a directory this host reaches.
    pub wal_archive_segment_dir: Option<String>,
    /// Where WAL is archived, as the plan names it.
    pub wal_archive_destination: String,
    /// The inventory's `base_backup_method`, as written (empty when it is not text).
    pub base_backup_method: String,
    /// Where PgBouncer sends its clients: the cluster's primary, as the
    /// inventory has it (`None` in a cluster without one).
    pub pgbouncer_target: Option<super::pgbouncer::Target>,
}

/// One playbook step for one host, with its string parameters rendered.
pub struct StepInput<'a> {
    pub settings: &'a HostSettings,
    /// What pgconverge derives for the host that actions read.
    pub derived: &'a DerivedValues,
    pub path: Option<String>,
    pub dest: Option<String>,
    pub template: Option<&'a str>,
    /// `owner` and `group`, the OS user's when the playbook gives none.
    pub owner: String,
    pub group: String,
    pub mode: Option<u32>,
    pub sensitive: bool,
    pub check: Option<ConfigCheck>,
    /// Renders one of the templates with the host's variables.
    pub render: &'a dyn Fn(&str) -> Result<String, Diagnostic>,
    /// A problem with this step, located at the step in the playbook.
    pub problem: &'a dyn Fn(String) -> Diagnostic,
}

impl StepInput<'_> {
    /// The file mode the playbook gives, or the action's default.
    pub fn mode_or(&self, default: u32) -> u32 {
        self.mode.unwrap_or(default)
    }
}

/// A host of the cluster as the planner sees it: who it is, its settings, what
/// its steps will do that others depend on, and its facts (none if unreachable).
#[derive(Debug, Clone)]
pub struct Member<'a> {
    pub name: &'a str,
    pub address: &'a str,
    /// Its replication cluster.
    pub cluster: &'a str,
    pub upstream: Option<&'a str>,
    pub settings: &'a HostSettings,
    pub facts: Option<&'a HostFacts>,
    /// The host has a cluster-init step (it is a primary that makes its cluster).
    pub initialises_cluster: bool,
    /// The path of the public key of the OS user's key pair, when the host has an SSH key step.
    pub ssh_public_key_path: Option<&'a str>,
    /// Configuration files PostgreSQL checks, which a reload makes it read.
    pub config_files: Vec<&'a str>,
    /// This run gives the host a new data directory.
    pub data_replaced: bool,
    /// The settings the host's `postgresql.conf` step manages, each with the
    /// value it writes.
    pub managed_settings: IndexMap<String, String>,
    /// The slot the host streams through on its upstream, when it has a slot step.
    pub replication_slot: Option<&'a str>,
    /// The host has a base backup step: this run may clone its data directory
    /// from its upstream.
    pub clones_upstream: bool,
    /// The host runs PgBouncer (it has a `pgbouncer.ini` step): the `[pgbouncer]`
    /// settings pgconverge's file sets, each with the value it writes.
    pub pgbouncer_settings: Option<IndexMap<String, String>>,
    /// Where its PgBouncer is to send clients (its `pgbouncer.databases.ini` step).
    pub pgbouncer_target: Option<&'a super::pgbouncer::Target>,
}

impl<'a> Member<'a> {
    /// A host as no step has described it yet: each of its steps then adds what
    /// it exposes (`Action::expose`).
    pub fn new(
        name: &'a str,
        address: &'a str,
        cluster: &'a str,
        upstream: Option<&'a str>,
        settings: &'a HostSettings,
        facts: Option<&'a HostFacts>,
    ) -> Member<'a> {
        Member {
            name,
            address,
            cluster,
            upstream,
            settings,
            facts,
            initialises_cluster: false,
            ssh_public_key_path: None,
            config_files: Vec::new(),
            data_replaced: false,
            managed_settings: IndexMap::new(),
            replication_slot: None,
            clones_upstream: false,
            pgbouncer_settings: None,
            pgbouncer_target: None,
        }
    }
}

/// Everything an action's `plan` may look at, all gathered before planning.
pub struct PlanContext<'a> {
    pub host: &'a Member<'a>,
    pub facts: &'a HostFacts,
    /// Every host of the inventory, this one included.
    pub members: &'a IndexMap<String, Member<'a>>,
    /// `--replace-data` names this host.
    pub replace_data_allowed: bool,
    /// The steps of this host that notified this step (a handler) in this run.
    pub notified_by: &'a [String],
    /// Settings whose value in force changes by the steps before this one in
    /// this run (`postgresql.conf`, `ALTER SYSTEM` overrides reset).
    pub setting_changes: &'a [super::SettingChange],
    /// Configuration files this run replaces on the host before this step, each
    /// keeping its version before as `FILE.pgconverge-backup`.
    pub replaced_configuration: &'a [String],
    /// Some step of this host changes the server's configuration in this run.
    pub server_changes: bool,
}

impl<'a> PlanContext<'a> {
    pub fn settings(&self) -> &'a HostSettings {
        self.host.settings
    }

    /// The running server as the facts saw it, unless this run replaces its
    /// data directory (then what it holds now is not what it will hold).
    pub fn lasting_server(&self) -> Option<&'a crate::facts::ServerFacts> {
        self.facts
            .server
            .as_ref()
            .filter(|_| !self.host.data_replaced)
    }

    pub fn upstream(&self) -> Option<&'a Member<'a>> {
        self.host.upstream.and_then(|name| self.members.get(name))
    }

    /// The facts that say what `path` holds before this step: the upstream's when
    /// this run replaces the data directory it lives in (a base backup copies it),
    /// else the host's own. `None` when the upstream's are unknown.
    pub fn facts_of_path(&self, path: &str) -> Option<&'a HostFacts> {
        let replaced = self.host.data_replaced
            && std::path::Path::new(path).starts_with(&self.settings().data_dir);
        if replaced {
            self.upstream().and_then(|upstream| upstream.facts)
        } else {
            Some(self.facts)
        }
    }

    /// The other hosts, in inventory order.
    pub fn others(&self) -> impl Iterator<Item = &'a Member<'a>> + '_ {
        let own = self.host.name;
        self.members
            .values()
            .filter(move |member| member.name != own)
    }

    /// Other hosts whose facts are missing: what is on them is unknown.
    pub fn unreachable_others(&self) -> Vec<&'a str> {
        self.others()
            .filter(|member| member.facts.is_none())
            .map(|member| member.name)
            .collect()
    }
}
