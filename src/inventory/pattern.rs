//! `--limit`: Ansible's host patterns (names, groups, globs, `~regex`, `!`, `&`,
//! `@FILE`), as `ansible_inventory_reader::pattern` reads and resolves them over
//! the group tree, its messages naming pgconverge; and the limit that selects
//! hosts but no member of the cluster.

use super::PROGRAM;
use ansible_inventory_reader::pattern;
use indexmap::IndexMap;

pub use ansible_inventory_reader::pattern::{Origin, PatternError, PatternErrors};

/// The patterns of one or more `--limit` values, `@FILE`s read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limit(pattern::Limit);

impl Limit {
    /// Reads `--limit` values (repeated values add up, as if joined by `,`),
    /// reading each `@FILE` they name.
    pub fn read(values: &[String]) -> Result<Limit, PatternErrors> {
        pattern::Limit::read(values, PROGRAM).map(Limit)
    }

    /// Whether no pattern was given: then nothing is limited.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The hosts of `tree` (`Inventory::tree`) that the patterns select, in the
    /// order Ansible adds them; every word that matches nothing is an error.
    pub fn select(
        &self,
        tree: &IndexMap<String, super::GroupTree>,
    ) -> Result<Vec<String>, PatternErrors> {
        self.0.select(tree)
    }
}

/// Why a limit gives a command no host to act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("{0}")]
    Patterns(#[from] PatternErrors),
    #[error("--limit selects {}", no_member(selected))]
    NoMember {
        /// The hosts it selects, none of them a member.
        selected: Vec<String>,
    },
}

fn no_member(selected: &[String]) -> String {
    if selected.is_empty() {
        return "no host at all: nothing would be done".to_string();
    }
    let names: Vec<String> = selected.iter().map(|name| format!("`{name}`")).collect();
    format!(
        "no member of the cluster: {} {} in no role group (or in another replication cluster than `--cluster` names), so nothing would be done",
        names.join(", "),
        if selected.len() == 1 { "is" } else { "are" }
    )
}
