//! Graph algorithms over a relation's edges: strongly connected components
//! for cycles, weakly connected components for groups. All iterative, so a
//! chain or cycle of a million entities cannot overflow the stack.

use super::store::{Adjacency, GraphIndex};
use hashbrown::HashMap;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::unionfind::UnionFind;
use std::collections::VecDeque;

use std::sync::Arc;

/// Largest component for which each member gets its own shortest cycle;
/// members of larger ones share one cycle found once.
const PER_MEMBER_CYCLE_LIMIT: usize = 256;

/// Cycles and groups of a graph given as adjacency both ways: `out` from
/// each node to its successors, `inn` from each node to its predecessors
/// (the same edges).
pub fn analyse(member: &[bool], out: &Adjacency, inn: &Adjacency) -> GraphIndex {
    let n = out.nodes();
    // Only nodes with both an incoming and an outgoing edge can lie on a
    // cycle: peel the others off (repeatedly) so the SCC search runs on the
    // cyclic core, which in a plausible dataset is tiny.
    let core = cyclic_core(out, inn);
    let mut local = vec![u32::MAX; n];
    let mut graph: DiGraph<u32, ()> = DiGraph::with_capacity(core.len(), 0);
    for &node in &core {
        local[node as usize] = graph.add_node(node).index() as u32;
    }
    let mut self_loops = Vec::new();
    for &from in &core {
        for &(to, _) in out.of(from) {
            if from == to {
                self_loops.push(from);
            } else if local[to as usize] != u32::MAX {
                graph.add_edge(NodeIndex::new(local[from as usize] as usize), NodeIndex::new(local[to as usize] as usize), ());
            }
        }
    }
    self_loops.dedup();
    drop(local);
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
                cycle_of.insert(graph[start], (cycle.into(), index));
            }
        } else {
            let start = *component.iter().min_by_key(|n| graph[**n]).expect("non-empty component");
            let cycle: Arc<[u32]> = shortest_cycle(&graph, start, &in_component).into();
            for &node in &component {
                cycle_of.insert(graph[node], (Arc::clone(&cycle), index));
            }
        }
        let mut members: Vec<u32> = component.iter().map(|n| graph[*n]).collect();
        members.sort_unstable();
        components.push(members);
    }
    for node in self_loops {
        if let hashbrown::hash_map::Entry::Vacant(e) = cycle_of.entry(node) {
            e.insert((vec![node, node].into(), components.len() as u32));
            components.push(vec![node]);
        }
    }

    let mut sets = UnionFind::<u32>::new(n);
    for from in 0..n as u32 {
        for &(to, _) in out.of(from) {
            sets.union(from, to);
        }
    }
    GraphIndex { cycle_of, components, groups: Groups::new(member, sets.into_labeling()) }
}

/// Weakly connected components as one flat array: the members of group i
/// are `members[offsets[i]..offsets[i + 1]]`, sorted; groups are ordered by
/// their first member. No allocation per group.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Groups {
    offsets: Vec<u32>,
    members: Vec<u32>,
}

/// Marks a root's entry in the labelling once its group is numbered: the
/// entry then holds the group instead of the root.
const NUMBERED: u32 = 1 << 31;

/// Each root's group, written into the union-find's labelling itself (the
/// root's own entry, flagged), so no array per node is added; past 2^31
/// nodes the flag would be a node number, and a map takes the groups.
struct Numbering {
    labels: Vec<u32>,
    past_flag: Option<HashMap<u32, u32>>,
}

impl Numbering {
    fn new(labels: Vec<u32>) -> Numbering {
        let past_flag = (labels.len() >= NUMBERED as usize).then(HashMap::new);
        Numbering { labels, past_flag }
    }

    /// The root of node `i`'s group (meaningful until the root is numbered).
    fn root(&self, i: usize) -> u32 {
        self.labels[i]
    }

    /// The group of node `i`, if its root has been numbered.
    fn group(&self, i: usize) -> Option<u32> {
        if let Some(map) = &self.past_flag {
            return map.get(&self.labels[i]).copied();
        }
        let label = self.labels[i];
        let at_root = if label & NUMBERED != 0 { label } else { self.labels[label as usize] };
        (at_root & NUMBERED != 0).then_some(at_root & !NUMBERED)
    }

    fn number(&mut self, i: usize, group: u32) {
        let root = self.root(i);
        match &mut self.past_flag {
            Some(map) => {
                map.insert(root, group);
            }
            None => self.labels[root as usize] = NUMBERED | group,
        }
    }
}

impl Groups {
    /// The groups of the members, given each node's root (`labels`, a
    /// union-find's labelling), numbered in order of their first member.
    fn new(member: &[bool], labels: Vec<u32>) -> Groups {
        Groups::numbered(member, Numbering::new(labels))
    }

