//! The entity store: the columns kept for cross-entity and dataset rules,
//! the key index, relation adjacency and graph results.

use super::columns::{Column, ListColumn, StrColumn, Table};
use crate::ir::schema::{FieldId, GraphId, RelationId, RelationKind, Schema};
use hashbrown::HashTable;
use rayon::prelude::*;
// foldhash-hashed maps: these are looked up per record and per rule, where
// std's SipHash showed in the profile.
use hashbrown::HashMap;
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
    /// Counting sort of `edges` by their source: linear, and each record's
    /// few edges sorted after.
    pub(crate) fn build(n: usize, edges: &[(u32, u32, u32)], key: impl Fn(&(u32, u32, u32)) -> (u32, u32, u32)) -> Adjacency {
        let mut offsets = vec![0u32; n + 1];
        for e in edges {
            offsets[key(e).0 as usize + 1] += 1;
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        let mut fill = offsets[..n].to_vec();
        let mut sorted = vec![(0u32, 0u32); edges.len()];
        for e in edges {
            let (from, to, item) = key(e);
            sorted[fill[from as usize] as usize] = (to, item);
            fill[from as usize] += 1;
        }
        drop(fill);
        for w in offsets.windows(2) {
            let run = &mut sorted[w[0] as usize..w[1] as usize];
            if run.len() > 1 {
                run.sort_unstable();
            }
        }
        Adjacency { offsets, edges: sorted }
    }
    pub fn of(&self, record: u32) -> &[(u32, u32)] {
        let (a, b) = (self.offsets[record as usize], self.offsets[record as usize + 1]);
        &self.edges[a as usize..b as usize]
    }
    /// Number of records (the graph's nodes).
    pub fn nodes(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }
}

/// One forward relation, indexed both ways.
#[derive(Clone, Debug, Default)]
pub struct RelationIndex {
    /// From the holder of the list to the entities its items name.
    pub forward: Adjacency,
    /// From a named entity back to the holders.
    pub backward: Adjacency,
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

/// The rows holding each value of one column: for keys and
/// `unique(field)`.
#[derive(Default)]
pub struct ValueIndex {
    /// The first row holding each distinct value, hashed by the value, in
    /// `PARTS` tables chosen by bits of the hash (built in parallel).
    parts: Vec<HashTable<u32>>,
    /// The first row of each row whose value other rows hold too (few):
    /// every other row with a value holds it alone.
    first_of_shared: HashMap<u32, u32>,
    /// The rows of each value held by more than one row, by first row.
    shared: HashMap<u32, Vec<u32>>,
}

/// Tables a value index is split into: rows with equal values fall in the
/// same part, so the parts are built independently.
const PARTS: usize = 64;

/// The part of a hash: bits the hash tables themselves use least (they
/// take the low bits for the bucket and the top seven for the tag).
fn part_of(hash: u64) -> usize {
    (hash >> 40) as usize % PARTS
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
        Column::Sparse(v) => v.get(row).map(|n| Cell::Number((n + 0.0).to_bits())),
        Column::Int(v) => Some(v[row]).filter(|&i| i != super::columns::INT_ABSENT).map(|i| Cell::Number(f64::from(i).to_bits())),
        _ => None,
    }
}

/// Never 0: while an index is built, 0 marks a row without a value.
fn hash(c: &Cell<'_>) -> u64 {
    let h = match c {
        Cell::Str(s) => super::columns::hash_str(s),
        Cell::Number(n) => foldhash::fast::FixedState::default().hash_one(n),
    };
    h.max(1)
}

