//! The evaluator: typed IR over the store. Names were resolved to field
//! slots at compile time, so evaluation never looks a name up.
//!
//! Three-valued: a value can be absent (a missing optional field, a
//! division by zero). `and`, `or`, `not` and `implies` follow Kleene's
//! logic; a rule whose condition ends absent does not apply.

use super::store::{Slot, Store};
use super::Compiled;
use crate::ir::expr::*;
use crate::ir::schema::{EntityId, GraphId, RelationId};
use crate::ir::{Rule, TableValue};
use crate::syntax::ast::CmpOp;
use std::rc::Rc;

#[derive(Clone, Debug)]
pub enum Val<'a> {
    Absent,
    Bool(bool),
    Number(f64),
    Str(&'a str),
    /// The elements of a list field.
    Items(&'a [Slot]),
    /// One object element.
    Object(&'a [Slot]),
    Entity(u32),
    /// A related entity seen through one edge (inside a `where`).
    Edge { record: u32, element: &'a [Slot] },
    /// A relation walked from an entity.
    Related { rel: RelationId, from: u32 },
    Collection(EntityId),
    Groups(GraphId),
    Group(GraphId, u32),
    Keys(EntityId),
    TableKeys(TableId),
    List(Rc<Vec<Val<'a>>>),
}

impl<'a> Val<'a> {
    pub fn from_slot(slot: &'a Slot) -> Val<'a> {
        match slot {
            Slot::Absent => Val::Absent,
            Slot::Bool(b) => Val::Bool(*b),
            Slot::Number(n) => Val::Number(*n),
            Slot::String(s) => Val::Str(s),
            Slot::List(items) => Val::Items(items),
            Slot::Object(fields) => Val::Object(fields),
        }
    }
    pub fn is_absent(&self) -> bool {
        matches!(self, Val::Absent)
    }
}

/// One element produced by iterating a collection: what a binder binds,
/// in the filter and in the body.
pub struct Element<'a> {
    pub body: Val<'a>,
    /// For relations: the parallel edges to this entity, one of which must
    /// satisfy the filter.
    pub edges: Vec<Val<'a>>,
}

pub struct Env<'a> {
    pub c: &'a Compiled,
    pub store: &'a Store,
    pub rule: &'a Rule,
    /// The record being checked (entity rules).
    pub this: u32,
    pub vars: Vec<Val<'a>>,
}

impl<'a> Env<'a> {
    pub fn new(c: &'a Compiled, store: &'a Store, rule: &'a Rule, this: u32) -> Env<'a> {
        Env { c, store, rule, this, vars: vec![Val::Absent; rule.var_count as usize] }
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

    fn slot_of(&self, record: u32, field: crate::ir::schema::FieldId) -> Val<'a> {
        Val::from_slot(&self.store.records[record as usize].slots[field.0 as usize])
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
            ExprKind::SelfField(f) => self.slot_of(self.this, *f),
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
                let items: Vec<Val<'a>> = self
                    .elements(&base, false)
                    .into_iter()
                    .map(|el| self.get(&el.body, *access))
                    .filter(|v| !v.is_absent())
                    .collect();
                Val::List(Rc::new(items))
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
                    match self.compare_link(&lhs, link, &rhs) {
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
                let v = self.eval(value);
                let found = match &v {
                    Val::Number(n) => set.iter().any(|c| matches!(c, Const::Number(m) if m == n)),
                    Val::Str(s) => set.iter().any(|c| matches!(c, Const::String(m) if &**m == *s)),
                    Val::Bool(b) => set.iter().any(|c| matches!(c, Const::Bool(m) if m == b)),
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
                let found = self.elements(&list, false).iter().any(|el| same(&el.body, &v));
                Val::Bool(found != *negated)
            }
            ExprKind::InKeys { value, keys, negated } => {
                let Val::Str(k) = self.eval(value) else { return Val::Absent };
                let found = match self.eval(keys) {
                    Val::Keys(_) => self.store.keys.contains_key(k),
                    Val::TableKeys(t) => self.c.tables[t.0 as usize].contains_key(k),
                    _ => return Val::Absent,
                };
                Val::Bool(found != *negated)
            }
            ExprKind::Matches(value, pattern) => {
                let Val::Str(s) = self.eval(value) else { return Val::Absent };
                let regex = match pattern {
                    Pattern::Static(id) => Some(&self.c.regexes[id.0 as usize]),
                    Pattern::Table(t, key) => match self.eval(key) {
                        Val::Str(k) => match self.c.tables[t.0 as usize].get(k) {
                            Some(TableValue::Regex(id)) => Some(&self.c.regexes[id.0 as usize]),
                            _ => None,
                        },
                        _ => None,
                    },
                };
                match regex {
                    Some(r) => Val::Bool(r.is_match(s)),
                    None => Val::Absent,
                }
            }
            ExprKind::IsNull { value, negated } => Val::Bool(self.eval(value).is_absent() != *negated),
            ExprKind::Agg { agg, var, source, filter, body } => {
                let source = self.eval(source);
                if source.is_absent() {
                    return Val::Absent;
                }
                let elements = self.elements(&source, filter.is_some());
                let mut values: Vec<Val<'a>> = Vec::with_capacity(elements.len());
                for el in elements {
                    if let Some(filter) = filter {
                        if !self.passes_filter(*var, &el, filter) {
                            continue;
                        }
                    }
                    self.vars[var.0 as usize] = el.body.clone();
                    values.push(match body {
                        Some(b) => self.eval(b),
                        None => Val::Bool(true),
                    });
                }
                aggregate(*agg, &values)
            }
            ExprKind::AggList(agg, list) => {
                let list = self.eval(list);
                if list.is_absent() {
                    return Val::Absent;
                }
                let values: Vec<Val<'a>> = self.elements(&list, false).into_iter().map(|e| e.body).collect();
                aggregate(*agg, &values)
            }
            ExprKind::Filter { var, source, filter } => {
                let source = self.eval(source);
                if source.is_absent() {
                    return Val::Absent;
                }
                let mut kept = Vec::new();
                for el in self.elements(&source, true) {
                    if self.passes_filter(*var, &el, filter) {
                        kept.push(el.body);
                    }
                }
                Val::List(Rc::new(kept))
            }
            ExprKind::List(items) => {
                let values: Vec<Val<'a>> = items.iter().map(|i| self.eval(i)).collect();
                Val::List(Rc::new(values))
            }
            ExprKind::Call(builtin, args) => self.call(*builtin, args),
            ExprKind::Relation(rel, from) => match self.eval(from) {
                Val::Entity(r) | Val::Edge { record: r, .. } if self.store.member[r as usize] => Val::Related { rel: *rel, from: r },
                _ => Val::Absent,
            },
            ExprKind::Collection(e) => Val::Collection(*e),
            ExprKind::Keys(e) => Val::Keys(*e),
            ExprKind::TableKeys(t) => Val::TableKeys(*t),
        }
    }

    fn passes_filter(&mut self, var: VarId, el: &Element<'a>, filter: &'a Expr) -> bool {
        if el.edges.is_empty() {
            self.vars[var.0 as usize] = el.body.clone();
            return self.truth(filter) == Some(true);
        }
        for edge in &el.edges {
            self.vars[var.0 as usize] = edge.clone();
            if self.truth(filter) == Some(true) {
                return true;
            }
        }
        false
    }

    fn get(&self, base: &Val<'a>, access: Access) -> Val<'a> {
        match (base, access) {
            (Val::Object(fields), Access::Object(i)) => fields.get(i).map_or(Val::Absent, Val::from_slot),
            (Val::Entity(r) | Val::Edge { record: r, .. }, Access::Entity(f)) => self.slot_of(*r, f),
            (Val::Edge { element, .. }, Access::Edge(i)) => element.get(i).map_or(Val::Absent, Val::from_slot),
            _ => Val::Absent,
        }
    }

    /// Whether `lhs op rhs` (with its tolerance) holds; None when unknown.
    pub fn compare(&mut self, lhs: &Val<'a>, link: &'a Link, rhs: &Val<'a>) -> Option<bool> {
        self.compare_link(lhs, link, rhs)
    }

    fn compare_link(&mut self, lhs: &Val<'a>, link: &'a Link, rhs: &Val<'a>) -> Option<bool> {
        match (lhs, rhs) {
            (Val::Number(a), Val::Number(b)) => {
                if let Some(t) = &link.tolerance {
                    let amount = self.number(&t.amount)?;
                    let band = if t.relative { amount * b.abs() } else { amount.abs() };
                    let within = (a - b).abs() <= band;
                    return Some(if link.op == CmpOp::Ne { !within } else { within });
                }
                Some(match link.op {
                    CmpOp::Eq => a == b,
                    CmpOp::Ne => a != b,
                    CmpOp::Lt => a < b,
                    CmpOp::Le => a <= b,
                    CmpOp::Gt => a > b,
                    CmpOp::Ge => a >= b,
                })
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
                v @ (Val::Items(_) | Val::List(_) | Val::Group(..)) => Val::Number(self.elements(&v, false).len() as f64),
                _ => Val::Absent,
            },
            Builtin::Unique(f) => {
                let slot = &self.store.records[self.this as usize].slots[f.0 as usize];
                let Some(key) = super::store::value_key(slot) else { return Val::Absent };
                let count = self.store.value_counts.get(&f).and_then(|m| m.get(&key)).copied().unwrap_or(0);
                Val::Bool(count <= 1)
            }
            Builtin::InCycle(g) => {
                if !self.store.member[self.this as usize] {
                    return Val::Absent;
                }
                Val::Bool(self.store.graphs[&g].cycle_of.contains_key(&self.this))
            }
            Builtin::Groups(g) => Val::Groups(g),
        }
    }

    /// The elements of a collection value. `with_edges` keeps, for relation
    /// walks, every parallel edge so a `where` can test each.
    pub fn elements(&self, v: &Val<'a>, with_edges: bool) -> Vec<Element<'a>> {
        let plain = |body| Element { body, edges: Vec::new() };
        match v {
            Val::Items(items) => items.iter().map(|s| plain(Val::from_slot(s))).collect(),
            Val::List(values) => values.iter().map(|v| plain(v.clone())).collect(),
            Val::Group(g, i) => self.store.graphs[g].groups[*i as usize].iter().map(|&r| plain(Val::Entity(r))).collect(),
            Val::Groups(g) => (0..self.store.graphs[g].groups.len() as u32).map(|i| plain(Val::Group(*g, i))).collect(),
            Val::Collection(_) => {
                let skip = &self.rule.element_fields;
                (0..self.store.records.len() as u32)
                    .filter(|&r| {
                        let failures = &self.store.records[r as usize].failures;
                        !failures.iter().any(|f| skip.contains(&f.field))
                    })
                    .map(|r| plain(Val::Entity(r)))
                    .collect()
            }
            Val::Related { rel, from } => {
                let (forward, inverse) = self.c.program.schema.forward(*rel);
                let index = &self.store.relations[&forward];
                let adjacency = if inverse { &index.backward } else { &index.forward };
                let list_field = match self.c.program.schema.relation(forward).kind {
                    crate::ir::schema::RelationKind::Forward { list, .. } => list,
                    _ => unreachable!("forward relation"),
                };
                let mut out: Vec<Element<'a>> = Vec::new();
                for &(neighbour, element, holder) in adjacency.of(*from) {
                    let edge = if with_edges {
                        let Slot::List(items) = &self.store.records[holder as usize].slots[list_field.0 as usize] else { continue };
                        let Slot::Object(fields) = &items[element as usize] else { continue };
                        Some(Val::Edge { record: neighbour, element: fields })
                    } else {
                        None
                    };
                    match out.last_mut() {
                        Some(last) if matches!(last.body, Val::Entity(r) if r == neighbour) => last.edges.extend(edge),
                        _ => out.push(Element { body: Val::Entity(neighbour), edges: edge.into_iter().collect() }),
                    }
                }
                out
            }
            _ => Vec::new(),
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

/// SQL-like aggregates: absent values are skipped by the numeric ones;
/// `any` and `all` are Kleene; `share` counts the elements whose condition
/// is known.
fn aggregate(agg: Agg, values: &[Val<'_>]) -> Val<'static> {
    let numbers = || values.iter().filter_map(|v| if let Val::Number(n) = v { Some(*n) } else { None });
    match agg {
        Agg::Count => Val::Number(values.len() as f64),
        Agg::Sum => Val::Number(numbers().sum()),
        Agg::Min => numbers().reduce(f64::min).map_or(Val::Absent, Val::Number),
        Agg::Max => numbers().reduce(f64::max).map_or(Val::Absent, Val::Number),
        Agg::Mean => {
            let (n, s) = numbers().fold((0usize, 0.0), |(n, s), x| (n + 1, s + x));
            if n == 0 {
                Val::Absent
            } else {
                Val::Number(s / n as f64)
            }
        }
        Agg::Any => {
            if values.iter().any(|v| matches!(v, Val::Bool(true))) {
                Val::Bool(true)
            } else if values.iter().all(|v| matches!(v, Val::Bool(false))) {
                Val::Bool(false)
            } else {
                Val::Absent
            }
        }
        Agg::All => {
            if values.iter().any(|v| matches!(v, Val::Bool(false))) {
                Val::Bool(false)
            } else if values.iter().all(|v| matches!(v, Val::Bool(true))) {
                Val::Bool(true)
            } else {
                Val::Absent
            }
        }
        Agg::Share => {
            let known = values.iter().filter(|v| matches!(v, Val::Bool(_))).count();
            let yes = values.iter().filter(|v| matches!(v, Val::Bool(true))).count();
            if known == 0 {
                Val::Absent
            } else {
                Val::Number(yes as f64 / known as f64)
            }
        }
    }
}
