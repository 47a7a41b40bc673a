//! The documented defaults: those written in `defaults.yaml`, and the two that
//! are computed from the size of the cluster.

use crate::diagnostic::Diagnostic;
use ansible_inventory_reader::yaml::{self, Entry, Node};
use serde_json::Value;

/// The defaults, documented one by one in the file itself.
const DEFAULTS_TEXT: &str = include_str!("defaults.yaml");

/// The name diagnostics give the built-in defaults file. It is not a path a
/// user has, so it is written the way a built-in is.
pub const DEFAULTS_PATH: &str = "<built-in defaults.yaml>";

/// Documented variables that deliberately have no written default: `pg_role`
/// comes from group membership, `replication_password` must be chosen by the
/// user (and `pgbouncer_auth_password` too), a standby without `upstream`
/// follows its cluster's primary, and a cluster without `wal_archive` archives
/// no WAL.
const DOCUMENTED_WITHOUT_DEFAULT: [&str; 6] = [
    "pg_role",
    "replication_password",
    "pgbouncer_auth_password",
    "replication_cluster",
    "upstream",
    "wal_archive",
];

/// The computed defaults, by name.
const COMPUTED: [&str; 2] = ["max_wal_senders", "max_replication_slots"];

/// The parsed `defaults.yaml`.
#[derive(Debug)]
pub struct Defaults {
    document: Node,
}

impl Defaults {
    /// Parses the embedded defaults. An error here is a bug in pgconverge, not
    /// in the user's inventory, but it is still reported rather than panicking.
    pub fn load() -> Result<Defaults, Diagnostic> {
        let document = yaml::parse(DEFAULTS_TEXT).map_err(|error| {
            let (line, column) = match error.position {
                Some(position) => (Some(position.line), Some(position.column)),
                None => (None, None),
            };
            Diagnostic::new(DEFAULTS_PATH, line, column, error.message)
        })?;
        if document.as_mapping().is_none() {
            return Err(Diagnostic::new(
                DEFAULTS_PATH,
                None,
                None,
                "the built-in defaults are not a map of variables",
            ));
        }
        Ok(Defaults { document })
    }

    /// The written defaults, in file order.
    pub fn variables(&self) -> &[Entry] {
        self.document.as_mapping().unwrap_or_default()
    }

    /// Every variable pgconverge documents, defaulted or not.
    pub fn documented_names(&self) -> Vec<&str> {
        let written = self.variables().iter().map(|entry| entry.key.as_str());
        written
            .chain(COMPUTED)
            .chain(DOCUMENTED_WITHOUT_DEFAULT)
            .collect()
    }
}

/// The defaults that grow with the cluster, for a cluster with `standby_count`
/// standbys.
///
/// Cloning a standby with `pg_basebackup -X stream` holds two WAL senders (the
/// base backup and the WAL stream) and a temporary replication slot while it
/// runs, and every streaming standby then holds one WAL sender for good: three
/// senders and two slots per standby when all are being cloned at once. The
/// base of 10 leaves headroom for backups and monitoring tools.
pub fn computed(standby_count: usize) -> [(&'static str, Value); 2] {
    let standbys = u64::try_from(standby_count).unwrap_or(u64::MAX);
    let [senders, slots] = COMPUTED;
    [
        (
            senders,
            Value::from(10u64.saturating_add(standbys.saturating_mul(3))),
        ),
        (
            slots,
            Value::from(10u64.saturating_add(standbys.saturating_mul(2))),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_defaults_parse() {
        let defaults = Defaults::load().expect("defaults.yaml is valid");
        let names: Vec<&str> = defaults
            .variables()
            .iter()
            .map(|entry| entry.key.as_str())
            .collect();
        assert_eq!(names.first(), Some(&"pg_version"));
        assert!(names.contains(&"replication_host"), "{names:?}");
        assert!(!names.contains(&"replication_password"), "{names:?}");
    }

    #[test]
    fn documented_names_include_computed_and_undefaulted_ones() {
        let defaults = Defaults::load().expect("defaults.yaml is valid");
        let names = defaults.documented_names();
        for name in [
            "pg_data_dir",
            "max_wal_senders",
            "pg_role",
            "replication_password",
            "upstream",
            "wal_archive",
        ] {
            assert!(names.contains(&name), "{name} missing from {names:?}");
        }
    }

    #[test]
    fn computed_defaults_grow_with_the_standbys() {
        assert_eq!(
            computed(0),
            [
                ("max_wal_senders", Value::from(10)),
                ("max_replication_slots", Value::from(10))
            ]
        );
        assert_eq!(
            computed(2),
            [
                ("max_wal_senders", Value::from(16)),
                ("max_replication_slots", Value::from(14))
            ]
        );
    }
}
