//! `pgconverge upgrade`: an in-place major-version upgrade of the cluster.

use super::args::{InputArgs, LockArgs, SshArgs, seconds};
use clap::Args;
use pgconverge::printer::Format;
use pgconverge::printer::Printer;
use pgconverge::upgrade::{self, UpgradeOptions};
use pgconverge::versions::PgVersion;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct UpgradeArgs {
    #[command(flatten)]
    ssh: SshArgs,
    #[command(flatten)]
    lock: LockArgs,
    #[command(flatten)]
    input: InputArgs,
    /// The new major version (17); the inventory's `pg_version` is the current one
    #[arg(long, value_name = "VERSION", value_parser = version, required_unless_present = "cleanup")]
    to: Option<PgVersion>,
    /// Check the gates (with a scratch `pg_upgrade --check`) and show every step; change nothing
    #[arg(long)]
    dry_run: bool,
    /// Record `pg_version: VERSION` in the inventory file, keeping its comments and order
    #[arg(long)]
    write_inventory: bool,
    /// The primary stops only when no transaction has been open longer than this (`10min`, or seconds)
    #[arg(long, value_name = "DURATION", value_parser = seconds, default_value = "300")]
    max_transaction_age: u64,
    /// After a finished upgrade (with the updated inventory): DELETE the old clusters' directories it kept
    #[arg(long, conflicts_with_all = ["to", "write_inventory"])]
    cleanup: bool,
    /// `json` prints the gates as one versioned JSON document on stdout (each gate's name, whether it passed, what was seen; docs/plan-format.md), every other line on stderr
    #[arg(long, value_enum, default_value = "human", conflicts_with = "cleanup")]
    format: Format,
}

fn version(text: &str) -> Result<PgVersion, String> {
    PgVersion::parse(&serde_json::Value::from(text))
        .ok_or_else(|| format!("`{text}` is no PostgreSQL major version (17, or 9.6)"))
}

pub async fn run(args: UpgradeArgs) -> ExitCode {
    let options = UpgradeOptions {
        inventory: args.input.inventory.input(),
        playbook: args.input.playbook,
        templates: args.input.templates,
        to: args.to,
        dry_run: args.dry_run,
        write_inventory: args.write_inventory,
        max_transaction_age_seconds: args.max_transaction_age,
        cleanup: args.cleanup,
        format: args.format,
        ssh: args.lock.options(&args.ssh, "upgrade", args.dry_run),
    };
    let json = matches!(args.format, Format::Json);
    let printer_for = move |redactor| Printer::new(redactor).with_text_on_stderr(json);
    super::failover::exit(upgrade::upgrade(&options, printer_for).await)
}
