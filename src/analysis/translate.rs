//! Typed IR → formulas, following `check::eval` case by case.
//!
//! Every value is a list of guarded cases (under this formula, the value is
//! that) plus the formula under which it is absent; every condition is
//! three formulas: when it is true, false and unknown. Anything the
//! fragment does not hold (lists, aggregates, other entities, products of
//! two fields, division by a field, comparing two string fields) is
//! `Unsupported`, and the rule is `unknown`.

use super::formula::{self as fm, Formula, Lit, Term};
use crate::ir::expr::{Arith, Builtin, Const, Expr, ExprKind, Pattern, TableId, VarId};
use crate::ir::schema::{EntityId, FieldId, FieldType};
use crate::ir::{Program, Rule, TableValue};
use crate::syntax::ast::CmpOp;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

/// Why a rule is outside the decided fragment (read in a debugger or a
/// `{:?}`; the listing says only `unknown`).
#[derive(Clone, Debug)]
pub struct Unsupported(#[allow(dead_code)] pub &'static str);

type R<T> = Result<T, Unsupported>;

#[derive(Clone, Debug)]
pub enum Val {
    Num(Rc<Term>),
    Str(StrVal),
    Bool(BoolVal),
}

#[derive(Clone, Debug)]
pub enum StrVal {
    Field(FieldId),
    Lit(Arc<str>),
}

#[derive(Clone, Debug)]
pub enum BoolVal {
    Field(FieldId),
    Lit(bool),
}

#[derive(Clone, Debug)]
pub struct Cases {
    pub present: Vec<(Formula, Val)>,
    pub absent: Formula,
}

impl Cases {
    fn one(v: Val) -> Cases {
        Cases { present: vec![(fm::t(), v)], absent: fm::f() }
    }
    fn none() -> Cases {
        Cases { present: vec![], absent: fm::t() }
    }
    fn present_formula(&self) -> Formula {
        fm::or(self.present.iter().map(|(g, _)| g.clone()))
    }
}

/// The outcomes of a condition: true, false, unknown (a partition).
#[derive(Clone, Debug)]
pub struct Tri {
    pub t: Formula,
    pub f: Formula,
    pub u: Formula,
}

impl Tri {
    /// Not false: the rule passes or does not apply.
    pub fn passes(&self) -> Formula {
        fm::or2(&self.t, &self.u)
    }
    fn constant(b: Option<bool>) -> Tri {
        match b {
            Some(true) => Tri { t: fm::t(), f: fm::f(), u: fm::f() },
            Some(false) => Tri { t: fm::f(), f: fm::t(), u: fm::f() },
            None => Tri { t: fm::f(), f: fm::f(), u: fm::t() },
        }
    }
    fn not(self) -> Tri {
        Tri { t: self.f, f: self.t, u: self.u }
    }
    fn and(a: &Tri, b: &Tri) -> Tri {
        Tri {
            t: fm::and2(&a.t, &b.t),
            f: fm::or2(&a.f, &b.f),
            u: fm::or([fm::and([a.u.clone(), fm::or2(&b.t, &b.u)]), fm::and2(&a.t, &b.u)]),
        }
    }
    fn or(a: &Tri, b: &Tri) -> Tri {
        Tri {
            t: fm::or2(&a.t, &b.t),
            f: fm::and2(&a.f, &b.f),
            u: fm::or([fm::and([a.u.clone(), fm::or2(&b.f, &b.u)]), fm::and2(&a.f, &b.u)]),
        }
    }
    /// The cases of a condition used as a value.
    fn cases(&self) -> Cases {
        Cases {
            present: vec![(self.t.clone(), Val::Bool(BoolVal::Lit(true))), (self.f.clone(), Val::Bool(BoolVal::Lit(false)))],
            absent: self.u.clone(),
        }
    }
}

/// Collects, per guard, the parts of a three-valued outcome.
#[derive(Default)]
struct TriBuilder {
    t: Vec<Formula>,
    f: Vec<Formula>,
    u: Vec<Formula>,
}

impl TriBuilder {
    fn add(&mut self, guard: &Formula, part: Tri) {
        self.t.push(fm::and2(guard, &part.t));
        self.f.push(fm::and2(guard, &part.f));
        self.u.push(fm::and2(guard, &part.u));
    }
    fn unknown(&mut self, guard: Formula) {
        self.u.push(guard);
    }
    fn build(self) -> Tri {
        Tri { t: fm::or(self.t), f: fm::or(self.f), u: fm::or(self.u) }
    }
}

pub struct Translator<'a> {
    pub program: &'a Program,
    pub entity: EntityId,
    lets: HashMap<VarId, Cases>,
    /// Expression nodes and set or table entries translated so far: a rule
    /// past `WORK_LIMIT` is left undecided, so a huge expression or a table
    /// of 100k entries keeps `lint` fast (tests/hostile_skills.rs).
    work: usize,
}

