//! `pgconverge apply`.

use super::args::{LimitArgs, LockArgs, ReadingArgs, RestartArgs, SshArgs};
use clap::{Args, ValueEnum};
use pgconverge::apply::{ApplyOptions, ApplyResult};
use pgconverge::failover;
use pgconverge::printer::{Format, Printer};
use pgconverge::secret::Redactor;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DiffView {
    Settings,
    Full,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    ssh: SshArgs,
    #[command(flatten)]
    lock: LockArgs,
    /// A plan saved with `--dry-run --out FILE`: apply exactly it, or nothing if a host or input changed since
    #[arg(value_name = "PLAN")]
    plan: Option<PathBuf>,
    /// The inventory: an Ansible YAML, INI or TOML file, `ansible-inventory --list` JSON, an inventory script, a host list (`h1,h2,`), or a directory of them (repeatable, merged in order; with a saved plan: must be the one planned)
    #[arg(short, long, value_name = "PATH", required_unless_present = "plan")]
    inventory: Vec<PathBuf>,
    #[command(flatten)]
    reading: ReadingArgs,
    /// Gather facts and print the plan; change nothing on any host
    #[arg(long)]
    dry_run: bool,
    /// With --dry-run: save the plan to FILE for `pgconverge apply FILE` (it holds no secret)
    #[arg(long, value_name = "FILE", requires = "dry_run")]
    out: Option<PathBuf>,
    /// `json` prints a versioned JSON document on stdout (docs/plan-format.md) and the rest on stderr
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    #[command(flatten)]
    limit: LimitArgs,
    /// How many steps run at once (default: no limit)
    #[arg(long, value_name = "N", default_value_t = 0)]
    forks: usize,
    /// Exit 0 when nothing is (or was) to change, 2 when changes are pending or were made, 1 on error
    #[arg(long)]
    detailed_exitcode: bool,
    /// Allow replacing the data directory of HOST although it holds user databases (repeatable)
    #[arg(long, value_name = "HOST")]
    replace_data: Vec<String>,
    #[command(flatten)]
    restarts: RestartArgs,
    /// Stop HOST, a writable primary beside the inventory's primary, and rejoin it,
    /// discarding what it wrote after their timelines forked (repeatable)
    #[arg(long, value_name = "HOST")]
    rejoin: Vec<String>,
    /// Stop the server of HOST, which the inventory lists outside the groups that
    /// give roles, keeping its data, after the members dropped its slot and rules (repeatable)
    #[arg(long, value_name = "HOST")]
    decommission: Vec<String>,
    /// `full` shows each file's whole unified diff; by default a configuration file
    /// shows the settings and rules it changes (the JSON plan always has both)
    #[arg(long, value_enum, default_value = "settings")]
    diff: DiffView,
    /// A playbook to use instead of the built-in one
    #[arg(short, long, value_name = "FILE")]
    playbook: Option<PathBuf>,
    /// A directory of templates to use instead of the built-in ones
    #[arg(long, value_name = "DIR")]
    templates: Option<PathBuf>,
}

pub async fn run(args: ApplyArgs) -> ExitCode {
    let options = ApplyOptions {
        inventory: args.reading.input(args.inventory),
        playbook: args.playbook,
        templates: args.templates,
        saved_plan: args.plan,
        dry_run: args.dry_run,
        out: args.out,
        format: args.format,
        limit: args.limit.patterns,
        replace_data: args.replace_data,
        restarts: args.restarts.policy(),
        only: pgconverge::apply::Only::Everything,
        rejoin: args.rejoin,
        decommission: args.decommission,
        forks: args.forks,
        ssh: args.lock.options(&args.ssh, "apply", args.dry_run),
    };
    let full_diff = matches!(args.diff, DiffView::Full);
    let printer_for = move |redactor| Printer::new(redactor).with_full_diff(full_diff);
    exit_code(
        run_options(&options, printer_for).await,
        args.detailed_exitcode,
    )
}

/// Applies; where the plan makes the primary's restart a switchover
/// (`--restart-primary switchover`), hands the primary role over after it.
pub async fn run_options(
    options: &ApplyOptions,
    printer_for: impl Fn(Redactor) -> Printer,
) -> Result<ApplyResult, String> {
    failover::apply_handing_over(options, printer_for)
        .await
        .map_err(|error| error.to_string())
}

/// The exit code of an apply (or a restart): with `detailed`, 2 when changes are
/// pending or were made.
pub fn exit_code(result: Result<ApplyResult, String>, detailed: bool) -> ExitCode {
    match result {
        Ok(ApplyResult::NoChanges) => ExitCode::SUCCESS,
        Ok(ApplyResult::Changes) => ExitCode::from(if detailed { 2 } else { 0 }),
        Ok(ApplyResult::Failed) => ExitCode::from(1),
        Err(error) => super::failed(&error),
    }
}