impl ValueIndex {
    /// Indexes a column: values hashed in parallel, rows grouped by the
    /// part of their hash, then each part's rows walked in row order on
    /// its own task, finding each row's first row with the same value.
    pub fn build(column: &Column, rows: usize) -> ValueIndex {
        let hashes: Vec<u64> = (0..rows).into_par_iter().map(|r| cell(column, r).map_or(0, |c| hash(&c))).collect();
        // The rows of each part, in row order (a counting sort).
        let mut starts = vec![0usize; PARTS + 1];
        for &h in hashes.iter().filter(|&&h| h != 0) {
            starts[part_of(h) + 1] += 1;
        }
        for p in 0..PARTS {
            starts[p + 1] += starts[p];
        }
        let mut fill = starts.clone();
        let mut order = vec![0u32; starts[PARTS]];
        for (row, &h) in hashes.iter().enumerate() {
            if h != 0 {
                let p = part_of(h);
                order[fill[p]] = row as u32;
                fill[p] += 1;
            }
        }
        // Each part on its own task, its rows in row order: the first row
        // of a value enters the table, a later row with the same value is
        // a repeat of it (few: keys are meant to be unique).
        let built: Vec<_> = (0..PARTS)
            .into_par_iter()
            .map(|p| {
                let part = &order[starts[p]..starts[p + 1]];
                let mut table: HashTable<u32> = HashTable::with_capacity(part.len());
                let mut repeats = Vec::new();
                for &row in part {
                    let h = hashes[row as usize];
                    // The row's own cell is read only on a hash match: the
                    // part's rows are scattered over the column.
                    match table.find(h, |&r| cell(column, r as usize) == cell(column, row as usize)) {
                        Some(&first) => repeats.push((first, row)),
                        None => {
                            table.insert_unique(h, row, |&r| hashes[r as usize]);
                        }
                    }
                }
                (table, repeats)
            })
            .collect();
        drop(order);
        let mut parts = Vec::with_capacity(PARTS);
        let mut shared: HashMap<u32, Vec<u32>> = HashMap::new();
        for (table, repeats) in built {
            parts.push(table);
            for (first, row) in repeats {
                shared.entry(first).or_insert_with(|| vec![first]).push(row);
            }
        }
        let first_of_shared = shared.iter().flat_map(|(&f, rows)| rows.iter().map(move |&r| (r, f))).collect();
        ValueIndex { parts, first_of_shared, shared }
    }

    /// How many rows hold the value of `first`, the first row holding it.
    fn count_of_first(&self, first: u32) -> u32 {
        self.shared.get(&first).map_or(1, |rows| rows.len() as u32)
    }

    /// How many rows hold the value of `row`, a row that holds one (the
    /// column tells whether it does).
    fn count(&self, row: usize) -> u32 {
        self.first_of_shared.get(&(row as u32)).map_or(1, |&f| self.count_of_first(f))
    }

    /// (first row, number of rows) holding this value.
    fn find(&self, column: &Column, c: Cell<'_>) -> Option<(u32, u32)> {
        let h = hash(&c);
        let first = *self.parts.get(part_of(h))?.find(h, |&r| cell(column, r as usize).as_ref() == Some(&c))?;
        Some((first, self.count_of_first(first)))
    }
}

/// The input line of each record, read off the line reports instead of
/// kept apart (4 bytes a record): record r is the r-th line that was a
/// JSON object.
#[derive(Default)]
pub struct RecordLines {
    pub entries: Vec<super::LineReport>,
    /// Indices in `entries` of the lines that were not JSON objects, in
    /// order (few).
    not_json: Vec<u32>,
}

impl RecordLines {
    pub fn new(entries: Vec<super::LineReport>, not_json: Vec<u32>) -> RecordLines {
        RecordLines { entries, not_json }
    }

    pub fn line(&self, record: u32) -> u32 {
        // The k-th line that was not JSON comes before the record's line
        // exactly when `not_json[k] - k <= record`, which holds for a
        // prefix of k: the record's entry is `record` plus that prefix.
        let (mut lo, mut hi) = (0, self.not_json.len());
        while lo < hi {
            let k = (lo + hi) / 2;
            if self.not_json[k] as usize - k <= record as usize {
                lo = k + 1;
            } else {
                hi = k;
            }
        }
        self.entries[record as usize + lo].line
    }
}

