//! The incremental check of candidates against a base index: which base
//! records the candidates reach, those records re-read from the base file,
//! and the check run on them and the candidates, with the dataset rules
//! taken from what the index recorded of the rest (`overlay`).
//!
//! What the index keeps for it, beside the full snapshot:
//! - the components of the base: records linked by any relation a rule
//!   walks, or holding the same key; a component is closed, so the rules
//!   of a candidate that reaches one of its records see only its records;
//! - the base's keys, the references that name no base record, and the
//!   values of every `unique(field)`, as sorted 64-bit hashes with their
//!   rows: a candidate reaches the records whose key it names or holds,
//!   the records that name its key, and the records holding its unique
//!   values (a hash collision only adds a component: harmless);
//! - where each record's line is in the base file, and its line number;
//! - per graph, the first record of each base group; per overlay node, the
//!   value of each base element and the tally of those values
//!   (`overlay::Recorded`);
//! - the base's tallies of the summary fields and its line count.
//!
//! The store of the check holds whole components, in base order, then the
//! candidates: relations, keys, uniqueness, cycles and groups are what
//! they are in base + candidates, and every ordering (edges by neighbour,
//! groups by first member, cycles from the least record) is the same.

use super::overlay::{self, Plan, Values};
use crate::check::columns::Column;
use crate::check::eval::{self, Val};
use crate::check::store::Store;
use crate::check::{Compiled, Loaded, NOT_JSON};
use crate::ir::schema::{GraphId, RelationKind};
use hashbrown::HashMap;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The relations whose edges the store indexes (as `Store::index` picks them).
pub fn forward_relations(c: &Compiled) -> Vec<crate::ir::schema::RelationId> {
    let schema = &c.program.schema;
    let mut forwards: Vec<_> = c.relations.iter().map(|&r| schema.forward(r).0).collect();
    forwards.extend(c.graphs.iter().map(|&g| schema.graph(g).relation));
    forwards.sort_by_key(|r| r.0);
    forwards.dedup();
    forwards
}

/// The hash a text is looked up by.
pub fn text_hash(s: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(s.as_bytes(), 1)
}

/// The hash of a cell as `unique` compares it (strings by text, numbers by
/// value, -0 as 0).
pub fn cell_hash(column: &Column, row: usize) -> Option<u64> {
    match eval::cell(column, row) {
        Val::Str(s) => Some(text_hash(s)),
        Val::Number(n) => Some(xxhash_rust::xxh3::xxh3_64_with_seed(&(n + 0.0).to_bits().to_le_bytes(), 2)),
        _ => None,
    }
}

/// The small part of the incremental state, decoded on every check.
#[derive(Serialize, Deserialize, Debug)]
pub struct State {
    pub base_rows: usize,
    /// Non-blank lines of the base (for the empty-base warning).
    pub base_lines: usize,
    pub tallies: BTreeMap<String, BTreeMap<String, usize>>,
    /// Per overlay node: elements, bindings, whether it has numbers, and
    /// whether it could be recorded.
    pub nodes: Vec<(usize, usize, bool, bool)>,
    /// Per overlay node and binding, the tally of its values over the
    /// base (the aggregates that only count take it instead of a pass).
    pub node_tallies: Vec<Vec<eval::Tally>>,
    pub graphs: Vec<u32>,
    pub unique: Vec<u32>,
}

/// The raw arrays of the state, by section name.
pub type Sections = Vec<(String, Vec<u8>)>;

