//! `skillc sample`: records that the skills accept, drawn from the rules.
//!
//! 1. [`domain`] reads per-field domains off the IR (sets, table keys,
//!    bounds, patterns) and the passing examples (the scale of a number,
//!    the usual values of a string).
//! 2. [`draw`] draws records from them with realistic spreads, from one
//!    seeded stream.
//! 3. Each round, the pending candidates are checked by the real checker
//!    through the public check API ([`check::load`], [`check::check`]),
//!    against the records already emitted (`--base`-style); a rejected
//!    record is repaired with the checker's own ways out ([`repair`]) and
//!    checked again, within a bounded number of rounds; what cannot be
//!    repaired is dropped, and the rules that blocked it are tallied.
//! 4. Only what the checker accepts is emitted, and only once: no key or
//!    fingerprint (`fingerprint all but …`) repeats.
//! 5. With groups, a unit is a small tree along the entity's relation to
//!    itself (parent first); it is accepted whole or not at all, so the
//!    cross-entity rules hold within it.
//!
//! Everything runs on one thread in a fixed order (the checker's own
//! parallelism keeps its report in input order), so a seed gives the same
//! bytes. Nothing here knows a field or a rule.

pub mod cli;
mod domain;
mod draw;
mod repair;

use crate::check::{self, Compiled, ReasonRule, Verdict};
use crate::diagnostic::{Code, Diagnostic};
use crate::ir::expr::Ty;
use crate::ir::schema::{EntityId, FieldId, FieldType, RelationKind};
use crate::ir::{Kind, Program, Rule, Scope, Severity};
use crate::source::{SourceDb, Span};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// Rounds of repair a candidate gets before it is dropped.
const MAX_ROUNDS: u32 = 12;
/// Rounds that realise edits with a spread; later ones take the checker's
/// nearest value.
const SPREAD_ROUNDS: u32 = 4;
/// Rounds after which a record that is only flagged (no reject rule
/// fails) is emitted as it is: `check` keeps a flagged record.
const FLAG_ROUNDS: u32 = 8;
/// Candidates drawn per record wanted, at most, before giving up.
const DRAWS_PER_RECORD: usize = 40;
/// Candidates checked together in one round, at least (budget allowing).
const MIN_IN_FLIGHT: usize = 32;
/// Candidates checked together in one round, at most.
const MAX_IN_FLIGHT: usize = 512;
/// Units dropped, with none emitted yet, after which no more are drawn.
const HOPELESS_AFTER: usize = 96;
/// The rule id the `--where` expression is checked under.
pub const WHERE_ID: &str = "--where";

/// What to sample.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Records wanted.
    pub count: usize,
    pub seed: u64,
    /// An expression in the rule language every record must satisfy.
    pub where_expr: Option<String>,
    /// Ownership groups along the entity's relation to itself.
    pub groups: bool,
    /// The entity to sample (default: the one the rules are about).
    pub entity: Option<String>,
    /// Records to start from before drawing (a solver's witnesses, say):
    /// checked and repaired like drawn ones; a missing key is filled in.
    pub seeds: Vec<Map<String, Value>>,
}

/// Why sampling stopped short.
#[derive(Debug)]
pub enum Failure {
    /// The `--where` expression does not compile; its diagnostics point
    /// into `db`.
    Where { db: SourceDb, diagnostics: Vec<Diagnostic> },
    /// Fewer records than asked for within the budget.
    Short { lines: Vec<String>, wanted: usize, blocked: Vec<(String, usize)> },
    /// Anything else (no entity, no groups to build, an I/O error).
    Other(String),
}

/// The program to sample with: the rules of the chosen entity, plus the
/// `--where` expression as a reject rule of its own.
pub fn prepare(mut program: Program, opts: &Options) -> Result<Compiled, Failure> {
    let entity = match &opts.entity {
        Some(name) => program.schema.entity_by_name(name).ok_or_else(|| {
            let known: Vec<String> = program.schema.entities.iter().map(|e| format!("`{}`", e.name)).collect();
            Failure::Other(format!("the skills declare no entity `{name}` (they declare {})", known.join(", ")))
        })?,
        None => program.dataset_entity().ok_or_else(|| Failure::Other("the skills declare no entity to sample".into()))?,
    };
    // The examples are records of the entity the rules are about: of
    // another entity they are no guide to its values.
    if program.dataset_entity() != Some(entity) {
        program.examples.clear();
    }
    program.rules.retain(|r| r.entity == entity);
    if program.rules.is_empty() && entity != crate::ir::schema::EntityId(0) {
        // The checker checks the entity of the first rule (or the first
        // entity): with no rule it would check another one.
        return Err(Failure::Other(format!(
            "the skills have no rules about `{}`: there is nothing to sample it against",
            program.schema.entity(entity).name
        )));
    }
    if let Some(text) = &opts.where_expr {
        add_where(&mut program, entity, text)?;
    }
    Compiled::new(program).map_err(Failure::Other)
}

