//! One string field under a conjunction of constraints: equal to one of
//! some literals, none of others, matching some regular expressions and
//! not others. Literal candidates are tried with the checker's own
//! `regex::Regex`; otherwise the intersection of the regular languages is
//! explored on their DFAs (regex-automata, the engine behind `regex`), in
//! product, without building the product automaton.

use super::Rng;
use regex_automata::dfa::{dense, Automaton};
use regex_automata::util::primitives::StateID;
use regex_automata::util::start;
use regex_automata::Anchored;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

/// What the constraints on one field say.
#[derive(Clone, Debug, Default)]
pub struct StrConstraints {
    /// Each set the value must be in.
    pub within: Vec<Arc<Vec<Arc<str>>>>,
    pub excluded: BTreeSet<Arc<str>>,
    /// (regex index, negated).
    pub patterns: Vec<(usize, bool)>,
}

pub enum StrAnswer {
    Value(String),
    Empty,
    Unknown,
}

/// Product states explored before giving up.
const STATE_BUDGET: usize = 20_000;
/// Random walks tried for a value outside the excluded literals.
const WALKS: usize = 64;

pub struct Strings {
    sources: Vec<String>,
    regexes: Vec<Option<regex::Regex>>,
    dfas: HashMap<usize, Option<Arc<dense::DFA<Vec<u32>>>>>,
}

impl Strings {
    pub fn new(sources: Vec<String>) -> Strings {
        let regexes = sources.iter().map(|s| regex::Regex::new(&format!("^(?:{s})$")).ok()).collect();
        Strings { sources, regexes, dfas: HashMap::new() }
    }

    pub fn is_match(&self, id: usize, text: &str) -> Option<bool> {
        self.regexes.get(id)?.as_ref().map(|r| r.is_match(text))
    }

    fn dfa(&mut self, id: usize) -> Option<Arc<dense::DFA<Vec<u32>>>> {
        let source = &self.sources[id];
        self.dfas
            .entry(id)
            .or_insert_with(|| {
                dense::Builder::new()
                    .configure(
                        dense::Config::new()
                            .start_kind(regex_automata::dfa::StartKind::Anchored)
                            .dfa_size_limit(Some(4 << 20))
                            .determinize_size_limit(Some(4 << 20)),
                    )
                    .build(&format!("^(?:{source})$"))
                    .ok()
                    .map(Arc::new)
            })
            .clone()
    }

    pub fn solve(&mut self, c: &StrConstraints, rng: &mut Rng) -> StrAnswer {
        if let Some(first) = c.within.first() {
            let mut unknown = false;
            for candidate in first.iter() {
                if !c.within.iter().all(|s| s.contains(candidate)) || c.excluded.contains(candidate) {
                    continue;
                }
                let mut ok = true;
                for (id, negated) in &c.patterns {
                    match self.is_match(*id, candidate) {
                        Some(m) if m != *negated => {}
                        Some(_) => ok = false,
                        None => unknown = true,
                    }
                }
                if ok && !unknown {
                    return StrAnswer::Value(candidate.to_string());
                }
            }
            return if unknown { StrAnswer::Unknown } else { StrAnswer::Empty };
        }
        if c.patterns.is_empty() {
            let fresh = (0..).map(|i| if i == 0 { "x".to_string() } else { format!("x{i}") }).find(|s| !c.excluded.contains(s.as_str()));
            return StrAnswer::Value(fresh.expect("a fresh string"));
        }
        let mut dfas = Vec::new();
        for (id, negated) in &c.patterns {
            match self.dfa(*id) {
                Some(d) => dfas.push((d, *negated)),
                None => return StrAnswer::Unknown,
            }
        }
        product(&dfas, &c.excluded, rng)
    }
}

fn accepts(dfas: &[(Arc<dense::DFA<Vec<u32>>>, bool)], state: &[StateID]) -> bool {
    dfas.iter().zip(state).all(|((d, negated), s)| d.is_match_state(d.next_eoi_state(*s)) != *negated)
}

fn step(dfas: &[(Arc<dense::DFA<Vec<u32>>>, bool)], state: &[StateID], byte: u8) -> Option<Vec<StateID>> {
    let mut next = Vec::with_capacity(state.len());
    for ((d, negated), s) in dfas.iter().zip(state) {
        let n = d.next_state(*s, byte);
        // A positive expression in its dead state can never match again.
        if !negated && d.is_dead_state(n) {
            return None;
        }
        next.push(n);
    }
    Some(next)
}

