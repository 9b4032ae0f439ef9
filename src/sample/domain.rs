//! Per-field domains read off the compiled rules: the values, bounds and
//! patterns the reject rules allow a field, so a drawn record starts near
//! what the checker accepts and the repair loop has little to do. Nothing
//! here knows a field: everything comes from the IR and the schema.
//!
//! Only a condition a rule requires whenever it applies narrows a domain
//! (a conjunct of the body, the test of `x is null or test`, the body of
//! `all(o in list: …)`); a condition behind `implies`, `if` or `or` is a
//! case, not a bound: its literals become values the field is *mentioned*
//! with, which the drawer picks among when nothing narrower is known.

use crate::check::Compiled;
use crate::ir::expr::{Access, Agg, Arith, Builtin, Const, Expr, ExprKind, Pattern, RegexId, TableId};
use crate::ir::schema::{FieldId, FieldType};
use crate::ir::{Scope, Severity, TableValue};
use crate::syntax::ast::CmpOp;
use serde_json::Value;
use std::collections::BTreeMap;

/// Where a value sits in a record: a field of the entity, or (for a list
/// field) its scalar elements (`None`) or the n-th field of its object
/// elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Slot {
    Field(FieldId),
    Element(FieldId, Option<usize>),
}

/// What the rules say about the values of one slot.
#[derive(Clone, Debug, Default)]
pub struct Domain {
    /// The values it must take: the intersection of the sets the required
    /// conditions confine it to (`f in {…}`, `f == "x"`, `f in table`).
    pub set: Option<Vec<Const>>,
    /// Values it must not take.
    pub excluded: Vec<Const>,
    /// Literals and sets it is compared with in conditions: the cases.
    pub mentioned: Vec<Const>,
    /// Patterns it must match whenever it is present.
    pub patterns: Vec<RegexId>,
    /// Patterns it matches in some case (behind a condition).
    pub case_patterns: Vec<RegexId>,
    /// `f matches table[g]`: the pattern is the table's entry for the value
    /// of slot `g`.
    pub table_pattern: Option<(TableId, Slot)>,
    /// The tightest lower and upper bounds (value, inclusive).
    pub lo: Option<(f64, bool)>,
    pub hi: Option<(f64, bool)>,
    /// Values of the slot in the skills' passing examples, in file order.
    pub examples: Vec<Value>,
}

impl Domain {
    fn bound(&mut self, op: CmpOp, x: f64) {
        let tighter_lo = |cur: Option<(f64, bool)>, x: f64, inc: bool| match cur {
            Some((c, ci)) if c > x || (c == x && !ci) => Some((c, ci)),
            _ => Some((x, inc)),
        };
        let tighter_hi = |cur: Option<(f64, bool)>, x: f64, inc: bool| match cur {
            Some((c, ci)) if c < x || (c == x && !ci) => Some((c, ci)),
            _ => Some((x, inc)),
        };
        match op {
            CmpOp::Gt => self.lo = tighter_lo(self.lo, x, false),
            CmpOp::Ge => self.lo = tighter_lo(self.lo, x, true),
            CmpOp::Lt => self.hi = tighter_hi(self.hi, x, false),
            CmpOp::Le => self.hi = tighter_hi(self.hi, x, true),
            CmpOp::Eq => self.restrict(vec![Const::Number(x)]),
            CmpOp::Ne => self.excluded.push(Const::Number(x)),
        }
    }

    fn restrict(&mut self, values: Vec<Const>) {
        self.set = Some(match self.set.take() {
            None => values,
            Some(old) => old.into_iter().filter(|v| values.contains(v)).collect(),
        });
    }

    fn mention(&mut self, values: impl IntoIterator<Item = Const>) {
        for v in values {
            if !self.mentioned.contains(&v) {
                self.mentioned.push(v);
            }
        }
    }
}

/// The domains of every slot of the sampled entity.
#[derive(Clone, Debug, Default)]
pub struct Domains {
    pub slots: BTreeMap<Slot, Domain>,
}

impl Domains {
    pub fn get(&self, slot: Slot) -> Option<&Domain> {
        self.slots.get(&slot)
    }

    fn at(&mut self, slot: Slot) -> &mut Domain {
        self.slots.entry(slot).or_default()
    }
}

