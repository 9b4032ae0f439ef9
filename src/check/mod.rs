//! The checker: compiles the program once, loads a dataset into the store,
//! and evaluates every rule, in parallel and deterministically.
//!
//! Phases: read lines (parallel per chunk) → index keys, relations and
//! graphs → entity rules (parallel per record) → dataset rules → verdicts
//! in input order.

pub mod cli;
pub mod eval;
pub mod explain;
pub mod graph;
pub mod reader;
pub mod store;

use crate::ir::expr::{Builtin, ExprKind, Expr, Pattern};
use crate::ir::schema::{EntityId, FieldId, GraphId, RelationId};
use crate::ir::{Program, Scope, Severity, TableValue};
use rayon::prelude::*;
use reader::{Line, Plan};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use store::{Record, Store};

/// A program ready to run: regular expressions compiled, tables hashed.
pub struct Compiled {
    pub program: Program,
    pub entity: EntityId,
    pub regexes: Vec<regex::Regex>,
    pub tables: Vec<HashMap<String, TableValue>>,
    pub current_year: i32,
    plan: Plan,
    relations: Vec<RelationId>,
    graphs: Vec<GraphId>,
    unique_fields: Vec<FieldId>,
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
        let mut kept: Vec<FieldId> = Vec::new();
        let (mut relations, mut graphs, mut unique_fields) = (Vec::new(), Vec::new(), Vec::new());
        for rule in &program.rules {
            let mut visit = |e: &Expr| match &e.kind {
                ExprKind::SelfField(f) => kept.push(*f),
                ExprKind::Get(_, crate::ir::expr::Access::Entity(f)) => kept.push(*f),
                ExprKind::Relation(r, _) => relations.push(*r),
                ExprKind::Call(Builtin::InCycle(g) | Builtin::Groups(g), _) => graphs.push(*g),
                ExprKind::Call(Builtin::Unique(f), _) => unique_fields.push(*f),
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
                kept.push(list);
            }
        }
        kept.extend(program.schema.entity(entity).summary.iter().copied());
        kept.sort();
        kept.dedup();
        let plan = Plan::new(program.schema.entity(entity), &kept);
        Ok(Compiled { program, entity, regexes, tables, current_year: utc_year(), plan, relations, graphs, unique_fields })
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
    pub values: Map<String, Value>,
    pub hints: Vec<String>,
    /// For `json`: the parser's message; for `schema`: what was found.
    pub detail: Option<String>,
}

/// The outcome for one non-blank input line.
#[derive(Clone, Debug)]
pub struct LineReport {
    pub line: u32,
    /// Byte range of the line in its input, ending included.
    pub start: u64,
    pub end: u64,
    pub key: Option<String>,
    pub verdict: Verdict,
    pub reasons: Vec<Reason>,
}

#[derive(Clone, Debug)]
pub struct DatasetFinding {
    pub rule: usize,
    pub values: Map<String, Value>,
    pub hints: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub read: usize,
    pub accepted: usize,
    pub flagged: usize,
    pub rejected: usize,
    pub findings: BTreeMap<String, usize>,
    /// Per summary field: value → number of entities.
    pub tallies: BTreeMap<String, BTreeMap<String, usize>>,
}

#[derive(Clone, Debug)]
pub struct Report {
    pub lines: Vec<LineReport>,
    pub dataset: Vec<DatasetFinding>,
    pub summary: Summary,
}

/// One input read into lines: what `check` knows of each non-blank line.
pub struct Loaded {
    pub records: Vec<Record>,
    /// (line, start, end, record index or the JSON error)
    pub lines: Vec<(u32, u64, u64, Result<u32, String>)>,
}

const CHUNK: usize = 8 << 20;

