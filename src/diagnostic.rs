//! Problems found in user input (inventory, playbook, templates), each with its
//! place: the inventory reader's `Diagnostic`, one type for all of them, and how
//! `validate --format json` lists one.

pub use ansible_inventory_reader::{Diagnostic, Diagnostics, Location};

/// How serious a diagnostic is, in `validate --format json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Blocks every command.
    Error,
    /// Shown, blocks nothing.
    Warning,
}

/// The diagnostic as `validate --format json` lists it, as `terraform validate
/// -json` does: severity, message, file, line, column (`null` where unknown).
pub fn to_json(diagnostic: &Diagnostic, severity: Severity) -> serde_json::Value {
    serde_json::json!({
        "severity": severity,
        "message": diagnostic.message,
        "file": diagnostic.location.file.display().to_string(),
        "line": diagnostic.location.line,
        "column": diagnostic.location.column,
    })
}
