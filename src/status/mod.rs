//! The `status` operation: what each host of the cluster is doing now (role,
//! upstream, timeline, WAL position, replay lag), read in one SSH round trip per
//! host, and every way it disagrees with the inventory. It changes nothing.
//!
//! `report` is pure (desired state × facts in, `StatusReport` out), so every
//! situation is tested with fake facts; `status` adds the IO at the edge: load,
//! gather, print.
//!
//! `report.rs` holds the report's types and builds it, `disagreements.rs` the
//! rules that compare it with the inventory, `md5.rs` the notes of md5
//! passwords and rules (no disagreement: they leave the exit code alone),
//! `text.rs` the human text.
//!
//! The JSON document (`--format json`) is the `StatusReport` itself:
//! `format_version` (bumped whenever a field changes meaning or disappears),
//! `pgconverge_version`, `hosts` in inventory order and `disagreements`, each
//! with a `kind`, the `hosts` it concerns and a `message` to act on, and
//! `notes` of the same shape when there are any.

mod disagreements;
pub mod md5;
mod report;
mod text;

#[cfg(test)]
pub(crate) mod check;

pub use report::{
    Disagreement, DisagreementKind, FORMAT_VERSION, HostStatus, Note, NoteKind, ObservedState,
    StatusReport, report,
};
pub use text::text;

use crate::diagnostic::Diagnostics;
use crate::gather;
use crate::printer::{Format, Printer};
use crate::secret::Redactor;
use crate::session::Session;
use crate::transport::SshOptions;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Clone, Default)]
pub struct StatusOptions {
    pub inventory: crate::inventory::Input,
    pub playbook: Option<PathBuf>,
    pub templates: Option<PathBuf>,
    /// `Json` prints the status document on stdout; progress stays on stderr.
    pub format: Format,
    pub ssh: SshOptions,
}

#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("{0}")]
    Input(#[from] Diagnostics),
}

/// Loads the inventory, reads every host once, prints the status in the format
/// asked for, and returns the report (its disagreements decide the exit code).
pub async fn status(
    options: &StatusOptions,
    printer_for: impl FnOnce(Redactor) -> Printer,
) -> Result<StatusReport, StatusError> {
    let session = Session::start(
        &options.inventory,
        options.playbook.as_deref(),
        options.templates.as_deref(),
        printer_for,
    )?;
    let printer = &session.printer;
    let hosts = gather::hosts_to_contact(session.desired(), &[]);
    let started = Instant::now();
    let gathered = session.gather_reading(&hosts, &options.ssh).await;
    printer.err(&format!(
        "Gathered facts from {} of {} hosts in {:.2} s.",
        gathered.connections.len(),
        hosts.len(),
        started.elapsed().as_secs_f64()
    ));
    let status_report = report(session.desired(), &gathered.facts);
    gathered.close().await;
    match options.format {
        Format::Human => {
            for line in text(&status_report).lines() {
                printer.out(line);
            }
        }
        Format::Json => printer.json(&status_report),
    }
    Ok(status_report)
}