/// Reads JSON Lines from `input` in chunks, parsing each chunk's lines in
/// parallel. `spill` receives every byte read (to re-read stdin later).
pub fn load(c: &Compiled, mut input: impl Read, mut spill: Option<&mut dyn std::io::Write>, first_record: u32) -> std::io::Result<Loaded> {
    let mut loaded = Loaded { records: Vec::new(), lines: Vec::new() };
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK);
    let mut base_offset: u64 = 0;
    let mut line_no: u32 = 0;
    let mut first = true;
    let mut eof = false;
    while !eof {
        let before = buf.len();
        buf.resize(before + CHUNK, 0);
        let mut filled = before;
        while filled < buf.len() {
            let n = input.read(&mut buf[filled..])?;
            if n == 0 {
                eof = true;
                break;
            }
            filled += n;
        }
        buf.truncate(filled);
        if let Some(s) = spill.as_deref_mut() {
            s.write_all(&buf[before..filled])?;
        }
        let cut = if eof { buf.len() } else { memchr::memrchr(b'\n', &buf).map_or(0, |i| i + 1) };
        if cut == 0 && !eof {
            continue; // a line longer than the chunk: read more
        }
        let mut skip = 0;
        if first && buf.starts_with(b"\xEF\xBB\xBF") {
            skip = 3;
        }
        first = false;
        let chunk = &buf[..cut];
        let mut spans = Vec::new();
        for (start, content_end, next) in reader::lines(chunk) {
            line_no += 1;
            let content_start = if start == 0 { skip.min(content_end) } else { start };
            if !reader::is_blank(&chunk[content_start..content_end]) {
                spans.push((line_no, start, content_start, content_end, next));
            }
        }
        let parsed: Vec<Line> = spans
            .par_iter()
            .map(|&(line, _, s, e, _)| reader::read_line(&c.plan, line, &chunk[s..e]))
            .collect();
        for ((line, _, content_start, _, next), outcome) in spans.into_iter().zip(parsed) {
            // The range starts after a byte-order mark, so splits never copy it.
            let range = (base_offset + content_start as u64, base_offset + next as u64);
            let entry = match outcome {
                Line::Record(r) => {
                    loaded.records.push(r);
                    Ok(first_record + loaded.records.len() as u32 - 1)
                }
                Line::Invalid(message) => Err(message),
            };
            loaded.lines.push((line, range.0, range.1, entry));
        }
        base_offset += cut as u64;
        buf.drain(..cut);
    }
    Ok(loaded)
}

/// Checks `candidates` (and, with `base`, in the context of a dataset
/// already accepted: only candidates are reported).
pub fn check(c: &Compiled, base: Option<Loaded>, candidates: Loaded) -> Report {
    let base_count = base.as_ref().map_or(0, |b| b.records.len());
    let mut records = base.map(|b| b.records).unwrap_or_default();
    records.extend(candidates.records);
    let mut store = Store::new(records);
    store.index(&c.program.schema, &c.relations, &c.graphs);
    store.count_values(&c.unique_fields);
    let rules = &c.program.rules;

    // Entity rules, per candidate record, in parallel; order is kept.
    let per_record: Vec<Vec<Reason>> = (base_count..store.records.len())
        .into_par_iter()
        .map(|r| {
            let record = &store.records[r];
            let mut reasons: Vec<Reason> = record
                .failures
                .iter()
                .map(|f| Reason { rule: ReasonRule::Schema(f.field), values: Map::new(), hints: Vec::new(), detail: Some(f.found.to_string()) })
                .collect();
            for (i, rule) in rules.iter().enumerate() {
                if rule.scope != Scope::Entity || rule.entity != c.entity {
                    continue;
                }
                if record.failures.iter().any(|f| rule.own_fields.contains(&f.field)) {
                    continue;
                }
                let mut env = eval::Env::new(c, &store, rule, r as u32);
                if env.run() == Some(false) {
                    let mut env = eval::Env::new(c, &store, rule, r as u32);
                    let why = explain::explain(&mut env, &c.program.db);
                    reasons.push(Reason { rule: ReasonRule::Rule(i), values: why.values, hints: why.hints, detail: None });
                }
            }
            reasons
        })
        .collect();

    let dataset: Vec<DatasetFinding> = rules
        .par_iter()
        .enumerate()
        .filter(|(_, rule)| rule.scope == Scope::Dataset)
        .filter_map(|(i, rule)| {
            let mut env = eval::Env::new(c, &store, rule, 0);
            if env.run() != Some(false) {
                return None;
            }
            let mut env = eval::Env::new(c, &store, rule, 0);
            let why = explain::explain(&mut env, &c.program.db);
            Some(DatasetFinding { rule: i, values: why.values, hints: why.hints })
        })
        .collect();

    let mut summary = Summary::default();
    let mut per_record = per_record.into_iter();
    let mut lines = Vec::with_capacity(candidates.lines.len());
    let summary_fields = &c.program.schema.entity(c.entity).summary;
    for (line, start, end, entry) in candidates.lines {
        summary.read += 1;
        let (key, reasons) = match entry {
            Err(message) => (None, vec![Reason { rule: ReasonRule::Json, values: Map::new(), hints: Vec::new(), detail: Some(message) }]),
            Ok(r) => {
                let record = &store.records[r as usize];
                for &f in summary_fields {
                    if let store::Slot::String(v) = &record.slots[f.0 as usize] {
                        let name = c.program.schema.field(c.entity, f).name.clone();
                        *summary.tallies.entry(name).or_default().entry(v.to_string()).or_default() += 1;
                    }
                }
                (record.key.as_deref().map(str::to_string), per_record.next().unwrap_or_default())
            }
        };
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
        for r in &reasons {
            *summary.findings.entry(reason_id(c, &r.rule)).or_default() += 1;
        }
        lines.push(LineReport { line, start, end, key, verdict, reasons });
    }
    for d in &dataset {
        *summary.findings.entry(rules[d.rule].id.clone()).or_default() += 1;
    }
    Report { lines, dataset, summary }
}

/// The rule id a reason is reported under.
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
