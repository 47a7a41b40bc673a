//! Problems found in an inventory (or any other input a user writes), each with
//! its place.

use std::fmt;
use std::path::PathBuf;

/// Where in a file a problem is: 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file, or what stands for one (`SCRIPT --list`, a host list).
    pub file: PathBuf,
    /// The line, when known.
    pub line: Option<usize>,
    /// The column, in characters, when the line is known and it is.
    pub column: Option<usize>,
}

/// One problem in user input. Reading collects every diagnostic it can find
/// before reporting, so a user fixes a broken inventory in one pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where the problem is.
    pub location: Location,
    /// What is wrong, and what to do, without the place.
    pub message: String,
}

impl Diagnostic {
    /// A problem at `line` and `column` of `file`, either of which may be unknown.
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

/// `file:line:column: message`, as compilers write a problem.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// A non-empty list of diagnostics, returned as one error: one a line.
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
