//! The command line: clap definitions and one small function per subcommand that
//! builds an options struct and calls the library.

mod apply;
mod args;
mod backup;
mod check;
mod completions;
mod connections;
mod disconnect;
mod failover;
mod graph;
mod inventory;
mod man;
mod reference;
mod render;
mod restart;
mod status;
mod upgrade;
mod validate;
mod version;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "pgconverge",
    version = version::VERSION,
    about = "Plan and converge PostgreSQL primary/standby clusters over SSH"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show what would change (--dry-run) or converge every host to the inventory
    Apply(apply::ApplyArgs),
    /// Promote a standby to primary (failover), after checking the safety gates
    Promote(failover::PromoteArgs),
    /// Hand the primary role to a standby with no data loss, then rejoin the old primary
    Switchover(failover::SwitchoverArgs),
    /// Upgrade the cluster in place to a new PostgreSQL major version (pg_upgrade --link), after checking the gates; `--cleanup` removes the old clusters after
    Upgrade(upgrade::UpgradeArgs),
    /// Restart the members in the safe order of an apply (standbys one at a time, caught up, the primary last), changing nothing else
    Restart(restart::RestartCommandArgs),
    /// Check the inventory, playbook and templates, reporting every problem; contacts no host
    Validate(validate::ValidateArgs),
    /// Write the files a host should have under a directory, for review; secrets are never written
    Render(render::RenderArgs),
    /// Print the step graph across hosts as Graphviz DOT; contacts no host
    Graph(graph::GraphArgs),
    /// Print the inventory as pgconverge reads it, as `ansible-inventory` does (--list, --host H, --graph); contacts no host
    Inventory(inventory::InventoryCommandArgs),
    /// Take a pgBackRest backup now (`--type full|diff|incr`), for cron or CI, with a summary line
    Backup(backup::BackupArgs),
    /// Prove the latest pgBackRest backup restores: recover it in a throwaway server and count a table's rows
    VerifyBackup(backup::VerifyBackupArgs),
    /// A monitoring check (Nagios/Icinga: exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN): roles, streaming, lag, archiving, slots, pending restarts, drift
    Check(check::CheckArgs),
    /// Show what every host is doing (role, upstream, lag) and where it disagrees with the inventory; changes nothing
    Status(status::StatusArgs),
    /// Print what applications connect with, per cluster: libpq URIs and pg_service.conf entries that follow the primary; contacts no host
    Connections(connections::ConnectionsArgs),
    /// End the SSH connections that runs with --persist kept open
    Disconnect(disconnect::DisconnectArgs),
    /// Print the completion script for a shell (bash, zsh, fish, elvish, powershell)
    Completions(completions::CompletionsArgs),
    /// Write the manual pages of every command into a directory, for packages
    #[command(hide = true)]
    Man(man::ManArgs),
    /// Print the command reference in Markdown (docs/commands.md), generated from these definitions
    #[command(hide = true)]
    Reference(reference::ReferenceArgs),
}

/// The exit code of a usage error (a mistyped flag, a missing argument): 64, as
/// `sysexits.h`'s `EX_USAGE`. No command uses it for a result (apply and restart
/// use 0 to 2, status 0 to 2, check 0 to 3, every other command 0 and 1), so a CI
/// job never reads a typo as "changes pending" or CRITICAL; a monitoring system
/// shows a code above 3 as UNKNOWN. docs/usage.md's table of exit codes lists them all.
pub const USAGE_ERROR: u8 = 64;

/// Parses the arguments, runs the subcommand and turns its result into an exit code.
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage(&error),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    match cli.command {
        Command::Apply(args) => runtime.block_on(apply::run(args)),
        Command::Promote(args) => runtime.block_on(failover::promote(args)),
        Command::Switchover(args) => runtime.block_on(failover::switchover(args)),
        Command::Restart(args) => runtime.block_on(restart::run(args)),
        Command::Upgrade(args) => runtime.block_on(upgrade::run(args)),
        Command::Validate(args) => validate::run(args),
        Command::Render(args) => render::run(args),
        Command::Graph(args) => graph::run(args),
        Command::Connections(args) => connections::run(args),
        Command::Inventory(args) => inventory::run(args),
        Command::Status(args) => runtime.block_on(status::run(args)),
        Command::Check(args) => runtime.block_on(check::run(args)),
        Command::Backup(args) => runtime.block_on(backup::run(args)),
        Command::VerifyBackup(args) => runtime.block_on(backup::verify(args)),
        Command::Disconnect(args) => runtime.block_on(disconnect::run(args)),
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => man::run(args),
        Command::Reference(args) => reference::run(args),
    }
}

/// Prints a command's error on stderr, each of its lines as an `error: ` line,
/// and gives exit code 1. (Its redactor knows no secret: the command's own
/// printer, which knew the inventory's, is gone by then.)
fn failed(error: &dyn std::fmt::Display) -> ExitCode {
    let printer = pgconverge::printer::Printer::new(pgconverge::secret::Redactor::default());
    for line in error.to_string().lines() {
        printer.error(line);
    }
    ExitCode::from(1)
}

/// Prints clap's message: help and version on stdout with exit 0, any other on
/// stderr with [`USAGE_ERROR`].
fn usage(error: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    // A broken pipe while printing help is no error of ours.
    let _ = error.print();
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ExitCode::SUCCESS,
        _ => ExitCode::from(USAGE_ERROR),
    }
}