/// Compiles `text` against `entity` like a rule body and adds it as the
/// reject rule [`WHERE_ID`].
fn add_where(program: &mut Program, entity: EntityId, text: &str) -> Result<(), Failure> {
    let file = program.db.add(std::path::Path::new(WHERE_ID), WHERE_ID.to_string(), text.to_string());
    let fail = |program: &Program, diagnostics: Vec<Diagnostic>| Failure::Where { db: program.db.clone(), diagnostics };
    let block = crate::skill::Block {
        kind: crate::skill::BlockKind::Rule { id: None },
        span: Span::new(file, 0, text.len()),
        content: text.to_string(),
        map: crate::skill::markdown::OffsetMap::identity(),
        file,
        message: String::new(),
        plausibility: false,
    };
    let body = crate::syntax::parse_rule(&block).map_err(|d| fail(program, vec![*d]))?;
    let mut regexes = std::mem::take(&mut program.regexes);
    let mut lowerer = crate::ir::lower::Lowerer::new(&program.schema, &program.tables, &mut regexes, Some(entity));
    let (lets, expr) = lowerer.lower_body(&body);
    if !expr.ty.is_error() && expr.ty != Ty::Bool {
        lowerer.diags.push(
            Diagnostic::error(Code::TypeMismatch, expr.span, format!("`--where` must be a condition, but this is {}", expr.ty.describe()))
                .with_help("compare it with something, like `x > 0`"),
        );
    }
    if lowerer.reads.whole_dataset {
        let span = lowerer.reads.whole_dataset_span.unwrap_or(expr.span);
        lowerer.diags.push(
            Diagnostic::error(Code::ScopeMix, span, "`--where` is about one record, but this iterates the whole dataset")
                .with_help("write a condition on the record's own fields and relations"),
        );
    }
    let errors: Vec<Diagnostic> = lowerer.diags.iter().filter(|d| d.is_error()).cloned().collect();
    let reads = std::mem::take(&mut lowerer.reads);
    let (var_count, var_names) = (lowerer.var_count, std::mem::take(&mut lowerer.var_names));
    drop(lowerer);
    program.regexes = regexes;
    if !errors.is_empty() {
        return Err(fail(program, errors));
    }
    program.rules.push(Rule {
        id: WHERE_ID.to_string(),
        skill: WHERE_ID.to_string(),
        file,
        span: Span::new(file, 0, text.len()),
        message: format!("the record satisfies `{}`", text.trim()),
        severity: Severity::Reject,
        scope: Scope::Entity,
        kind: if reads.other_entities { Kind::CrossEntity } else { Kind::CrossField },
        entity,
        lets,
        expr,
        var_count,
        var_names,
        own_fields: reads.own_fields.iter().copied().collect(),
        element_fields: reads.element_fields.iter().copied().collect(),
        needs_dataset: reads.other_entities,
    });
    Ok(())
}

/// The entity's relation to itself that groups are built along: its list
/// field, and where the reference sits in an element (None: the element
/// is the reference).
struct Ownership {
    list: FieldId,
    item: FieldType,
    reference: Option<String>,
}

fn ownership(c: &Compiled) -> Option<Ownership> {
    let schema = &c.program.schema;
    schema.relations.iter().find_map(|r| match r.kind {
        RelationKind::Forward { list, reference, target } if r.entity == c.entity && target == c.entity => {
            let FieldType::List(item) = &schema.field(c.entity, list).ty else { return None };
            let reference = match item.as_ref() {
                FieldType::Object(fields) => Some(fields.get(reference)?.name.clone()),
                _ => None,
            };
            Some(Ownership { list, item: (**item).clone(), reference })
        }
        _ => None,
    })
}

/// Candidates that are accepted or dropped together: one record, or a group.
struct Unit {
    records: Vec<Map<String, Value>>,
    rounds: u32,
}

/// An emitted unit.
struct Emitted {
    lines: Vec<String>,
    keys: Vec<String>,
    fingerprints: Vec<u64>,
}

