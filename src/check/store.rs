//! The entity store: the columns kept for cross-entity and dataset rules,
//! the key index, relation adjacency and graph results.

use super::columns::{Column, Table};
use crate::ir::schema::{FieldId, GraphId, RelationId, RelationKind, Schema};
use hashbrown::HashTable;
use std::collections::HashMap;
use std::hash::BuildHasher;

/// Compressed adjacency: for each record, its (neighbour, list item)
/// pairs, sorted by neighbour so parallel edges sit together. The item is
/// an index into the relation's list column: the edge's fields.
#[derive(Clone, Debug, Default)]
pub struct Adjacency {
    offsets: Vec<u32>,
    edges: Vec<(u32, u32)>,
}

impl Adjacency {
    fn build(n: usize, mut pairs: Vec<(u32, u32, u32)>) -> Adjacency {
        pairs.sort_unstable();
        let mut offsets = vec![0u32; n + 1];
        for &(from, ..) in &pairs {
            offsets[from as usize + 1] += 1;
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        let edges = pairs.into_iter().map(|(_, to, item)| (to, item)).collect();
        Adjacency { offsets, edges }
    }
    pub fn of(&self, record: u32) -> &[(u32, u32)] {
        let (a, b) = (self.offsets[record as usize], self.offsets[record as usize + 1]);
        &self.edges[a as usize..b as usize]
    }
}

/// One forward relation, indexed both ways.
#[derive(Clone, Debug, Default)]
pub struct RelationIndex {
    /// From the holder of the list to the entities its items name.
    pub forward: Adjacency,
    /// From a named entity back to the holders.
    pub backward: Adjacency,
    /// (named, holder) pairs: the edges of a graph over this relation.
    pub pairs: Vec<(u32, u32)>,
}

/// What cycle detection and grouping found for one graph.
#[derive(Clone, Debug, Default)]
pub struct GraphIndex {
    /// For each record on a cycle: the cycle through it in edge order
    /// (first = last; shared by the members of a large component) and the
    /// index of its strongly connected component in `components`.
    pub cycle_of: HashMap<u32, (std::sync::Arc<[u32]>, u32)>,
    /// The strongly connected components that hold a cycle, each sorted.
    pub components: Vec<Vec<u32>>,
    /// The weakly connected components, each a sorted list of records.
    pub groups: super::graph::Groups,
}

/// Counts the rows holding each value of one column: for keys and
/// `unique(field)`.
#[derive(Default)]
pub struct ValueIndex {
    /// (first row with the value, number of rows with it)
    table: HashTable<(u32, u32)>,
    hasher: hashbrown::DefaultHashBuilder,
}

/// A hashable view of a scalar cell.
#[derive(PartialEq)]
enum Cell<'a> {
    Str(&'a str),
    Number(u64),
}

fn cell(column: &Column, row: usize) -> Option<Cell<'_>> {
    match column {
        Column::Str(s) => s.get(row).map(Cell::Str),
        Column::Number(v) => v.get(row).filter(|n| !n.is_nan()).map(|n| Cell::Number((n + 0.0).to_bits())),
        _ => None,
    }
}

impl ValueIndex {
    fn hash(&self, c: &Cell<'_>) -> u64 {
        match c {
            Cell::Str(s) => self.hasher.hash_one(s),
            Cell::Number(n) => self.hasher.hash_one(n),
        }
    }

    /// Indexes a column; also returns, per row, the first row holding the
    /// same value (u32::MAX for an absent one), so counts per row need no
    /// second lookup.
    pub fn build(column: &Column, rows: usize) -> (ValueIndex, Vec<u32>) {
        let mut index = ValueIndex::default();
        let mut first = vec![u32::MAX; rows];
        for (row, first) in first.iter_mut().enumerate() {
            let Some(c) = cell(column, row) else { continue };
            let h = index.hash(&c);
            match index.table.find_mut(h, |&(r, _)| cell(column, r as usize).as_ref() == Some(&c)) {
                Some(entry) => {
                    entry.1 += 1;
                    *first = entry.0;
                }
                None => {
                    let hasher = index.hasher.clone();
                    index.table.insert_unique(h, (row as u32, 1), |&(r, _)| match cell(column, r as usize) {
                        Some(Cell::Str(s)) => hasher.hash_one(s),
                        Some(Cell::Number(n)) => hasher.hash_one(n),
                        None => 0,
                    });
                    *first = row as u32;
                }
            }
        }
        (index, first)
    }

    fn find(&self, column: &Column, c: Cell<'_>) -> Option<(u32, u32)> {
        self.table.find(self.hash(&c), |&(r, _)| cell(column, r as usize).as_ref() == Some(&c)).copied()
    }
}

pub struct Store {
    pub table: Table,
    /// Per record: bit f set when field f failed the schema (fields past
    /// 63 share bit 63).
    pub masks: Vec<u64>,
    pub key: Option<FieldId>,
    /// Input line of each record (in its own file, for base records).
    pub lines: Vec<u32>,
    /// Records before this index come from `--base`.
    pub base: usize,
    keys: ValueIndex,
    /// In the graph: passed the schema and has a key nobody else has.
    pub member: Vec<bool>,
    /// The rows of each key held by more than one row.
    duplicates: HashMap<String, Vec<u32>>,
    /// Per row: how many rows hold its key (0 without one).
    key_counts: Vec<u32>,
    pub relations: HashMap<RelationId, RelationIndex>,
    pub graphs: HashMap<GraphId, GraphIndex>,
    /// For `unique(field)`.
    pub values: HashMap<FieldId, ValueIndex>,
}

