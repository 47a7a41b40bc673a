//! Argument groups several subcommands share, so each flag is defined once.

use clap::Args;
use pgconverge::diagnostic::Diagnostics;
use pgconverge::load::{Loaded, load};
use pgconverge::transport::SshOptions;
use std::path::PathBuf;
use std::time::Duration;

/// What a command reads: the inventory, and the playbook and templates that
/// replace the built-in ones.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// The Ansible-style YAML inventory
    #[arg(short, long, value_name = "FILE")]
    pub inventory: PathBuf,
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
            &self.inventory,
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
}

impl SshArgs {
    pub fn options(&self) -> SshOptions {
        SshOptions {
            config_file: self.ssh_config.clone(),
            connect_timeout: Duration::from_secs(self.connect_timeout),
            accept_new_host_keys: self.accept_new_host_keys,
            escalate: self.escalate,
        }
    }
}