fn u32s(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}
fn u64s(v: &[u64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Sorted (hash, row) pairs as two sections.
fn lookup(out: &mut Sections, name: &str, mut pairs: Vec<(u64, u32)>) {
    pairs.par_sort_unstable();
    out.push((format!("{name}.hash"), u64s(&pairs.iter().map(|p| p.0).collect::<Vec<_>>())));
    out.push((format!("{name}.row"), u32s(&pairs.iter().map(|p| p.1).collect::<Vec<_>>())));
}

/// Builds the incremental state of a loaded base; None when the program's
/// rules are not of a form an index can update (the check then reads the
/// whole snapshot).
pub fn build(c: &Compiled, base: &Loaded, base_bytes: &mut dyn std::io::Read) -> Result<Option<(State, Sections)>, String> {
    let Ok(plan) = Plan::new(c) else { return Ok(None) };
    let n = base.table.rows;
    if n >= u32::MAX as usize / 2 {
        return Ok(None);
    }
    let mut timer = crate::check::Timer::new();
    let lines = crate::check::store::RecordLines::new(base.entries.clone(), base.json_errors.iter().map(|(i, _)| *i).collect());
    let mut store = Store::new(base.table.clone(), base.masks.clone(), [lines, Default::default()], c.plan.key);
    store.base = n;
    store.index(&c.program.schema, &c.relations, &c.graphs, &c.unique_fields);
    let mut out: Sections = Vec::new();
    timer.phase("index: store indexed");

    // Components: relation edges, and records sharing a key.
    let mut sets = petgraph::unionfind::UnionFind::<u32>::new(n);
    let forwards = forward_relations(c);
    for rel in &forwards {
        if let Some(index) = store.relations.get(rel) {
            for holder in 0..n as u32 {
                for &(named, _) in index.forward.of(holder) {
                    sets.union(holder, named);
                }
            }
        }
    }
    timer.phase("index: components: relation edges unioned");
    // Hashed and looked up in parallel; only the unions are sequential.
    let found: Vec<(u64, u32, Option<u32>)> = (0..n)
        .into_par_iter()
        .filter_map(|row| {
            let k = store.key_of(row)?;
            let shared = store.key_rows(k).filter(|&(_, count)| count > 1).map(|(first, _)| first);
            Some((text_hash(k), row as u32, shared))
        })
        .collect();
    let mut keys = Vec::with_capacity(found.len());
    for (hash, row, shared) in found {
        keys.push((hash, row));
        if let Some(first) = shared {
            sets.union(row, first);
        }
    }
    timer.phase("index: components: keys hashed, shared keys unioned");
    let labels = sets.into_labeling();
    let mut number: HashMap<u32, u32> = HashMap::new();
    let comp_of: Vec<u32> = labels
        .iter()
        .map(|&l| {
            let next = number.len() as u32;
            *number.entry(l).or_insert(next)
        })
        .collect();
    let mut starts = vec![0u32; number.len() + 1];
    for &k in &comp_of {
        starts[k as usize + 1] += 1;
    }
    for i in 0..number.len() {
        starts[i + 1] += starts[i];
    }
    let mut fill = starts.clone();
    let mut comp_rows = vec![0u32; n];
    for (row, &k) in comp_of.iter().enumerate() {
        comp_rows[fill[k as usize] as usize] = row as u32;
        fill[k as usize] += 1;
    }
    out.push(("comp.of".into(), u32s(&comp_of)));
    out.push(("comp.start".into(), u32s(&starts)));
    out.push(("comp.rows".into(), u32s(&comp_rows)));
    timer.phase("index: components numbered");
    lookup(&mut out, "keys", keys);
    timer.phase("index: keys sorted");

    // References of base members that name no base record's key.
    let mut dangling = Vec::new();
    for &rel in &forwards {
        let RelationKind::Forward { list, reference, .. } = c.program.schema.relation(rel).kind else { continue };
        let Column::List(l) = &store.table.columns[list.0 as usize] else { continue };
        let Some(refs) = l.item_text(reference) else { continue };
        for holder in (0..n).filter(|&h| store.member[h]) {
            for item in l.range(holder).into_iter().flatten() {
                if refs.resolved(item).is_some() {
                    continue;
                }
                if let Some(text) = refs.get(item) {
                    if !store.has_key(text) {
                        dangling.push((text_hash(text), holder as u32));
                    }
                }
            }
        }
    }
    dangling.dedup();
    lookup(&mut out, "dangling", dangling);
    let mut unique = Vec::new();
    for &f in &c.unique_fields {
        if Some(f) == c.plan.key {
            continue;
        }
        unique.push(f.0);
        let column = &store.table.columns[f.0 as usize];
        let pairs = (0..n).into_par_iter().filter_map(|r| Some((cell_hash(column, r)?, r as u32))).collect();
        lookup(&mut out, &format!("unique.{}", f.0), pairs);
    }

    timer.phase("index: components, keys, references");
    // Where each record's line is.
    let mut line_starts = vec![0u64];
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    loop {
        let got = base_bytes.read(&mut buf).map_err(|e| e.to_string())?;
        if got == 0 {
            break;
        }
        line_starts.extend(memchr::memchr_iter(b'\n', &buf[..got]).map(|i| at + i as u64 + 1));
        at += got as u64;
    }
    let records: Vec<u32> = base.entries.iter().filter(|e| e.slot != NOT_JSON).map(|e| e.line).collect();
    if records.len() != n {
        return Ok(None);
    }
    let mut start = Vec::with_capacity(n);
    let mut len = Vec::with_capacity(n);
    for &line in &records {
        let s = line_starts.get(line as usize - 1).copied().unwrap_or(at);
        let e = line_starts.get(line as usize).copied().unwrap_or(at);
        start.push(s);
        len.push((e - s) as u32);
    }
    out.push(("line.start".into(), u64s(&start)));
    out.push(("line.len".into(), u32s(&len)));
    out.push(("line.no".into(), u32s(&records)));

    timer.phase("index: lines found");
    // The dataset rules' nodes over the base alone.
    let data = eval::Data { table: &store.table, masks: &store.masks, store: Some(&store) };
    let recorder = overlay::Recorder::new(&plan);
    recorder.record_all(c, data);
    let recorded = recorder.into_recorded();
    let mut nodes = Vec::new();
    let mut node_tallies = Vec::new();
    for (i, r) in recorded.iter().enumerate() {
        nodes.push((r.elements, r.contexts, !r.numbers.is_empty(), !r.unusable));
        node_tallies.push(r.tallies.clone());
        out.push((format!("memo.{i}.tags"), r.tags.clone()));
        out.push((format!("memo.{i}.numbers"), r.numbers.iter().flat_map(|x| x.to_le_bytes()).collect()));
    }
    let mut graphs = Vec::new();
    for node in &plan.nodes {
        if let overlay::Root::Groups(g) = node.root {
            if !graphs.contains(&g.0) {
                graphs.push(g.0);
                let firsts: Vec<u32> =
                    store.graphs.get(&g).map(|x| (0..x.groups.len()).map(|i| x.groups.get(i)[0]).collect()).unwrap_or_default();
                out.push((format!("groups.{}", g.0), u32s(&firsts)));
            }
        }
    }

    timer.phase("index: dataset values recorded");
    // The base's tallies, as `check` counts them.
    let entity = c.program.schema.entity(c.entity);
    let mut tallies: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for &f in &entity.summary {
        let column = &store.table.columns[f.0 as usize];
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for row in 0..n {
            if let Val::Str(v) = eval::cell(column, row) {
                *counts.entry(v.to_string()).or_default() += 1;
            }
        }
        if !counts.is_empty() {
            tallies.entry(entity.fields[f.0 as usize].name.clone()).or_default().extend(counts);
        }
    }
    let state = State { base_rows: n, base_lines: base.entries.len(), tallies, nodes, node_tallies, graphs, unique };
    Ok(Some((state, out)))
}

/// A little-endian array in the index's bytes.
#[derive(Clone, Copy)]
pub struct Raw<'m, const W: usize>(pub &'m [u8]);

impl<const W: usize> Raw<'_, W> {
    pub fn len(&self) -> usize {
        self.0.len() / W
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn bytes(&self, i: usize) -> [u8; W] {
        self.0[i * W..(i + 1) * W].try_into().expect("W bytes")
    }
}
impl Raw<'_, 4> {
    pub fn get(&self, i: usize) -> u32 {
        u32::from_le_bytes(self.bytes(i))
    }
}
impl Raw<'_, 8> {
    pub fn get(&self, i: usize) -> u64 {
        u64::from_le_bytes(self.bytes(i))
    }
}

