//! Argument groups several subcommands share, so each flag is defined once.

use clap::{Args, ValueEnum};
use pgconverge::diagnostic::Diagnostics;
use pgconverge::inventory::vault::PasswordSource;
use pgconverge::inventory::{GroupNames, Input};
use pgconverge::pgconf::value::{Kind, canonical};
use pgconverge::plan::rolling::{PrimaryRestart, RestartPolicy};
use pgconverge::session::{Loaded, load};
use pgconverge::transport::SshOptions;
use std::path::PathBuf;
use std::time::Duration;

/// How to read an inventory: its sources, vault passwords and role groups.
#[derive(Debug, Args)]
pub struct InventoryArgs {
    /// The inventory: an Ansible YAML, INI or TOML file, `ansible-inventory --list` JSON, an inventory script, a host list (`h1,h2,`), or a directory of them (repeatable, merged in order)
    #[arg(short, long, value_name = "PATH", required = true)]
    pub inventory: Vec<PathBuf>,
    #[command(flatten)]
    pub reading: ReadingArgs,
}

impl InventoryArgs {
    pub fn input(&self) -> Input {
        self.reading.input(self.inventory.clone())
    }
}

/// Vault passwords and group names, for every command that reads an inventory.
#[derive(Debug, Args)]
pub struct ReadingArgs {
    /// A file holding the Ansible Vault password (default: `ANSIBLE_VAULT_PASSWORD_FILE`)
    #[arg(long, value_name = "FILE")]
    pub vault_password_file: Vec<PathBuf>,
    /// A vault password with its label, `label@FILE` (repeatable)
    #[arg(long, value_name = "LABEL@FILE")]
    pub vault_id: Vec<String>,
    /// The group whose hosts are primaries
    #[arg(long, value_name = "GROUP", default_value = "primary")]
    pub primary_group: String,
    /// The group whose hosts are standbys
    #[arg(long, value_name = "GROUP", default_value = "standby")]
    pub standby_group: String,
    /// The group of the hosts that keep the WAL archive
    #[arg(long, value_name = "GROUP", default_value = "archive")]
    pub archive_group: String,
    /// The group of the hosts that run PgBouncer for their cluster's clients
    #[arg(long, value_name = "GROUP", default_value = "pgbouncer")]
    pub pgbouncer_group: String,
    /// Only the hosts of this replication cluster (`replication_cluster`)
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
}

impl ReadingArgs {
    pub fn input(&self, sources: Vec<PathBuf>) -> Input {
        let mut vault_passwords: Vec<PasswordSource> = self
            .vault_password_file
            .iter()
            .map(|file| PasswordSource {
                label: None,
                file: file.clone(),
            })
            .collect();
        vault_passwords.extend(
            self.vault_id
                .iter()
                .map(|id| PasswordSource::from_vault_id(id)),
        );
        // As Ansible: the environment names a password file when no flag does.
        if vault_passwords.is_empty()
            && let Some(file) = std::env::var_os("ANSIBLE_VAULT_PASSWORD_FILE")
            && !file.is_empty()
        {
            vault_passwords.push(PasswordSource {
                label: None,
                file: PathBuf::from(file),
            });
        }
        Input {
            sources,
            vault_passwords,
            groups: GroupNames {
                primary: self.primary_group.clone(),
                standby: self.standby_group.clone(),
                archive: self.archive_group.clone(),
                pgbouncer: self.pgbouncer_group.clone(),
            },
            cluster: self.cluster.clone(),
            outside: Vec::new(),
            extra_vars: Vec::new(),
        }
    }
}

/// `--limit`, for every command that acts on some hosts only.
#[derive(Debug, Args)]
pub struct LimitArgs {
    /// Only the members matching PATTERN, as Ansible's `--limit` reads it: host and group names, globs (`db*`), `~regex`, `!` to leave out, `&` to intersect, `,` or `:` between, `@FILE` for one pattern a line (repeatable: they add up); a name that matches nothing is an error
    #[arg(long = "limit", short = 'l', value_name = "PATTERN")]
    pub patterns: Vec<String>,
}

/// What a command reads: the inventory, and the playbook and templates that
/// replace the built-in ones.
#[derive(Debug, Args)]
pub struct InputArgs {
    #[command(flatten)]
    pub inventory: InventoryArgs,
    /// A playbook to use instead of the built-in one
    #[arg(short, long, value_name = "FILE")]
    pub playbook: Option<PathBuf>,
    /// A directory of templates to use instead of the built-in ones
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
}

