//! The inventory: an Ansible-style YAML file of hosts, groups and variables,
//! resolved into one fully merged, validated view per host.
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
mod host_range;
mod layout;
pub mod login;
mod merge;
mod report;
mod resolve;
mod roles;
pub mod settings;
mod suggest;
mod validate;
mod yaml;

#[cfg(test)]
mod tests;

pub use settings::{ConfigMode, HostSettings, ReplicationMode, SslMode};
pub use validate::HOT_STANDBY_SETTINGS;

use crate::diagnostic::{Diagnostic, Diagnostics};
use indexmap::IndexMap;
use serde_json::Value;
use std::path::{Path, PathBuf};

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
    /// For a standby: the host it replicates from (`upstream`, else the primary).
    pub upstream: Option<String>,
    /// The typed settings pgconverge acts on, read from the variables.
    pub settings: HostSettings,
    /// How to log in and become root: `ansible_become` and the SSH options.
    pub login: login::Login,
    /// All resolved variables, including the documented defaults, in a stable order.
    pub vars: IndexMap<String, Value>,
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
    /// honour), to show before anything runs.
    pub warnings: Vec<Diagnostic>,
}

impl Inventory {
    /// Reads, parses, merges and validates the inventory at `path`, with
    /// `env('NAME')` reading the process environment.
    pub fn load(path: &Path) -> Result<Inventory, Diagnostics> {
        let text = std::fs::read_to_string(path).map_err(|error| {
            let message = format!("cannot read the inventory: {error}");
            Diagnostics(vec![Diagnostic::new(path, None, None, message)])
        })?;
        Inventory::parse(path, &text, &|name| std::env::var(name).ok())
    }

    /// Parses, merges and validates inventory `text` as if read from `path`,
    /// reporting every problem found. `env` looks up environment variables for
    /// `env('NAME')`; this does no IO of its own.
    pub fn parse(
        path: &Path,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Inventory, Diagnostics> {
        build::build(path, text, env)
    }

    /// The hosts of `group`, children included, in file order; none for an
    /// unknown group.
    pub fn host_names_in_group(&self, group: &str) -> &[String] {
        self.groups.get(group).map_or(&[], Vec::as_slice)
    }

    /// The primary. A loaded inventory always has exactly one.
    pub fn primary(&self) -> Option<&Host> {
        self.hosts.values().find(|host| host.role == Role::Primary)
    }
}
