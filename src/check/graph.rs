//! Graph algorithms over a relation's edges: strongly connected components
//! for cycles, weakly connected components for groups. All iterative, so a
//! chain or cycle of a million entities cannot overflow the stack.

use super::store::GraphIndex;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::unionfind::UnionFind;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Largest component for which each member gets its own shortest cycle;
/// members of larger ones share one cycle found once.
const PER_MEMBER_CYCLE_LIMIT: usize = 256;

pub fn analyse(n: usize, member: &[bool], edges: &[(u32, u32)]) -> GraphIndex {
    let mut graph: DiGraph<u32, ()> = DiGraph::with_capacity(n, edges.len());
    for i in 0..n {
        graph.add_node(i as u32);
    }
    let mut self_loops = Vec::new();
    for &(from, to) in edges {
        if from == to {
            self_loops.push(from);
        } else {
            graph.add_edge(NodeIndex::new(from as usize), NodeIndex::new(to as usize), ());
        }
    }
    // Each member of a large component used to get its own clone of the
    // shared cycle: quadratic memory (a 200,000-company cycle is 40e9
    // entries). The cycle is now shared through an `Arc`, and the component
    // itself is kept so a reason can list it (reference-rules.md: "The
    // reason lists that component").
    let mut cycle_of: HashMap<u32, (Arc<[u32]>, u32)> = HashMap::new();
    let mut components: Vec<Vec<u32>> = Vec::new();
    for component in petgraph::algo::kosaraju_scc(&graph) {
        if component.len() < 2 {
            continue;
        }
        let index = components.len() as u32;
        let in_component: std::collections::HashSet<NodeIndex> = component.iter().copied().collect();
        if component.len() <= PER_MEMBER_CYCLE_LIMIT {
            for &start in &component {
                let cycle = shortest_cycle(&graph, start, &in_component);
                cycle_of.insert(start.index() as u32, (cycle.into(), index));
            }
        } else {
            let start = *component.iter().min().expect("non-empty component");
            let cycle: Arc<[u32]> = shortest_cycle(&graph, start, &in_component).into();
            for &node in &component {
                cycle_of.insert(node.index() as u32, (Arc::clone(&cycle), index));
            }
        }
        let mut members: Vec<u32> = component.iter().map(|n| n.index() as u32).collect();
        members.sort_unstable();
        components.push(members);
    }
    for node in self_loops {
        if let std::collections::hash_map::Entry::Vacant(e) = cycle_of.entry(node) {
            e.insert((vec![node, node].into(), components.len() as u32));
            components.push(vec![node]);
        }
    }

    let mut sets = UnionFind::<u32>::new(n);
    for &(from, to) in edges {
        sets.union(from, to);
    }
    let mut by_root: HashMap<u32, Vec<u32>> = HashMap::new();
    for (i, &is_member) in member.iter().enumerate() {
        if is_member {
            by_root.entry(sets.find(i as u32)).or_default().push(i as u32);
        }
    }
    let mut groups: Vec<Vec<u32>> = by_root.into_values().collect();
    groups.sort_unstable_by_key(|g| g[0]);
    GraphIndex { cycle_of, components, groups }
}

/// The shortest cycle through `start` inside its component, by breadth-first
/// search: start, …, start.
fn shortest_cycle(graph: &DiGraph<u32, ()>, start: NodeIndex, component: &std::collections::HashSet<NodeIndex>) -> Vec<u32> {
    let mut parent: HashMap<NodeIndex, NodeIndex> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        let mut next: Vec<NodeIndex> = graph.neighbors(node).filter(|n| component.contains(n)).collect();
        next.sort();
        for succ in next {
            if succ == start {
                let mut back = Vec::new();
                let mut at = node;
                while at != start {
                    back.push(at.index() as u32);
                    at = parent[&at];
                }
                back.reverse();
                let mut cycle = vec![start.index() as u32];
                cycle.extend(back);
                cycle.push(start.index() as u32);
                return cycle;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = parent.entry(succ) {
                e.insert(node);
                queue.push_back(succ);
            }
        }
    }
    vec![start.index() as u32]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_groups_and_self_loops() {
        // 0 -> 1 -> 2 -> 0, 3 -> 3, 4 -> 1, 5 alone
        let member = vec![true; 6];
        let g = analyse(6, &member, &[(0, 1), (1, 2), (2, 0), (3, 3), (4, 1)]);
        assert_eq!(*g.cycle_of[&0].0, [0, 1, 2, 0]);
        assert_eq!(*g.cycle_of[&1].0, [1, 2, 0, 1]);
        assert_eq!(*g.cycle_of[&3].0, [3, 3]);
        assert_eq!(g.components[g.cycle_of[&0].1 as usize], vec![0, 1, 2]);
        assert_eq!(g.components[g.cycle_of[&3].1 as usize], vec![3]);
        assert!(!g.cycle_of.contains_key(&4));
        assert_eq!(g.groups, vec![vec![0, 1, 2, 4], vec![3], vec![5]]);
    }

    #[test]
    fn a_long_chain_and_a_long_cycle_do_not_recurse() {
        let n = 200_000;
        let member = vec![true; n];
        let chain: Vec<(u32, u32)> = (0..n as u32 - 1).map(|i| (i, i + 1)).collect();
        let g = analyse(n, &member, &chain);
        assert!(g.cycle_of.is_empty());
        assert_eq!(g.groups.len(), 1);
        let mut cycle = chain.clone();
        cycle.push((n as u32 - 1, 0));
        let g = analyse(n, &member, &cycle);
        assert_eq!(g.cycle_of.len(), n);
        assert_eq!(g.cycle_of[&0].0.len(), n + 1);
        // One shared cycle, not one copy per member.
        assert!(Arc::ptr_eq(&g.cycle_of[&0].0, &g.cycle_of[&(n as u32 - 1)].0));
        assert_eq!(g.components.len(), 1);
    }
}