/// The rows whose hash is `h` in a sorted lookup.
fn rows_with<'m>(hashes: Raw<'m, 8>, rows: Raw<'m, 4>, h: u64) -> impl Iterator<Item = u32> + 'm {
    let (mut lo, mut hi) = (0, hashes.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        if hashes.get(mid) < h {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    (lo..hashes.len()).take_while(move |&i| hashes.get(i) == h).map(move |i| rows.get(i))
}

/// The state of an opened index, its arrays borrowed from the file.
pub struct View<'m> {
    pub state: State,
    pub section: &'m dyn Fn(&str) -> Option<&'m [u8]>,
}

/// Recorded values read from the index's bytes.
pub struct RawValues<'m> {
    nodes: Vec<(usize, &'m [u8], &'m [u8], bool)>,
    tallies: &'m [Vec<eval::Tally>],
}

impl Values for RawValues<'_> {
    fn elements(&self, node: usize) -> Option<usize> {
        self.nodes.get(node).filter(|n| n.3).map(|n| n.0)
    }
    fn tag(&self, node: usize, context: usize, element: usize) -> u8 {
        let (elements, tags, _, _) = self.nodes[node];
        tags[context * elements + element]
    }
    fn number(&self, node: usize, context: usize, element: usize) -> f64 {
        let (elements, _, numbers, _) = self.nodes[node];
        let at = (context * elements + element) * 8;
        numbers.get(at..at + 8).map_or(0.0, |b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
    }
    fn tags(&self, node: usize, context: usize) -> Option<&[u8]> {
        let (elements, tags, _, _) = *self.nodes.get(node)?;
        tags.get(context * elements..(context + 1) * elements)
    }
    fn tally(&self, node: usize, context: usize) -> Option<eval::Tally> {
        self.tallies.get(node)?.get(context).copied()
    }
}

