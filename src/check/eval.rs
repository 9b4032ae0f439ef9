//! The evaluator: typed IR over columns. Names were resolved to field
//! slots at compile time, so evaluation never looks a name up, and the
//! passing path allocates nothing for plain field rules.
//!
//! Three-valued: a value can be absent (a missing optional field, a
//! division by zero). `and`, `or`, `not` and `implies` follow Kleene's
//! logic; a rule whose condition ends absent does not apply.

use super::columns::{Column, ObjectColumn, Table};
use super::store::{Masks, Store};
use super::Compiled;
use crate::ir::expr::*;
use crate::ir::schema::{EntityId, FieldId, GraphId, RelationId};
use crate::ir::{Rule, TableValue};
use crate::syntax::ast::CmpOp;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Collections at least this long are walked in parallel by the
/// aggregates, filters and projections over them (a dataset rule over a
/// million companies would otherwise run on one core while the other
/// waits).
const PARALLEL_FROM: usize = 1 << 16;
/// ...in blocks of this many elements, fixed (not derived from the thread
/// count) so that a sum adds in the same order on any machine.
const BLOCK: usize = 1 << 14;

#[derive(Clone, Debug)]
pub enum Val<'a> {
    Absent,
    Bool(bool),
    Number(f64),
    Str(&'a str),
    /// The items `start..end` of a list column.
    List(&'a Column, u32, u32),
    /// One object element.
    Item(&'a ObjectColumn, u32),
    Entity(u32),
    /// A related entity seen through one edge (inside a `where`): the edge's
    /// fields are item `item` of `edge`.
    Edge {
        record: u32,
        edge: &'a ObjectColumn,
        item: u32,
    },
    /// A relation walked from an entity.
    Related {
        rel: RelationId,
        from: u32,
    },
    Collection(EntityId),
    Groups(GraphId),
    Group(GraphId, u32),
    Keys(EntityId),
    TableKeys(TableId),
    Values(Arc<Vals<'a>>),
}

impl Val<'_> {
    pub fn is_absent(&self) -> bool {
        matches!(self, Val::Absent)
    }
}

/// The values of a list a filter, a projection or a list literal made. A
/// filter may keep most of a collection (a million rows), so entities,
/// groups and numbers are kept unboxed: 4 or 8 bytes an element instead of
/// a `Val`'s 24.
#[derive(Clone, Debug, Default)]
pub enum Vals<'a> {
    #[default]
    Empty,
    Entities(Vec<u32>),
    Groups(GraphId, Vec<u32>),
    Numbers(Vec<f64>),
    Any(Vec<Val<'a>>),
}

impl<'a> Vals<'a> {
    pub fn len(&self) -> usize {
        match self {
            Vals::Empty => 0,
            Vals::Entities(v) | Vals::Groups(_, v) => v.len(),
            Vals::Numbers(v) => v.len(),
            Vals::Any(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, i: usize) -> Val<'a> {
        match self {
            Vals::Empty => Val::Absent,
            Vals::Entities(v) => Val::Entity(v[i]),
            Vals::Groups(g, v) => Val::Group(*g, v[i]),
            Vals::Numbers(v) => Val::Number(v[i]),
            Vals::Any(v) => v[i].clone(),
        }
    }

    pub fn push(&mut self, value: Val<'a>) {
        match (&mut *self, value) {
            (Vals::Entities(v), Val::Entity(r)) => v.push(r),
            (Vals::Groups(g, v), Val::Group(h, i)) if *g == h => v.push(i),
            (Vals::Numbers(v), Val::Number(n)) => v.push(n),
            (Vals::Any(v), value) => v.push(value),
            (Vals::Empty, Val::Entity(r)) => *self = Vals::Entities(vec![r]),
            (Vals::Empty, Val::Group(g, i)) => *self = Vals::Groups(g, vec![i]),
            (Vals::Empty, Val::Number(n)) => *self = Vals::Numbers(vec![n]),
            (_, value) => {
                // Mixed kinds: every element as a `Val`.
                let mut any: Vec<Val<'a>> = (0..self.len()).map(|i| self.get(i)).collect();
                any.push(value);
                *self = Vals::Any(any);
            }
        }
    }

    /// The blocks' values in block order, in exact-size storage.
    fn concat(blocks: impl IntoIterator<Item = Vals<'a>>) -> Vals<'a> {
        let mut blocks = blocks.into_iter();
        let mut all = blocks.next().unwrap_or_default();
        for block in blocks {
            if all.is_empty() {
                all = block;
                continue;
            }
            match (&mut all, block) {
                (Vals::Entities(a), Vals::Entities(b)) => a.extend(b),
                (Vals::Groups(g, a), Vals::Groups(h, b)) if *g == h => a.extend(b),
                (Vals::Numbers(a), Vals::Numbers(b)) => a.extend(b),
                (_, b) => (0..b.len()).for_each(|i| all.push(b.get(i))),
            }
        }
        match &mut all {
            Vals::Empty => {}
            Vals::Entities(v) | Vals::Groups(_, v) => v.shrink_to_fit(),
            Vals::Numbers(v) => v.shrink_to_fit(),
            Vals::Any(v) => v.shrink_to_fit(),
        }
        all
    }
}

impl<'a> FromIterator<Val<'a>> for Vals<'a> {
    fn from_iter<I: IntoIterator<Item = Val<'a>>>(iter: I) -> Vals<'a> {
        let mut vals = Vals::Empty;
        iter.into_iter().for_each(|v| vals.push(v));
        vals
    }
}

/// The value in row `row` of a column.
pub fn cell(column: &Column, row: usize) -> Val<'_> {
    match column {
        Column::Number(v) => match v[row] {
            n if n.is_nan() => Val::Absent,
            n => Val::Number(n),
        },
        Column::Sparse(v) => v.get(row).map_or(Val::Absent, Val::Number),
        Column::Int(v) => match v[row] {
            super::columns::INT_ABSENT => Val::Absent,
            i => Val::Number(f64::from(i)),
        },
        Column::Bool(v) => match v[row] {
            0 => Val::Bool(false),
            1 => Val::Bool(true),
            _ => Val::Absent,
        },
        Column::Str(s) => s.get(row).map_or(Val::Absent, Val::Str),
        Column::List(l) => match l.range(row) {
            Some(r) => Val::List(&l.items, r.start as u32, r.end as u32),
            None => Val::Absent,
        },
        Column::Object(o) if o.present(row) => Val::Item(o, row as u32),
        Column::Object(_) | Column::Skip => Val::Absent,
    }
}

/// One element of a collection: what a binder binds. For a relation, the
/// parallel edges to the neighbour, one of which must satisfy a `where`.
pub struct Element<'a> {
    pub body: Val<'a>,
    pub edges: &'a [(u32, u32)],
    pub edge_fields: Option<&'a ObjectColumn>,
}

/// Iterates the elements of a collection value without allocating.
pub enum Elements<'a> {
    Items { column: &'a Column, next: u32, end: u32 },
    Values { values: Arc<Vals<'a>>, next: usize, end: usize },
    Rows { next: u32, end: u32, masks: &'a Masks, skip: u64 },
    Members { rows: &'a [u32], next: usize },
    Groups { graph: GraphId, next: u32, end: u32 },
    Related { edges: &'a [(u32, u32)], next: usize, fields: &'a ObjectColumn },
    Empty,
}

impl<'a> Iterator for Elements<'a> {
    type Item = Element<'a>;
    fn next(&mut self) -> Option<Element<'a>> {
        let plain = |body| Some(Element { body, edges: &[], edge_fields: None });
        match self {
            Elements::Items { column, next, end } => {
                if next >= end {
                    return None;
                }
                *next += 1;
                plain(cell(column, *next as usize - 1))
            }
            Elements::Values { values, next, end } => {
                if next >= end {
                    return None;
                }
                let v = values.get(*next);
                *next += 1;
                plain(v)
            }
            Elements::Rows { next, end, masks, skip } => {
                while next < end {
                    let row = *next;
                    *next += 1;
                    if masks.get(row as usize) & *skip == 0 {
                        return plain(Val::Entity(row));
                    }
                }
                None
            }
            Elements::Members { rows, next } => {
                let row = *rows.get(*next)?;
                *next += 1;
                plain(Val::Entity(row))
            }
            Elements::Groups { graph, next, end } => {
                if next >= end {
                    return None;
                }
                *next += 1;
                plain(Val::Group(*graph, *next - 1))
            }
            Elements::Related { edges, next, fields } => {
                let start = *next;
                let (neighbour, _) = *edges.get(start)?;
                let mut end = start + 1;
                while end < edges.len() && edges[end].0 == neighbour {
                    end += 1;
                }
                *next = end;
                Some(Element { body: Val::Entity(neighbour), edges: &edges[start..end], edge_fields: Some(fields) })
            }
            Elements::Empty => None,
        }
    }
}

/// Where a rule reads: the columns of the records it checks (a chunk while
/// loading, the kept columns afterwards), and the store for rules that
/// look at other entities.
#[derive(Clone, Copy)]
pub struct Data<'a> {
    pub table: &'a Table,
    pub masks: &'a Masks,
    pub store: Option<&'a Store>,
}

pub struct Env<'a> {
    pub c: &'a Compiled,
    pub data: Data<'a>,
    pub rule: &'a Rule,
    /// The record being checked (entity rules).
    pub this: u32,
    pub vars: Vec<Val<'a>>,
    /// Computes some aggregates and filters of a dataset rule itself (the
    /// incremental check against a base index, `base_index::overlay`).
    pub overlay: Option<&'a dyn Overlay<'a>>,
}

/// Takes over the evaluation of some aggregates and filters: those over
/// the whole dataset, whose elements an incremental check takes from a
/// base index instead of the store.
pub trait Overlay<'a>: Sync {
    /// The value of `e` (an `Agg` or a `Filter`), or None to evaluate it
    /// as usual.
    fn value(&self, env: &mut Env<'a>, e: &'a Expr) -> Option<Val<'a>>;
}

