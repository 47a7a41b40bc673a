//! Who replicates from whom: each host's role (from the group `primary` or
//! `standby`, or the variable `pg_role`; `archive` and `pgbouncer` for hosts of
//! those groups alone, which run no PostgreSQL of the cluster), the one primary,
//! and each standby's upstream, with every problem in that topology.

use super::Role;
use crate::diagnostic::Location;
use ansible_inventory_reader::report::Problems;
use ansible_inventory_reader::resolve::{Lookup, Resolved};
use ansible_inventory_reader::suggest;
use indexmap::{IndexMap, IndexSet};
use serde_json::Value;

/// What decides one host's role.
pub struct RoleFacts<'a> {
    pub host: &'a str,
    /// Where the host is first listed.
    pub listed_at: Location,
    pub in_primary_group: bool,
    pub in_standby_group: bool,
    pub in_archive_group: bool,
    pub in_pgbouncer_group: bool,
    /// The rendered `pg_role`.
    pub pg_role: &'a Lookup<'a>,
}

/// A host's role and the place that gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Assigned {
    pub role: Role,
    pub given_at: Location,
}

/// The role of one host: `pg_role` when set, else its group.
pub fn role_of(facts: &RoleFacts, problems: &mut Problems) -> Option<Assigned> {
    let host = facts.host;
    let pg_role = match facts.pg_role {
        Lookup::Failed => return None,
        Lookup::Found(pg_role) => Some(pg_role),
        Lookup::Unset => None,
    };
    if let Some(pg_role) = pg_role {
        let role = match &pg_role.value {
            Value::String(text) if text == "primary" => Role::Primary,
            Value::String(text) if text == "standby" => Role::Standby,
            Value::String(text) if text == "archive" => Role::Archive,
            other => {
                let message = format!(
                    "`pg_role` of host `{host}` must be `primary`, `standby` or `archive`, not {other}"
                );
                problems.add(pg_role.location.clone(), message);
                return None;
            }
        };
        let given_at = pg_role.location.clone();
        return Some(Assigned { role, given_at });
    }
    let role = match (facts.in_primary_group, facts.in_standby_group) {
        (true, false) => Role::Primary,
        (false, true) => Role::Standby,
        (false, false) if facts.in_archive_group => Role::Archive,
        (false, false) if facts.in_pgbouncer_group => Role::Pgbouncer,
        (true, true) => {
            let message = format!(
                "host `{host}` is in both groups `primary` and `standby`: remove it from one, or set `pg_role`"
            );
            problems.add(facts.listed_at.clone(), message);
            return None;
        }
        (false, false) => {
            let message = format!(
                "host `{host}` has no role: put it in group `primary`, `standby`, `archive` or `pgbouncer`, or set `pg_role`"
            );
            problems.add(facts.listed_at.clone(), message);
            return None;
        }
    };
    let given_at = facts.listed_at.clone();
    Some(Assigned { role, given_at })
}

/// The one primary, or `None` after reporting that there is none or several.
/// `no_primary_at` is where to point when there is none.
pub fn single_primary(
    roles: &IndexMap<String, Assigned>,
    no_primary_at: Location,
    problems: &mut Problems,
) -> Option<String> {
    let primaries: Vec<(&String, &Assigned)> = roles
        .iter()
        .filter(|(_, assigned)| assigned.role == Role::Primary)
        .collect();
    match primaries.as_slice() {
        [(name, _)] => Some(name.to_string()),
        [] => {
            let message = "the inventory has no primary: put one host in group `primary`";
            problems.add(no_primary_at, message);
            None
        }
        [_, (_, second), ..] => {
            let names: Vec<String> = primaries
                .iter()
                .map(|(name, _)| format!("`{name}`"))
                .collect();
            let message = format!(
                "the inventory has {} primaries ({}): a cluster has exactly one, make the others standbys",
                primaries.len(),
                names.join(", ")
            );
            problems.add(second.given_at.clone(), message);
            None
        }
    }
}

/// Each standby's upstream: its `upstream` variable, else the primary. Reports
/// upstreams that name no host, hosts that are their own upstream, and
/// standbys that replicate from each other in a cycle.
pub fn upstreams(
    roles: &IndexMap<String, Assigned>,
    upstream_vars: &IndexMap<String, &Resolved>,
    primary: Option<&str>,
    problems: &mut Problems,
) -> IndexMap<String, String> {
    let mut chosen = IndexMap::new();
    for (host, assigned) in roles {
        if assigned.role != Role::Standby {
            continue;
        }
        // An empty `upstream` lets a host undo one set for its group.
        let upstream = match upstream_vars.get(host) {
            Some(variable) if !variable.value.is_null() => {
                named_upstream(host, variable, roles, problems)
            }
            _ => primary.map(str::to_string),
        };
        if let Some(upstream) = upstream {
            chosen.insert(host.clone(), upstream);
        }
    }
    report_cycles(&chosen, upstream_vars, problems);
    chosen
}