impl InputArgs {
    /// Reads and checks the inventory, playbook and templates; contacts nothing.
    pub fn load(&self) -> Result<Loaded, Diagnostics> {
        load(
            &self.inventory.input(),
            self.playbook.as_deref(),
            self.templates.as_deref(),
        )
    }
}

/// How to connect to hosts.
#[derive(Debug, Args)]
pub struct SshArgs {
    /// An OpenSSH client configuration file to use instead of ~/.ssh/config
    #[arg(long, value_name = "FILE")]
    pub ssh_config: Option<PathBuf>,
    /// Seconds to wait for each SSH connection
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub connect_timeout: u64,
    /// Record the key of a host seen for the first time (a changed key is always refused)
    #[arg(long)]
    pub accept_new_host_keys: bool,
    /// Become root with sudo on every host whose inventory does not set `ansible_become`
    #[arg(short = 'b', long = "become")]
    pub escalate: bool,
    /// Keep each host's SSH connection open for IDLE (default 10min) after the run, so the next run reuses it; `pgconverge disconnect` ends them
    #[arg(long, value_name = "IDLE", num_args = 0..=1, default_missing_value = "600", value_parser = seconds)]
    pub persist: Option<u64>,
}

impl SshArgs {
    pub fn options(&self) -> SshOptions {
        SshOptions {
            config_file: self.ssh_config.clone(),
            connect_timeout: Duration::from_secs(self.connect_timeout),
            accept_new_host_keys: self.accept_new_host_keys,
            escalate: self.escalate,
            persist: self.persist.map(Duration::from_secs),
            run_lock: None,
        }
    }
}

/// The run lock, for the commands that change something.
#[derive(Debug, Args)]
pub struct LockArgs {
    /// Wait up to SECONDS for a host another pgconverge run holds (default: stop at once, changing nothing)
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub lock_timeout: u64,
}

impl LockArgs {
    /// The connection options of `command`: it takes each host's run lock
    /// unless it is a dry run, which changes nothing and never waits.
    pub fn options(&self, ssh: &SshArgs, command: &str, dry_run: bool) -> SshOptions {
        let mut options = ssh.options();
        if !dry_run {
            options.run_lock = Some(pgconverge::transport::RunLock {
                command: command.to_string(),
                wait: Duration::from_secs(self.lock_timeout),
                held: Vec::new(),
            });
        }
        options
    }
}

/// How restarts treat a live cluster, for `apply` and `restart`.
#[derive(Debug, Args)]
pub struct RestartArgs {
    /// Bytes of WAL a restarted standby may be behind its upstream before the next member restarts [default: 16777216]
    #[arg(long, value_name = "BYTES")]
    pub max_lag: Option<u64>,
    /// A primary restarts only when no transaction has been open longer than SECONDS; it waits for older ones at most 60 s, then refuses [default: 300]
    #[arg(long, value_name = "SECONDS")]
    pub max_transaction_age: Option<u64>,
    /// How the primary restarts: in place, or by a switchover to a caught-up standby and back, so writes stop only for the switchovers [default: restart]
    #[arg(long, value_enum, value_name = "HOW")]
    pub restart_primary: Option<PrimaryRestartArg>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PrimaryRestartArg {
    Restart,
    Switchover,
}

impl RestartArgs {
    /// The policy, or `None` when no flag was given (the defaults, or a saved plan's).
    pub fn policy(&self) -> Option<RestartPolicy> {
        if self.max_lag.is_none()
            && self.max_transaction_age.is_none()
            && self.restart_primary.is_none()
        {
            return None;
        }
        let defaults = RestartPolicy::default();
        Some(RestartPolicy {
            max_lag_bytes: self.max_lag.unwrap_or(defaults.max_lag_bytes),
            max_transaction_age_seconds: self
                .max_transaction_age
                .unwrap_or(defaults.max_transaction_age_seconds),
            primary: match self.restart_primary {
                Some(PrimaryRestartArg::Switchover) => PrimaryRestart::Switchover,
                Some(PrimaryRestartArg::Restart) | None => defaults.primary,
            },
        })
    }
}

/// A time given as PostgreSQL writes one (`26h`, `10min`, `2d`), or seconds
/// without a unit.
pub fn seconds(text: &str) -> Result<u64, String> {
    canonical(
        text,
        Kind {
            vartype: "integer",
            unit: "s",
        },
    )
    .and_then(|value| value.parse::<u64>().ok())
    .ok_or_else(|| format!("`{text}` is no time (26h, 10min, seconds without a unit)"))
}
