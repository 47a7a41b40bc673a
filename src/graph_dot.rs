//! The step graph across hosts as Graphviz DOT, for `pgconverge graph`: one
//! cluster per host, one node per step, an edge from each dependency to its
//! dependent, in the same stable order on every run.

use crate::desired::{DesiredHost, DesiredState, NodeId};
use crate::inventory::Role;
use indexmap::IndexMap;

/// The DOT text of the step graph of `desired`.
///
/// Hosts appear in inventory order, each host's steps in the order they run
/// (`Dag::topological_order`), and edges after the nodes, dependent by dependent
/// in that same order, so the same inventory gives the same text byte for byte.
/// An edge between two hosts (a standby waiting for its upstream) is dashed.
pub fn dot(desired: &DesiredState) -> String {
    // `DesiredState::build` refuses a graph with a cycle, so the fallback to
    // insertion order is never taken; it keeps this function total.
    let order = desired
        .graph
        .topological_order()
        .unwrap_or_else(|_| desired.graph.nodes().cloned().collect());
    let mut by_host: IndexMap<&str, Vec<&NodeId>> = desired
        .hosts
        .keys()
        .map(|name| (name.as_str(), Vec::new()))
        .collect();
    for node in &order {
        by_host.entry(node.host.as_str()).or_default().push(node);
    }

    let mut text = String::from("digraph pgconverge {\n    node [shape=box];\n");
    for (host, nodes) in &by_host {
        text.push_str(&format!(
            "    subgraph {} {{\n        label={};\n",
            quote(&format!("cluster_{host}")),
            quote(&host_label(host, desired.hosts.get(*host)))
        ));
        for node in nodes {
            text.push_str(&format!(
                "        {} [label={}];\n",
                node_id(node),
                quote(&node.step)
            ));
        }
        text.push_str("    }\n");
    }
    for node in &order {
        for dependency in desired.graph.dependencies_of(node) {
            let style = if dependency.host == node.host {
                ""
            } else {
                " [style=dashed]"
            };
            text.push_str(&format!(
                "    {} -> {}{style};\n",
                node_id(dependency),
                node_id(node)
            ));
        }
    }
    text.push_str("}\n");
    text
}

/// `h1 (primary)`, `h2 (standby of h1)`: the words the plan uses for a host.
fn host_label(name: &str, host: Option<&DesiredHost>) -> String {
    match host.map(|host| (host.role, host.upstream.as_deref())) {
        Some((Role::Primary, _)) => format!("{name} (primary)"),
        Some((Role::Standby, Some(upstream))) => format!("{name} (standby of {upstream})"),
        Some((Role::Standby, None)) => format!("{name} (standby)"),
        Some((Role::Archive, _)) => format!("{name} (archive)"),
        Some((Role::Pgbouncer, _)) => format!("{name} (pgbouncer)"),
        None => name.to_string(),
    }
}

/// A node's DOT identifier: `"host/step"`, unique because step ids are unique
/// within a host.
fn node_id(node: &NodeId) -> String {
    quote(&node.to_string())
}

/// A DOT double-quoted string. The grammar itself escapes only `"`; a backslash is
/// doubled as well, because Graphviz reads `\n`, `\l`, `\N` and the like in labels
/// as escapes, and a trailing backslash would otherwise escape the closing quote.
/// A line break becomes `\n`, which labels show as a line break.
pub fn quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for character in text.chars() {
        match character {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\r' => {}
            other => quoted.push(other),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Inventory;
    use crate::playbook::Playbook;
    use crate::render::Renderer;

    fn desired(inventory: &str) -> DesiredState {
        let inventory =
            Inventory::parse(std::path::Path::new("inventory.yaml"), inventory, &|_| None)
                .unwrap_or_else(|error| panic!("{error}"));
        let playbook = Playbook::load(None).unwrap_or_else(|error| panic!("{error}"));
        DesiredState::build(&inventory, &playbook, &Renderer::new(None))
            .unwrap_or_else(|error| panic!("{error}"))
    }

    const CASCADE: &str = "all:\n  vars:\n    pg_version: 15\n    replication_password: secret-pw\n  children:\n    primary:\n      hosts:\n        db1: { ansible_host: 10.0.0.11 }\n    standby:\n      hosts:\n        db2: { ansible_host: 10.0.0.12 }\n        db3: { ansible_host: 10.0.0.13, upstream: db2 }\n";

    #[test]
    fn a_cascading_cluster_draws_one_cluster_per_host_and_dashed_edges_between_hosts() {
        insta::assert_snapshot!(dot(&desired(CASCADE)));
    }

    #[test]
    fn every_dependency_is_one_edge_and_every_step_one_node() {
        let desired = desired(CASCADE);
        let text = dot(&desired);
        let edges = text.lines().filter(|line| line.contains(" -> ")).count();
        let expected_edges: usize = desired
            .graph
            .nodes()
            .map(|node| desired.graph.dependencies_of(node).count())
            .sum();
        assert_eq!(edges, expected_edges, "{text}");
        let nodes = text
            .lines()
            .filter(|line| line.contains(" [label="))
            .count();
        assert_eq!(nodes, desired.graph.nodes().count(), "{text}");
        assert!(
            !text.contains("\"db2/replication_role\""),
            "a standby has no replication_role step\n{text}"
        );
        assert!(
            text.contains("    \"db2/pg_service\" -> \"db3/base_backup\" [style=dashed];\n"),
            "the cascading standby waits for its upstream, not the primary\n{text}"
        );
    }

    #[test]
    fn the_same_inventory_gives_the_same_text() {
        assert_eq!(dot(&desired(CASCADE)), dot(&desired(CASCADE)));
    }

    #[test]
    fn quoting_follows_the_dot_grammar() {
        assert_eq!(quote("h1/os_user"), r#""h1/os_user""#);
        assert_eq!(quote(r#"say "hi""#), r#""say \"hi\"""#);
        assert_eq!(quote(r"ends in \"), r#""ends in \\""#);
        assert_eq!(quote("two\nlines"), r#""two\nlines""#);
        assert_eq!(quote("subgraph"), r#""subgraph""#);
        assert_eq!(quote(""), r#""""#);
    }
}
