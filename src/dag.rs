//! A small deterministic dependency graph: nodes in insertion order, edges from a
//! node to the nodes it waits for, a stable topological order (Kahn's algorithm)
//! and a cycle error that names the nodes caught in it.

use indexmap::{IndexMap, IndexSet};
use std::fmt::Display;
use std::hash::Hash;

#[derive(Debug, Clone)]
pub struct Dag<N: Hash + Eq + Clone> {
    /// Each node with the nodes it depends on, in insertion order.
    dependencies: IndexMap<N, IndexSet<N>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the steps form a cycle: {}", .nodes.join(" -> "))]
pub struct CycleError {
    pub nodes: Vec<String>,
}

impl<N: Hash + Eq + Clone + Display> Default for Dag<N> {
    fn default() -> Self {
        Dag {
            dependencies: IndexMap::new(),
        }
    }
}

impl<N: Hash + Eq + Clone + Display> Dag<N> {
    pub fn add_node(&mut self, node: N) {
        self.dependencies.entry(node).or_default();
    }

    /// Records that `node` must wait for `dependency`. Both are added if new.
    pub fn add_edge(&mut self, node: N, dependency: N) {
        self.add_node(dependency.clone());
        self.dependencies
            .entry(node)
            .or_default()
            .insert(dependency);
    }

    pub fn nodes(&self) -> impl Iterator<Item = &N> {
        self.dependencies.keys()
    }

    pub fn dependencies_of(&self, node: &N) -> impl Iterator<Item = &N> {
        self.dependencies.get(node).into_iter().flatten()
    }

    /// Every node after all of its dependencies; among nodes that are ready at the
    /// same time, insertion order decides, so the order is the same on every run.
    pub fn topological_order(&self) -> Result<Vec<N>, CycleError> {
        let mut waiting: IndexMap<&N, usize> = self
            .dependencies
            .iter()
            .map(|(node, deps)| (node, deps.len()))
            .collect();
        let mut dependents: IndexMap<&N, Vec<&N>> = IndexMap::new();
        for (node, deps) in &self.dependencies {
            for dependency in deps {
                dependents.entry(dependency).or_default().push(node);
            }
        }
        let mut order = Vec::with_capacity(self.dependencies.len());
        let mut done: IndexSet<&N> = IndexSet::new();
        while order.len() < self.dependencies.len() {
            let ready: Vec<&N> = waiting
                .iter()
                .filter(|(node, count)| **count == 0 && !done.contains(**node))
                .map(|(node, _)| *node)
                .collect();
            if ready.is_empty() {
                return Err(self.cycle_among(&done));
            }
            for node in ready {
                done.insert(node);
                order.push(node.clone());
                for dependent in dependents.get(node).into_iter().flatten() {
                    if let Some(count) = waiting.get_mut(dependent) {
                        *count -= 1;
                    }
                }
            }
        }
        Ok(order)
    }

    /// Finds one cycle among the nodes not yet ordered, by walking dependencies
    /// until a node repeats.
    fn cycle_among(&self, done: &IndexSet<&N>) -> CycleError {
        let start = self.dependencies.keys().find(|node| !done.contains(node));
        let mut path: Vec<&N> = Vec::new();
        let mut current = start;
        while let Some(node) = current {
            if let Some(position) = path.iter().position(|seen| *seen == node) {
                let mut nodes: Vec<String> =
                    path[position..].iter().map(|n| n.to_string()).collect();
                nodes.push(node.to_string());
                return CycleError { nodes };
            }
            path.push(node);
            current = self.dependencies_of(node).find(|dep| !done.contains(dep));
        }
        CycleError {
            nodes: path.iter().map(|n| n.to_string()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dag(edges: &[(&'static str, &'static str)], nodes: &[&'static str]) -> Dag<&'static str> {
        let mut dag = Dag::default();
        for node in nodes {
            dag.add_node(*node);
        }
        for (node, dependency) in edges {
            dag.add_edge(*node, *dependency);
        }
        dag
    }

    #[test]
    fn order_respects_edges_and_insertion_order() {
        let graph = dag(
            &[
                ("config", "user"),
                ("restart", "config"),
                ("archive", "user"),
            ],
            &["user", "config", "archive", "restart"],
        );
        assert_eq!(
            graph.topological_order(),
            Ok(vec!["user", "config", "archive", "restart"])
        );
    }

    #[test]
    fn independent_nodes_keep_insertion_order() {
        let graph = dag(&[], &["b", "a", "c"]);
        assert_eq!(graph.topological_order(), Ok(vec!["b", "a", "c"]));
    }

    #[test]
    fn cycle_is_named() {
        let graph = dag(
            &[("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")],
            &["d", "a", "b", "c"],
        );
        let error = graph.topological_order().expect_err("a cycle");
        assert_eq!(
            error.to_string(),
            "the steps form a cycle: a -> b -> c -> a"
        );
    }
}
