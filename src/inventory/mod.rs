//! The inventory: an Ansible inventory of PostgreSQL hosts, read by the
//! `ansible-inventory-reader` crate, resolved into one fully merged, validated
//! view per host: its role, its replication cluster, its typed settings.
//!
//! CONTRACT (shared with the rest of the crate; keep these names and shapes):
//! - `Inventory::load(path) -> Result<Inventory, Diagnostics>` reads, parses,
//!   merges and validates; it does no network IO. `Inventory::parse(path, text, env)`
//!   is the pure core used by tests (`env` looks up environment variables).
//! - Every error carries file, line and column where the YAML gives one, and all
//!   problems are collected before returning.

mod build;
mod context;
mod defaults;
pub mod edit;
pub mod login;
pub mod pattern;
mod roles;
pub mod settings;
pub mod synchronous;
mod validate;

#[cfg(test)]
mod tests;

pub use ansible_inventory_reader::layout::GroupTree;
pub use ansible_inventory_reader::vault;
pub use context::SharedContext;
pub use settings::{
    ConfigMode, HostSettings, PgbouncerSettings, PoolMode, ReplicationMode, SslMode, SyncMethod,
};
pub use validate::{HOT_STANDBY_SETTINGS, PGBOUNCER_MANAGED};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::secret::Sensitive;
use ansible_inventory_reader::{files, formats};
use indexmap::IndexMap;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// What the inventory reader's messages call pgconverge
/// (`pgconverge runs no inventory plugin`).
const PROGRAM: &str = "pgconverge";

/// A PostgreSQL replication role, from membership in the group `primary` or
/// `standby`, or from the host variable `pg_role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Primary,
    Standby,
    /// A host of the group `archive`: it keeps the WAL archive and runs no
    /// PostgreSQL role of the cluster.
    Archive,
    /// A host of the group `pgbouncer` alone: it runs PgBouncer for its
    /// replication cluster's clients and no PostgreSQL of the cluster.
    Pgbouncer,
}

impl Role {
    /// As `pg_role` and the plan write it.
    pub fn name(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Standby => "standby",
            Role::Archive => "archive",
            Role::Pgbouncer => "pgbouncer",
        }
    }

    /// A member of the replication cluster, with a PostgreSQL of its own.
    pub fn is_member(self) -> bool {
        matches!(self, Role::Primary | Role::Standby)
    }
}

/// One host with every variable resolved (defaults < `all` vars < group vars,
/// parents before children < host vars), every template string rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct Host {
    /// The inventory name (`db1`).
    pub name: String,
    /// `ansible_host`, or the name when unset.
    pub address: String,
    /// `ansible_port`, when set.
    pub ssh_port: Option<u16>,
    /// `ansible_user`, when set.
    pub ssh_user: Option<String>,
    pub role: Role,
    /// The host is in the group `pgbouncer`: it runs PgBouncer for its
    /// cluster's clients (a member of the cluster, or a host of its own whose
    /// role is then `Pgbouncer`).
    pub pgbouncer: bool,
    /// For a standby: the host it replicates from (`upstream`, else its
    /// cluster's primary).
    pub upstream: Option<String>,
    /// Its replication cluster (`replication_cluster`, `main` by default): each
    /// cluster has its own primary and is planned, guarded and failed over apart.
    pub cluster: String,
    /// The typed settings pgconverge acts on, read from the variables.
    pub settings: HostSettings,
    /// How to log in and become root: `ansible_become` and the SSH options.
    pub login: login::Login,
    /// All resolved variables, including the documented defaults, in a stable order.
    pub vars: IndexMap<String, Value>,
    /// Variables of `vars` that nothing pgconverge reads needs and that could not
    /// be rendered (a fact, a magic variable of a play): kept as written, as
    /// `ansible-inventory --list` shows them, and given to no template.
    pub unrendered: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Inventory {
    pub source: PathBuf,
    /// Hosts in the order they first appear in the file.
    pub hosts: IndexMap<String, Host>,
    /// Every group (including `all`) with its hosts, children flattened, file order.
    pub groups: IndexMap<String, Vec<String>>,
    /// Names of variables whose values are secret (`replication_password`, any
    /// variable named in `sensitive_vars`, any ending in `_password`, `_secret`
    /// or `_token`).
    pub sensitive_vars: Vec<String>,
    /// Inputs that have no effect (an `ansible_*` variable pgconverge does not
    /// honour, hosts left out, files Ansible skips), to show before anything runs.
    pub warnings: Vec<Diagnostic>,
    /// Hosts in no PostgreSQL or PgBouncer group and without `pg_role`, which
    /// are left out.
    pub left_out: Vec<String>,
    /// Those of them `Input::outside` asks to reach, with their variables read:
    /// no member of any replication cluster (their `role` is `Standby` and
    /// their `upstream` empty, which mean nothing for them).
    pub outside: IndexMap<String, Host>,
    /// For each host, the names of the variables the inventory writes (not the
    /// defaults), in order: what `ansible-inventory --list` shows.
    pub written: IndexMap<String, Vec<String>>,
    /// The plaintexts of the inventory's vault values, secret wherever they land.
    pub vault_secrets: Vec<Sensitive<String>>,
    /// Every group as written: its own hosts and its child groups, in order.
    pub tree: IndexMap<String, GroupTree>,
}