/// The host an `upstream` variable names, if it is a valid choice.
fn named_upstream(
    host: &str,
    variable: &Resolved,
    roles: &IndexMap<String, Assigned>,
    problems: &mut Problems,
) -> Option<String> {
    let place = variable.location.clone();
    let name = match &variable.value {
        Value::String(name) => name,
        other => {
            let message = format!("`upstream` of host `{host}` must be a host name, not {other}");
            problems.add(place, message);
            return None;
        }
    };
    if name == host {
        problems.add(place, format!("host `{host}` is its own upstream"));
        return None;
    }
    if !roles.contains_key(name) {
        let hint = match suggest::closest(name, roles.keys().map(String::as_str)) {
            Some(close) => format!(" (did you mean `{close}`?)"),
            None => String::new(),
        };
        let message =
            format!("upstream `{name}` of host `{host}` is not a host in the inventory{hint}");
        problems.add(place, message);
        return None;
    }
    Some(name.clone())
}

/// Reports every cycle of standbys once, at the `upstream` of its first host
/// in file order.
fn report_cycles(
    chosen: &IndexMap<String, String>,
    upstream_vars: &IndexMap<String, &Resolved>,
    problems: &mut Problems,
) {
    for start in chosen.keys() {
        let Some(cycle) = cycle_from(start, chosen) else {
            continue;
        };
        let first_in_file = cycle
            .iter()
            .min_by_key(|host| chosen.get_index_of(host.as_str()));
        if first_in_file != Some(start) {
            continue;
        }
        let Some(place) = upstream_vars.get(start.as_str()) else {
            continue;
        };
        let mut path: Vec<String> = cycle.iter().map(|host| format!("`{host}`")).collect();
        path.push(format!("`{start}`"));
        let message = format!(
            "standbys replicate from each other in a cycle, {}: one of them must replicate from the primary",
            path.join(" -> ")
        );
        problems.add(place.location.clone(), message);
    }
}

