//! The entity store: what the reader kept of each record, the key index,
//! and the relation and graph indices the cross-entity rules walk.

use crate::ir::schema::{FieldId, GraphId, RelationId, RelationKind, Schema};
use std::collections::HashMap;

/// A field value as read from JSON, already checked against its declared
/// type. Fields no rule reads are type-checked but not kept.
#[derive(Clone, Debug, PartialEq)]
pub enum Slot {
    Absent,
    Bool(bool),
    Number(f64),
    String(Box<str>),
    List(Box<[Slot]>),
    /// An object element, its fields in declaration order.
    Object(Box<[Slot]>),
}

/// A required field that was missing or null, or any field of the wrong
/// JSON type: one `schema` reason.
#[derive(Clone, Debug, PartialEq)]
pub struct SchemaFailure {
    pub field: FieldId,
    /// What the line held instead: "missing", "null", "a string", …
    pub found: &'static str,
}

#[derive(Clone, Debug)]
pub struct Record {
    /// 1-based line number in the input.
    pub line: u32,
    /// The key, when the key field holds a string (whatever else failed).
    pub key: Option<Box<str>>,
    pub slots: Box<[Slot]>,
    pub failures: Vec<SchemaFailure>,
}

/// Compressed adjacency: for each node, its (neighbour, edge element)
/// pairs, sorted by neighbour so parallel edges sit together.
#[derive(Clone, Debug, Default)]
pub struct Adjacency {
    offsets: Vec<u32>,
    /// (neighbour record, index of the list element that made the edge,
    /// record that holds that element)
    edges: Vec<(u32, u32, u32)>,
}

impl Adjacency {
    fn build(n: usize, mut pairs: Vec<(u32, u32, u32, u32)>) -> Adjacency {
        // (from, to, element, holder)
        pairs.sort_unstable();
        let mut offsets = vec![0u32; n + 1];
        for &(from, ..) in &pairs {
            offsets[from as usize + 1] += 1;
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        let edges = pairs.into_iter().map(|(_, to, element, holder)| (to, element, holder)).collect();
        Adjacency { offsets, edges }
    }
    pub fn of(&self, record: u32) -> &[(u32, u32, u32)] {
        let (a, b) = (self.offsets[record as usize], self.offsets[record as usize + 1]);
        &self.edges[a as usize..b as usize]
    }
}

/// One forward relation, indexed both ways.
#[derive(Clone, Debug, Default)]
pub struct RelationIndex {
    /// From the holder of the list to the entities its elements name.
    pub forward: Adjacency,
    /// From a named entity back to the holders.
    pub backward: Adjacency,
    /// (named, holder) pairs: the edges of a graph over this relation.
    pub pairs: Vec<(u32, u32)>,
}

/// What cycle detection and grouping found for one graph.
#[derive(Clone, Debug, Default)]
pub struct GraphIndex {
    /// For each record on a cycle: the cycle through it, in edge order
    /// (record indices, starting and ending at the record).
    pub cycle_of: HashMap<u32, (Vec<u32>, u32)>,
    /// The weakly connected components, each a sorted list of records.
    pub groups: Vec<Vec<u32>>,
}

#[derive(Debug, Default)]
pub struct Store {
    pub records: Vec<Record>,
    /// Every string key → the records that carry it.
    pub keys: HashMap<Box<str>, Vec<u32>>,
    /// In the graph: passed the schema and has a key nobody else has.
    pub member: Vec<bool>,
    pub relations: HashMap<RelationId, RelationIndex>,
    pub graphs: HashMap<GraphId, GraphIndex>,
    /// For `unique(field)`: how many records hold each value.
    pub value_counts: HashMap<FieldId, HashMap<String, u32>>,
}

impl Store {
    pub fn new(records: Vec<Record>) -> Store {
        let mut keys: HashMap<Box<str>, Vec<u32>> = HashMap::with_capacity(records.len());
        for (i, r) in records.iter().enumerate() {
            if let Some(k) = &r.key {
                keys.entry(k.clone()).or_default().push(i as u32);
            }
        }
        let member = records
            .iter()
            .map(|r| r.failures.is_empty() && r.key.as_ref().is_some_and(|k| keys.get(k).is_some_and(|v| v.len() == 1)))
            .collect();
        Store { records, keys, member, ..Store::default() }
    }

    /// The record in the graph whose key is `key`, if exactly one.
    pub fn member_by_key(&self, key: &str) -> Option<u32> {
        match self.keys.get(key).map(Vec::as_slice) {
            Some([one]) if self.member[*one as usize] => Some(*one),
            _ => None,
        }
    }

    /// Builds the indices the program's relations and graphs need.
    pub fn index(&mut self, schema: &Schema, used_relations: &[RelationId], used_graphs: &[GraphId]) {
        let n = self.records.len();
        let mut forwards: Vec<RelationId> = used_relations.iter().map(|&r| schema.forward(r).0).collect();
        forwards.extend(used_graphs.iter().map(|&g| schema.graph(g).relation));
        forwards.sort_by_key(|r| r.0);
        forwards.dedup();
        for rel in forwards {
            let RelationKind::Forward { list, reference, .. } = schema.relation(rel).kind else { continue };
            let mut forward = Vec::new();
            let mut backward = Vec::new();
            let mut pairs = Vec::new();
            for (holder, record) in self.records.iter().enumerate() {
                if !self.member[holder] {
                    continue;
                }
                let Slot::List(items) = &record.slots[list.0 as usize] else { continue };
                for (element, item) in items.iter().enumerate() {
                    let Slot::Object(fields) = item else { continue };
                    let Some(Slot::String(key)) = fields.get(reference) else { continue };
                    let Some(named) = self.member_by_key(key) else { continue };
                    let holder = holder as u32;
                    forward.push((holder, named, element as u32, holder));
                    backward.push((named, holder, element as u32, holder));
                    pairs.push((named, holder));
                }
            }
            let index = RelationIndex {
                forward: Adjacency::build(n, forward),
                backward: Adjacency::build(n, backward),
                pairs,
            };
            self.relations.insert(rel, index);
        }
        for &g in used_graphs {
            let rel = schema.graph(g).relation;
            let index = super::graph::analyse(n, &self.member, &self.relations[&rel].pairs);
            self.graphs.insert(g, index);
        }
    }

    /// Counts values of the fields `unique(…)` reads.
    pub fn count_values(&mut self, fields: &[FieldId]) {
        for &f in fields {
            let mut counts: HashMap<String, u32> = HashMap::new();
            for r in &self.records {
                if let Some(key) = value_key(&r.slots[f.0 as usize]) {
                    *counts.entry(key).or_default() += 1;
                }
            }
            self.value_counts.insert(f, counts);
        }
    }
}

/// A slot as a hashable key for `unique`.
pub fn value_key(slot: &Slot) -> Option<String> {
    match slot {
        Slot::String(s) => Some(format!("s{s}")),
        Slot::Number(n) => Some(format!("n{n}")),
        _ => None,
    }
}