    fn numbered(member: &[bool], mut numbering: Numbering) -> Groups {
        let mut sizes: Vec<u32> = Vec::new();
        for (i, _) in member.iter().enumerate().filter(|(_, m)| **m) {
            let g = numbering.group(i).unwrap_or_else(|| {
                numbering.number(i, sizes.len() as u32);
                sizes.push(0);
                sizes.len() as u32 - 1
            });
            sizes[g as usize] += 1;
        }
        // Counting sort: `offsets[g + 1]` runs as group g's fill, ending as
        // its end, which is where group g + 1 starts.
        let mut offsets = Vec::with_capacity(sizes.len() + 1);
        offsets.push(0u32);
        let mut end = 0;
        for s in sizes {
            offsets.push(end);
            end += s;
        }
        let mut members = vec![0u32; end as usize];
        for (i, _) in member.iter().enumerate().filter(|(_, m)| **m) {
            let g = numbering.group(i).expect("numbered in the first pass");
            let at = &mut offsets[g as usize + 1];
            members[*at as usize] = i as u32;
            *at += 1;
        }
        Groups { offsets, members }
    }

    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, i: usize) -> &[u32] {
        &self.members[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }
}

/// The nodes that have, after repeatedly removing nodes without an incoming
/// or without an outgoing edge, both: every node on a cycle is among them.
fn cyclic_core(out: &Adjacency, inn: &Adjacency) -> Vec<u32> {
    let n = out.nodes();
    let mut out_deg: Vec<u32> = (0..n as u32).map(|i| out.of(i).len() as u32).collect();
    let mut in_deg: Vec<u32> = (0..n as u32).map(|i| inn.of(i).len() as u32).collect();
    let mut removed = vec![false; n];
    let mut stack: Vec<u32> = (0..n as u32).filter(|&i| out_deg[i as usize] == 0 || in_deg[i as usize] == 0).collect();
    while let Some(v) = stack.pop() {
        if removed[v as usize] {
            continue;
        }
        removed[v as usize] = true;
        for &(w, _) in out.of(v) {
            let w = w as usize;
            in_deg[w] -= 1;
            if in_deg[w] == 0 && !removed[w] {
                stack.push(w as u32);
            }
        }
        for &(u, _) in inn.of(v) {
            let u = u as usize;
            out_deg[u] -= 1;
            if out_deg[u] == 0 && !removed[u] {
                stack.push(u as u32);
            }
        }
    }
    (0..n as u32).filter(|&i| !removed[i as usize]).collect()
}

/// The shortest cycle through `start` inside its component, by breadth-first
/// search: start, …, start.
fn shortest_cycle(graph: &DiGraph<u32, ()>, start: NodeIndex, component: &std::collections::HashSet<NodeIndex>) -> Vec<u32> {
    let mut parent: HashMap<NodeIndex, NodeIndex> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        let mut next: Vec<NodeIndex> = graph.neighbors(node).filter(|n| component.contains(n)).collect();
        next.sort_by_key(|n| graph[*n]);
        for succ in next {
            if succ == start {
                let mut back = Vec::new();
                let mut at = node;
                while at != start {
                    back.push(graph[at]);
                    at = parent[&at];
                }
                back.reverse();
                let mut cycle = vec![graph[start]];
                cycle.extend(back);
                cycle.push(graph[start]);
                return cycle;
            }
            if let hashbrown::hash_map::Entry::Vacant(e) = parent.entry(succ) {
                e.insert(node);
                queue.push_back(succ);
            }
        }
    }
    vec![graph[start]]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analyse(n: usize, member: &[bool], edges: &[(u32, u32)]) -> GraphIndex {
        let triples: Vec<(u32, u32, u32)> = edges.iter().enumerate().map(|(i, &(a, b))| (a, b, i as u32)).collect();
        let out = Adjacency::build(n, &triples, |&t| t);
        let inn = Adjacency::build(n, &triples, |&(a, b, i)| (b, a, i));
        super::analyse(member, &out, &inn)
    }

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
        let groups: Vec<&[u32]> = (0..g.groups.len()).map(|i| g.groups.get(i)).collect();
        assert_eq!(groups, vec![&[0, 1, 2, 4][..], &[3], &[5]]);
    }

    #[test]
    fn groups_are_the_same_numbered_in_place_or_in_a_map() {
        // Roots both before and after their members, a non-member inside a
        // set, singletons.
        let n = 12;
        let mut sets = UnionFind::<u32>::new(n);
        for (a, b) in [(5, 1), (1, 9), (3, 11), (0, 7), (7, 2), (10, 4)] {
            sets.union(a, b);
        }
        let member: Vec<bool> = (0..n).map(|i| i != 7).collect();
        let labels = sets.into_labeling();
        let in_place = Groups::new(&member, labels.clone());
        let mapped = Groups::numbered(&member, Numbering { labels, past_flag: Some(HashMap::new()) });
        assert_eq!(in_place, mapped);
        let groups: Vec<&[u32]> = (0..in_place.len()).map(|i| in_place.get(i)).collect();
        assert_eq!(groups, vec![&[0, 2][..], &[1, 5, 9], &[3, 11], &[4, 10], &[6], &[8]]);
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