const WORK_LIMIT: usize = 4_000;

impl<'a> Translator<'a> {
    pub fn new(program: &'a Program, entity: EntityId) -> Translator<'a> {
        Translator { program, entity, lets: HashMap::new(), work: 0 }
    }

    /// The outcomes of a record rule (its `let`s bound first).
    pub fn rule(program: &'a Program, rule: &Rule) -> R<Tri> {
        if rule.needs_dataset || rule.scope != crate::ir::Scope::Entity {
            return Err(Unsupported("the rule reads other records"));
        }
        let mut tr = Translator::new(program, rule.entity);
        for (var, value) in &rule.lets {
            let cases = tr.value(value)?;
            tr.lets.insert(*var, cases);
        }
        tr.condition(&rule.expr)
    }

    fn field_type(&self, f: FieldId) -> &FieldType {
        &self.program.schema.field(self.entity, f).ty
    }

    fn spend(&mut self, amount: usize) -> R<()> {
        self.work += amount;
        if self.work > WORK_LIMIT {
            return Err(Unsupported("the rule is too large to analyse"));
        }
        Ok(())
    }

    pub fn condition(&mut self, e: &Expr) -> R<Tri> {
        self.spend(1)?;
        Ok(match &e.kind {
            ExprKind::Not(x) => self.condition(x)?.not(),
            ExprKind::And(a, b) => Tri::and(&self.condition(a)?, &self.condition(b)?),
            ExprKind::Or(a, b) => Tri::or(&self.condition(a)?, &self.condition(b)?),
            ExprKind::Implies(a, b) => Tri::or(&self.condition(a)?.not(), &self.condition(b)?),
            ExprKind::Compare(first, links) => {
                let mut lhs = self.value(first)?;
                let mut all = Tri::constant(Some(true));
                for link in links {
                    let rhs = self.value(&link.rhs)?;
                    let tolerance = match &link.tolerance {
                        None => None,
                        Some(tol) => Some((self.constant_number(&tol.amount)?, tol.relative)),
                    };
                    all = Tri::and(&all, &self.link(&lhs, link.op, tolerance, &rhs)?);
                    lhs = rhs;
                }
                all
            }
            ExprKind::InRange { value, lo, hi, lo_closed, hi_closed, negated } => {
                let (x, l, h) = (self.value(value)?, self.value(lo)?, self.value(hi)?);
                let mut out = TriBuilder::default();
                out.unknown(fm::or([x.absent.clone(), l.absent.clone(), h.absent.clone()]));
                for (gx, vx) in &x.present {
                    for (gl, vl) in &l.present {
                        for (gh, vh) in &h.present {
                            let guard = fm::and([gx.clone(), gl.clone(), gh.clone()]);
                            let (Val::Num(x), Val::Num(l), Val::Num(h)) = (vx, vl, vh) else {
                                out.unknown(guard);
                                continue;
                            };
                            let low = fm::compare(l, if *lo_closed { CmpOp::Le } else { CmpOp::Lt }, x);
                            let high = fm::compare(x, if *hi_closed { CmpOp::Le } else { CmpOp::Lt }, h);
                            let not_low = fm::compare(l, if *lo_closed { CmpOp::Gt } else { CmpOp::Ge }, x);
                            let not_high = fm::compare(x, if *hi_closed { CmpOp::Gt } else { CmpOp::Ge }, h);
                            let inside = fm::and2(&low, &high);
                            let outside = fm::or2(&not_low, &not_high);
                            let (t, f) = if *negated { (outside, inside) } else { (inside, outside) };
                            out.add(&guard, Tri { t, f, u: fm::f() });
                        }
                    }
                }
                out.build()
            }
            ExprKind::InSet { value, set, negated } => {
                self.spend(set.len())?;
                let x = self.value(value)?;
                let mut out = TriBuilder::default();
                out.unknown(x.absent.clone());
                for (g, v) in &x.present {
                    let found = self.in_set(v, set);
                    out.add(g, if *negated { found.not() } else { found });
                }
                out.build()
            }
            ExprKind::InKeys { value, keys, negated } => {
                let ExprKind::TableKeys(table) = &keys.kind else { return Err(Unsupported("keys of a collection")) };
                self.spend(self.program.tables[table.0 as usize].entries.len())?;
                let keys: Vec<Const> =
                    self.program.tables[table.0 as usize].entries.iter().map(|(k, _)| Const::String(k.as_str().into())).collect();
                let x = self.value(value)?;
                let mut out = TriBuilder::default();
                out.unknown(x.absent.clone());
                for (g, v) in &x.present {
                    match v {
                        Val::Str(_) => {
                            let found = self.in_set(v, &keys);
                            out.add(g, if *negated { found.not() } else { found });
                        }
                        _ => out.unknown(g.clone()),
                    }
                }
                out.build()
            }
            ExprKind::Matches(value, pattern) => {
                let x = self.value(value)?;
                let mut out = TriBuilder::default();
                out.unknown(x.absent.clone());
                // The regular expression, per case of a table key.
                let patterns: Vec<(Formula, crate::ir::expr::RegexId)> = match pattern {
                    Pattern::Static(id) => vec![(fm::t(), *id)],
                    Pattern::Table(table, key) => {
                        let (cases, missing) = self.lookup(*table, key)?;
                        out.unknown(missing);
                        cases
                            .into_iter()
                            .filter_map(|(g, v)| match v {
                                TableValue::Regex(id) => Some((g, id)),
                                _ => None,
                            })
                            .collect()
                    }
                };
                for (g, v) in &x.present {
                    let Val::Str(s) = v else {
                        out.unknown(g.clone());
                        continue;
                    };
                    for (gp, id) in &patterns {
                        let guard = fm::and2(g, gp);
                        let part = match s {
                            StrVal::Field(f) => {
                                Tri { t: fm::lit(Lit::StrMatch(*f, *id, false)), f: fm::lit(Lit::StrMatch(*f, *id, true)), u: fm::f() }
                            }
                            StrVal::Lit(text) => {
                                let source = &self.program.regexes[id.0 as usize].0;
                                let re = regex::Regex::new(&format!("^(?:{source})$")).map_err(|_| Unsupported("a regular expression"))?;
                                Tri::constant(Some(re.is_match(text)))
                            }
                        };
                        out.add(&guard, part);
                    }
                }
                out.build()
            }
            ExprKind::IsNull { value, negated } => {
                let x = self.value(value)?;
                let present = x.present_formula();
                let (t, f) = if *negated { (present, x.absent) } else { (x.absent, present) };
                Tri { t, f, u: fm::f() }
            }
            _ => {
                // A value used as a condition: true, false, or no boolean.
                let x = self.value(e)?;
                let mut out = TriBuilder::default();
                out.unknown(x.absent.clone());
                for (g, v) in &x.present {
                    match v {
                        Val::Bool(BoolVal::Lit(b)) => out.add(g, Tri::constant(Some(*b))),
                        Val::Bool(BoolVal::Field(f)) => {
                            out.add(g, Tri { t: fm::lit(Lit::Bool(*f, true)), f: fm::lit(Lit::Bool(*f, false)), u: fm::f() })
                        }
                        _ => out.unknown(g.clone()),
                    }
                }
                out.build()
            }
        })
    }

    /// Whether a present value is one of the constants (the checker's
    /// `InSet`: a number among the numbers, a string among the strings).
    fn in_set(&self, v: &Val, set: &[Const]) -> Tri {
        match v {
            Val::Num(x) => {
                let numbers: Vec<f64> = set.iter().filter_map(|c| if let Const::Number(n) = c { Some(*n) } else { None }).collect();
                let eq = |n: f64| fm::compare(x, CmpOp::Eq, &Rc::new(Term::constant_term(n)));
                let ne = |n: f64| fm::compare(x, CmpOp::Ne, &Rc::new(Term::constant_term(n)));
                Tri { t: fm::or(numbers.iter().map(|n| eq(*n))), f: fm::and(numbers.iter().map(|n| ne(*n))), u: fm::f() }
            }
            Val::Str(s) => {
                let strings: Vec<Arc<str>> =
                    set.iter().filter_map(|c| if let Const::String(s) = c { Some(s.clone()) } else { None }).collect();
                match s {
                    StrVal::Lit(text) => Tri::constant(Some(strings.iter().any(|s| s == text))),
                    StrVal::Field(f) => {
                        let strings = Arc::new(strings);
                        Tri { t: fm::lit(Lit::StrIn(*f, strings.clone(), false)), f: fm::lit(Lit::StrIn(*f, strings, true)), u: fm::f() }
                    }
                }
            }
            Val::Bool(b) => {
                let has = |x: bool| set.contains(&Const::Bool(x));
                match b {
                    BoolVal::Lit(x) => Tri::constant(Some(has(*x))),
                    BoolVal::Field(f) => {
                        let when = |x: bool| fm::lit(Lit::Bool(*f, x));
                        let (yes, no): (Vec<bool>, Vec<bool>) = [true, false].into_iter().partition(|x| has(*x));
                        Tri { t: fm::or(yes.into_iter().map(when)), f: fm::or(no.into_iter().map(when)), u: fm::f() }
                    }
                }
            }
        }
    }

    /// One link of a comparison chain (the checker's `compare`).
    fn link(&mut self, lhs: &Cases, op: CmpOp, tolerance: Option<(f64, bool)>, rhs: &Cases) -> R<Tri> {
        let mut out = TriBuilder::default();
        out.unknown(fm::or2(&lhs.absent, &rhs.absent));
        for (ga, a) in &lhs.present {
            for (gb, b) in &rhs.present {
                let guard = fm::and2(ga, gb);
                let part = match (a, b) {
                    (Val::Num(a), Val::Num(b)) => match tolerance {
                        None => Tri { t: fm::compare(a, op, b), f: fm::compare(a, op.negate(), b), u: fm::f() },
                        Some((amount, relative)) => {
                            // `(a - b).abs() <= band`, `!=` negating it.
                            let diff = Rc::new(a.sub(b));
                            let mut parts = TriBuilder::default();
                            let bands: Vec<(Formula, Rc<Term>)> = if relative {
                                let zero = Rc::new(Term::constant_term(0.0));
                                let k = Term::constant_term(amount);
                                let times = |x: &Term| k.mul(x).map(Rc::new).ok_or(Unsupported("a product"));
                                vec![(fm::compare(b, CmpOp::Ge, &zero), times(b)?), (fm::compare(b, CmpOp::Lt, &zero), times(&b.neg())?)]
                            } else {
                                vec![(fm::t(), Rc::new(Term::constant_term(amount.abs())))]
                            };
                            for (g, band) in bands {
                                let negated_diff = Rc::new(diff.neg());
                                let within = fm::and2(&fm::compare(&diff, CmpOp::Le, &band), &fm::compare(&negated_diff, CmpOp::Le, &band));
                                let outside = fm::or2(&fm::compare(&diff, CmpOp::Gt, &band), &fm::compare(&negated_diff, CmpOp::Gt, &band));
                                let (t, f) = if op == CmpOp::Ne { (outside, within) } else { (within, outside) };
                                parts.add(&g, Tri { t, f, u: fm::f() });
                            }
                            parts.build()
                        }
                    },
                    (Val::Str(a), Val::Str(b)) => match (a, b) {
                        (StrVal::Lit(x), StrVal::Lit(y)) => self.equality(op, Some(x == y)),
                        (StrVal::Field(f), StrVal::Lit(x)) | (StrVal::Lit(x), StrVal::Field(f)) => {
                            let set = Arc::new(vec![x.clone()]);
                            let (is, isnt) = (fm::lit(Lit::StrIn(*f, set.clone(), false)), fm::lit(Lit::StrIn(*f, set, true)));
                            match op {
                                CmpOp::Eq => Tri { t: is, f: isnt, u: fm::f() },
                                CmpOp::Ne => Tri { t: isnt, f: is, u: fm::f() },
                                _ => Tri::constant(None),
                            }
                        }
                        (StrVal::Field(_), StrVal::Field(_)) => return Err(Unsupported("two string fields compared")),
                    },
                    (Val::Bool(a), Val::Bool(b)) => {
                        let is = |v: &BoolVal, x: bool| match v {
                            BoolVal::Lit(y) => {
                                if *y == x {
                                    fm::t()
                                } else {
                                    fm::f()
                                }
                            }
                            BoolVal::Field(f) => fm::lit(Lit::Bool(*f, x)),
                        };
                        let same = fm::or2(&fm::and2(&is(a, true), &is(b, true)), &fm::and2(&is(a, false), &is(b, false)));
                        let differ = fm::or2(&fm::and2(&is(a, true), &is(b, false)), &fm::and2(&is(a, false), &is(b, true)));
                        match op {
                            CmpOp::Eq => Tri { t: same, f: differ, u: fm::f() },
                            CmpOp::Ne => Tri { t: differ, f: same, u: fm::f() },
                            _ => Tri::constant(None),
                        }
                    }
                    _ => self.equality(op, Some(false)),
                };
                out.add(&guard, part);
            }
        }
        Ok(out.build())
    }

    /// `==` / `!=` of two values whose equality is known; other operators
    /// have no value for them.
    fn equality(&self, op: CmpOp, equal: Option<bool>) -> Tri {
        match op {
            CmpOp::Eq => Tri::constant(equal),
            CmpOp::Ne => Tri::constant(equal.map(|e| !e)),
            _ => Tri::constant(None),
        }
    }

    fn constant_number(&mut self, e: &Expr) -> R<f64> {
        let cases = self.value(e)?;
        match cases.present.as_slice() {
            [(g, Val::Num(term))] if fm::is_true(g) && fm::is_false(&cases.absent) => {
                term.constant().ok_or(Unsupported("a tolerance that varies"))
            }
            _ => Err(Unsupported("a tolerance that varies")),
        }
    }

    /// The table's entries per case of the key, and when the key finds no
    /// entry (absent, not a string, not a key).
    fn lookup(&mut self, table: TableId, key: &Expr) -> R<(Vec<(Formula, TableValue)>, Formula)> {
        self.spend(self.program.tables[table.0 as usize].entries.len())?;
        let key = self.value(key)?;
        let entries = &self.program.tables[table.0 as usize].entries;
        let mut found = Vec::new();
        let mut missing = vec![key.absent.clone()];
        for (g, v) in &key.present {
            match v {
                Val::Str(StrVal::Lit(k)) => match entries.iter().find(|(name, _)| name.as_str() == &**k) {
                    Some((_, value)) => found.push((g.clone(), value.clone())),
                    None => missing.push(g.clone()),
                },
                Val::Str(StrVal::Field(f)) => {
                    for (name, value) in entries {
                        found.push((fm::and2(g, &fm::lit(Lit::StrIn(*f, Arc::new(vec![name.as_str().into()]), false))), value.clone()));
                    }
                    let keys: Arc<Vec<Arc<str>>> = Arc::new(entries.iter().map(|(k, _)| k.as_str().into()).collect());
                    missing.push(fm::and2(g, &fm::lit(Lit::StrIn(*f, keys, true))));
                }
                _ => missing.push(g.clone()),
            }
        }
        Ok((found, fm::or(missing)))
    }

    pub fn value(&mut self, e: &Expr) -> R<Cases> {
        self.spend(1)?;
        Ok(match &e.kind {
            ExprKind::Number(n) => Cases::one(Val::Num(Rc::new(Term::constant_term(*n)))),
            ExprKind::String(s) => Cases::one(Val::Str(StrVal::Lit(s.clone()))),
            ExprKind::Bool(b) => Cases::one(Val::Bool(BoolVal::Lit(*b))),
            ExprKind::Null => Cases::none(),
            ExprKind::SelfField(f) => {
                let field = self.program.schema.field(self.entity, *f);
                let v = match self.field_type(*f) {
                    FieldType::Number | FieldType::Integer => Val::Num(Rc::new(Term::field(*f))),
                    FieldType::String => Val::Str(StrVal::Field(*f)),
                    FieldType::Boolean => Val::Bool(BoolVal::Field(*f)),
                    FieldType::List(_) | FieldType::Object(_) => return Err(Unsupported("a list or object field")),
                };
                if field.optional {
                    Cases { present: vec![(fm::lit(Lit::Present(*f, true)), v)], absent: fm::lit(Lit::Present(*f, false)) }
                } else {
                    Cases::one(v)
                }
            }
            ExprKind::Var(v) => self.lets.get(v).cloned().ok_or(Unsupported("a bound variable"))?,
            ExprKind::Lookup(table, key) => {
                let (found, missing) = self.lookup(*table, key)?;
                let mut present = Vec::new();
                let mut absent = vec![missing];
                for (g, value) in found {
                    match value {
                        TableValue::Number(n) => present.push((g, Val::Num(Rc::new(Term::constant_term(n))))),
                        TableValue::String(s) => present.push((g, Val::Str(StrVal::Lit(s.as_str().into())))),
                        TableValue::Bool(b) => present.push((g, Val::Bool(BoolVal::Lit(b)))),
                        TableValue::Regex(_) => absent.push(g),
                    }
                }
                Cases { present, absent: fm::or(absent) }
            }
            ExprKind::Neg(x) => {
                let x = self.value(x)?;
                self.map_numbers(x, |t| Ok(Some(t.neg())))?
            }
            ExprKind::Coalesce(a, b) => {
                let (a, b) = (self.value(a)?, self.value(b)?);
                let mut present = a.present.clone();
                present.extend(b.present.iter().map(|(g, v)| (fm::and2(&a.absent, g), v.clone())));
                Cases { present, absent: fm::and2(&a.absent, &b.absent) }
            }
            ExprKind::Arith(op, a, b) => {
                let (a, b) = (self.value(a)?, self.value(b)?);
                let mut present = Vec::new();
                let mut absent = vec![a.absent.clone(), b.absent.clone()];
                for (ga, va) in &a.present {
                    for (gb, vb) in &b.present {
                        let guard = fm::and2(ga, gb);
                        let (Val::Num(x), Val::Num(y)) = (va, vb) else {
                            absent.push(guard);
                            continue;
                        };
                        let result = match op {
                            Arith::Add => Some(x.add(y)),
                            Arith::Sub => Some(x.sub(y)),
                            Arith::Mul => Some(x.mul(y).ok_or(Unsupported("a product of two fields"))?),
                            Arith::Div => x.div(y).map_err(|_| Unsupported("a division by a field"))?,
                        };
                        match result {
                            // NaN has no value either (only a constant can be one here).
                            Some(r) if !r.constant().is_some_and(f64::is_nan) => present.push((guard, Val::Num(Rc::new(r)))),
                            _ => absent.push(guard),
                        }
                    }
                }
                Cases { present, absent: fm::or(absent) }
            }
            ExprKind::If(c, then, otherwise) => {
                let c = self.condition(c)?;
                let then = self.value(then)?;
                let otherwise = match otherwise {
                    Some(o) => self.value(o)?,
                    None => Cases::one(Val::Bool(BoolVal::Lit(true))),
                };
                let mut present: Vec<(Formula, Val)> = then.present.iter().map(|(g, v)| (fm::and2(&c.t, g), v.clone())).collect();
                present.extend(otherwise.present.iter().map(|(g, v)| (fm::and2(&c.f, g), v.clone())));
                let absent = fm::or([c.u.clone(), fm::and2(&c.t, &then.absent), fm::and2(&c.f, &otherwise.absent)]);
                Cases { present, absent }
            }
            ExprKind::Call(Builtin::Abs, args) => {
                let x = self.value(&args[0])?;
                let mut present = Vec::new();
                let mut absent = vec![x.absent.clone()];
                let zero = Rc::new(Term::constant_term(0.0));
                for (g, v) in &x.present {
                    match v {
                        Val::Num(t) => {
                            present.push((fm::and2(g, &fm::compare(t, CmpOp::Ge, &zero)), Val::Num(t.clone())));
                            present.push((fm::and2(g, &fm::compare(t, CmpOp::Lt, &zero)), Val::Num(Rc::new(t.neg()))));
                        }
                        _ => absent.push(g.clone()),
                    }
                }
                Cases { present, absent: fm::or(absent) }
            }
            ExprKind::Call(Builtin::CurrentYear, _) => {
                Cases::one(Val::Num(Rc::new(Term::constant_term(f64::from(crate::check::utc_year())))))
            }
            ExprKind::Not(_)
            | ExprKind::And(..)
            | ExprKind::Or(..)
            | ExprKind::Implies(..)
            | ExprKind::Compare(..)
            | ExprKind::InRange { .. }
            | ExprKind::InSet { .. }
            | ExprKind::InKeys { .. }
            | ExprKind::Matches(..)
            | ExprKind::IsNull { .. } => self.condition(e)?.cases(),
            _ => return Err(Unsupported("lists, aggregates or other records")),
        })
    }

    fn map_numbers(&mut self, x: Cases, op: impl Fn(&Term) -> R<Option<Term>>) -> R<Cases> {
        let mut present = Vec::new();
        let mut absent = vec![x.absent];
        for (g, v) in x.present {
            match v {
                Val::Num(t) => match op(&t)? {
                    Some(r) => present.push((g, Val::Num(Rc::new(r)))),
                    None => absent.push(g),
                },
                _ => absent.push(g),
            }
        }
        Ok(Cases { present, absent: fm::or(absent) })
    }
}