/// `agg` over `len` elements whose values (None: the element does not
/// count) are given in order, in the blocks `Env::aggregate` uses for a
/// collection that long: the same result, to the last bit of a sum.
pub fn accumulate<'v>(agg: Agg, len: usize, mut value: impl FnMut(usize) -> Option<Val<'v>>) -> Val<'static> {
    let block = if len < PARALLEL_FROM { len.max(1) } else { BLOCK };
    let mut blocks = Vec::with_capacity(len.div_ceil(block));
    for lo in (0..len).step_by(block) {
        let mut acc = Accumulator::new(agg);
        for i in lo..(lo + block).min(len) {
            // Once decided, the rest cannot change the result.
            if value(i).is_some_and(|v| acc.add(&v)) {
                break;
            }
        }
        blocks.push(acc);
    }
    Accumulator::merge_all(agg, blocks).finish()
}

/// How many values of each kind an aggregate was given (the elements that
/// did not count left out): all that `count`, `share`, `any` and `all`
/// need, whatever the order the values came in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tally {
    pub absent: u64,
    pub falses: u64,
    pub trues: u64,
    pub numbers: u64,
}

/// `agg` over values of the kinds `tally` counts: what [`accumulate`]
/// gives for them in any order (an `any`/`all` that stops early has seen
/// a deciding value, and then nothing else matters). None for the
/// aggregates whose result depends on the values' order or size.
pub fn tallied(agg: Agg, tally: Tally) -> Option<Val<'static>> {
    let Tally { absent, falses, trues, numbers } = tally;
    let mut acc = Accumulator::new(agg);
    acc.count = usize::try_from(absent + falses + trues + numbers).ok()?;
    match agg {
        Agg::Count => {}
        Agg::Share => {
            acc.known = usize::try_from(falses + trues).ok()?;
            acc.yes = usize::try_from(trues).ok()?;
        }
        // A value that is not a boolean leaves the result unknown unless
        // another decides it.
        Agg::Any | Agg::All => {
            acc.yes = usize::try_from(if agg == Agg::Any { trues } else { falses }).ok()?;
            acc.unknown = absent + numbers > 0;
        }
        Agg::Sum | Agg::Mean | Agg::Min | Agg::Max => return None,
    }
    Some(acc.finish())
}

