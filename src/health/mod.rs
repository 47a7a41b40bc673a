//! `pgconverge check`: a monitoring plugin in the Nagios/Icinga convention. One
//! SSH round trip per host (the facts), then pure judgement (`evaluate.rs`) over
//! the status report, the facts and the plan an apply would run; the state is
//! the exit code (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN), the first line the
//! summary, `--format json` the whole judgement.

pub mod evaluate;

pub use evaluate::{Health, LagLimit, State, Thresholds};

use crate::gather;
use crate::plan::build::{PlanOptions, plan};
use crate::printer::{Format, Printer};
use crate::secret::Redactor;
use crate::session::{Session, load};
use crate::transport::SshOptions;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    pub inventory: crate::inventory::Input,
    pub playbook: Option<PathBuf>,
    pub templates: Option<PathBuf>,
    pub format: Format,
    pub thresholds: Thresholds,
    pub ssh: SshOptions,
}

/// The JSON document `check --format json` prints.
#[derive(Debug, Serialize)]
pub struct Document<'a> {
    format_version: u32,
    pgconverge_version: &'static str,
    #[serde(flatten)]
    health: &'a Health,
    /// SSH round trips per host: one each.
    round_trips: indexmap::IndexMap<String, usize>,
}

impl Document<'_> {
    pub fn new(health: &Health, round_trips: indexmap::IndexMap<String, usize>) -> Document<'_> {
        Document {
            format_version: 1,
            pgconverge_version: env!("CARGO_PKG_VERSION"),
            health,
            round_trips,
        }
    }
}

/// Checks the cluster and prints the result; the state is the exit code. An
/// inventory that cannot be read is UNKNOWN, with its problems.
pub async fn check(options: &CheckOptions, printer_for: impl FnOnce(Redactor) -> Printer) -> State {
    let session = match load(
        &options.inventory,
        options.playbook.as_deref(),
        options.templates.as_deref(),
    ) {
        Ok(loaded) => Session::quiet(loaded, printer_for),
        Err(problems) => {
            let printer = printer_for(Redactor::default());
            printer.out(&format!(
                "PGCONVERGE UNKNOWN - the inventory cannot be read: {}",
                problems.to_string().lines().next().unwrap_or_default()
            ));
            for line in problems.to_string().lines().skip(1) {
                printer.out(line);
            }
            return State::Unknown;
        }
    };
    let (loaded, printer) = (&session.loaded, &session.printer);
    let hosts = gather::hosts_to_contact(&loaded.desired, &[]);
    let gathered = session.gather_reading(&hosts, &options.ssh).await;
    let round_trips = gathered.round_trips();
    let report = crate::status::report(&loaded.desired, &gathered.facts);
    let drift = plan(
        &loaded.desired,
        &loaded.playbook,
        &gathered.facts,
        &PlanOptions::default(),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0);
    let health = evaluate::evaluate(
        &report,
        &gathered.facts,
        Some(&drift),
        &options.thresholds,
        now,
    );
    gathered.close().await;
    match options.format {
        Format::Human => {
            printer.out(&health.summary);
            for finding in &health.findings {
                printer.out(&format!("{}: {}", finding.state.name(), finding.message));
            }
        }
        Format::Json => printer.json(&Document::new(&health, round_trips.into_iter().collect())),
    }
    health.state
}
