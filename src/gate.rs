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
    /// A warning: the gate lets the command go on (`passed`), but what it saw
    /// needs the operator's attention. Left out of the JSON when false.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub warning: bool,
}

impl Gate {
    pub fn new(name: &'static str, passed: bool, detail: String) -> Gate {
        Gate {
            name,
            passed,
            detail,
            warning: false,
        }
    }

    /// A gate that passes with a warning: the command goes on.
    pub fn warning(name: &'static str, detail: String) -> Gate {
        Gate {
            name,
            passed: true,
            detail,
            warning: true,
        }
    }
}