impl<'a> Env<'a> {
    pub fn new(c: &'a Compiled, data: Data<'a>, rule: &'a Rule, this: u32) -> Env<'a> {
        Env { c, data, rule, this, vars: vec![Val::Absent; rule.var_count as usize], overlay: None }
    }

    /// Re-targets the environment at another rule and record, keeping its
    /// variable buffer.
    pub fn reset(&mut self, rule: &'a Rule, this: u32) {
        self.rule = rule;
        self.this = this;
        // Every variable is bound before it is read (lets in order, binders
        // per element), so only the number of slots matters: the local
        // rules run rule by rule over a piece, and resizing per record and
        // rule showed in the profile.
        if self.vars.len() != rule.var_count as usize {
            self.vars.clear();
            self.vars.resize(rule.var_count as usize, Val::Absent);
        }
    }

    /// The key of a record of the table the rule reads.
    pub fn key_of(&self, record: u32) -> Option<&'a str> {
        let key = self.c.program.schema.entity(self.c.entity).key?;
        match &self.data.table.columns[key.0 as usize] {
            Column::Str(s) => s.get(record as usize),
            _ => None,
        }
    }

    fn store(&self) -> &'a Store {
        self.data.store.expect("a rule that reads other entities runs after loading")
    }

    /// Evaluates the rule: Some(true) passes, Some(false) fails, None does
    /// not apply.
    pub fn run(&mut self) -> Option<bool> {
        let rule = self.rule;
        for (var, value) in &rule.lets {
            let v = self.eval(value);
            self.vars[var.0 as usize] = v;
        }
        match self.eval(&rule.expr) {
            Val::Bool(b) => Some(b),
            _ => None,
        }
    }

    fn field(&self, record: u32, field: FieldId) -> Val<'a> {
        cell(&self.data.table.columns[field.0 as usize], record as usize)
    }

    pub fn truth(&mut self, e: &'a Expr) -> Option<bool> {
        match self.eval(e) {
            Val::Bool(b) => Some(b),
            _ => None,
        }
    }

    pub fn number(&mut self, e: &'a Expr) -> Option<f64> {
        match self.eval(e) {
            Val::Number(n) => Some(n),
            _ => None,
        }
    }

    pub fn eval(&mut self, e: &'a Expr) -> Val<'a> {
        match &e.kind {
            ExprKind::Number(n) => Val::Number(*n),
            ExprKind::String(s) => Val::Str(s),
            ExprKind::Bool(b) => Val::Bool(*b),
            ExprKind::Null => Val::Absent,
            ExprKind::SelfField(f) => self.field(self.this, *f),
            ExprKind::SelfEntity => Val::Entity(self.this),
            ExprKind::Var(v) => self.vars[v.0 as usize].clone(),
            ExprKind::Get(base, access) => {
                let base = self.eval(base);
                self.get(&base, *access)
            }
            ExprKind::Project(base, access) => {
                let base = self.eval(base);
                if base.is_absent() {
                    return Val::Absent;
                }
                let blocks = self.blocks(&base, |env, elements| {
                    elements.map(|el| env.get(&el.body, *access)).filter(|v| !v.is_absent()).collect::<Vals<'a>>()
                });
                Val::Values(Arc::new(Vals::concat(blocks)))
            }
            ExprKind::Lookup(t, key) => match self.eval(key) {
                Val::Str(k) => match self.c.tables[t.0 as usize].get(k) {
                    Some(TableValue::Number(n)) => Val::Number(*n),
                    Some(TableValue::String(s)) => Val::Str(s),
                    Some(TableValue::Bool(b)) => Val::Bool(*b),
                    _ => Val::Absent,
                },
                _ => Val::Absent,
            },
            ExprKind::Neg(x) => match self.eval(x) {
                Val::Number(n) => Val::Number(-n),
                _ => Val::Absent,
            },
            ExprKind::Not(x) => match self.eval(x) {
                Val::Bool(b) => Val::Bool(!b),
                _ => Val::Absent,
            },
            ExprKind::Coalesce(a, b) => match self.eval(a) {
                Val::Absent => self.eval(b),
                v => v,
            },
            ExprKind::Arith(op, a, b) => {
                let (Some(x), Some(y)) = (self.number(a), self.number(b)) else { return Val::Absent };
                let r = match op {
                    Arith::Add => x + y,
                    Arith::Sub => x - y,
                    Arith::Mul => x * y,
                    // Division by zero has no value: the rule does not apply.
                    Arith::Div if y == 0.0 => return Val::Absent,
                    Arith::Div => x / y,
                };
                if r.is_nan() {
                    Val::Absent
                } else {
                    Val::Number(r)
                }
            }
            ExprKind::And(a, b) => match self.truth(a) {
                Some(false) => Val::Bool(false),
                left => match (left, self.truth(b)) {
                    (_, Some(false)) => Val::Bool(false),
                    (Some(true), Some(true)) => Val::Bool(true),
                    _ => Val::Absent,
                },
            },
            ExprKind::Or(a, b) => match self.truth(a) {
                Some(true) => Val::Bool(true),
                left => match (left, self.truth(b)) {
                    (_, Some(true)) => Val::Bool(true),
                    (Some(false), Some(false)) => Val::Bool(false),
                    _ => Val::Absent,
                },
            },
            ExprKind::Implies(a, b) => match self.truth(a) {
                Some(false) => Val::Bool(true),
                left => match (left, self.truth(b)) {
                    (_, Some(true)) => Val::Bool(true),
                    (Some(true), Some(false)) => Val::Bool(false),
                    _ => Val::Absent,
                },
            },
            ExprKind::If(c, then, otherwise) => match (self.truth(c), otherwise) {
                (Some(true), _) => self.eval(then),
                (Some(false), Some(o)) => self.eval(o),
                (Some(false), None) => Val::Bool(true),
                (None, _) => Val::Absent,
            },
            ExprKind::Compare(first, links) => {
                let mut lhs = self.eval(first);
                let mut result = Val::Bool(true);
                for link in links {
                    let rhs = self.eval(&link.rhs);
                    match self.compare(&lhs, link, &rhs) {
                        Some(true) => {}
                        Some(false) => return Val::Bool(false),
                        None => result = Val::Absent,
                    }
                    lhs = rhs;
                }
                result
            }
            ExprKind::InRange { value, lo, hi, lo_closed, hi_closed, negated } => {
                let (Some(x), Some(l), Some(h)) = (self.number(value), self.number(lo), self.number(hi)) else {
                    return Val::Absent;
                };
                let inside = (if *lo_closed { x >= l } else { x > l }) && (if *hi_closed { x <= h } else { x < h });
                Val::Bool(inside != *negated)
            }
            ExprKind::InSet { value, set, negated } => {
                let found = match self.eval(value) {
                    Val::Number(n) => set.iter().any(|c| matches!(c, Const::Number(m) if *m == n)),
                    Val::Str(s) => set.iter().any(|c| matches!(c, Const::String(m) if &**m == s)),
                    Val::Bool(b) => set.iter().any(|c| matches!(c, Const::Bool(m) if *m == b)),
                    _ => return Val::Absent,
                };
                Val::Bool(found != *negated)
            }
            ExprKind::InList { value, list, negated } => {
                let v = self.eval(value);
                if v.is_absent() {
                    return Val::Absent;
                }
                let list = self.eval(list);
                if list.is_absent() {
                    return Val::Absent;
                }
                let found = self.elements(&list).any(|el| same(&el.body, &v));
                Val::Bool(found != *negated)
            }
            ExprKind::InKeys { value, keys, negated } => {
                // A reference the store resolved is a key: no lookup (most
                // of the cost of checking that every reference of a large
                // dataset names a key).
                let mut resolved = false;
                let value = match &value.kind {
                    ExprKind::Get(base, access @ Access::Object(i)) => {
                        let base = self.eval(base);
                        if let Val::Item(obj, row) = &base {
                            resolved = matches!(&obj.fields[*i], Column::Str(s) if s.resolved(*row as usize).is_some());
                        }
                        self.get(&base, *access)
                    }
                    _ => self.eval(value),
                };
                let Val::Str(k) = value else { return Val::Absent };
                let found = match self.eval(keys) {
                    Val::Keys(_) => resolved || self.store().has_key(k),
                    Val::TableKeys(t) => self.c.tables[t.0 as usize].contains_key(k),
                    _ => return Val::Absent,
                };
                Val::Bool(found != *negated)
            }
            ExprKind::Matches(value, pattern) => {
                let Val::Str(s) = self.eval(value) else { return Val::Absent };
                match self.pattern(pattern) {
                    Some(r) => Val::Bool(r.is_match(s)),
                    None => Val::Absent,
                }
            }
            ExprKind::IsNull { value, negated } => Val::Bool(self.eval(value).is_absent() != *negated),
            ExprKind::Agg { agg, var, source, filter, body } => {
                if let Some(v) = self.overlay.and_then(|o| o.value(self, e)) {
                    return v;
                }
                let source = self.eval(source);
                if source.is_absent() {
                    return Val::Absent;
                }
                self.aggregate(*agg, &source, |env, el| {
                    if let Some(filter) = filter {
                        if !env.passes_filter(*var, &el, filter) {
                            return None;
                        }
                    }
                    env.vars[var.0 as usize] = el.body;
                    Some(match body {
                        Some(b) => env.eval(b),
                        None => Val::Bool(true),
                    })
                })
            }
            ExprKind::AggList(agg, list) => {
                // `sum(segments.revenue)`: aggregate the projection as it is
                // walked instead of collecting it first.
                let (source, access) = match &list.kind {
                    ExprKind::Project(base, access) => (self.eval(base), Some(*access)),
                    _ => (self.eval(list), None),
                };
                if source.is_absent() {
                    return Val::Absent;
                }
                // `count(list)`: every item counts, so the length is the
                // count without walking the items.
                if let (Agg::Count, None, Val::List(_, start, end)) = (agg, access, &source) {
                    return Val::Number(f64::from(end - start));
                }
                self.aggregate(*agg, &source, |env, el| match access {
                    Some(a) => Some(env.get(&el.body, a)).filter(|v| !v.is_absent()),
                    None => Some(el.body),
                })
            }
            ExprKind::Filter { var, source, filter } => {
                if let Some(v) = self.overlay.and_then(|o| o.value(self, e)) {
                    return v;
                }
                let source = self.eval(source);
                if source.is_absent() {
                    return Val::Absent;
                }
                let blocks = self.blocks(&source, |env, elements| {
                    let mut kept = Vals::Empty;
                    for el in elements {
                        if env.passes_filter(*var, &el, filter) {
                            kept.push(el.body);
                        }
                    }
                    kept
                });
                Val::Values(Arc::new(Vals::concat(blocks)))
            }
            ExprKind::List(items) => {
                let values: Vals<'a> = items.iter().map(|i| self.eval(i)).collect();
                Val::Values(Arc::new(values))
            }
            ExprKind::Call(builtin, args) => self.call(*builtin, args),
            ExprKind::Relation(rel, from) => match self.eval(from) {
                Val::Entity(r) | Val::Edge { record: r, .. } if self.store().member[r as usize] => Val::Related { rel: *rel, from: r },
                _ => Val::Absent,
            },
            ExprKind::Collection(e) => Val::Collection(*e),
            ExprKind::Keys(e) => Val::Keys(*e),
            ExprKind::TableKeys(t) => Val::TableKeys(*t),
        }
    }

    pub fn pattern(&mut self, pattern: &'a Pattern) -> Option<&'a regex::Regex> {
        match pattern {
            Pattern::Static(id) => Some(&self.c.regexes[id.0 as usize]),
            Pattern::Table(t, key) => match self.eval(key) {
                Val::Str(k) => match self.c.tables[t.0 as usize].get(k) {
                    Some(TableValue::Regex(id)) => Some(&self.c.regexes[id.0 as usize]),
                    _ => None,
                },
                _ => None,
            },
        }
    }

    pub fn passes_filter(&mut self, var: VarId, el: &Element<'a>, filter: &'a Expr) -> bool {
        let Some(fields) = el.edge_fields else {
            self.vars[var.0 as usize] = el.body.clone();
            return self.truth(filter) == Some(true);
        };
        for &(record, item) in el.edges {
            self.vars[var.0 as usize] = Val::Edge { record, edge: fields, item };
            if self.truth(filter) == Some(true) {
                return true;
            }
        }
        false
    }

    fn get(&self, base: &Val<'a>, access: Access) -> Val<'a> {
        match (base, access) {
            (Val::Item(obj, row), Access::Object(i)) => cell(&obj.fields[i], *row as usize),
            (Val::Entity(r) | Val::Edge { record: r, .. }, Access::Entity(f)) => self.field(*r, f),
            (Val::Edge { edge, item, .. }, Access::Edge(i)) => cell(&edge.fields[i], *item as usize),
            _ => Val::Absent,
        }
    }

    /// Whether `lhs op rhs` (with its tolerance) holds; None when unknown.
    pub fn compare(&mut self, lhs: &Val<'a>, link: &'a Link, rhs: &Val<'a>) -> Option<bool> {
        match (lhs, rhs) {
            (Val::Number(a), Val::Number(b)) => {
                if let Some(t) = &link.tolerance {
                    let amount = self.number(&t.amount)?;
                    let band = if t.relative { amount * b.abs() } else { amount.abs() };
                    let within = (a - b).abs() <= band;
                    return Some(if link.op == CmpOp::Ne { !within } else { within });
                }
                Some(link.op.holds(*a, *b))
            }
            (Val::Absent, _) | (_, Val::Absent) => None,
            (a, b) => {
                let eq = same(a, b);
                match link.op {
                    CmpOp::Eq => Some(eq),
                    CmpOp::Ne => Some(!eq),
                    _ => None,
                }
            }
        }
    }

    fn call(&mut self, builtin: Builtin, args: &'a [Expr]) -> Val<'a> {
        match builtin {
            Builtin::Abs => match self.number(&args[0]) {
                Some(n) => Val::Number(n.abs()),
                None => Val::Absent,
            },
            Builtin::CurrentYear => Val::Number(self.c.current_year as f64),
            Builtin::Len => match self.eval(&args[0]) {
                Val::Str(s) => Val::Number(s.chars().count() as f64),
                Val::Absent => Val::Absent,
                v => Val::Number(self.elements(&v).count() as f64),
            },
            Builtin::Unique(f) => match self.store().value_count(f, self.this as usize) {
                Some(n) => Val::Bool(n <= 1),
                None => Val::Absent,
            },
            Builtin::InCycle(g) => {
                let store = self.store();
                if !store.member[self.this as usize] {
                    return Val::Absent;
                }
                Val::Bool(store.graphs[&g].cycle_of.contains_key(&self.this))
            }
            Builtin::Groups(g) => Val::Groups(g),
        }
    }

    /// Aggregates `value` of each element of `source` (None skips the
    /// element), block by block when the collection is long; once one
    /// block has decided an `any`/`all`, the others stop.
    fn aggregate(&mut self, agg: Agg, source: &Val<'a>, value: impl Fn(&mut Env<'a>, Element<'a>) -> Option<Val<'a>> + Sync) -> Val<'a> {
        let decided = AtomicBool::new(false);
        let blocks = self.blocks(source, |env, elements| {
            let mut acc = Accumulator::new(agg);
            for el in elements {
                if decided.load(Ordering::Relaxed) {
                    break;
                }
                let Some(v) = value(env, el) else { continue };
                if acc.add(&v) {
                    decided.store(true, Ordering::Relaxed);
                    break;
                }
            }
            acc
        });
        Accumulator::merge_all(agg, blocks).finish()
    }

    /// Runs `walk` over the elements of `source`: at once on this thread
    /// for a short collection, else over fixed blocks in parallel, each
    /// with its own copy of the variables. The blocks' results in order
    /// (a short collection's one result without a vector: aggregates run
    /// per record and rule, and the vector was most of their allocations).
    fn blocks<T: Send>(
        &mut self,
        source: &Val<'a>,
        walk: impl Fn(&mut Env<'a>, Elements<'a>) -> T + Sync,
    ) -> std::iter::Chain<std::option::IntoIter<T>, std::vec::IntoIter<T>> {
        let len = match source {
            Val::Collection(_) => self.data.masks.len(),
            Val::Groups(g) => self.store().graphs[g].groups.len(),
            Val::Values(values) => values.len(),
            _ => 0,
        };
        if len < PARALLEL_FROM {
            let elements = self.elements(source);
            return Some(walk(self, elements)).into_iter().chain(Vec::new());
        }
        let this = &*self;
        let blocks = (0..len.div_ceil(BLOCK))
            .into_par_iter()
            .map_init(
                || Env { c: this.c, data: this.data, rule: this.rule, this: this.this, vars: this.vars.clone(), overlay: this.overlay },
                |env, block| {
                    let (lo, hi) = (block * BLOCK, ((block + 1) * BLOCK).min(len));
                    let elements = match env.elements(source) {
                        Elements::Rows { masks, skip, .. } => Elements::Rows { next: lo as u32, end: hi as u32, masks, skip },
                        Elements::Groups { graph, .. } => Elements::Groups { graph, next: lo as u32, end: hi as u32 },
                        Elements::Values { values, .. } => Elements::Values { values, next: lo, end: hi },
                        other => other,
                    };
                    walk(env, elements)
                },
            )
            .collect::<Vec<T>>();
        None.into_iter().chain(blocks)
    }

    /// The elements of a collection value.
    pub fn elements(&self, v: &Val<'a>) -> Elements<'a> {
        match v {
            Val::List(column, start, end) => Elements::Items { column, next: *start, end: *end },
            Val::Values(values) => Elements::Values { values: values.clone(), next: 0, end: values.len() },
            Val::Collection(_) => {
                let skip = self.rule.element_fields.iter().fold(0u64, |m, f| m | super::store::field_bit(*f));
                Elements::Rows { next: 0, end: self.data.masks.len() as u32, masks: self.data.masks, skip }
            }
            Val::Group(g, i) => Elements::Members { rows: self.store().graphs[g].groups.get(*i as usize), next: 0 },
            Val::Groups(g) => Elements::Groups { graph: *g, next: 0, end: self.store().graphs[g].groups.len() as u32 },
            Val::Related { rel, from } => {
                let store = self.store();
                let schema = &self.c.program.schema;
                let (forward, inverse) = schema.forward(*rel);
                let index = &store.relations[&forward];
                let adjacency = if inverse { &index.backward } else { &index.forward };
                let crate::ir::schema::RelationKind::Forward { list, .. } = schema.relation(forward).kind else {
                    return Elements::Empty;
                };
                let Column::List(l) = &store.table.columns[list.0 as usize] else { return Elements::Empty };
                let Column::Object(fields) = l.items.as_ref() else { return Elements::Empty };
                Elements::Related { edges: adjacency.of(*from), next: 0, fields }
            }
            _ => Elements::Empty,
        }
    }
}

fn same(a: &Val<'_>, b: &Val<'_>) -> bool {
    match (a, b) {
        (Val::Number(x), Val::Number(y)) => x == y,
        (Val::Str(x), Val::Str(y)) => x == y,
        (Val::Bool(x), Val::Bool(y)) => x == y,
        (Val::Entity(x), Val::Entity(y)) => x == y,
        _ => false,
    }
}

/// Streams an aggregate: SQL-like (absent values are skipped by the
/// numeric aggregates), Kleene for `any`/`all`, `share` over the elements
/// whose condition is known.
struct Accumulator {
    agg: Agg,
    count: usize,
    known: usize,
    yes: usize,
    sum: f64,
    best: Option<f64>,
    unknown: bool,
}

impl Accumulator {
    fn new(agg: Agg) -> Accumulator {
        Accumulator { agg, count: 0, known: 0, yes: 0, sum: 0.0, best: None, unknown: false }
    }

    /// Adds one value; true when the result can no longer change.
    fn add(&mut self, v: &Val<'_>) -> bool {
        self.count += 1;
        match (self.agg, v) {
            (Agg::Sum | Agg::Mean, Val::Number(n)) => {
                self.sum += n;
                self.known += 1;
            }
            (Agg::Min, Val::Number(n)) => self.best = Some(self.best.map_or(*n, |b| b.min(*n))),
            (Agg::Max, Val::Number(n)) => self.best = Some(self.best.map_or(*n, |b| b.max(*n))),
            (Agg::Any, Val::Bool(true)) | (Agg::All, Val::Bool(false)) => {
                self.yes += 1;
                return true;
            }
            (Agg::Any | Agg::All, Val::Bool(_)) => {}
            (Agg::Any | Agg::All, _) => self.unknown = true,
            (Agg::Share, Val::Bool(b)) => {
                self.known += 1;
                self.yes += usize::from(*b);
            }
            _ => {}
        }
        false
    }

    /// The accumulators of consecutive blocks combined, as if one had
    /// seen every element in order (sums add block by block).
    fn merge_all(agg: Agg, blocks: impl IntoIterator<Item = Accumulator>) -> Accumulator {
        // The first block is the start (a short collection's only one): the
        // same as merging it into a fresh accumulator, since a block's sum
        // starts at +0.0 and so is never -0.0.
        let mut blocks = blocks.into_iter();
        let mut all = blocks.next().unwrap_or_else(|| Accumulator::new(agg));
        for b in blocks {
            all.count += b.count;
            all.known += b.known;
            all.yes += b.yes;
            all.sum += b.sum;
            all.unknown |= b.unknown;
            all.best = match (all.best, b.best) {
                (Some(x), Some(y)) => Some(if agg == Agg::Min { x.min(y) } else { x.max(y) }),
                (x, y) => x.or(y),
            };
        }
        all
    }

    fn finish(self) -> Val<'static> {
        match self.agg {
            Agg::Count => Val::Number(self.count as f64),
            Agg::Sum => Val::Number(self.sum),
            Agg::Mean if self.known > 0 => Val::Number(self.sum / self.known as f64),
            Agg::Min | Agg::Max => self.best.map_or(Val::Absent, Val::Number),
            Agg::Any if self.yes > 0 => Val::Bool(true),
            Agg::All if self.yes > 0 => Val::Bool(false),
            Agg::Any | Agg::All if self.unknown => Val::Absent,
            Agg::Any => Val::Bool(false),
            Agg::All => Val::Bool(true),
            Agg::Share if self.known > 0 => Val::Number(self.yes as f64 / self.known as f64),
            Agg::Mean | Agg::Share => Val::Absent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(vals: &Vals<'_>) -> Vec<String> {
        (0..vals.len()).map(|i| format!("{:?}", vals.get(i))).collect()
    }

    #[test]
    fn a_tally_gives_what_the_fold_gives_in_any_order() {
        // A small deterministic generator: values of every kind a recorded
        // element can have, and elements that do not count.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for len in [0, 1, 2, 3, 7, 40, 1000, PARALLEL_FROM + 5] {
            for mix in 0..12 {
                let values: Vec<Option<Val<'static>>> = (0..len)
                    .map(|_| match next() % 16 {
                        0 if mix % 3 == 0 => Some(Val::Absent),
                        1 if mix % 4 == 0 => Some(Val::Number(1.5)),
                        2..=4 => None,
                        5..=7 if mix % 2 == 0 => Some(Val::Bool(true)),
                        _ if mix == 5 => Some(Val::Bool(true)),
                        _ => Some(Val::Bool(mix == 7)),
                    })
                    .collect();
                let mut tally = Tally::default();
                for v in values.iter().flatten() {
                    match v {
                        Val::Absent => tally.absent += 1,
                        Val::Bool(false) => tally.falses += 1,
                        Val::Bool(true) => tally.trues += 1,
                        _ => tally.numbers += 1,
                    }
                }
                for agg in [Agg::Count, Agg::Share, Agg::Any, Agg::All] {
                    let folded = format!("{:?}", accumulate(agg, len, |i| values[i].clone()));
                    let from_tally = format!("{:?}", tallied(agg, tally).unwrap());
                    assert_eq!(folded, from_tally, "{agg:?} over {len} values, mix {mix}");
                }
                assert!(tallied(Agg::Sum, tally).is_none());
            }
        }
    }

    #[test]
    fn a_list_keeps_its_elements_and_their_order_whatever_their_kinds() {
        let g = GraphId(0);
        let elements = [Val::Entity(4), Val::Entity(2), Val::Group(g, 1), Val::Number(1.5), Val::Str("x"), Val::Absent];
        let all: Vals<'_> = elements.iter().cloned().collect();
        let expected: Vec<String> = elements.iter().map(|v| format!("{v:?}")).collect();
        assert_eq!(shown(&all), expected);
        // Blocks of one kind concatenate unboxed; of mixed kinds, as values.
        let blocks = vec![Vals::Entities(vec![1, 2]), Vals::Empty, Vals::Entities(vec![3]), Vals::Numbers(vec![0.5])];
        let joined = Vals::concat(blocks);
        assert_eq!(shown(&joined), ["Entity(1)", "Entity(2)", "Entity(3)", "Number(0.5)"]);
        let groups = Vals::concat(vec![Vals::Groups(g, vec![0]), Vals::Groups(GraphId(1), vec![0])]);
        assert_eq!(shown(&groups), ["Group(GraphId(0), 0)", "Group(GraphId(1), 0)"]);
        assert!(matches!(Vals::concat(vec![Vals::Entities(vec![7]), Vals::Entities(vec![8])]), Vals::Entities(v) if v == [7, 8]));
    }
}
