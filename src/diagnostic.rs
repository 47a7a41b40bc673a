//! Problems found in user input (inventory, playbook, templates), each with its place.

use std::fmt;
use std::path::PathBuf;

/// Where in a file a problem is: 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
}

/// One problem in user input. Validation collects every diagnostic it can find
/// before reporting, so a user fixes a broken inventory in one pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub location: Location,
    pub message: String,
}

impl Diagnostic {
    pub fn new(
        file: impl Into<PathBuf>,
        line: Option<usize>,
        column: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            location: Location {
                file: file.into(),
                line,
                column,
            },
            message: message.into(),
        }
    }
}

/// How serious a diagnostic is, in `validate --format json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Blocks every command.
    Error,
    /// Shown, blocks nothing.
    Warning,
}

impl Diagnostic {
    /// The diagnostic as `validate --format json` lists it, as `terraform
    /// validate -json` does: severity, message, file, line, column (`null`
    /// where unknown).
    pub fn to_json(&self, severity: Severity) -> serde_json::Value {
        serde_json::json!({
            "severity": severity,
            "message": self.message,
            "file": self.location.file.display().to_string(),
            "line": self.location.line,
            "column": self.location.column,
        })
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// A non-empty list of diagnostics, returned as one error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, diagnostic) in self.0.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}
