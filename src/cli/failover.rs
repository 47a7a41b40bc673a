//! `pgconverge promote` and `pgconverge switchover`.

use super::args::{InputArgs, LockArgs, SshArgs};
use clap::Args;
use pgconverge::apply::ApplyResult;
use pgconverge::failover::{self, FailoverOptions};
use pgconverge::printer::Printer;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The standby to promote
    host: String,
    #[command(flatten)]
    common: CommonArgs,
    /// Bytes of received WAL the standby may not have replayed yet (default: none)
    #[arg(long, value_name = "BYTES", default_value_t = 0)]
    max_lag: u64,
    /// Stop the old primary over SSH first if it still runs
    #[arg(long)]
    fence: bool,
    /// Record the new roles in the inventory file (as `pg_role`), keeping its comments and order
    #[arg(long)]
    write_inventory: bool,
    /// Promote an asynchronous standby although the cluster has synchronous ones: commits only they received are lost
    #[arg(long)]
    accept_async: bool,
}

#[derive(Debug, Args)]
pub struct SwitchoverArgs {
    /// The standby that becomes the primary
    host: String,
    #[command(flatten)]
    common: CommonArgs,
    /// Bytes the standby may be behind the primary when the switchover starts
    #[arg(long, value_name = "BYTES", default_value_t = 16 * 1024 * 1024)]
    max_lag: u64,
}

#[derive(Debug, Args)]
struct CommonArgs {
    #[command(flatten)]
    ssh: SshArgs,
    #[command(flatten)]
    lock: LockArgs,
    #[command(flatten)]
    input: InputArgs,
    /// Check the gates and show the plan; change nothing
    #[arg(long)]
    dry_run: bool,
}

fn options(
    command: &str,
    host: String,
    common: CommonArgs,
    max_lag: u64,
    fence: bool,
    accept_async: bool,
    write_inventory: bool,
) -> FailoverOptions {
    FailoverOptions {
        inventory: common.input.inventory.input(),
        playbook: common.input.playbook,
        templates: common.input.templates,
        host,
        dry_run: common.dry_run,
        max_lag,
        fence,
        accept_async,
        write_inventory,
        ssh: common.lock.options(&common.ssh, command, common.dry_run),
    }
}

/// The exit code of a command whose run ends in an `ApplyResult` (failover,
/// switchover, upgrade): 1 for a failed run, its error printed line by line.
pub fn exit(result: Result<ApplyResult, impl std::fmt::Display>) -> ExitCode {
    match result {
        Ok(ApplyResult::Failed) => ExitCode::from(1),
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => super::failed(&error),
    }
}

pub async fn promote(args: PromoteArgs) -> ExitCode {
    let options = options(
        "promote",
        args.host,
        args.common,
        args.max_lag,
        args.fence,
        args.accept_async,
        args.write_inventory,
    );
    exit(failover::promote(&options, Printer::new).await)
}

pub async fn switchover(args: SwitchoverArgs) -> ExitCode {
    let options = options(
        "switchover",
        args.host,
        args.common,
        args.max_lag,
        false,
        false,
        true,
    );
    exit(failover::switchover(&options, Printer::new).await)
}