struct Sampler<'c> {
    c: &'c Compiled,
    opts: &'c Options,
    drawer: draw::Drawer<'c>,
    ownership: Option<Ownership>,
    /// Every key in use: emitted or pending.
    keys: BTreeSet<String>,
    emitted: Vec<Emitted>,
    fingerprints: HashSet<u64>,
    /// Rule id → candidates it blocked (dropped while it still failed).
    blocked: BTreeMap<String, usize>,
    draws: usize,
    /// Units dropped unrepaired.
    dropped: usize,
    seeds: std::vec::IntoIter<Map<String, Value>>,
}

/// Samples `opts.count` records (JSON Lines, in order).
pub fn sample(c: &Compiled, opts: &Options) -> Result<Vec<String>, Failure> {
    let ownership = ownership(c);
    if opts.groups && ownership.is_none() {
        return Err(Failure::Other(format!(
            "`--groups` needs a relation of `{}` to itself (`relation NAME = LIST.FIELD -> {}`); the skills declare none",
            c.program.schema.entity(c.entity).name,
            c.program.schema.entity(c.entity).name
        )));
    }
    let mut s = Sampler {
        c,
        opts,
        drawer: draw::Drawer::new(c, domain::derive(c), opts.seed),
        ownership,
        keys: BTreeSet::new(),
        emitted: Vec::new(),
        fingerprints: HashSet::new(),
        blocked: BTreeMap::new(),
        draws: 0,
        dropped: 0,
        seeds: opts.seeds.clone().into_iter(),
    };
    // The emitted records are checked once more as one dataset; a unit
    // that fails there (a rule that looks across units) is taken out and
    // replaced.
    for _ in 0..3 {
        s.fill()?;
        if !s.verify()? {
            break;
        }
    }
    let lines: Vec<String> = s.emitted.iter().flat_map(|e| e.lines.iter().cloned()).collect();
    if lines.len() < opts.count {
        let mut blocked: Vec<(String, usize)> = s.blocked.into_iter().collect();
        blocked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        return Err(Failure::Short { lines, wanted: opts.count, blocked });
    }
    Ok(lines)
}

fn io_failure(e: std::io::Error) -> Failure {
    Failure::Other(format!("cannot check the samples: {e}"))
}

