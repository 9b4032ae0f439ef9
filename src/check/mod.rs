//! The checker: compiles the program once, loads a dataset into the store,
//! and evaluates every rule, in parallel and deterministically.
//!
//! Phases: read lines (parallel per chunk) → index keys, relations and
//! graphs → entity rules (parallel per record) → dataset rules → verdicts
//! in input order.

pub mod base_index;
pub mod cli;
pub mod columns;
pub mod eval;
pub mod explain;
pub mod graph;
pub mod hints;
pub mod progress;
pub mod reader;
pub mod shortfall;
pub mod store;

use crate::ir::expr::{Builtin, Expr, ExprKind, Pattern};
use crate::ir::schema::{EntityId, FieldId, GraphId, RelationId};
use crate::ir::{Program, Scope, Severity, TableValue};
use rayon::prelude::*;
use reader::Plan;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::io::Read;
use store::{RecordLines, Store};

/// A program ready to run: regular expressions compiled, tables hashed.
pub struct Compiled {
    pub program: Program,
    pub entity: EntityId,
    pub regexes: Vec<regex::Regex>,
    pub tables: Vec<hashbrown::HashMap<String, TableValue>>,
    pub current_year: i32,
    pub plan: Plan,
    relations: Vec<RelationId>,
    graphs: Vec<GraphId>,
    unique_fields: Vec<FieldId>,
    /// Entity rules that read only the record: checked while loading.
    local_rules: Vec<usize>,
    /// Entity rules that look at other entities: checked on the store.
    store_rules: Vec<usize>,
    /// Per rule: the schema-failure bits of the fields it reads.
    rule_masks: Vec<u64>,
    /// Fields the store keeps after loading (read by store or dataset rules).
    retained: Vec<FieldId>,
    /// Time spent in each rule: CPU for the record-local rules, wall for
    /// the dataset rules (SKILLC_TIMINGS).
    rule_nanos: Vec<std::sync::atomic::AtomicU64>,
    /// Values of each top-level field in the skills' passing example
    /// companies, in file order (at most 16 distinct a field): the
    /// `example` of a way out that asks for a pattern or a value
    /// (`hints`).
    pub example_values: hashbrown::HashMap<String, Vec<Value>>,
}

impl Compiled {
    pub fn new(program: Program) -> Result<Compiled, String> {
        let entity = program.dataset_entity().ok_or("the skills declare no entity to check")?;
        let regexes = program
            .regexes
            .iter()
            .map(|(r, _)| regex::Regex::new(&format!("^(?:{r})$")).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        let tables = program.tables.iter().map(|t| t.entries.iter().cloned().collect()).collect();
        let (mut kept, mut retained): (Vec<FieldId>, Vec<FieldId>) = (Vec::new(), Vec::new());
        let (mut relations, mut graphs, mut unique_fields) = (Vec::new(), Vec::new(), Vec::new());
        let (mut local_rules, mut store_rules) = (Vec::new(), Vec::new());
        for (i, rule) in program.rules.iter().enumerate() {
            let later = rule.needs_dataset || rule.scope == Scope::Dataset;
            if rule.scope == Scope::Entity && rule.entity == entity {
                if later {
                    store_rules.push(i)
                } else {
                    local_rules.push(i)
                }
            }
            let mut visit = |e: &Expr| match &e.kind {
                ExprKind::SelfField(f) | ExprKind::Get(_, crate::ir::expr::Access::Entity(f)) => {
                    kept.push(*f);
                    if later {
                        retained.push(*f);
                    }
                }
                ExprKind::Relation(r, _) => relations.push(*r),
                ExprKind::Call(Builtin::InCycle(g) | Builtin::Groups(g), _) => graphs.push(*g),
                ExprKind::Call(Builtin::Unique(f), _) => {
                    unique_fields.push(*f);
                    retained.push(*f);
                }
                _ => {}
            };
            for (_, e) in &rule.lets {
                walk(e, &mut visit);
            }
            walk(&rule.expr, &mut visit);
        }
        // Relations read their list field on every member.
        for &r in relations.iter().chain(graphs.iter().map(|g| &program.schema.graph(*g).relation)) {
            let (forward, _) = program.schema.forward(r);
            if let crate::ir::schema::RelationKind::Forward { list, .. } = program.schema.relation(forward).kind {
                retained.push(list);
            }
        }
        let e = program.schema.entity(entity);
        retained.extend(e.summary.iter().copied());
        retained.extend(e.key);
        kept.extend(retained.iter().copied());
        for v in [&mut kept, &mut retained, &mut unique_fields] {
            v.sort();
            v.dedup();
        }
        // Each graph is analysed and each relation indexed once, however
        // many rules read it.
        relations.sort_by_key(|r| r.0);
        relations.dedup();
        graphs.sort_by_key(|g| g.0);
        graphs.dedup();
        let rule_masks = program.rules.iter().map(|r| r.own_fields.iter().fold(0, |m, f| m | store::field_bit(*f))).collect();
        let plan = Plan::new(program.schema.entity(entity), &kept);
        let program_rules = program.rules.len();
        let mut example_values: hashbrown::HashMap<String, Vec<Value>> = hashbrown::HashMap::new();
        for example in program.examples.iter().filter(|e| e.verdict == crate::skill::ExampleVerdict::Pass) {
            for (_, line) in &example.lines {
                let Ok(Value::Object(record)) = serde_json::from_str::<Value>(line) else { continue };
                for (field, value) in record {
                    let seen = example_values.entry(field).or_default();
                    if !value.is_null() && seen.len() < 16 && !seen.contains(&value) {
                        seen.push(value);
                    }
                }
            }
        }
        Ok(Compiled {
            program,
            entity,
            regexes,
            tables,
            current_year: utc_year(),
            plan,
            relations,
            graphs,
            unique_fields,
            local_rules,
            store_rules,
            rule_masks,
            retained,
            rule_nanos: (0..program_rules).map(|_| std::sync::atomic::AtomicU64::new(0)).collect(),
            example_values,
        })
    }
}

/// Calls `f` on every node of an expression tree (iteratively).
pub fn walk<'e>(e: &'e Expr, f: &mut impl FnMut(&'e Expr)) {
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        f(e);
        use ExprKind as K;
        match &e.kind {
            K::Get(a, _) | K::Project(a, _) | K::Lookup(_, a) | K::Neg(a) | K::Not(a) | K::Relation(_, a) => stack.push(a),
            K::Coalesce(a, b) | K::Arith(_, a, b) | K::And(a, b) | K::Or(a, b) | K::Implies(a, b) => {
                stack.push(a);
                stack.push(b);
            }
            K::If(a, b, c) => {
                stack.push(a);
                stack.push(b);
                if let Some(c) = c {
                    stack.push(c);
                }
            }
            K::Compare(a, links) => {
                stack.push(a);
                for l in links {
                    stack.push(&l.rhs);
                    if let Some(t) = &l.tolerance {
                        stack.push(&t.amount);
                    }
                }
            }
            K::InRange { value, lo, hi, .. } => {
                stack.push(value);
                stack.push(lo);
                stack.push(hi);
            }
            K::InSet { value, .. } | K::IsNull { value, .. } => stack.push(value),
            K::InList { value, list, .. } | K::InKeys { value, keys: list, .. } => {
                stack.push(value);
                stack.push(list);
            }
            K::Matches(a, p) => {
                stack.push(a);
                if let Pattern::Table(_, k) = p {
                    stack.push(k);
                }
            }
            K::Agg { source, filter, body, .. } => {
                stack.push(source);
                stack.extend(filter.as_deref());
                stack.extend(body.as_deref());
            }
            K::AggList(_, a) => stack.push(a),
            K::Filter { source, filter, .. } => {
                stack.push(source);
                stack.push(filter);
            }
            K::List(items) | K::Call(_, items) => stack.extend(items.iter()),
            _ => {}
        }
    }
}

