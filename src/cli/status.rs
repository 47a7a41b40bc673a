//! `pgconverge status`.

use super::args::{Format, InputArgs, SshArgs};
use clap::Args;
use pgconverge::printer::Printer;
use pgconverge::status::{StatusError, StatusOptions, status};
use std::process::ExitCode;

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
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    ssh: SshArgs,
    /// `json` prints a versioned JSON document (`format_version`, `hosts`, `disagreements`) on stdout
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

pub async fn run(args: StatusArgs) -> ExitCode {
    let options = StatusOptions {
        inventory: args.input.inventory.input(),
        playbook: args.input.playbook,
        templates: args.input.templates,
        format: args.format.into(),
        ssh: args.ssh.options(),
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
