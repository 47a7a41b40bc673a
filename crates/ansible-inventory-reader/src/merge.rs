//! Ansible's variable precedence, exactly as `ansible-inventory --list` applies
//! it for each host, lowest first:
//!
//! 1. the defaults the application gives (as a role's defaults), and
//!    `ansible_host`, the inventory name, where nothing sets it;
//! 2. `all` vars written in the inventory files;
//! 3. the vars of every other group of the host written in the inventory files,
//!    groups sorted by depth, then `ansible_group_priority` (set in an inventory
//!    file; 1 when unset), then name;
//! 4. `group_vars/all` beside each inventory source, sources in order;
//! 5. `group_vars/NAME` of the same groups in the same order, for each source in
//!    turn;
//! 6. the host's vars written in the inventory files (a `name:port` host first
//!    sets `ansible_port`);
//! 7. `host_vars/NAME` beside each source;
//! 8. the extra variables (Ansible's `--extra-vars`), used as given.
//!
//! Later values replace earlier ones whole: maps are not merged key by key
//! (Ansible's default `hash_behaviour`).

use crate::diagnostic::Location;
use crate::layout::{ALL, AdjacentVars, Layout, Var};
use crate::report::location;
use crate::yaml::{Entry, NodeValue};
use indexmap::IndexMap;
use serde_json::Value;
use std::path::Path;

/// A variable's winning value before rendering.
#[derive(Debug, Clone, PartialEq)]
pub enum RawValue<'doc> {
    /// A value written in YAML; its strings are templates.
    Written(&'doc crate::yaml::Node),
    /// A value computed rather than written (a default, an extra variable): it
    /// is used as is, never rendered.
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

/// The priority of a group whose inventory does not set `ansible_group_priority`.
const DEFAULT_PRIORITY: i64 = 1;

/// Where the variables of one inventory come from.
pub struct Sources<'a, 'doc> {
    layout: &'a Layout<'doc>,
    depths: IndexMap<&'a str, usize>,
    defaults: &'doc [Entry],
    defaults_file: &'a Path,
    /// Set above everything else (Ansible's `--extra-vars`), used as given.
    extra_vars: &'a [(String, Value)],
}

/// Where an extra variable is said to be written, in messages.
pub const EXTRA_VARS_PATH: &str = "(command line)";

impl<'a, 'doc> Sources<'a, 'doc> {
    pub fn new(layout: &'a Layout<'doc>, defaults: &'doc [Entry], defaults_file: &'a Path) -> Self {
        Sources {
            layout,
            depths: layout.depths(),
            defaults,
            defaults_file,
            extra_vars: &[],
        }
    }

    /// The same sources with `extra_vars` above every other value.
    pub fn with_extra_vars(self, extra_vars: &'a [(String, Value)]) -> Self {
        Sources { extra_vars, ..self }
    }

    /// The variables of `host`, merged by precedence. `groups` are the groups the
    /// host belongs to, directly or through children.
    pub fn merge(&self, host: &str, groups: &[&str]) -> RawVariables<'doc> {
        let mut merged = RawVariables::new();
        for entry in self.defaults {
            let variable = RawVariable {
                value: RawValue::Written(&entry.value),
                location: location(self.defaults_file, Some(entry.value.position)),
            };
            merged.insert(entry.key.clone(), variable);
        }
        // Ansible connects to the inventory name when `ansible_host` is unset,
        // and a template (a default's too) may refer to it all the same.
        let address = RawVariable {
            value: RawValue::Computed(Value::String(host.to_string())),
            location: location(self.defaults_file, None),
        };
        merged.insert("ansible_host".to_string(), address);
        let ordered = self.groups_by_precedence(groups);
        if let Some(all) = self.layout.groups.get(ALL) {
            insert_all(&mut merged, &all.vars);
        }
        for group in &ordered {
            // Written in an inventory file, `ansible_group_priority` orders the
            // groups and is no variable, as in Ansible.
            let vars = self.layout.groups[*group]
                .vars
                .iter()
                .filter(|var| var.entry.key != "ansible_group_priority");
            for var in vars {
                insert(&mut merged, var);
            }
        }
        let sources = self.source_count();
        let files = |owner: &str, index: &'a IndexMap<String, Vec<AdjacentVars<'doc>>>, source| {
            files_of(index, owner, source)
        };
        for source in 0..sources {
            for var in files(ALL, &self.layout.group_vars_files, source) {
                insert(&mut merged, var);
            }
        }
        for source in 0..sources {
            for group in &ordered {
                for var in files(group, &self.layout.group_vars_files, source) {
                    insert(&mut merged, var);
                }
            }
        }
        if let Some(entry) = self.layout.hosts.get(host) {
            if let Some((port, written_at)) = &entry.port_in_name {
                let variable = RawVariable {
                    value: RawValue::Computed(Value::from(*port)),
                    location: written_at.clone(),
                };
                merged.insert("ansible_port".to_string(), variable);
            }
            insert_all(&mut merged, &entry.vars);
        }
        for source in 0..sources {
            for var in files(host, &self.layout.host_vars_files, source) {
                insert(&mut merged, var);
            }
        }
        for (name, value) in self.extra_vars {
            let variable = RawVariable {
                value: RawValue::Computed(value.clone()),
                location: location(Path::new(EXTRA_VARS_PATH), None),
            };
            merged.insert(name.clone(), variable);
        }
        merged
    }

    /// One more than the highest source number with adjacent variables.
    fn source_count(&self) -> usize {
        let layout = self.layout;
        layout
            .group_vars_files
            .values()
            .chain(layout.host_vars_files.values())
            .flatten()
            .map(|adjacent| adjacent.source + 1)
            .max()
            .unwrap_or(0)
    }

    /// `groups` but `all`, lowest precedence first: by depth, then priority,
    /// then name, as Ansible sorts them.
    fn groups_by_precedence<'g>(&self, groups: &[&'g str]) -> Vec<&'g str> {
        let mut ordered: Vec<(usize, i64, &str)> = groups
            .iter()
            .filter(|name| **name != ALL && self.layout.groups.contains_key(**name))
            .map(|name| {
                let depth = self.depths.get(name).copied().unwrap_or(0);
                (depth, self.priority(name), *name)
            })
            .collect();
        ordered.sort();
        ordered.into_iter().map(|(_, _, name)| name).collect()
    }

    /// The group's `ansible_group_priority` as its inventory files write it;
    /// `group_vars` files do not change it, in Ansible either.
    fn priority(&self, group: &str) -> i64 {
        let written = self.layout.groups.get(group).and_then(|known| {
            known
                .vars
                .iter()
                .rev()
                .find(|var| var.entry.key == "ansible_group_priority")
        });
        written
            .and_then(|var| group_priority(&var.entry.value.value))
            .unwrap_or(DEFAULT_PRIORITY)
    }
}

