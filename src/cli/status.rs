//! `pgconverge status`.

use clap::{Args, ValueEnum};
use pgconverge::apply::OutputFormat;
use pgconverge::printer::Printer;
use pgconverge::status::{StatusError, StatusOptions, status};
use pgconverge::transport::SshOptions;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Reads every host once over SSH (one round trip each) and changes nothing. For each host: \
reachable or not, the role it runs as (primary, standby, stopped, unreachable), the upstream it streams \
from, its timeline, WAL position, replay lag and WAL receiver state; then every disagreement with the \
inventory (split brain, a standby that accepts writes, a standby streaming from the wrong host or not \
at all, an inventory primary that is down, paused replay), each with what to do.\n\n\
Exit status: 0 when the cluster agrees with the inventory, 2 when there are disagreements, \
1 on an error (such as a bad inventory)."
)]
pub struct StatusArgs {
    /// The Ansible-style YAML inventory
    #[arg(short, long, value_name = "FILE")]
    inventory: PathBuf,
    /// `json` prints a versioned JSON document (`format_version`, `hosts`, `disagreements`) on stdout
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// An OpenSSH client configuration file to use instead of ~/.ssh/config
    #[arg(long, value_name = "FILE")]
    ssh_config: Option<PathBuf>,
    /// Seconds to wait for each SSH connection
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    connect_timeout: u64,
    /// Record the key of a host seen for the first time (a changed key is always refused)
    #[arg(long)]
    accept_new_host_keys: bool,
    /// A playbook to use instead of the built-in one
    #[arg(short, long, value_name = "FILE")]
    playbook: Option<PathBuf>,
    /// A directory of templates to use instead of the built-in ones
    #[arg(long, value_name = "DIR")]
    templates: Option<PathBuf>,
}

pub async fn run(args: StatusArgs) -> ExitCode {
    let options = StatusOptions {
        inventory: args.inventory,
        playbook: args.playbook,
        templates: args.templates,
        format: match args.format {
            Format::Human => OutputFormat::Human,
            Format::Json => OutputFormat::Json,
        },
        ssh: SshOptions {
            config_file: args.ssh_config,
            connect_timeout: Duration::from_secs(args.connect_timeout),
            accept_new_host_keys: args.accept_new_host_keys,
        },
    };
    match status(&options, Printer::new).await {
        Ok(report) if report.agrees() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(2),
        Err(StatusError::Input(diagnostics)) => {
            super::validate::report(&options.inventory, &diagnostics);
            ExitCode::from(1)
        }
    }
}