/// The current UTC calendar year (days-from-civil, Howard Hinnant).
pub fn utc_year() -> i32 {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    year_of_unix_days(secs.div_euclid(86_400))
}

pub fn year_of_unix_days(days: i64) -> i32 {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2)) as i32
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    Accepted,
    Flagged,
    Rejected,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Accepted => "accepted",
            Verdict::Flagged => "flagged",
            Verdict::Rejected => "rejected",
        }
    }
}

/// Which rule a reason is about.
#[derive(Clone, Debug, PartialEq)]
pub enum ReasonRule {
    /// The line is not a JSON object.
    Json,
    /// A field failed its declared type.
    Schema(FieldId),
    /// A compiled rule, by index into `Program::rules`.
    Rule(usize),
}

#[derive(Clone, Debug)]
pub struct Reason {
    pub rule: ReasonRule,
    pub values: Values,
    /// Sentences of what would satisfy the rule, all needed (dataset
    /// findings; a record rule's only when it has no `alternatives`).
    pub hints: Vec<String>,
    /// A record rule's ways out, best first (any one satisfies the rule),
    /// while they are built and re-checked; then `packed`.
    pub alternatives: Vec<hints::Alternative>,
    /// The ways out once ranked, as the report writes them.
    pub packed: Option<Box<PackedWays>>,
    /// For `json`: the parser's message; for `schema`: what was found.
    pub detail: Option<String>,
}

/// A reason's ways out, ranked, in the form the report needs: their JSON
/// text (written as it is: no float is parsed again) and their sentences.
/// About half the bytes of the structured edits, which a report of tens of
/// thousands of rejections holds until it is written (docs/performance.md,
/// run G).
#[derive(Clone, Debug)]
pub struct PackedWays {
    pub json: Box<serde_json::value::RawValue>,
    /// The best way's sentence (the reason's `hint`).
    pub best: Box<str>,
}

impl PackedWays {
    /// Every way in one line, for the text report: made from the JSON when
    /// it is written, not held (a third of the packed bytes).
    pub fn all(&self) -> String {
        let ways: Vec<Value> = serde_json::from_str(self.json.get()).unwrap_or_default();
        hints::alternatives_text_of_json(&ways)
    }
}

impl Reason {
    /// Moves the ways out into their packed form (once they are ranked).
    pub fn pack_ways(&mut self) {
        if self.alternatives.is_empty() {
            return;
        }
        let ways = std::mem::take(&mut self.alternatives);
        let json: Vec<Value> = ways.iter().map(hints::alternative_json).collect();
        let Ok(json) = serde_json::value::to_raw_value(&json) else { return };
        self.packed = Some(Box::new(PackedWays { json, best: ways[0].text().into() }));
    }

    /// The hint of the reason: the best way out's sentence, or the hints
    /// joined.
    pub fn hint(&self) -> Option<String> {
        if let Some(p) = &self.packed {
            return Some(p.best.to_string());
        }
        match self.alternatives.first() {
            Some(a) => Some(a.text()),
            None if !self.hints.is_empty() => Some(self.hints.join("; ")),
            None => None,
        }
    }
}

/// The outcome for one non-blank input line: 8 bytes, so a report on
/// millions of lines stays small; its reasons and verdict are in
/// `Report::findings` (a line without a finding is accepted). The split
/// re-reads the input line by line, so no offset is kept.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct LineReport {
    pub line: u32,
    /// While loading: the record the line became, or `NOT_JSON`. In a
    /// report: the index of its finding in `Report::findings`, or
    /// `NO_FINDING`.
    slot: u32,
}