/// The hosts of the cycle `start` is on, beginning with `start`, if any.
fn cycle_from(start: &String, chosen: &IndexMap<String, String>) -> Option<Vec<String>> {
    let mut path: IndexSet<&String> = IndexSet::new();
    let mut current = start;
    while path.insert(current) {
        current = chosen.get(current)?;
        if current == start {
            return Some(path.into_iter().cloned().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn place(line: usize) -> Location {
        Location {
            file: PathBuf::from("inventory.yml"),
            line: Some(line),
            column: Some(5),
        }
    }

    fn resolved(value: Value, line: usize) -> Resolved<'static> {
        Resolved {
            value,
            location: place(line),
            node: None,
        }
    }

    fn problems_text(problems: Problems) -> Vec<String> {
        problems
            .into_diagnostics()
            .0
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// The role of a host given its groups (`p` primary, `s` standby, `b`
    /// pgbouncer) and `pg_role`, as `primary`, `standby` or the problem reported.
    fn role_text(groups: &str, pg_role: Option<Value>) -> String {
        let pg_role = match pg_role {
            Some(value) => Lookup::Found(resolved(value, 7)),
            None => Lookup::Unset,
        };
        let facts = RoleFacts {
            host: "db1",
            listed_at: place(3),
            in_primary_group: groups.contains('p'),
            in_standby_group: groups.contains('s'),
            in_archive_group: false,
            in_pgbouncer_group: groups.contains('b'),
            pg_role: &pg_role,
        };
        let mut problems = Problems::default();
        match role_of(&facts, &mut problems) {
            Some(assigned) => format!("{:?}@{:?}", assigned.role, assigned.given_at.line),
            None => problems_text(problems).join("\n"),
        }
    }

    #[test]
    fn roles_come_from_groups_and_pg_role_overrides_them() {
        let cases = [
            ("p", None, "Primary@Some(3)"),
            ("s", None, "Standby@Some(3)"),
            ("p", Some(Value::from("standby")), "Standby@Some(7)"),
            ("", Some(Value::from("primary")), "Primary@Some(7)"),
            ("ps", Some(Value::from("primary")), "Primary@Some(7)"),
            // A host of the group `pgbouncer` alone runs no PostgreSQL of the
            // cluster; one that is also a member keeps its member's role.
            ("b", None, "Pgbouncer@Some(3)"),
            ("pb", None, "Primary@Some(3)"),
            ("sb", None, "Standby@Some(3)"),
            (
                "",
                None,
                "inventory.yml:3:5: host `db1` has no role: put it in group `primary`, `standby`, `archive` or `pgbouncer`, or set `pg_role`",
            ),
            (
                "ps",
                None,
                "inventory.yml:3:5: host `db1` is in both groups `primary` and `standby`: remove it from one, or set `pg_role`",
            ),
            (
                "p",
                Some(Value::from("master")),
                "inventory.yml:7:5: `pg_role` of host `db1` must be `primary`, `standby` or `archive`, not \"master\"",
            ),
        ];
        for (groups, pg_role, expected) in cases {
            assert_eq!(
                role_text(groups, pg_role.clone()),
                expected,
                "{groups} {pg_role:?}"
            );
        }
    }

    #[test]
    fn a_pg_role_that_failed_to_render_is_not_reported_again() {
        let facts = RoleFacts {
            host: "db1",
            listed_at: place(3),
            in_primary_group: false,
            in_standby_group: false,
            in_archive_group: false,
            in_pgbouncer_group: false,
            pg_role: &Lookup::Failed,
        };
        let mut problems = Problems::default();
        assert_eq!(role_of(&facts, &mut problems), None);
        assert!(problems.is_empty());
    }

    fn roles(list: &[(&str, Role, usize)]) -> IndexMap<String, Assigned> {
        list.iter()
            .map(|(name, role, line)| {
                let assigned = Assigned {
                    role: *role,
                    given_at: place(*line),
                };
                (name.to_string(), assigned)
            })
            .collect()
    }

    #[test]
    fn exactly_one_primary_is_required() {
        let one = roles(&[("db1", Role::Primary, 2), ("db2", Role::Standby, 3)]);
        let mut problems = Problems::default();
        assert_eq!(
            single_primary(&one, place(1), &mut problems),
            Some("db1".to_string())
        );
        assert!(problems.is_empty());

        let none = roles(&[("db2", Role::Standby, 3)]);
        let mut problems = Problems::default();
        assert_eq!(single_primary(&none, place(1), &mut problems), None);
        assert_eq!(
            problems_text(problems),
            ["inventory.yml:1:5: the inventory has no primary: put one host in group `primary`"]
        );

        let two = roles(&[("db1", Role::Primary, 2), ("db5", Role::Primary, 6)]);
        let mut problems = Problems::default();
        assert_eq!(single_primary(&two, place(1), &mut problems), None);
        assert_eq!(
            problems_text(problems),
            [
                "inventory.yml:6:5: the inventory has 2 primaries (`db1`, `db5`): a cluster has exactly one, make the others standbys"
            ]
        );
    }

    /// Upstreams of `standbys` (name, `upstream` value) next to primary `db1`,
    /// as `standby<-upstream` followed by the problems.
    fn upstream_text(standbys: &[(&str, Option<Value>)]) -> Vec<String> {
        let mut list = vec![("db1", Role::Primary, 1)];
        list.extend(standbys.iter().map(|(name, _)| (*name, Role::Standby, 2)));
        let roles = roles(&list);
        let values: Vec<(String, Resolved)> = standbys
            .iter()
            .enumerate()
            .filter_map(|(index, (name, value))| {
                Some((name.to_string(), resolved(value.clone()?, 10 + index)))
            })
            .collect();
        let upstream_vars: IndexMap<String, &Resolved> = values
            .iter()
            .map(|(name, value)| (name.clone(), value))
            .collect();
        let mut problems = Problems::default();
        let chosen = upstreams(&roles, &upstream_vars, Some("db1"), &mut problems);
        let mut lines: Vec<String> = chosen
            .iter()
            .map(|(standby, upstream)| format!("{standby}<-{upstream}"))
            .collect();
        lines.extend(problems_text(problems));
        lines
    }

    #[test]
    fn standbys_follow_the_primary_unless_upstream_is_set() {
        assert_eq!(
            upstream_text(&[("db2", None), ("db3", Some(Value::from("db2")))]),
            ["db2<-db1", "db3<-db2"]
        );
        assert_eq!(upstream_text(&[]), Vec::<String>::new());
    }

    #[test]
    fn bad_upstreams_are_reported() {
        assert_eq!(
            upstream_text(&[
                ("db2", Some(Value::from("db2"))),
                ("db3", Some(Value::from("db22"))),
                ("db5", Some(Value::from(5))),
                ("db6", Some(Value::from("nowhere"))),
            ]),
            [
                "inventory.yml:10:5: host `db2` is its own upstream",
                "inventory.yml:11:5: upstream `db22` of host `db3` is not a host in the inventory (did you mean `db2`?)",
                "inventory.yml:12:5: `upstream` of host `db5` must be a host name, not 5",
                "inventory.yml:13:5: upstream `nowhere` of host `db6` is not a host in the inventory",
            ]
        );
    }

    #[test]
    fn a_cascade_cycle_is_reported_once_with_its_hosts() {
        assert_eq!(
            upstream_text(&[
                ("db2", Some(Value::from("db4"))),
                ("db3", Some(Value::from("db2"))),
                ("db4", Some(Value::from("db3"))),
                ("db5", Some(Value::from("db4"))),
            ]),
            [
                "db2<-db4",
                "db3<-db2",
                "db4<-db3",
                "db5<-db4",
                "inventory.yml:10:5: standbys replicate from each other in a cycle, `db2` -> `db4` -> `db3` -> `db2`: one of them must replicate from the primary",
            ]
        );
    }
}