pub fn field_bit(f: FieldId) -> u64 {
    1u64 << f.0.min(63)
}

impl Store {
    pub fn new(table: Table, masks: Vec<u64>, lines: Vec<u32>, key: Option<FieldId>) -> Store {
        let rows = table.rows;
        let (keys, first) = match key {
            Some(k) => ValueIndex::build(&table.columns[k.0 as usize], rows),
            None => (ValueIndex::default(), vec![u32::MAX; rows]),
        };
        let mut store = Store {
            table,
            masks,
            key,
            lines,
            base: 0,
            keys,
            member: Vec::new(),
            duplicates: HashMap::new(),
            key_counts: Vec::new(),
            relations: HashMap::new(),
            graphs: HashMap::new(),
            values: HashMap::new(),
        };
        // Count rows per key through each row's first row: one lookup per
        // distinct key, none per row.
        let mut count_at_first = vec![0u32; rows];
        for &f in &first {
            if f != u32::MAX {
                count_at_first[f as usize] += 1;
            }
        }
        let counts: Vec<u32> = first.iter().map(|&f| if f == u32::MAX { 0 } else { count_at_first[f as usize] }).collect();
        store.key_counts = counts.clone();
        store.member = (0..rows).map(|r| store.masks[r] == 0 && counts[r] == 1).collect();
        for (r, &n) in counts.iter().enumerate() {
            if n > 1 {
                let key = store.key_of(r).unwrap_or_default().to_string();
                store.duplicates.entry(key).or_default().push(r as u32);
            }
        }
        store
    }

    pub fn rows(&self) -> usize {
        self.table.rows
    }

    pub fn key_of(&self, row: usize) -> Option<&str> {
        match &self.table.columns[self.key?.0 as usize] {
            Column::Str(s) => s.get(row),
            _ => None,
        }
    }

    /// (first row, number of rows) with this key.
    pub fn key_rows(&self, key: &str) -> Option<(u32, u32)> {
        self.keys.find(&self.table.columns[self.key?.0 as usize], Cell::Str(key))
    }

    /// Every row with this key (for explanations).
    pub fn rows_with_key(&self, key: &str) -> Vec<u32> {
        match self.key_rows(key) {
            None => vec![],
            Some((first, 1)) => vec![first],
            Some(_) => self.duplicates.get(key).cloned().unwrap_or_default(),
        }
    }

    pub fn has_key(&self, key: &str) -> bool {
        self.key_rows(key).is_some()
    }

    /// The record in the graph whose key is `key`, if any.
    pub fn member_by_key(&self, key: &str) -> Option<u32> {
        match self.key_rows(key) {
            Some((row, 1)) if self.member[row as usize] => Some(row),
            _ => None,
        }
    }

    /// How many rows hold this row's value of `field` (`unique`).
    pub fn value_count(&self, field: FieldId, row: usize) -> Option<u32> {
        let column = &self.table.columns[field.0 as usize];
        let c = cell(column, row)?;
        if Some(field) == self.key {
            return Some(self.key_counts[row]).filter(|&n| n > 0);
        }
        let index = self.values.get(&field)?;
        index.find(column, c).map(|(_, n)| n)
    }

    /// Builds the indices the program's relations and graphs need.
    pub fn index(&mut self, schema: &Schema, used_relations: &[RelationId], used_graphs: &[GraphId], unique: &[FieldId]) {
        let n = self.rows();
        for &f in unique {
            if Some(f) != self.key {
                self.values.insert(f, ValueIndex::build(&self.table.columns[f.0 as usize], n).0);
            }
        }
        let mut forwards: Vec<RelationId> = used_relations.iter().map(|&r| schema.forward(r).0).collect();
        forwards.extend(used_graphs.iter().map(|&g| schema.graph(g).relation));
        forwards.sort_by_key(|r| r.0);
        forwards.dedup();
        for rel in forwards {
            let RelationKind::Forward { list, reference, .. } = schema.relation(rel).kind else { continue };
            let Column::List(list_col) = &self.table.columns[list.0 as usize] else { continue };
            let Column::Object(items) = list_col.items.as_ref() else { continue };
            let Column::Str(refs) = &items.fields[reference] else { continue };
            let (mut forward, mut backward, mut pairs) = (Vec::new(), Vec::new(), Vec::new());
            for holder in 0..n {
                if !self.member[holder] {
                    continue;
                }
                let Some(range) = list_col.range(holder) else { continue };
                for item in range {
                    let Some(key) = refs.get(item) else { continue };
                    let Some(named) = self.member_by_key(key) else { continue };
                    let holder = holder as u32;
                    forward.push((holder, named, item as u32));
                    backward.push((named, holder, item as u32));
                    pairs.push((named, holder));
                }
            }
            let index = RelationIndex { forward: Adjacency::build(n, forward), backward: Adjacency::build(n, backward), pairs };
            self.relations.insert(rel, index);
        }
        for &g in used_graphs {
            let rel = schema.graph(g).relation;
            let index = super::graph::analyse(n, &self.member, &self.relations[&rel].pairs);
            self.graphs.insert(g, index);
        }
        // The edge list served the graphs; the adjacency remains.
        for index in self.relations.values_mut() {
            index.pairs = Vec::new();
        }
    }
}
