//! Ansible's variable precedence: for each host, the documented defaults, then
//! `all` vars, then the vars of every other group the host is in (shallower
//! groups first, so deeper ones win; file order among groups of one depth), then
//! the host's own vars. Later values replace earlier ones whole: maps are not
//! merged key by key.

use super::layout::Layout;
use super::report::location;
use super::yaml::{Entry, Node};
use crate::diagnostic::Location;
use indexmap::IndexMap;
use serde_json::Value;
use std::path::Path;

/// A variable's winning value before rendering.
#[derive(Debug, Clone, PartialEq)]
pub enum RawValue<'doc> {
    /// A value written in YAML; its strings are templates.
    Written(&'doc Node),
    /// A value pgconverge computed; it is used as is, never rendered.
    Computed(Value),
}

#[derive(Debug, Clone, PartialEq)]
pub struct RawVariable<'doc> {
    pub value: RawValue<'doc>,
    /// Where the value is written, or the defaults file for computed values.
    pub location: Location,
}

/// Every variable of one host, in the order each name first appears by
/// precedence (so the defaults come first).
pub type RawVariables<'doc> = IndexMap<String, RawVariable<'doc>>;

/// Where the variables of one inventory come from.
pub struct Sources<'a, 'doc> {
    layout: &'a Layout<'doc>,
    depths: IndexMap<&'a str, usize>,
    inventory_file: &'a Path,
    defaults: &'doc [Entry],
    defaults_file: &'a Path,
}

impl<'a, 'doc> Sources<'a, 'doc> {
    pub fn new(
        layout: &'a Layout<'doc>,
        inventory_file: &'a Path,
        defaults: &'doc [Entry],
        defaults_file: &'a Path,
    ) -> Self {
        Sources {
            layout,
            depths: layout.depths(),
            inventory_file,
            defaults,
            defaults_file,
        }
    }

    /// The variables of `host`, merged by precedence. `groups` are the groups the
    /// host belongs to, directly or through children.
    pub fn merge(&self, host: &str, groups: &[&str]) -> RawVariables<'doc> {
        let mut merged = RawVariables::new();
        let written = |entry: &'doc Entry, file: &Path| RawVariable {
            value: RawValue::Written(&entry.value),
            location: location(file, Some(entry.value.position)),
        };
        for entry in self.defaults {
            merged.insert(entry.key.clone(), written(entry, self.defaults_file));
        }
        // Ansible connects to the inventory name when `ansible_host` is unset,
        // and the default `replication_host` refers to it.
        let address = RawVariable {
            value: RawValue::Computed(Value::String(host.to_string())),
            location: location(self.defaults_file, None),
        };
        merged.insert("ansible_host".to_string(), address);
        for group in self.groups_by_precedence(groups) {
            for entry in &self.layout.groups[group].vars {
                merged.insert(entry.key.clone(), written(entry, self.inventory_file));
            }
        }
        if let Some(entry) = self.layout.hosts.get(host) {
            for entry in &entry.vars {
                merged.insert(entry.key.clone(), written(entry, self.inventory_file));
            }
        }
        merged
    }

    /// `groups` from lowest to highest precedence: by depth, then file order.
    fn groups_by_precedence<'g>(&self, groups: &[&'g str]) -> Vec<&'g str> {
        let mut ordered: Vec<(usize, usize, &str)> = groups
            .iter()
            .filter_map(|name| {
                let order = self.layout.groups.get_index_of(*name)?;
                let depth = self.depths.get(name).copied().unwrap_or(0);
                Some((depth, order, *name))
            })
            .collect();
        ordered.sort();
        ordered.into_iter().map(|(_, _, name)| name).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::report::Problems;
    use crate::inventory::{layout, yaml};

    /// Merges the variables of `host` and shows each as `name=value@line`, with
    /// `@-` for values that have no line.
    fn check(inventory: &str, defaults: &str, host: &str, expected: &[&str]) {
        let root = yaml::parse(inventory).expect("the test inventory parses");
        let defaults = yaml::parse(defaults).expect("the test defaults parse");
        let mut problems = Problems::default();
        let layout = layout::read(&root, Path::new("inventory.yml"), &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        let members = layout.members();
        let groups: Vec<&str> = members
            .iter()
            .filter(|(_, hosts)| hosts.iter().any(|known| known == host))
            .map(|(group, _)| group.as_str())
            .collect();
        let sources = Sources::new(
            &layout,
            Path::new("inventory.yml"),
            defaults.as_mapping().unwrap_or_default(),
            Path::new("defaults.yaml"),
        );
        let merged: Vec<String> = sources
            .merge(host, &groups)
            .iter()
            .map(|(name, variable)| {
                let value = match &variable.value {
                    RawValue::Written(node) => node.to_json(),
                    RawValue::Computed(value) => value.clone(),
                };
                let line = variable
                    .location
                    .line
                    .map_or("-".to_string(), |line| line.to_string());
                format!("{name}={value}@{line}")
            })
            .collect();
        assert_eq!(merged, expected);
    }

    const INVENTORY: &str = "
all:
  vars: {a: all, b: all, c: all, d: all}
  children:
    standby:
      vars: {b: standby, c: standby}
      children:
        remote:
          vars: {c: remote}
          hosts:
            db3: {d: host}
    late:
      vars: {b: late, m: {k: 1}}
      hosts:
        db3:
        db4: {m: {j: 2}}
";

    #[test]
    fn deeper_groups_win_then_file_order_then_host_vars() {
        check(
            INVENTORY,
            "a: default\nz: default\n",
            "db3",
            &[
                "a=\"all\"@3",
                "z=\"default\"@2",
                "ansible_host=\"db3\"@-",
                "b=\"late\"@13",
                "c=\"remote\"@9",
                "d=\"host\"@11",
                "m={\"k\":1}@13",
            ],
        );
    }

    #[test]
    fn maps_are_replaced_not_merged() {
        check(
            INVENTORY,
            "",
            "db4",
            &[
                "ansible_host=\"db4\"@-",
                "a=\"all\"@3",
                "b=\"late\"@13",
                "c=\"all\"@3",
                "d=\"all\"@3",
                "m={\"j\":2}@16",
            ],
        );
    }

    #[test]
    fn a_host_with_no_vars_gets_the_defaults_and_its_own_address() {
        check(
            "all:\n  hosts:\n    db1:\n",
            "pg_port: 5432\n",
            "db1",
            &["pg_port=5432@1", "ansible_host=\"db1\"@-"],
        );
    }

    #[test]
    fn ansible_host_set_in_the_inventory_replaces_the_name() {
        check(
            "all:\n  hosts:\n    db1: {ansible_host: 10.0.0.1}\n",
            "",
            "db1",
            &["ansible_host=\"10.0.0.1\"@3"],
        );
    }
}