const _: () = assert!(std::mem::size_of::<LineReport>() == 8);

impl LineReport {
    fn new(line: u32, slot: u32) -> LineReport {
        LineReport { line, slot }
    }

    /// A report's line: the index of its finding, none when accepted (the
    /// SQL engines' reports, `sql::engine`).
    pub fn with_finding(line: u32, finding: Option<u32>) -> LineReport {
        LineReport { line, slot: finding.unwrap_or(NO_FINDING) }
    }
}

/// `LineReport::slot` of a line that is not a JSON object while loading.
pub const NOT_JSON: u32 = u32::MAX;
const NO_FINDING: u32 = u32::MAX;

/// The reasons of one line with findings.
#[derive(Clone, Debug)]
pub struct Finding {
    /// Flagged or rejected.
    pub verdict: Verdict,
    /// The record's key, when it has one.
    pub key: Option<Box<str>>,
    pub reasons: Vec<Reason>,
}

/// The failing values of a reason (expression as written → value), kept
/// as one exact-size slice: as a map each cost ~700 bytes of heap (a B-tree
/// node), and a 5%-rejected million-line dataset holds tens of thousands.
/// (Not JSON text: re-parsing it changed the last digit of some floats.)
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Values(Box<[(Box<str>, Value)]>);

impl Values {
    pub fn new(map: Map<String, Value>) -> Values {
        Values(map.into_iter().map(|(k, v)| (k.into_boxed_str(), v)).collect())
    }

    pub fn to_map(&self) -> Map<String, Value> {
        self.0.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[derive(Clone, Debug)]
pub struct DatasetFinding {
    pub rule: usize,
    pub values: Values,
    pub hints: Vec<String>,
    /// The counts and shares that fall short of their bound, in records.
    pub shortfalls: Vec<shortfall::Shortfall>,
}

/// What a dataset finding without shortfalls says instead (the JSON
/// report's `shortfall_note`, the text report's `need:` line).
pub const NO_SHORTFALL: &str =
    "no count or share of a collection misses a bound in this rule, so no number of records to change or add can be computed";

#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub read: usize,
    pub accepted: usize,
    pub flagged: usize,
    pub rejected: usize,
    pub findings: BTreeMap<String, usize>,
    /// Per summary field: value → number of entities (the candidates).
    pub tallies: BTreeMap<String, BTreeMap<String, usize>>,
    /// The same over the base's records (`--base`; empty without one).
    pub base_tallies: BTreeMap<String, BTreeMap<String, usize>>,
}

#[derive(Clone, Debug)]
pub struct Report {
    /// One per non-blank input line, in input order.
    pub lines: Vec<LineReport>,
    pub findings: Vec<Finding>,
    pub dataset: Vec<DatasetFinding>,
    pub summary: Summary,
}

impl Report {
    /// The reasons of a line (none when it was accepted).
    pub fn reasons(&self, line: &LineReport) -> &[Reason] {
        self.findings.get(line.slot as usize).map_or(&[], |f| &f.reasons)
    }
    /// The lines that were flagged or rejected, in input order.
    pub fn lines_with_findings(&self) -> impl Iterator<Item = &LineReport> {
        self.lines.iter().filter(|l| l.slot != NO_FINDING)
    }

    pub fn verdict(&self, line: &LineReport) -> Verdict {
        self.findings.get(line.slot as usize).map_or(Verdict::Accepted, |f| f.verdict)
    }