/// The groups that give hosts their roles; `--primary-group` and the like
/// rename them for inventories with other conventions (`master`, `replica`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupNames {
    pub primary: String,
    pub standby: String,
    pub archive: String,
    pub pgbouncer: String,
}

impl Default for GroupNames {
    fn default() -> Self {
        GroupNames {
            primary: "primary".to_string(),
            standby: "standby".to_string(),
            archive: "archive".to_string(),
            pgbouncer: "pgbouncer".to_string(),
        }
    }
}

/// What to read: the `-i` sources in order, the vault passwords and the names
/// of the role groups.
#[derive(Debug, Clone, Default)]
pub struct Input {
    pub sources: Vec<PathBuf>,
    pub vault_passwords: Vec<vault::PasswordSource>,
    pub groups: GroupNames,
    /// `--cluster NAME`: read only the hosts of that replication cluster.
    pub cluster: Option<String>,
    /// Hosts in no role group that a command must still reach (`apply
    /// --decommission`): their variables are read too, into `Inventory::outside`.
    pub outside: Vec<String>,
    /// Variables set above every inventory value, as Ansible's extra vars
    /// (`upgrade --to V` reads the inventory with `pg_version: V`); values are
    /// used as given, never rendered.
    pub extra_vars: Vec<(String, Value)>,
}

impl Input {
    /// One inventory file or directory, with no vault password.
    pub fn from_path(path: &Path) -> Input {
        Input {
            sources: vec![path.to_path_buf()],
            ..Input::default()
        }
    }

    /// The first source, which names the inventory in messages and records.
    pub fn first(&self) -> &Path {
        self.sources.first().map_or(Path::new(""), PathBuf::as_path)
    }

    /// The sources as written, for messages: `a.ini`, or `a.ini, b.yml`.
    pub fn display(&self) -> String {
        let names: Vec<String> = self
            .sources
            .iter()
            .map(|source| source.display().to_string())
            .collect();
        names.join(", ")
    }

    /// Every file the inventory reads, in order (sources, vault password files
    /// not included), for a digest: an inventory script is named, not run.
    pub fn files(&self) -> Vec<PathBuf> {
        files::read(
            &self.sources,
            &vault::Passwords::default(),
            files::Scripts::NameOnly,
            PROGRAM,
        )
        .files
    }
}

impl Inventory {
    /// Reads, parses, merges and validates the inventory at `path`, with
    /// `env('NAME')` reading the process environment.
    pub fn load(path: &Path) -> Result<Inventory, Diagnostics> {
        Inventory::load_input(&Input::from_path(path))
    }

    /// Reads every source of `input` with the files beside them, decrypts the
    /// vault values with its passwords, merges and validates.
    pub fn load_input(input: &Input) -> Result<Inventory, Diagnostics> {
        let passwords =
            vault::Passwords::read(&input.vault_passwords, PROGRAM).map_err(|error| {
                let message = error.to_string();
                let file = match &error {
                    vault::VaultError::PasswordFile { file, .. } => file.clone(),
                    _ => input.first().to_path_buf(),
                };
                Diagnostics(vec![Diagnostic::new(file, None, None, message)])
            })?;
        let read = files::read(&input.sources, &passwords, files::Scripts::Run, PROGRAM);
        Inventory::build_read(input, &passwords, read)
    }

