//! A gate: one check a command makes before it changes anything (a promotion's,
//! an upgrade's), with what was seen. Each command judges its own gates; the
//! printer shows them all alike.

use serde::Serialize;

/// One check, with what was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gate {
    pub name: &'static str,
    pub passed: bool,
    pub detail: String,
}

impl Gate {
    pub fn new(name: &'static str, passed: bool, detail: String) -> Gate {
        Gate {
            name,
            passed,
            detail,
        }
    }
}