    /// The key of a line's record, for lines with findings.
    pub fn key(&self, line: &LineReport) -> Option<&str> {
        self.findings.get(line.slot as usize).and_then(|f| f.key.as_deref())
    }
}

/// One input, read: the kept columns of its records and what the
/// record-local rules already found.
#[derive(Clone)]
pub struct Loaded {
    pub table: columns::Table,
    pub masks: store::Masks,
    pub entries: Vec<LineReport>,
    /// (index into `entries`, the parser's message) of each line that is
    /// not a JSON object, in order.
    pub json_errors: Vec<(u32, Box<str>)>,
    /// (record, reason) for `schema` and the rules that need no other
    /// entity, sorted by record.
    pub reasons: Vec<(u32, Reason)>,
}

/// Bytes read at a time: a 64th of a file of known size, so the two read
/// buffers stay a small share of the input (small inputs included),
/// between 256 KiB and 4 MiB (8 MiB held 7 MB more at a million
/// companies, and bought no speed measurable here); 2 MiB from a pipe.
fn chunk_size(size: Option<u64>) -> usize {
    size.map_or(2 << 20, |s| usize::try_from(s / 64).unwrap_or(usize::MAX).clamp(256 << 10, 4 << 20))
}

/// A run of lines of one chunk, parsed and checked by one task. Its line
/// numbers count from 1 at its first line (blank ones included) until it
/// is appended.
struct Piece {
    /// Lines seen, blank ones included.
    lines: u32,
    /// Bytes of input the piece covers.
    bytes: u64,
    table: columns::Table,
    masks: store::Masks,
    entries: Vec<LineReport>,
    json_errors: Vec<(u32, Box<str>)>,
    reasons: Vec<(u32, Reason)>,
}

/// Reads JSON Lines from `input` in chunks; each chunk is cut into pieces
/// parsed (and checked against the record-local rules) in parallel.
/// `spill` receives every byte read (to re-read standard input later).
/// With `local_rules` false (a `--base` dataset) only the schema is checked.
pub fn load(
    c: &Compiled,
    input: impl Read + Send,
    spill: Option<&mut (dyn std::io::Write + Send)>,
    local_rules: bool,
) -> std::io::Result<Loaded> {
    load_sized(c, input, spill, local_rules, None)
}

/// [`load`], told the input's size when it is known (a file): after the
/// first chunk the columns are sized for the whole input at once, so they
/// never grow by doubling past what the dataset needs.
pub fn load_sized(
    c: &Compiled,
    input: impl Read + Send,
    spill: Option<&mut (dyn std::io::Write + Send)>,
    local_rules: bool,
    size: Option<u64>,
) -> std::io::Result<Loaded> {
    load_with_progress(c, input, spill, local_rules, size, &progress::Progress::off())
}

/// [`load_sized`], telling `progress` what it has read after each chunk.
pub fn load_with_progress(
    c: &Compiled,
    mut input: impl Read + Send,
    mut spill: Option<&mut (dyn std::io::Write + Send)>,
    local_rules: bool,
    size: Option<u64>,
    progress: &progress::Progress,
) -> std::io::Result<Loaded> {
    let mut timer = Timer::new();
    let mut loaded = Loaded {
        table: c.plan.table().retain(&c.retained),
        masks: store::Masks::default(),
        entries: Vec::new(),
        json_errors: Vec::new(),
        reasons: Vec::new(),
    };
    // Appends up to a chunk to `buf` (and to the spill); true at the end.
    // Appended without zero-filling a chunk first: a small input (an
    // example block, a lone line from an editor) paid for an 8 MB memset
    // and its page faults on every check.
    let chunk = chunk_size(size);
    let mut fill = |buf: &mut Vec<u8>| -> std::io::Result<bool> {
        let before = buf.len();
        // Exact: the buffers are swapped and refilled, never doubled.
        buf.reserve_exact(chunk.min(size.map_or(chunk, |s| s as usize + 1)));
        let n = (&mut input).take(chunk as u64).read_to_end(buf)?;
        if let Some(s) = spill.as_deref_mut() {
            s.write_all(&buf[before..])?;
        }
        Ok(n < chunk)
    };
    let mut appender = Appender { line_no: 0, size };
    let mut buf: Vec<u8> = Vec::new();
    let mut next: Vec<u8> = Vec::new();
    let mut eof = fill(&mut buf)?;
    let mut first_chunk = true;
    let mut parsed: Vec<Piece> = Vec::new();
    let mut consumed: u64 = 0;
    let pieces_per_chunk = rayon::current_num_threads() * 4;
    loop {
        let cut = if eof { buf.len() } else { memchr::memrchr(b'\n', &buf).map_or(0, |i| i + 1) };
        if cut == 0 && !eof {
            eof = fill(&mut buf)?; // a line longer than the chunk: read more
            continue;
        }
        let skip = if first_chunk && buf.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
        first_chunk = false;
        let chunk = &buf[..cut];
        // Pieces cut at line ends near equal byte offsets: each piece finds
        // its own lines, so nothing walks the chunk before the parse.
        let mut bounds = vec![0];
        for k in 1..pieces_per_chunk {
            let at = (cut * k / pieces_per_chunk).max(*bounds.last().unwrap_or(&0));
            match memchr::memchr(b'\n', &chunk[at..]) {
                Some(i) if at + i + 1 < cut => bounds.push(at + i + 1),
                _ => break,
            }
        }
        bounds.push(cut);
        bounds.dedup();
        next.clear();
        next.extend_from_slice(&buf[cut..]);
        // A pipeline: while this chunk's pieces are parsed, the previous
        // chunk's are appended and the next chunk is read, so no core
        // waits on a step that only one can do.
        let previous = std::mem::take(&mut parsed);
        let (pieces, read) = rayon::join(
            || bounds.par_windows(2).map(|w| read_piece(c, chunk, w[0]..w[1], if w[0] == 0 { skip } else { 0 }, local_rules)).collect(),
            || {
                appender.append(&mut loaded, previous);
                if eof {
                    Ok(true)
                } else {
                    fill(&mut next)
                }
            },
        );
        parsed = pieces;
        consumed += cut as u64;
        progress.read(consumed, u64::from(appender.line_no));
        if eof {
            break;
        }
        eof = read?;
        std::mem::swap(&mut buf, &mut next);
    }
    appender.append(&mut loaded, parsed);
    progress.loaded(u64::from(appender.line_no));
    loaded.table.shrink();
    // Grown by doubling: up to half of it was room, held to the end.
    loaded.reasons.shrink_to_fit();
    timer.phase("read, parse, record-local rules");
    timer.rule_times(c, &c.local_rules, "ms CPU");
    timer.note(&format!("{} lines, {} reasons", loaded.entries.len(), loaded.reasons.len()));
    timer.columns(c, &loaded.table, "kept columns");
    Ok(loaded)
}

/// Appends parsed pieces to what is loaded, in input order.
struct Appender {
    /// Lines appended so far, blank ones included.
    line_no: u32,
    /// The input's size until the columns are sized for it (after the
    /// first chunk).
    size: Option<u64>,
}

impl Appender {
    fn append(&mut self, loaded: &mut Loaded, pieces: Vec<Piece>) {
        if pieces.is_empty() {
            return;
        }
        let bytes: u64 = pieces.iter().map(|p| p.bytes).sum();
        let (tables, pieces): (Vec<columns::Table>, Vec<Piece>) = pieces.into_iter().map(|mut p| (std::mem::take(&mut p.table), p)).unzip();
        let tables: Vec<&columns::Table> = tables.iter().collect();
        let table = &mut loaded.table;
        let rest = (&mut loaded.masks, &mut loaded.entries, &mut loaded.json_errors, &mut loaded.reasons);
        let line_no = &mut self.line_no;
        // The columns are appended (in parallel, column by column) while
        // this task appends the rest.
        rayon::join(
            || table.append_all(&tables),
            || {
                let (masks, entries, json_errors, reasons) = rest;
                for piece in pieces {
                    let first_record = masks.len() as u32;
                    let first_line = *line_no;
                    *line_no += piece.lines;
                    masks.extend(&piece.masks);
                    let first_entry = entries.len() as u32;
                    columns::room(entries, piece.entries.len());
                    entries.extend(piece.entries.into_iter().map(|mut e| {
                        e.line += first_line;
                        if e.slot != NOT_JSON {
                            e.slot += first_record;
                        }
                        e
                    }));
                    json_errors.extend(piece.json_errors.into_iter().map(|(i, m)| (i + first_entry, m)));
                    reasons.extend(piece.reasons.into_iter().map(|(r, reason)| (r + first_record, reason)));
                }
            },
        );
        // After the first chunk, the columns are sized for the whole file.
        if let Some(size) = self.size.take() {
            if bytes > 0 && bytes < size {
                let ratio = size as f64 / bytes as f64 * 1.02;
                loaded.table.reserve_scaled(ratio);
                let more = |len: usize| ((len as f64) * (ratio - 1.0)) as usize;
                loaded.entries.reserve_exact(more(loaded.entries.len()));
            }
        }
    }
}

/// Parses the lines of `chunk[range]` (skipping `skip` bytes of a
/// byte-order mark at its start) and runs the record-local rules on them.
fn read_piece(c: &Compiled, chunk: &[u8], range: std::ops::Range<usize>, skip: usize, local_rules: bool) -> Piece {
    let mut piece = Piece {
        lines: 0,
        bytes: range.len() as u64,
        table: c.plan.table(),
        masks: store::Masks::default(),
        entries: Vec::new(),
        json_errors: Vec::new(),
        reasons: Vec::new(),
    };
    let mut scratch = reader::Scratch::default();
    let offset = range.start;
    for (start, end, _) in reader::lines(&chunk[range.clone()]) {
        piece.lines += 1;
        let line = piece.lines;
        let (start, end) = (offset + start, offset + end);
        let start = if start == 0 { skip.min(end) } else { start };
        if reader::is_blank(&chunk[start..end]) {
            continue;
        }
        let record = match reader::read_line(&c.plan, &mut scratch, &mut piece.table, &chunk[start..end]) {
            Ok(failures) => {
                let row = piece.masks.len() as u32;
                piece.masks.push(failures.iter().fold(0, |m, f| m | store::field_bit(f.field)));
                piece.reasons.extend(failures.into_iter().map(|f| {
                    (
                        row,
                        Reason {
                            rule: ReasonRule::Schema(f.field),
                            values: Values::default(),
                            hints: Vec::new(),
                            alternatives: Vec::new(),
                            packed: None,
                            detail: Some(f.found.to_string()),
                        },
                    )
                }));
                row
            }
            Err(message) => {
                piece.json_errors.push((piece.entries.len() as u32, message.into_boxed_str()));
                NOT_JSON
            }
        };
        piece.entries.push(LineReport::new(line, record));
    }
    if local_rules && !c.local_rules.is_empty() {
        let data = eval::Data { table: &piece.table, masks: &piece.masks, store: None };
        let rules = &c.program.rules;
        let mut env = eval::Env::new(c, data, &rules[c.local_rules[0]], 0);
        // Rule by rule over the piece's rows: one rule's code and constants
        // stay hot; reasons are sorted into row order below.
        for &i in &c.local_rules {
            let t = std::time::Instant::now();
            for row in 0..piece.masks.len() as u32 {
                if let Some(reason) = run_rule(c, &mut env, i, row) {
                    piece.reasons.push((row, reason));
                }
            }
            c.rule_nanos[i].fetch_add(t.elapsed().as_nanos() as u64, std::sync::atomic::Ordering::Relaxed);
        }
        // schema reasons first, then rules in skill order
        // (row, rule) is unique: an unstable sort orders as a stable one.
        piece.reasons.sort_unstable_by_key(|(row, r)| (*row, reason_order(&r.rule)));
        rank_ways_out(c, chunk, range, skip, &mut piece);
    }
    piece
}

/// Runs rule `i` on `row`; the reason when it fails.
fn run_rule<'a>(c: &'a Compiled, env: &mut eval::Env<'a>, i: usize, row: u32) -> Option<Reason> {
    let rule = &c.program.rules[i];
    if env.data.masks.get(row as usize) & c.rule_masks[i] != 0 {
        return None; // it reads a field that failed the schema
    }
    env.reset(rule, row);
    if env.run() != Some(false) {
        return None;
    }
    env.reset(rule, row);
    let why = explain::explain(env, &c.program.db);
    env.reset(rule, row);
    let alternatives = hints::ways_out(env, &c.program.db);
    // The sentences are kept only until the ways out are known to stand
    // (`rank_ways_out`; the rules run on the store are not re-checked).
    let hints = if alternatives.is_empty() || env.data.store.is_none() { why.hints } else { Vec::new() };
    let mut reason = Reason { rule: ReasonRule::Rule(i), values: Values::new(why.values), hints, alternatives, packed: None, detail: None };
    // The rules run on the store are not re-checked: their order is final.
    if env.data.store.is_some() {
        reason.pack_ways();
    }
    Some(reason)
}

