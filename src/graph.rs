//! Dependency graphs of names: cycle finding and ordering into levels.

use std::collections::{BTreeMap, BTreeSet};

/// Edges from a node to the nodes it depends on.
pub type Graph = BTreeMap<String, BTreeSet<String>>;

/// A cycle as a path that returns to its start (`a -> b -> a`), if any.
pub fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    fn visit(
        node: &str,
        graph: &Graph,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Visiting) => {
                let start = path.iter().position(|n| n == node).unwrap_or(0);
                let mut cycle = path[start..].to_vec();
                cycle.push(node.to_string());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node.to_string(), Mark::Visiting);
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, marks, path) {
                return Some(cycle);
            }
        }
        path.pop();
        marks.insert(node.to_string(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, graph, &mut marks, &mut Vec::new()) {
            return Some(cycle);
        }
    }
    None
}

/// Orders `nodes` into levels: each node after everything it depends on
/// (dependencies outside `nodes` are ignored), each level sorted by name.
/// Nodes caught in a cycle end up in a final level.
pub fn levels(nodes: &BTreeSet<String>, graph: &Graph) -> Vec<Vec<String>> {
    let mut placed: BTreeSet<String> = BTreeSet::new();
    let mut result = Vec::new();
    while placed.len() < nodes.len() {
        let level: Vec<String> = nodes
            .iter()
            .filter(|n| !placed.contains(*n))
            .filter(|n| {
                graph
                    .get(*n)
                    .into_iter()
                    .flatten()
                    .all(|dep| placed.contains(dep) || !nodes.contains(dep) || dep == *n)
            })
            .cloned()
            .collect();
        if level.is_empty() {
            result.push(
                nodes
                    .iter()
                    .filter(|n| !placed.contains(*n))
                    .cloned()
                    .collect(),
            );
            break;
        }
        placed.extend(level.iter().cloned());
        result.push(level);
    }
    result
}

/// Nodes in dependency order (dependencies first), ties broken by name.
pub fn topological(nodes: &BTreeSet<String>, graph: &Graph) -> Vec<String> {
    levels(nodes, graph).into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &str)]) -> Graph {
        let mut g = Graph::new();
        for (from, to) in edges {
            g.entry(from.to_string())
                .or_default()
                .insert(to.to_string());
            g.entry(to.to_string()).or_default();
        }
        g
    }

    #[test]
    fn cycle_is_reported_as_a_closed_path() {
        let g = graph(&[("a", "b"), ("b", "c"), ("c", "a")]);
        assert_eq!(find_cycle(&g).unwrap().join(" -> "), "a -> b -> c -> a");
        assert_eq!(find_cycle(&graph(&[("a", "b"), ("a", "c")])), None);
    }

    #[test]
    fn independent_nodes_share_a_level() {
        let g = graph(&[("api", "db"), ("mon", "db")]);
        let nodes = g.keys().cloned().collect();
        assert_eq!(
            levels(&nodes, &g),
            vec![vec!["db".to_string()], vec!["api".into(), "mon".into()]]
        );
    }
}
