//! `pgconverge restart`: the members restarted in the safe order of an apply,
//! with no configuration change.

use super::args::{InputArgs, LimitArgs, LockArgs, RestartArgs, SshArgs};
use clap::Args;
use pgconverge::apply::{ApplyOptions, Only};
use pgconverge::plan::restart::RestartSelection;
use pgconverge::printer::Printer;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct RestartCommandArgs {
    #[command(flatten)]
    ssh: SshArgs,
    #[command(flatten)]
    lock: LockArgs,
    #[command(flatten)]
    input: InputArgs,
    /// Only the members with a setting that waits for a restart (`pending_restart`)
    #[arg(long)]
    pending: bool,
    #[command(flatten)]
    limit: LimitArgs,
    #[command(flatten)]
    restarts: RestartArgs,
    /// Show the order of the restarts; restart nothing
    #[arg(long)]
    dry_run: bool,
    /// Exit 0 when nothing is (or was) restarted, 2 when restarts are pending or were made, 1 on error
    #[arg(long)]
    detailed_exitcode: bool,
}

pub async fn run(args: RestartCommandArgs) -> ExitCode {
    let options = ApplyOptions {
        inventory: args.input.inventory.input(),
        playbook: args.input.playbook,
        templates: args.input.templates,
        dry_run: args.dry_run,
        limit: args.limit.patterns,
        restarts: args.restarts.policy(),
        only: Only::Restarts(RestartSelection {
            pending_only: args.pending,
        }),
        ssh: args.lock.options(&args.ssh, "restart", args.dry_run),
        ..ApplyOptions::default()
    };
    super::apply::exit_code(
        super::apply::run_options(&options, Printer::new).await,
        args.detailed_exitcode,
    )
}