/// Re-checks the ways out of the piece's failed record-local rules on a
/// scratch copy of each record's line, and orders them
/// (`hints::check_alternatives`). Only pieces with such a failure re-read
/// their lines, and a line is parsed again only when one of its ways out
/// has a value to try, so the passing path pays nothing.
fn rank_ways_out(c: &Compiled, chunk: &[u8], range: std::ops::Range<usize>, skip: usize, piece: &mut Piece) {
    if piece.reasons.iter().any(|(_, r)| hints::worth_checking(&r.alternatives)) {
        recheck_ways_out(c, chunk, range, skip, piece);
    }
    // The sentences stand in only for a reason left without ways out.
    for (_, reason) in &mut piece.reasons {
        if !reason.alternatives.is_empty() {
            reason.hints = Vec::new();
            reason.pack_ways();
        }
    }
}

/// `rank_ways_out`'s re-check: each record with a way out to try parsed
/// once, and what its rules found taken from its reasons (not run again).
fn recheck_ways_out(c: &Compiled, chunk: &[u8], range: std::ops::Range<usize>, skip: usize, piece: &mut Piece) {
    // The line of each record, as `read_piece` cut them.
    let mut records = Vec::with_capacity(piece.masks.len());
    let mut entries = piece.entries.iter();
    let offset = range.start;
    for (start, end, _) in reader::lines(&chunk[range]) {
        let (start, end) = (offset + start, offset + end);
        let start = if start == 0 { skip.min(end) } else { start };
        if reader::is_blank(&chunk[start..end]) {
            continue;
        }
        if entries.next().is_some_and(|e| e.slot != NOT_JSON) {
            records.push(start..end);
        }
    }
    // Reasons are in row order: one row's at a time.
    let mut at = 0;
    while at < piece.reasons.len() {
        let row = piece.reasons[at].0;
        let end = at + piece.reasons[at..].iter().take_while(|(r, _)| *r == row).count();
        let reasons = &mut piece.reasons[at..end];
        at = end;
        if !reasons.iter().any(|(_, r)| hints::worth_checking(&r.alternatives)) {
            continue;
        }
        let Some(line) = records.get(row as usize).map(|line| &chunk[line.clone()]) else { continue };
        let Ok(record) = serde_json::from_slice(line) else { continue };
        let failed: Vec<usize> =
            reasons.iter().filter_map(|(_, r)| if let ReasonRule::Rule(i) = r.rule { Some(i) } else { None }).collect();
        let fails = c.local_rules.iter().map(|i| failed.contains(i)).collect();
        let before = hints::Before { line, record, fails, schema: piece.masks.get(row as usize) };
        for (_, reason) in reasons.iter_mut() {
            let ReasonRule::Rule(i) = reason.rule else { continue };
            if hints::worth_checking(&reason.alternatives) {
                hints::check_alternatives(c, i, &before, &mut reason.alternatives);
            }
        }
    }
}