pub struct Store {
    pub table: Table,
    /// Per record: bit f set when field f failed the schema (fields past
    /// 63 share bit 63).
    pub masks: Masks,
    pub key: Option<FieldId>,
    /// The input lines of the base's records and of the candidates'.
    pub lines: [RecordLines; 2],
    /// Records before this index come from `--base`.
    pub base: usize,
    keys: ValueIndex,
    /// In the graph: passed the schema and has a key nobody else has.
    pub member: Vec<bool>,
    pub relations: HashMap<RelationId, RelationIndex>,
    pub graphs: HashMap<GraphId, GraphIndex>,
    /// For `unique(field)`.
    pub values: HashMap<FieldId, ValueIndex>,
}

/// Per record, the bits of the fields that failed the schema (`field_bit`).
/// Nearly every record passes, so a bit per record says whether it has any
/// and the few masks sit in a map: 1 bit a record instead of 8 bytes.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Masks {
    any: Vec<u64>,
    #[serde(serialize_with = "in_key_order")]
    failed: HashMap<u32, u64>,
    len: usize,
}

/// A map written in key order (a map's iteration order is its hasher's,
/// seeded per process), so an index built twice from one base is the same
/// bytes.
fn in_key_order<S: serde::Serializer>(map: &HashMap<u32, u64>, s: S) -> Result<S::Ok, S::Error> {
    let mut entries: Vec<(&u32, &u64)> = map.iter().collect();
    entries.sort_unstable();
    s.collect_map(entries)
}

impl Masks {
    pub fn push(&mut self, mask: u64) {
        let row = self.len;
        if row.is_multiple_of(64) {
            self.any.push(0);
        }
        if mask != 0 {
            self.any[row / 64] |= 1 << (row % 64);
            self.failed.insert(row as u32, mask);
        }
        self.len += 1;
    }

    /// The failure bits of `row` (0 when it passed the schema).
    #[inline]
    pub fn get(&self, row: usize) -> u64 {
        if self.any[row / 64] & (1 << (row % 64)) == 0 {
            return 0;
        }
        self.failed.get(&(row as u32)).copied().unwrap_or(0)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn extend(&mut self, other: &Masks) {
        for row in 0..other.len {
            self.push(other.get(row));
        }
    }
}

pub fn field_bit(f: FieldId) -> u64 {
    1u64 << f.0.min(63)
}

impl Store {
    pub fn new(table: Table, masks: Masks, lines: [RecordLines; 2], key: Option<FieldId>) -> Store {
        let rows = table.rows;
        let keys = key.map_or_else(ValueIndex::default, |k| ValueIndex::build(&table.columns[k.0 as usize], rows));
        // In the graph: passed the schema, has a key and holds it alone.
        let has_key = |r: usize| key.is_some_and(|k| cell(&table.columns[k.0 as usize], r).is_some());
        let member = (0..rows).map(|r| masks.get(r) == 0 && has_key(r) && keys.count(r) == 1).collect();
        Store { table, masks, key, lines, base: 0, keys, member, relations: HashMap::new(), graphs: HashMap::new(), values: HashMap::new() }
    }

    pub fn rows(&self) -> usize {
        self.table.rows
    }

    /// The input line of a record (in its own file, for base records).
    pub fn line_of(&self, record: u32) -> u32 {
        match (record as usize).checked_sub(self.base) {
            None => self.lines[0].line(record),
            Some(r) => self.lines[1].line(r as u32),
        }
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
            Some((first, _)) => self.keys.shared.get(&first).cloned().unwrap_or_default(),
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
        let index = if Some(field) == self.key { &self.keys } else { self.values.get(&field)? };
        cell(&self.table.columns[field.0 as usize], row)?;
        Some(index.count(row))
    }

    /// A forward relation's list column and the column of its items
    /// naming keys.
    fn references(&self, schema: &Schema, rel: RelationId) -> Option<(&ListColumn, &StrColumn)> {
        let RelationKind::Forward { list, reference, .. } = schema.relation(rel).kind else { return None };
        let Column::List(list_col) = &self.table.columns[list.0 as usize] else { return None };
        Some((list_col, list_col.item_text(reference)?))
    }