/// Printable ASCII: what a witness is made of (always valid UTF-8).
const PRINTABLE: std::ops::RangeInclusive<u8> = 0x20..=0x7e;

fn product(dfas: &[(Arc<dense::DFA<Vec<u32>>>, bool)], excluded: &BTreeSet<Arc<str>>, rng: &mut Rng) -> StrAnswer {
    let config = start::Config::new().anchored(Anchored::Yes);
    let Ok(start) = dfas.iter().map(|(d, _)| d.start_state(&config)).collect::<Result<Vec<StateID>, _>>() else {
        return StrAnswer::Unknown;
    };
    // Emptiness over every byte: no accepting product state reachable means
    // no string at all (valid UTF-8 or not) satisfies the constraints.
    match explore(dfas, &start, 0..=255) {
        None => return StrAnswer::Unknown,
        Some(graph) if graph.accepting.is_empty() => return StrAnswer::Empty,
        Some(_) => {}
    }
    // A witness over printable ASCII: random walks towards acceptance.
    let Some(graph) = explore(dfas, &start, PRINTABLE) else { return StrAnswer::Unknown };
    if graph.accepting.is_empty() {
        return StrAnswer::Unknown;
    }
    let distance = graph.distance_to_accept();
    for walk in 0..WALKS {
        let mut at = 0usize;
        let mut text = Vec::new();
        loop {
            let here = distance[at];
            if graph.accepting.contains(&at) && (walk == 0 || text.len() >= 12 || rng.below(3) == 0) {
                break;
            }
            let options: Vec<(u8, usize)> = graph.edges[at]
                .iter()
                .copied()
                .filter(|(_, to)| distance[*to] != usize::MAX && (text.len() < 12 && walk > 0 || distance[*to] < here))
                .collect();
            if options.is_empty() {
                break;
            }
            // The first walk is the shortest path by the smallest bytes: a
            // stable, readable witness; later ones wander.
            let (byte, to) = if walk == 0 { options[0] } else { options[rng.below(options.len())] };
            text.push(byte);
            at = to;
        }
        if graph.accepting.contains(&at) {
            let text = String::from_utf8(text).expect("printable ASCII");
            if !excluded.contains(text.as_str()) {
                return StrAnswer::Value(text);
            }
        }
    }
    StrAnswer::Unknown
}

struct Graph {
    edges: Vec<Vec<(u8, usize)>>,
    accepting: BTreeSet<usize>,
}

impl Graph {
    /// Bytes to the nearest accepting state from each state (`usize::MAX`:
    /// none).
    fn distance_to_accept(&self) -> Vec<usize> {
        let mut reverse: Vec<Vec<usize>> = vec![Vec::new(); self.edges.len()];
        for (from, out) in self.edges.iter().enumerate() {
            for (_, to) in out {
                reverse[*to].push(from);
            }
        }
        let mut distance = vec![usize::MAX; self.edges.len()];
        let mut queue: VecDeque<usize> = self.accepting.iter().copied().collect();
        for a in &self.accepting {
            distance[*a] = 0;
        }
        while let Some(s) = queue.pop_front() {
            for &p in &reverse[s] {
                if distance[p] == usize::MAX {
                    distance[p] = distance[s] + 1;
                    queue.push_back(p);
                }
            }
        }
        distance
    }
}

/// The reachable product states over `bytes`, or None past the budget.
fn explore(dfas: &[(Arc<dense::DFA<Vec<u32>>>, bool)], start: &[StateID], bytes: std::ops::RangeInclusive<u8>) -> Option<Graph> {
    let mut index: HashMap<Vec<StateID>, usize> = HashMap::new();
    let mut states: Vec<Vec<StateID>> = vec![start.to_vec()];
    index.insert(start.to_vec(), 0);
    let mut edges: Vec<Vec<(u8, usize)>> = vec![Vec::new()];
    let mut accepting = BTreeSet::new();
    let mut next = 0;
    while next < states.len() {
        let state = states[next].clone();
        if accepts(dfas, &state) {
            accepting.insert(next);
        }
        for byte in bytes.clone() {
            let Some(to) = step(dfas, &state, byte) else { continue };
            let id = match index.get(&to) {
                Some(id) => *id,
                None => {
                    if states.len() >= STATE_BUDGET {
                        return None;
                    }
                    states.push(to.clone());
                    edges.push(Vec::new());
                    index.insert(to, states.len() - 1);
                    states.len() - 1
                }
            };
            edges[next].push((byte, id));
        }
        next += 1;
    }
    Some(Graph { edges, accepting })
}