fn reason_order(rule: &ReasonRule) -> (u8, usize) {
    match rule {
        ReasonRule::Json => (0, 0),
        ReasonRule::Schema(f) => (1, f.0 as usize),
        ReasonRule::Rule(i) => (2, *i),
    }
}

/// Checks `candidates` (and, with `base`, in the context of a dataset
/// already accepted: only candidates are reported).
pub fn check(c: &Compiled, base: Option<Loaded>, candidates: Loaded) -> Report {
    match check_with(c, base, candidates, None) {
        Some(report) => report,
        None => unreachable!("a check without an index always has its dataset verdicts"),
    }
}

/// What an incremental check against a base index (`base_index`) changes
/// in [`check`]: the base given is the part of it the candidates reach,
/// the dataset rules are evaluated by `dataset` (over the whole base, from
/// the index), and the base's tallies come from the index.
pub struct Incremental<'h> {
    /// The verdict of dataset rule `i` on the store: None when the index
    /// cannot give it, or when the rule fails (its explanation needs every
    /// record): the check is then run in full.
    #[allow(clippy::type_complexity)]
    pub dataset: &'h (dyn for<'a> Fn(&'a Compiled, eval::Data<'a>, usize) -> Option<Option<bool>> + Sync),
    pub base_tallies: BTreeMap<String, BTreeMap<String, usize>>,
}