/// Reads the domains off the entity's reject rules (record-local and
/// cross-entity alike: a bound is a bound) and the passing examples.
pub fn derive(c: &Compiled) -> Domains {
    let mut reader = Reader { c, domains: Domains::default(), vars: BTreeMap::new() };
    for rule in &c.program.rules {
        if rule.severity != Severity::Reject || rule.scope != Scope::Entity || rule.entity != c.entity {
            continue;
        }
        reader.vars.clear();
        reader.visit(&rule.expr, true);
    }
    let mut domains = reader.domains;
    collect_examples(c, &mut domains);
    domains
}

struct Reader<'c> {
    c: &'c Compiled,
    domains: Domains,
    /// Variables bound over a list field of the record.
    vars: BTreeMap<u32, FieldId>,
}

impl Reader<'_> {
    /// The slot an expression reads directly.
    fn slot(&self, e: &Expr) -> Option<Slot> {
        match &e.kind {
            ExprKind::SelfField(f) => Some(Slot::Field(*f)),
            ExprKind::Var(v) => self.vars.get(&v.0).map(|l| Slot::Element(*l, None)),
            ExprKind::Get(base, Access::Object(i)) => match &base.kind {
                ExprKind::Var(v) => self.vars.get(&v.0).map(|l| Slot::Element(*l, Some(*i))),
                _ => None,
            },
            _ => None,
        }
    }

    /// The value of a constant expression.
    fn constant(&self, e: &Expr) -> Option<Const> {
        Some(match &e.kind {
            ExprKind::Number(n) => Const::Number(*n),
            ExprKind::String(s) => Const::String(s.clone()),
            ExprKind::Bool(b) => Const::Bool(*b),
            ExprKind::Neg(x) => Const::Number(-self.number(x)?),
            ExprKind::Call(Builtin::CurrentYear, _) => Const::Number(f64::from(self.c.current_year)),
            ExprKind::Arith(op, a, b) => {
                let (a, b) = (self.number(a)?, self.number(b)?);
                Const::Number(match op {
                    Arith::Add => a + b,
                    Arith::Sub => a - b,
                    Arith::Mul => a * b,
                    Arith::Div if b != 0.0 => a / b,
                    Arith::Div => return None,
                })
            }
            _ => return None,
        })
    }

    fn number(&self, e: &Expr) -> Option<f64> {
        match self.constant(e)? {
            Const::Number(n) => Some(n),
            _ => None,
        }
    }

    fn table_keys(&self, t: TableId) -> Vec<Const> {
        self.c.program.tables[t.0 as usize].entries.iter().map(|(k, _)| Const::String(k.as_str().into())).collect()
    }

    /// `required`: the condition holds whenever the rule passes.
    fn visit(&mut self, e: &Expr, required: bool) {
        match &e.kind {
            ExprKind::And(a, b) => {
                self.visit(a, required);
                self.visit(b, required);
            }
            // `f is null or test`: the test holds whenever f is present,
            // and the drawer draws only present values from a domain.
            ExprKind::Or(a, b) if is_null_test(a) => self.visit(b, required),
            ExprKind::Or(a, b) if is_null_test(b) => self.visit(a, required),
            ExprKind::Or(a, b) | ExprKind::Implies(a, b) => {
                self.visit(a, false);
                self.visit(b, false);
            }
            ExprKind::If(cond, then, otherwise) => {
                self.visit(cond, false);
                self.visit(then, false);
                if let Some(o) = otherwise {
                    self.visit(o, false);
                }
            }
            ExprKind::Not(x) => self.visit(x, false),
            ExprKind::Agg { agg: Agg::All, var, source, filter, body: Some(body) } => {
                if let ExprKind::SelfField(list) = source.kind {
                    self.vars.insert(var.0, list);
                }
                if let Some(f) = filter {
                    self.visit(f, false);
                }
                self.visit(body, required && filter.is_none());
            }
            ExprKind::Compare(first, links) => {
                let mut lhs = first.as_ref();
                for link in links {
                    if link.tolerance.is_none() {
                        self.compare(lhs, link.op, &link.rhs, required);
                    }
                    lhs = &link.rhs;
                }
            }
            ExprKind::InRange { value, lo, hi, lo_closed, hi_closed, negated: false } => {
                let (Some(slot), Some(lo), Some(hi)) = (self.slot(value), self.number(lo), self.number(hi)) else { return };
                if required {
                    let d = self.domains.at(slot);
                    d.bound(if *lo_closed { CmpOp::Ge } else { CmpOp::Gt }, lo);
                    d.bound(if *hi_closed { CmpOp::Le } else { CmpOp::Lt }, hi);
                }
            }
            ExprKind::InSet { value, set, negated } => {
                let Some(slot) = self.slot(value) else { return };
                let d = self.domains.at(slot);
                match (required, negated) {
                    (true, false) => d.restrict(set.to_vec()),
                    (true, true) => d.excluded.extend(set.iter().cloned()),
                    _ => {}
                }
                d.mention(set.iter().cloned());
            }
            ExprKind::InKeys { value, keys, negated } => {
                let (Some(slot), ExprKind::TableKeys(t)) = (self.slot(value), &keys.kind) else { return };
                let keys = self.table_keys(*t);
                let d = self.domains.at(slot);
                if required && !negated {
                    d.restrict(keys.clone());
                }
                d.mention(keys);
            }
            ExprKind::Matches(value, pattern) => {
                let Some(slot) = self.slot(value) else { return };
                match pattern {
                    Pattern::Static(r) => {
                        let d = self.domains.at(slot);
                        if required {
                            d.patterns.push(*r);
                        } else {
                            d.case_patterns.push(*r);
                        }
                    }
                    Pattern::Table(t, key) => {
                        if let Some(key_slot) = self.slot(key) {
                            let keys = self.table_keys(*t);
                            self.domains.at(slot).table_pattern = Some((*t, key_slot));
                            self.domains.at(key_slot).mention(keys);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// `lhs op rhs`, one side a slot and the other a constant.
    fn compare(&mut self, lhs: &Expr, op: CmpOp, rhs: &Expr, required: bool) {
        let (slot, op, value) = match (self.slot(lhs), self.constant(rhs), self.slot(rhs), self.constant(lhs)) {
            (Some(s), Some(v), _, _) => (s, op, v),
            (_, _, Some(s), Some(v)) => (s, op.swapped(), v),
            _ => return,
        };
        let d = self.domains.at(slot);
        match value {
            Const::Number(x) if required => d.bound(op, x),
            Const::String(_) | Const::Bool(_) if required && op == CmpOp::Eq => d.restrict(vec![value.clone()]),
            Const::String(_) | Const::Bool(_) if required && op == CmpOp::Ne => d.excluded.push(value.clone()),
            _ => {}
        }
        if !matches!(value, Const::Number(_)) {
            d.mention([value]);
        }
    }
}

fn is_null_test(e: &Expr) -> bool {
    matches!(e.kind, ExprKind::IsNull { negated: false, .. })
}

/// The values of every slot in the passing example records, in file
/// order, at most 32 distinct a slot.
fn collect_examples(c: &Compiled, domains: &mut Domains) {
    let entity = c.program.schema.entity(c.entity);
    let add = |domains: &mut Domains, slot: Slot, v: &Value| {
        let d = domains.at(slot);
        if !v.is_null() && d.examples.len() < 32 && !d.examples.contains(v) {
            d.examples.push(v.clone());
        }
    };
    for example in c.program.examples.iter().filter(|e| e.verdict == crate::skill::ExampleVerdict::Pass) {
        for (_, line) in &example.lines {
            let Ok(Value::Object(record)) = serde_json::from_str::<Value>(line) else { continue };
            for (i, field) in entity.fields.iter().enumerate() {
                let id = FieldId(i as u32);
                let Some(value) = record.get(&field.name) else { continue };
                match (&field.ty, value) {
                    (FieldType::List(item), Value::Array(items)) => {
                        for item_value in items {
                            match (item.as_ref(), item_value) {
                                (FieldType::Object(fields), Value::Object(obj)) => {
                                    for (k, f) in fields.iter().enumerate() {
                                        if let Some(v) = obj.get(&f.name) {
                                            add(domains, Slot::Element(id, Some(k)), v);
                                        }
                                    }
                                }
                                (_, v) => add(domains, Slot::Element(id, None), v),
                            }
                        }
                    }
                    (_, v) => add(domains, Slot::Field(id), v),
                }
            }
        }
    }
}

/// The regular expression a table entry holds, if it holds one.
pub fn table_regex(c: &Compiled, table: TableId, key: &str) -> Option<RegexId> {
    match c.tables.get(table.0 as usize)?.get(key)? {
        TableValue::Regex(r) => Some(*r),
        _ => None,
    }
}