    /// As [`Inventory::load_input`], with `text` in place of the file `path`.
    pub fn load_input_with(
        input: &Input,
        path: &Path,
        text: &str,
    ) -> Result<Inventory, Diagnostics> {
        let passwords =
            vault::Passwords::read(&input.vault_passwords, PROGRAM).map_err(|error| {
                Diagnostics(vec![Diagnostic::new(
                    input.first(),
                    None,
                    None,
                    error.to_string(),
                )])
            })?;
        let mut read = files::read(&input.sources, &passwords, files::Scripts::Run, PROGRAM);
        let (document, problems) = formats::read(path, text, PROGRAM);
        read.documents.retain(|known| known.path != path);
        read.documents.extend(document);
        read.problems.extend(problems);
        Inventory::build_read(input, &passwords, read)
    }

    fn build_read(
        input: &Input,
        passwords: &vault::Passwords,
        read: files::Read,
    ) -> Result<Inventory, Diagnostics> {
        let read = build::Read {
            source: input.first().to_path_buf(),
            documents: read.documents,
            vars_files: read.vars_files,
            problems: read.problems,
            warnings: read.warnings,
            incomplete: read.incomplete,
            encrypted_documents: read.encrypted_documents,
        };
        let options = build::Options {
            passwords,
            groups: &input.groups,
            cluster: input.cluster.as_deref(),
            outside: &input.outside,
            extra_vars: &input.extra_vars,
            env: &|name| std::env::var(name).ok(),
        };
        build::build(read, &options)
    }

    /// Parses, merges and validates inventory `text` as if read from `path`,
    /// reporting every problem found. `env` looks up environment variables for
    /// `env('NAME')`; this does no IO of its own.
    pub fn parse(
        path: &Path,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Inventory, Diagnostics> {
        Inventory::parse_reaching(path, text, env, &[])
    }

    /// As [`Inventory::parse`], reading the variables of the hosts `outside`
    /// too (hosts in no role group that a command must reach).
    pub fn parse_reaching(
        path: &Path,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
        outside: &[String],
    ) -> Result<Inventory, Diagnostics> {
        let (document, problems) = formats::read(path, text, PROGRAM);
        let read = build::Read {
            source: path.to_path_buf(),
            incomplete: document.is_none(),
            documents: document.into_iter().collect(),
            vars_files: Vec::new(),
            problems,
            warnings: Vec::new(),
            encrypted_documents: Vec::new(),
        };
        let options = build::Options {
            passwords: &vault::Passwords::default(),
            groups: &GroupNames::default(),
            cluster: None,
            outside,
            extra_vars: &[],
            env,
        };
        build::build(read, &options)
    }

    /// Every secret value of the inventory: the sensitive variables' values on
    /// every host and every vault plaintext.
    pub fn secret_values(&self) -> Vec<String> {
        let mut secrets: Vec<String> = self
            .hosts
            .values()
            .flat_map(|host| {
                self.sensitive_vars
                    .iter()
                    .filter_map(|name| host.vars.get(name)?.as_str().map(str::to_string))
            })
            .chain(
                self.vault_secrets
                    .iter()
                    .map(|secret| secret.expose().clone()),
            )
            .collect();
        secrets.sort();
        secrets.dedup();
        secrets
    }

    /// The hosts of `group`, children included, in file order; none for an
    /// unknown group.
    pub fn host_names_in_group(&self, group: &str) -> &[String] {
        self.groups.get(group).map_or(&[], Vec::as_slice)
    }

    /// The members `limit` selects (see [`pattern`]), in inventory order. An
    /// empty limit selects every member; one that selects no member is an
    /// error, since a command would then do nothing the user asked for.
    pub fn limit(&self, limit: &pattern::Limit) -> Result<Vec<String>, pattern::LimitError> {
        if limit.is_empty() {
            return Ok(self.hosts.keys().cloned().collect());
        }
        let selected = limit.select(&self.tree)?;
        let members: Vec<String> = self
            .hosts
            .keys()
            .filter(|host| selected.contains(host))
            .cloned()
            .collect();
        if members.is_empty() {
            return Err(pattern::LimitError::NoMember { selected });
        }
        Ok(members)
    }

    /// The primary of the first cluster. A loaded inventory has exactly one in
    /// each replication cluster.
    pub fn primary(&self) -> Option<&Host> {
        self.hosts.values().find(|host| host.role == Role::Primary)
    }
}