/// [`check`], or with `incremental` the check against a base index; None
/// when that needs the full base after all.
pub fn check_with(c: &Compiled, base: Option<Loaded>, candidates: Loaded, incremental: Option<&Incremental<'_>>) -> Option<Report> {
    let mut timer = Timer::new();
    let base_rows = base.as_ref().map_or(0, |b| b.masks.len());
    let record_lines =
        |entries: Vec<LineReport>, errors: &[(u32, Box<str>)]| RecordLines::new(entries, errors.iter().map(|(i, _)| *i).collect());
    let (table, masks, base_lines) = match base {
        Some(mut b) => {
            b.table.append(&candidates.table);
            b.masks.extend(&candidates.masks);
            let lines = record_lines(b.entries, &b.json_errors);
            (b.table, b.masks, lines)
        }
        None => (candidates.table, candidates.masks, RecordLines::default()),
    };
    let candidate_lines = record_lines(candidates.entries, &candidates.json_errors);
    let mut store = Store::new(table, masks, [base_lines, candidate_lines], c.plan.key);
    store.base = base_rows;
    store.index(&c.program.schema, &c.relations, &c.graphs, &c.unique_fields);
    timer.phase("index keys, relations, graphs");
    timer.columns(c, &store.table, "columns after indexing");
    let rules = &c.program.rules;
    let data = eval::Data { table: &store.table, masks: &store.masks, store: Some(&store) };

    // Rules that look at other entities, per candidate record, in parallel.
    let mut reasons: Vec<(u32, Reason)> = if c.store_rules.is_empty() {
        Vec::new()
    } else {
        (base_rows as u32..store.rows() as u32)
            .into_par_iter()
            .map_init(
                || eval::Env::new(c, data, &rules[c.store_rules[0]], 0),
                |env, row| {
                    c.store_rules.iter().filter_map(|&i| run_rule(c, env, i, row)).map(|r| (row - base_rows as u32, r)).collect::<Vec<_>>()
                },
            )
            .flatten_iter()
            .collect()
    };
    timer.phase("cross-entity rules");

    if let Some(inc) = incremental {
        // Every dataset rule must pass, from the index, for the report to
        // be the full check's: a finding's explanation reads every record.
        let verdicts: Vec<Option<Option<bool>>> = (0..rules.len())
            .into_par_iter()
            .filter(|&i| rules[i].scope == Scope::Dataset)
            .map(|i| {
                let t = std::time::Instant::now();
                let verdict = (inc.dataset)(c, data, i);
                c.rule_nanos[i].fetch_add(t.elapsed().as_nanos() as u64, std::sync::atomic::Ordering::Relaxed);
                verdict
            })
            .collect();
        if verdicts.iter().any(|v| matches!(v, None | Some(Some(false)))) {
            timer.phase("dataset rules (need the full base)");
            return None;
        }
    }
    let dataset: Vec<DatasetFinding> = rules
        .par_iter()
        .enumerate()
        .filter(|(_, rule)| rule.scope == Scope::Dataset && incremental.is_none())
        .filter_map(|(i, rule)| {
            let mut env = eval::Env::new(c, data, rule, 0);
            let t = std::time::Instant::now();
            let verdict = env.run();
            c.rule_nanos[i].fetch_add(t.elapsed().as_nanos() as u64, std::sync::atomic::Ordering::Relaxed);
            if verdict != Some(false) {
                return None;
            }
            env.reset(rule, 0);
            let why = explain::explain(&mut env, &c.program.db);
            Some(DatasetFinding { rule: i, values: Values::new(why.values), hints: why.hints, shortfalls: why.shortfalls })
        })
        .collect();
    timer.phase("dataset rules");
    let dataset_rules: Vec<usize> = (0..rules.len()).filter(|&i| rules[i].scope == Scope::Dataset).collect();
    timer.rule_times(c, &dataset_rules, "ms");

    // The loading's reasons and the store rules' are each in (record,
    // reason) order already; they are merged record by record below
    // instead of being appended and sorted, which held a third copy of
    // every reason (the appended vector, and the sort's buffer). A row has
    // at most one reason per rule or field, so an unstable sort, should
    // one be needed, orders as a stable one.
    let mut local_reasons = candidates.reasons;
    for list in [&mut local_reasons, &mut reasons] {
        if !list.is_sorted_by_key(|(row, r)| (*row, reason_order(&r.rule))) {
            list.par_sort_unstable_by_key(|(row, r)| (*row, reason_order(&r.rule)));
        }
    }
    let (mut local_reasons, mut store_reasons) = (local_reasons.into_iter(), reasons.into_iter());
    let mut summary = Summary::default();
    // Only the key and the summary fields are read from here on.
    let entity = c.program.schema.entity(c.entity);
    for (i, column) in store.table.columns.iter_mut().enumerate() {
        if entity.key.map(|k| k.0 as usize) != Some(i) && !entity.summary.iter().any(|f| f.0 as usize == i) {
            *column = columns::Column::Skip;
        }
    }
    store.relations.clear();
    store.graphs.clear();

    let mut json_errors = candidates.json_errors.into_iter().peekable();
    let mut findings = Vec::new();
    let mut lines = std::mem::take(&mut store.lines[1].entries);
    // Per summary field: value → count over the candidates' records,
    // borrowed from the columns (no allocation per line) and counted in
    // parallel; turned into the summary's owned map after.
    let tally = |f: FieldId, rows: std::ops::Range<usize>| -> hashbrown::HashMap<&str, usize> {
        let column = &store.table.columns[f.0 as usize];
        rows.into_par_iter()
            .fold(hashbrown::HashMap::new, |mut tally: hashbrown::HashMap<&str, usize>, row| {
                if let eval::Val::Str(v) = eval::cell(column, row) {
                    *tally.entry(v).or_default() += 1;
                }
                tally
            })
            .reduce(hashbrown::HashMap::new, |mut a, b| {
                for (v, n) in b {
                    *a.entry(v).or_default() += n;
                }
                a
            })
    };
    let tallies: Vec<hashbrown::HashMap<&str, usize>> = entity.summary.iter().map(|&f| tally(f, base_rows..store.rows())).collect();
    // The base's own counts, for the batch scores' coverage (empty
    // without a base: a skipped range).
    let base_tallies: Vec<hashbrown::HashMap<&str, usize>> = entity.summary.iter().map(|&f| tally(f, 0..base_rows)).collect();
    for (index, entry) in lines.iter_mut().enumerate() {
        summary.read += 1;
        let (key, found) = if entry.slot == NOT_JSON {
            let message = json_errors.next_if(|(i, _)| *i as usize == index).map(|(_, m)| m).unwrap_or_default();
            (
                None,
                vec![Reason {
                    rule: ReasonRule::Json,
                    values: Values::default(),
                    hints: Vec::new(),
                    alternatives: Vec::new(),
                    packed: None,
                    detail: Some(message.into()),
                }],
            )
        } else {
            let r = entry.slot;
            let row = r as usize + base_rows;
            let found = reasons_of(r, &mut local_reasons, &mut store_reasons);
            let key = if found.is_empty() { None } else { store.key_of(row).map(Box::from) };
            (key, found)
        };
        let verdict = count_verdict(c, &mut summary, &found);
        entry.slot = if found.is_empty() {
            NO_FINDING
        } else {
            findings.push(Finding { verdict, key, reasons: found });
            findings.len() as u32 - 1
        };
    }
    for d in &dataset {
        *summary.findings.entry(rules[d.rule].id.clone()).or_default() += 1;
    }
    for (into, from) in [(&mut summary.tallies, tallies), (&mut summary.base_tallies, base_tallies)] {
        for (tally, &f) in from.into_iter().zip(&entity.summary) {
            if !tally.is_empty() {
                let counts = into.entry(entity.fields[f.0 as usize].name.clone()).or_default();
                for (value, n) in tally {
                    *counts.entry(value.to_string()).or_default() += n;
                }
            }
        }
    }
    if let Some(inc) = incremental {
        summary.base_tallies = inc.base_tallies.clone();
    }
    timer.phase("verdicts");
    Some(Report { lines, findings, dataset, summary })
}