/// `ansible_group_priority` as Ansible reads it: a whole number, or text of one.
pub fn group_priority(value: &NodeValue) -> Option<i64> {
    match value {
        NodeValue::Number(number) => number.as_i64(),
        NodeValue::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// The variables of `owner`'s files beside source number `source`.
fn files_of<'a, 'doc>(
    index: &'a IndexMap<String, Vec<AdjacentVars<'doc>>>,
    owner: &str,
    source: usize,
) -> Vec<&'a Var<'doc>> {
    index
        .get(owner)
        .into_iter()
        .flatten()
        .filter(|adjacent| adjacent.source == source)
        .flat_map(|adjacent| adjacent.vars.iter())
        .collect()
}

fn insert<'doc>(merged: &mut RawVariables<'doc>, var: &Var<'doc>) {
    let variable = RawVariable {
        value: RawValue::Written(&var.entry.value),
        location: var.value_location(),
    };
    merged.insert(var.entry.key.clone(), variable);
}

fn insert_all<'doc>(merged: &mut RawVariables<'doc>, vars: &[Var<'doc>]) {
    for var in vars {
        insert(merged, var);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Problems;
    use crate::{layout, yaml};

    /// Merges the variables of `host` and shows each as `name=value@line`, with
    /// `@-` for values that have no line.
    fn check(inventory: &str, defaults: &str, host: &str, expected: &[&str]) {
        let document = layout::Document {
            path: "inventory.yml".into(),
            root: yaml::parse(inventory).expect("the test inventory parses"),
        };
        let defaults = yaml::parse(defaults).expect("the test defaults parse");
        let mut problems = Problems::default();
        let documents = [document];
        let layout = layout::read(&documents, &[], &|_| None, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        let members = layout.members();
        let groups: Vec<&str> = members
            .iter()
            .filter(|(_, hosts)| hosts.iter().any(|known| known == host))
            .map(|(group, _)| group.as_str())
            .collect();
        let sources = Sources::new(
            &layout,
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
    fn deeper_groups_win_then_names_then_host_vars() {
        // `late` and `standby` are both one deep: `standby` sorts after `late`
        // by name and wins, whatever the file order.
        check(
            INVENTORY,
            "a: default\nz: default\n",
            "db3",
            &[
                "a=\"all\"@3",
                "z=\"default\"@2",
                "ansible_host=\"db3\"@-",
                "b=\"standby\"@6",
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
