//! `pgconverge backup`: a pgBackRest backup now, for cron or CI.

use super::args::{InputArgs, LockArgs, SshArgs};
use clap::{Args, ValueEnum};
use pgconverge::actions::pgbackrest::BackupKind;
use pgconverge::apply::{ApplyOptions, Only, apply};
use pgconverge::plan::backup::BackupTask;
use pgconverge::printer::Format;
use pgconverge::printer::Printer;
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Kind {
    Full,
    Diff,
    Incr,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Runs `pgbackrest backup` where the repository is looked after (the repository host of \
`wal_archive: { pgbackrest: { repo_host: ... } }`, or the primary), once `apply` made its stanza, and \
prints one line: the backup's label, size, what it added to the repository, its duration and WAL range.\n\n\
Exit status: 0 when the backup was taken, 1 when it was not (the reason is printed)."
)]
pub struct BackupArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    ssh: SshArgs,
    #[command(flatten)]
    lock: LockArgs,
    /// What to copy: everything, what changed since the last full, or since the last backup
    #[arg(long = "type", value_enum, default_value = "incr")]
    kind: Kind,
    /// Show the step; take no backup
    #[arg(long)]
    dry_run: bool,
    /// `json` prints the plan's versioned JSON document on stdout (docs/plan-format.md), the step's `outcome` holding the backup's summary line; the rest goes to stderr
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

pub async fn run(args: BackupArgs) -> ExitCode {
    let task = BackupTask::Take(match args.kind {
        Kind::Full => BackupKind::Full,
        Kind::Diff => BackupKind::Diff,
        Kind::Incr => BackupKind::Incr,
    });
    let ssh = args.lock.options(&args.ssh, "backup", args.dry_run);
    run_task(args.input, ssh, args.dry_run, args.format, task).await
}

/// Plans and runs one backup task; exit 0 when it worked, 1 when not.
async fn run_task(
    input: InputArgs,
    ssh: pgconverge::transport::SshOptions,
    dry_run: bool,
    format: Format,
    task: BackupTask,
) -> ExitCode {
    let options = ApplyOptions {
        inventory: input.inventory.input(),
        playbook: input.playbook,
        templates: input.templates,
        dry_run,
        format,
        only: Only::Backup(task),
        ssh,
        ..ApplyOptions::default()
    };
    super::apply::exit_code(
        apply(&options, Printer::new)
            .await
            .map_err(|error| error.to_string()),
        false,
    )
}

#[derive(Debug, Args)]
#[command(
    after_help = "Restores the latest pgBackRest backup into a scratch directory on the repository host (or \
--host H), starts a throwaway PostgreSQL there on a free local port (no network, no archiving, no upstream) \
that recovers to the end of the archive, runs a query (the row count of --table), reports the recovery \
point, the time it took and the rows, then stops it and removes the directory. No member's server or data \
is touched; `pgbackrest verify` runs first, so a damaged repository fails naming what is damaged.\n\n\
Exit status: 0 when the backup restored, 1 when it did not (the reason is printed)."
)]
pub struct VerifyBackupArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    ssh: SshArgs,
    #[command(flatten)]
    lock: LockArgs,
    /// Restore on this host instead of the repository host (it needs PostgreSQL and pgBackRest)
    #[arg(long, value_name = "HOST")]
    host: Option<String>,
    /// Count the rows of this table (`schema.table`) in the restored server
    #[arg(long, value_name = "NAME")]
    table: Option<String>,
    /// Show the step; restore nothing
    #[arg(long)]
    dry_run: bool,
    /// `json` prints the plan's versioned JSON document on stdout (docs/plan-format.md), the step's `outcome` holding the restore's report (recovery point, time, rows); the rest goes to stderr
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

pub async fn verify(args: VerifyBackupArgs) -> ExitCode {
    let task = BackupTask::Verify {
        host: args.host,
        table: args.table,
    };
    let ssh = args.lock.options(&args.ssh, "verify-backup", args.dry_run);
    run_task(args.input, ssh, args.dry_run, args.format, task).await
}