impl Sampler<'_> {
    fn produced(&self) -> usize {
        self.emitted.iter().map(|e| e.lines.len()).sum()
    }

    fn key_name(&self) -> Option<&str> {
        let e = self.c.program.schema.entity(self.c.entity);
        e.key.map(|k| e.fields[k.0 as usize].name.as_str())
    }

    fn key_of(&self, record: &Map<String, Value>) -> Option<String> {
        record.get(self.key_name()?).and_then(Value::as_str).map(str::to_string)
    }

    /// A new unit of at most `room` records.
    fn draw(&mut self, room: usize) -> Unit {
        self.draws += 1;
        let skip: Vec<FieldId> = self.ownership.as_ref().map(|o| vec![o.list]).unwrap_or_default();
        if let Some(mut seed) = self.seeds.next() {
            if let Some(key) = self.key_name().map(str::to_string) {
                if seed.get(&key).and_then(Value::as_str).is_none_or(|k| self.keys.contains(k)) {
                    let fresh = self.drawer.fresh_key(&mut self.keys);
                    seed.insert(key, Value::String(fresh));
                } else if let Some(k) = seed.get(&key).and_then(Value::as_str) {
                    self.keys.insert(k.to_string());
                }
            }
            return Unit { records: vec![seed], rounds: 0 };
        }
        let size = if self.opts.groups { draw_size(&mut self.drawer, room) } else { 1 };
        let mut records: Vec<Map<String, Value>> = Vec::with_capacity(size);
        for i in 0..size {
            let mut record = self.drawer.record(&mut self.keys, &skip);
            for &f in &skip {
                // A required relation list starts empty; a child's holds its parent.
                let field = self.c.program.schema.field(self.c.entity, f);
                if !field.optional {
                    record.insert(field.name.clone(), Value::Array(Vec::new()));
                }
            }
            if let (Some(own), true) = (&self.ownership, i > 0) {
                // Most children hang off the root; some off a child.
                let parent = if i == 1 || rand::RngExt::random_bool(&mut self.drawer.rng, 0.6) {
                    0
                } else {
                    rand::RngExt::random_range(&mut self.drawer.rng, 1..i)
                };
                let parent_key = self.key_of(&records[parent]).unwrap_or_default();
                let element = match &own.reference {
                    Some(name) => {
                        let mut e = self.drawer.element(own.list, &own.item);
                        if let Value::Object(m) = &mut e {
                            m.insert(name.clone(), Value::String(parent_key));
                        }
                        e
                    }
                    None => Value::String(parent_key),
                };
                let list = self.c.program.schema.field(self.c.entity, own.list).name.clone();
                record.insert(list, Value::Array(vec![element]));
            }
            records.push(record);
        }
        Unit { records, rounds: 0 }
    }

    fn release(&mut self, unit: &Unit) {
        for r in &unit.records {
            if let Some(k) = self.key_of(r) {
                self.keys.remove(&k);
            }
        }
    }

    /// Rounds of draw, check and repair until enough records are emitted
    /// or the budget is spent.
    fn fill(&mut self) -> Result<(), Failure> {
        let wanted = self.opts.count;
        let budget = DRAWS_PER_RECORD * wanted.max(1) + 100;
        let mut pending: Vec<Unit> = Vec::new();
        loop {
            let missing = wanted.saturating_sub(self.produced());
            if missing == 0 {
                for unit in &pending {
                    self.release(unit);
                }
                return Ok(());
            }
            // Half as many again as are missing (a round rejects some), and
            // never fewer than a small batch: a round costs a check whatever
            // its size.
            let target = (missing + missing / 2 + 2).clamp(MIN_IN_FLIGHT, MAX_IN_FLIGHT);
            // Nothing at all gets through: the rules (or `--where`) leave no
            // room, and more draws would fail the same way.
            let hopeless = self.produced() == 0 && self.dropped >= HOPELESS_AFTER;
            while pending.iter().map(|u| u.records.len()).sum::<usize>() < target && self.draws < budget && !hopeless {
                let unit = self.draw(missing);
                pending.push(unit);
            }
            if pending.is_empty() {
                return Ok(());
            }
            pending = self.round(pending)?;
        }
    }

    /// The emitted records as one JSON Lines text.
    fn emitted_text(&self) -> String {
        let mut text = String::new();
        for line in self.emitted.iter().flat_map(|e| &e.lines) {
            text.push_str(line);
            text.push('\n');
        }
        text
    }

    /// Checks the pending units against what is emitted; emits the
    /// accepted ones, repairs the others. Returns the units still pending.
    fn round(&mut self, pending: Vec<Unit>) -> Result<Vec<Unit>, Failure> {
        let c = self.c;
        let lines: Vec<Vec<String>> = pending.iter().map(|u| u.records.iter().map(|r| write_record(c, r)).collect()).collect();
        let mut text = String::new();
        for line in lines.iter().flatten() {
            text.push_str(line);
            text.push('\n');
        }
        let base = if self.emitted.is_empty() {
            None
        } else {
            Some(check::load(c, self.emitted_text().as_bytes(), None, false).map_err(io_failure)?)
        };
        let candidates = check::load(c, text.as_bytes(), None, true).map_err(io_failure)?;
        let report = check::check(c, base, candidates);
        let excluded = c.program.schema.entity(c.entity).fingerprint.clone();
        let mut next = Vec::new();
        let mut at = 0;
        for (mut unit, unit_lines) in pending.into_iter().zip(lines) {
            let reports = &report.lines[at..at + unit.records.len()];
            at += unit.records.len();
            if reports.iter().all(|l| report.verdict(l) == Verdict::Accepted) {
                self.emit(&unit, unit_lines, excluded.as_deref());
                continue;
            }
            // Repair every record with a finding, with the ways out of
            // each of its reasons.
            let failing: Vec<String> = reports
                .iter()
                .flat_map(|l| report.reasons(l))
                .filter(|r| is_reject(c, &r.rule))
                .map(|r| check::reason_id(c, &r.rule))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            unit.rounds += 1;
            let mut stuck = unit.rounds > MAX_ROUNDS;
            let group_keys: Vec<String> = unit.records.iter().filter_map(|r| self.key_of(r)).collect();
            let ctx = repair::Context { keys: &group_keys };
            let before = unit.records.clone();
            for (record, l) in unit.records.iter_mut().zip(reports) {
                if stuck {
                    break;
                }
                for reason in report.reasons(l) {
                    if unit.rounds > FLAG_ROUNDS && !is_reject(c, &reason.rule) {
                        continue; // the reject rules first
                    }
                    let ways = repair::ways(reason);
                    let Some(way) = repair::choose(&mut self.drawer, &ways) else {
                        // No field edit is a way out of it.
                        stuck |= is_reject(c, &reason.rule);
                        continue;
                    };
                    let way = way.clone();
                    repair::apply(&mut self.drawer, &way, record, unit.rounds <= SPREAD_ROUNDS, &ctx);
                }
            }
            // A repair that changed nothing would fail the same way again.
            let unchanged = unit.records == before;
            if failing.is_empty() && (unchanged || unit.rounds > FLAG_ROUNDS) {
                // Only flags, and no repair left for them: a flagged record
                // is still one `check` keeps.
                self.emit(&Unit { records: before, rounds: unit.rounds }, unit_lines, excluded.as_deref());
                continue;
            }
            stuck |= unchanged;
            if stuck {
                self.dropped += 1;
                for id in failing {
                    *self.blocked.entry(format!("`{id}`")).or_default() += 1;
                }
                self.release(&unit);
            } else {
                next.push(unit);
            }
        }
        Ok(next)
    }

    /// Emits a unit the checker kept, unless it repeats a fingerprint or
    /// does not fit in what is still wanted.
    fn emit(&mut self, unit: &Unit, lines: Vec<String>, excluded: Option<&[String]>) {
        let room = self.opts.count.saturating_sub(self.produced());
        let fingerprints: Vec<u64> = match excluded {
            Some(ex) => lines.iter().filter_map(|l| crate::batch::scores::fingerprint(l.as_bytes(), ex)).collect(),
            None => Vec::new(),
        };
        let repeats = fingerprints.iter().any(|f| self.fingerprints.contains(f))
            || fingerprints.iter().collect::<HashSet<_>>().len() < fingerprints.len();
        if repeats {
            *self.blocked.entry("a repeated fingerprint".into()).or_default() += 1;
            self.release(unit);
        } else if unit.records.len() <= room && !(self.opts.groups && room - unit.records.len() == 1) {
            self.fingerprints.extend(fingerprints.iter().copied());
            let keys = unit.records.iter().filter_map(|r| self.key_of(r)).collect();
            self.emitted.push(Emitted { lines, keys, fingerprints });
        } else {
            self.release(unit);
        }
    }

    /// Checks everything emitted as one dataset; takes out the units with
    /// a rejected line. True when some were taken out.
    fn verify(&mut self) -> Result<bool, Failure> {
        let c = self.c;
        let loaded = check::load(c, self.emitted_text().as_bytes(), None, true).map_err(io_failure)?;
        let report = check::check(c, None, loaded);
        let mut at = 0;
        let mut kept = Vec::new();
        let mut removed = false;
        for unit in std::mem::take(&mut self.emitted) {
            let reports = &report.lines[at..at + unit.lines.len()];
            at += unit.lines.len();
            if reports.iter().any(|l| report.verdict(l) == Verdict::Rejected) {
                for r in reports.iter().flat_map(|l| report.reasons(l)).filter(|r| is_reject(c, &r.rule)) {
                    *self.blocked.entry(format!("`{}`", check::reason_id(c, &r.rule))).or_default() += 1;
                }
                for k in &unit.keys {
                    self.keys.remove(k);
                }
                for f in &unit.fingerprints {
                    self.fingerprints.remove(f);
                }
                removed = true;
            } else {
                kept.push(unit);
            }
        }
        self.emitted = kept;
        Ok(removed)
    }
}