/// The reasons of record `r`, taken from the fronts of two lists in
/// (record, reason) order and merged in that order. Exactly sized: most
/// findings hold one reason, and a vector grown by pushing holds room for
/// four (360 bytes wasted each).
fn reasons_of(r: u32, a: &mut std::vec::IntoIter<(u32, Reason)>, b: &mut std::vec::IntoIter<(u32, Reason)>) -> Vec<Reason> {
    let count = |list: &std::vec::IntoIter<(u32, Reason)>| list.as_slice().iter().take_while(|(row, _)| *row == r).count();
    let (na, nb) = (count(a), count(b));
    let mut found = Vec::with_capacity(na + nb);
    let (mut a, mut b) = (a.by_ref().take(na).peekable(), b.by_ref().take(nb).peekable());
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if reason_order(&x.1.rule) <= reason_order(&y.1.rule) => a.next(),
            (_, Some(_)) => b.next(),
            (Some(_), None) => a.next(),
            (None, None) => break,
        };
        found.extend(next.map(|(_, reason)| reason));
    }
    found
}

/// Phase timings on standard error when `SKILLC_TIMINGS` is set: what the
/// profile in docs/performance.md was read from.
pub struct Timer {
    last: Option<std::time::Instant>,
}

impl Timer {
    pub fn note(&self, text: &str) {
        if self.last.is_some() {
            eprintln!("{:>32}  {text}", "");
        }
    }
    pub fn new() -> Timer {
        Timer { last: std::env::var_os("SKILLC_TIMINGS").map(|_| std::time::Instant::now()) }
    }
    /// The heap of each column of `table` that is kept.
    fn columns(&self, c: &Compiled, table: &columns::Table, what: &str) {
        if self.last.is_none() {
            return;
        }
        self.note(&format!("{what} {:.1} MB", table.heap_bytes() as f64 / 1e6));
        let entity = c.program.schema.entity(c.entity);
        for (f, column) in entity.fields.iter().zip(&table.columns) {
            if !matches!(column, columns::Column::Skip) {
                self.note(&format!("{:>24} {:>8.1} MB", f.name, column.heap_bytes() as f64 / 1e6));
            }
        }
    }

    /// The time spent in each of `rules` (`Compiled::rule_nanos`).
    fn rule_times(&self, c: &Compiled, rules: &[usize], unit: &str) {
        if self.last.is_none() {
            return;
        }
        for &i in rules {
            let nanos = c.rule_nanos[i].load(std::sync::atomic::Ordering::Relaxed);
            self.note(&format!("{:>24} {:>8.1} {unit}", c.program.rules[i].id, nanos as f64 / 1e6));
        }
    }

    pub fn phase(&mut self, name: &str) {
        if let Some(last) = self.last {
            eprintln!("{name:>32}: {:>8.1} ms  {}", last.elapsed().as_secs_f64() * 1e3, memory_status());
            self.last = Some(std::time::Instant::now());
        }
    }
}

/// Resident and peak resident memory of this process (Linux; empty
/// elsewhere): where the peak of docs/performance.md is reached.
fn memory_status() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |key: &str| status.lines().find_map(|l| l.strip_prefix(key)?.trim().strip_suffix("kB")?.trim().parse::<u64>().ok());
    match (kb("VmRSS:"), kb("VmHWM:")) {
        (Some(rss), Some(peak)) => format!("rss {:.0} MB, peak {:.0} MB", rss as f64 / 1e3, peak as f64 / 1e3),
        _ => String::new(),
    }
}

impl Default for Timer {
    fn default() -> Self {
        Timer::new()
    }
}

/// The rule id a reason is reported under.
/// A line's verdict from its reasons (any `json`, `schema` or reject rule
/// rejects; other reasons flag), counted into the summary with each reason's
/// finding. The one place a verdict is decided: the native checker and the
/// SQL engines' report both call it.
pub fn count_verdict(c: &Compiled, summary: &mut Summary, reasons: &[Reason]) -> Verdict {
    let rules = &c.program.rules;
    let rejected = reasons.iter().any(|r| match r.rule {
        ReasonRule::Json | ReasonRule::Schema(_) => true,
        ReasonRule::Rule(i) => rules[i].severity == Severity::Reject,
    });
    let verdict = if rejected {
        Verdict::Rejected
    } else if reasons.is_empty() {
        Verdict::Accepted
    } else {
        Verdict::Flagged
    };
    match verdict {
        Verdict::Accepted => summary.accepted += 1,
        Verdict::Flagged => summary.flagged += 1,
        Verdict::Rejected => summary.rejected += 1,
    }
    for r in reasons {
        *summary.findings.entry(reason_id(c, &r.rule)).or_default() += 1;
    }
    verdict
}

pub fn reason_id(c: &Compiled, rule: &ReasonRule) -> String {
    match rule {
        ReasonRule::Json => "json".into(),
        ReasonRule::Schema(_) => "schema".into(),
        ReasonRule::Rule(i) => c.program.rules[*i].id.clone(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_years() {
        assert_eq!(super::year_of_unix_days(0), 1970);
        assert_eq!(super::year_of_unix_days(-1), 1969);
        assert_eq!(super::year_of_unix_days(11_016), 2000); // 2000-02-29
        assert_eq!(super::year_of_unix_days(20_818), 2026); // 2026-12-31
        assert_eq!(super::year_of_unix_days(20_819), 2027);
    }
}