    /// Turns the values naming keys in the relations' lists into the rows
    /// holding those keys: looked up once here, and the lists stop keeping
    /// a second copy of the key text (most of a relation column's bytes).
    fn resolve_references(&mut self, schema: &Schema, forwards: &[RelationId]) {
        let Some(key) = self.key else { return };
        if forwards.iter().all(|&rel| self.references(schema, rel).is_none()) {
            return;
        }
        let Column::Str(key_col) = &mut self.table.columns[key.0 as usize] else { return };
        let keys = key_col.share();
        let key_col = Column::Str(StrColumn::Shared(keys.clone()));
        for &rel in forwards {
            let RelationKind::Forward { list, reference, .. } = schema.relation(rel).kind else { continue };
            let Column::List(list_col) = &mut self.table.columns[list.0 as usize] else { continue };
            let Some(refs) = list_col.item_text_mut(reference) else { continue };
            let index = &self.keys;
            refs.refer_to(&keys, |s| index.find(&key_col, Cell::Str(s)).map(|(first, _)| first));
        }
    }

    /// Builds the indices the program's relations and graphs need.
    pub fn index(&mut self, schema: &Schema, used_relations: &[RelationId], used_graphs: &[GraphId], unique: &[FieldId]) {
        let n = self.rows();
        for &f in unique {
            if Some(f) != self.key {
                self.values.insert(f, ValueIndex::build(&self.table.columns[f.0 as usize], n));
            }
        }
        let mut forwards: Vec<RelationId> = used_relations.iter().map(|&r| schema.forward(r).0).collect();
        forwards.extend(used_graphs.iter().map(|&g| schema.graph(g).relation));
        forwards.sort_by_key(|r| r.0);
        forwards.dedup();
        self.resolve_references(schema, &forwards);
        for rel in forwards {
            let Some((list_col, refs)) = self.references(schema, rel) else { continue };
            // (holder, named, item), in holder order; the lookups in parallel.
            let this = &*self;
            let edges: Vec<(u32, u32, u32)> = (0..n as u32)
                .into_par_iter()
                .filter(|&holder| this.member[holder as usize])
                .flat_map_iter(|holder| {
                    list_col.range(holder as usize).into_iter().flatten().filter_map(move |item| {
                        let named = match refs.resolved(item) {
                            // The key's first row; a member holds its key alone.
                            Some(row) => Some(row).filter(|&r| this.member[r as usize]),
                            None => this.member_by_key(refs.get(item)?),
                        }?;
                        Some((holder, named, item as u32))
                    })
                })
                .collect();
            let (forward, backward) = rayon::join(
                || Adjacency::build(n, &edges, |&(holder, named, item)| (holder, named, item)),
                || Adjacency::build(n, &edges, |&(holder, named, item)| (named, holder, item)),
            );
            let index = RelationIndex { forward, backward };
            self.relations.insert(rel, index);
        }
        for &g in used_graphs {
            let rel = schema.graph(g).relation;
            // The graph's edges run from the named entity to the holder.
            let index = &self.relations[&rel];
            let analysis = super::graph::analyse(&self.member, &index.backward, &index.forward);
            self.graphs.insert(g, analysis);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_s_line_skips_the_lines_that_were_not_json() {
        // Entries: not JSON, r0, r1, not JSON, not JSON, r2, r3, not JSON.
        let kinds = [false, true, true, false, false, true, true, false];
        let entries = (0..kinds.len()).map(|i| super::super::LineReport::new(10 + i as u32, 0)).collect();
        let not_json = (0..kinds.len() as u32).filter(|&i| !kinds[i as usize]).collect();
        let lines = RecordLines::new(entries, not_json);
        let expected: Vec<u32> = (0..kinds.len() as u32).filter(|&i| kinds[i as usize]).map(|i| 10 + i).collect();
        assert_eq!((0..4).map(|r| lines.line(r)).collect::<Vec<_>>(), expected);
    }
}