fn is_reject(c: &Compiled, rule: &ReasonRule) -> bool {
    match rule {
        ReasonRule::Json | ReasonRule::Schema(_) => true,
        ReasonRule::Rule(i) => c.program.rules[*i].severity == Severity::Reject,
    }
}

/// A group's size: 2 to 4 records, at most `room`, and not one short of
/// it (that last record would have to stand alone); 1 when only one fits.
fn draw_size(drawer: &mut draw::Drawer, room: usize) -> usize {
    let sizes: Vec<usize> = (2..=4usize.min(room)).filter(|&s| room - s != 1).collect();
    if sizes.is_empty() {
        return room.clamp(1, 2);
    }
    sizes[rand::RngExt::random_range(&mut drawer.rng, 0..sizes.len())]
}

/// A record as one JSON line, its fields in declaration order (then any
/// others, sorted).
pub fn write_record(c: &Compiled, record: &Map<String, Value>) -> String {
    let entity = c.program.schema.entity(c.entity);
    let mut out = String::from("{");
    let mut first = true;
    let mut put = |out: &mut String, name: &str, value: &Value| {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(&Value::String(name.to_string()).to_string());
        out.push(':');
        out.push_str(&value.to_string());
    };
    for field in &entity.fields {
        if let Some(v) = record.get(&field.name) {
            put(&mut out, &field.name, v);
        }
    }
    for (name, v) in record {
        if !entity.fields.iter().any(|f| &f.name == name) {
            put(&mut out, name, v);
        }
    }
    out.push('}');
    out
}
