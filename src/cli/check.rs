//! `pgconverge check`: a monitoring plugin (Nagios/Icinga exit codes).

use super::args::{Format, InputArgs, SshArgs, seconds};
use clap::Args;
use pgconverge::health::{CheckOptions, LagLimit, Thresholds, check};
use pgconverge::pgconf::value::{Kind, canonical};
use pgconverge::printer::Printer;
use std::process::ExitCode;

#[derive(Debug, Args)]
#[command(
    after_help = "Reads every host once over SSH (one round trip each) and changes nothing. Checks per host: \
reachable, the role the inventory gives, streaming from the right upstream, replay lag, archiver \
failures and segments waiting, replication slots (lost WAL, WAL kept by an inactive one), settings \
waiting for a restart, configuration drift (a non-empty plan) and, with pgBackRest, the repository's \
state and the age of its last backup.\n\n\
Exit status (Nagios/Icinga): 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. The first line is the summary \
with performance data after `|`; each finding follows on its own line."
)]
pub struct CheckArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    ssh: SshArgs,
    /// Replay lag that warns: a size (`16MB`, bytes without a unit) or a time (`60s`, `5min`); repeat for both [default: 16MB, 60s]
    #[arg(long, value_name = "LAG", value_parser = lag)]
    warn_lag: Vec<Lag>,
    /// Replay lag that is critical, as --warn-lag [default: 256MB, 300s]
    #[arg(long, value_name = "LAG", value_parser = lag)]
    crit_lag: Vec<Lag>,
    /// With pgBackRest: the last backup may be this old (`26h`, `2d`, seconds without a unit) [default: 26h]
    #[arg(long, value_name = "AGE", value_parser = seconds)]
    max_backup_age: Option<u64>,
    /// `json` prints the whole judgement as a JSON document on stdout
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

/// One limit of replay lag: bytes of WAL or seconds.
#[derive(Debug, Clone, Copy)]
enum Lag {
    Bytes(u64),
    Seconds(u64),
}

fn lag(text: &str) -> Result<Lag, String> {
    let read = |unit| {
        canonical(
            text,
            Kind {
                vartype: "integer",
                unit,
            },
        )
        .and_then(|value| value.parse::<u64>().ok())
    };
    let has_unit = text.trim().ends_with(|c: char| c.is_ascii_alphabetic());
    match (read("B"), read("s")) {
        (Some(bytes), _) if !has_unit || text.trim().ends_with('B') => Ok(Lag::Bytes(bytes)),
        (_, Some(seconds)) => Ok(Lag::Seconds(seconds)),
        _ => Err(format!(
            "`{text}` is neither a size (16MB, bytes without a unit) nor a time (60s, 5min)"
        )),
    }
}

fn limit(given: &[Lag], default: LagLimit) -> LagLimit {
    given.iter().fold(default, |limit, lag| match lag {
        Lag::Bytes(bytes) => LagLimit {
            bytes: *bytes,
            ..limit
        },
        Lag::Seconds(seconds) => LagLimit {
            seconds: *seconds,
            ..limit
        },
    })
}

pub async fn run(args: CheckArgs) -> ExitCode {
    let defaults = Thresholds::default();
    let options = CheckOptions {
        inventory: args.input.inventory.input(),
        playbook: args.input.playbook,
        templates: args.input.templates,
        format: args.format.into(),
        thresholds: Thresholds {
            warn_lag: limit(&args.warn_lag, defaults.warn_lag),
            crit_lag: limit(&args.crit_lag, defaults.crit_lag),
            max_backup_age: args.max_backup_age.unwrap_or(defaults.max_backup_age),
            ..defaults
        },
        ssh: args.ssh.options(),
    };
    ExitCode::from(check(&options, Printer::new).await.exit_code())
}