/// What the candidates reach of the base: whole components, as sorted
/// base rows.
pub fn reached(c: &Compiled, view: &View<'_>, candidates: &Loaded) -> Option<Vec<u32>> {
    let plan = Plan::new(c).ok()?;
    let raw4 = |name: &str| Some(Raw::<4>((view.section)(name)?));
    let raw8 = |name: &str| Some(Raw::<8>((view.section)(name)?));
    let (key_hash, key_row) = (raw8("keys.hash")?, raw4("keys.row")?);
    let (dangling_hash, dangling_row) = (raw8("dangling.hash")?, raw4("dangling.row")?);
    let (comp_of, comp_start, comp_rows) = (raw4("comp.of")?, raw4("comp.start")?, raw4("comp.rows")?);
    let table = &candidates.table;
    let mut seeds: Vec<u32> = Vec::new();
    let key = c.plan.key?;
    // Their keys: base records holding them, base records naming them.
    for row in 0..table.rows {
        let Some(h) = cell_hash(&table.columns[key.0 as usize], row) else { continue };
        seeds.extend(rows_with(key_hash, key_row, h));
        seeds.extend(rows_with(dangling_hash, dangling_row, h));
    }
    // The keys they name: through relations, and in `keys(…)` tests.
    let mut named: Vec<(crate::ir::schema::FieldId, usize)> = plan.key_tests.clone();
    for rel in forward_relations(c) {
        if let RelationKind::Forward { list, reference, .. } = c.program.schema.relation(rel).kind {
            named.push((list, reference));
        }
    }
    for (list, item) in named {
        let Column::List(l) = &table.columns[list.0 as usize] else { continue };
        let Some(texts) = l.item_text(item) else { continue };
        for row in 0..table.rows {
            for i in l.range(row).into_iter().flatten() {
                if let Some(t) = texts.get(i) {
                    seeds.extend(rows_with(key_hash, key_row, text_hash(t)));
                }
            }
        }
    }
    // Their unique values.
    for &f in &view.state.unique {
        let (hashes, rows) = (raw8(&format!("unique.{f}.hash"))?, raw4(&format!("unique.{f}.row"))?);
        for row in 0..table.rows {
            if let Some(h) = cell_hash(&table.columns[f as usize], row) {
                seeds.extend(rows_with(hashes, rows, h));
            }
        }
    }
    let mut comps: Vec<u32> = seeds.iter().filter(|&&r| (r as usize) < comp_of.len()).map(|&r| comp_of.get(r as usize)).collect();
    comps.sort_unstable();
    comps.dedup();
    let mut rows: Vec<u32> = Vec::new();
    for k in comps {
        let (a, b) = (comp_start.get(k as usize) as usize, comp_start.get(k as usize + 1) as usize);
        rows.extend((a..b).map(|i| comp_rows.get(i)));
    }
    rows.sort_unstable();
    Some(rows)
}

/// The base records `rows` re-read from the base file, loaded as the base
/// is (their line numbers the base's).
pub fn load_rows(c: &Compiled, view: &View<'_>, base: &std::fs::File, rows: &[u32]) -> Option<Loaded> {
    let (text, lines) = row_lines(view, base, rows)?;
    load_lines(c, text, &lines, false)
}

/// The lines of the base records `rows`, re-read from the base file (each
/// ending in a line end), and their line numbers in the base.
pub fn row_lines(view: &View<'_>, base: &std::fs::File, rows: &[u32]) -> Option<(Vec<u8>, Vec<u32>)> {
    use std::os::unix::fs::FileExt;
    let (start, len, line_no) =
        (Raw::<8>((view.section)("line.start")?), Raw::<4>((view.section)("line.len")?), Raw::<4>((view.section)("line.no")?));
    let mut text = Vec::new();
    for &r in rows {
        let (s, l) = (start.get(r as usize), len.get(r as usize) as usize);
        let at = text.len();
        text.resize(at + l, 0);
        base.read_exact_at(&mut text[at..], s).ok()?;
        if text.last() != Some(&b'\n') {
            text.push(b'\n');
        }
    }
    Some((text, rows.iter().map(|&r| line_no.get(r as usize)).collect()))
}

/// `text`, lines that are each a record, loaded with the line numbers
/// `lines`; None when a line is not a record after all.
pub fn load_lines(c: &Compiled, text: Vec<u8>, lines: &[u32], local_rules: bool) -> Option<Loaded> {
    let size = text.len() as u64;
    let mut loaded = crate::check::load_sized(c, std::io::Cursor::new(text), None, local_rules, Some(size)).ok()?;
    if loaded.table.rows != lines.len() || !loaded.json_errors.is_empty() || loaded.entries.len() != lines.len() {
        return None;
    }
    for (entry, &line) in loaded.entries.iter_mut().zip(lines) {
        entry.line = line;
    }
    Some(loaded)
}

/// The incremental check; None when it needs the whole base (a dataset
/// rule that fails, or a node the index could not record).
pub fn check(c: &Compiled, view: &View<'_>, base: &std::fs::File, candidates: Loaded) -> Option<crate::check::Report> {
    let mut timer = crate::check::Timer::new();
    let plan = Plan::new(c).ok()?;
    let rows = reached(c, view, &candidates)?;
    timer.phase("base records the candidates reach");
    timer.note(&format!("{} of {} base records", rows.len(), view.state.base_rows));
    let subset = load_rows(c, view, base, &rows)?;
    timer.phase("those records re-read");
    let mut values = RawValues { nodes: Vec::new(), tallies: &view.state.node_tallies };
    for (i, &(elements, _, _, usable)) in view.state.nodes.iter().enumerate() {
        let tags = (view.section)(&format!("memo.{i}.tags"))?;
        let numbers = (view.section)(&format!("memo.{i}.numbers"))?;
        values.nodes.push((elements, tags, numbers, usable));
    }
    let mut group_firsts: HashMap<GraphId, Vec<u32>> = HashMap::new();
    for &g in &view.state.graphs {
        let raw = Raw::<4>((view.section)(&format!("groups.{g}"))?);
        group_firsts.insert(GraphId(g), (0..raw.len()).map(|i| raw.get(i)).collect());
    }
    let base_rows = view.state.base_rows;
    let mut reached_bits = vec![0u64; base_rows.div_ceil(64)];
    for &r in &rows {
        reached_bits[r as usize / 64] |= 1 << (r % 64);
    }
    let dataset = |c: &Compiled, data: eval::Data<'_>, i: usize| -> Option<Option<bool>> {
        let checker = overlay::Checker::new(&plan, &values, base_rows, &rows, &reached_bits, &group_firsts);
        let rule = &c.program.rules[i];
        let mut env = eval::Env::new(c, data, rule, 0);
        env.overlay = Some(&checker);
        let verdict = env.run();
        (!checker.failed.load(std::sync::atomic::Ordering::Relaxed)).then_some(verdict)
    };
    let inc = crate::check::Incremental { dataset: &dataset, base_tallies: view.state.tallies.clone() };
    crate::check::check_with(c, Some(subset), candidates, Some(&inc))
}
