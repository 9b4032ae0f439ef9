//! The numeric part of one case: a conjunction of comparisons between
//! linear terms, decided twice.
//!
//! - `refute` proves that no record's floating-point values satisfy it.
//!   Each term is what the checker computes: a field, a constant, or a
//!   rounded computation, which becomes a variable of its own (the same
//!   computation, the same variable). A comparison of one variable with a
//!   constant is a bound, decided exactly on `f64` (a strict bound moves to
//!   the next float, or the next integer for an integer field); the
//!   comparisons between two variables go to the LP solver (microlp), a
//!   strict one with a margin of [`STRICT_MARGIN`]. Only an empty bound or
//!   an infeasible LP refutes.
//! - `model` looks for values over the reals (a term is its linear
//!   combination), with the integer fields integral (MILP); the record
//!   built from them is then checked by the real checker, which has the
//!   last word.

use super::formula::{Cmp, Float, Term};
use super::Rng;
use crate::ir::schema::FieldId;
use microlp::{ComparisonOp, OptimizationDirection, Problem};
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

/// How far apart two values compared with `<` must be for the LP part of
/// a refutation (docs/analysis.md, "Numbers").
pub const STRICT_MARGIN: f64 = 1e-6;
/// Witness values stay within these magnitudes, the smallest that works
/// (an LP's vertex sits on a bound when nothing else stops it).
const WITNESS_BOUNDS: [f64; 3] = [1e3, 1e6, 1e12];

pub type Atom = (Rc<Term>, Cmp, Rc<Term>);

/// A variable of the LP: a field, or a rounded computation (refutations).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Var {
    Field(FieldId),
    Rounded(Rc<str>),
}

/// `Σ coef·var + constant  cmp  0`.
struct Row {
    vars: BTreeMap<Var, f64>,
    constant: f64,
    cmp: Cmp,
}

fn refutation_side(t: &Term) -> (BTreeMap<Var, f64>, f64) {
    match &t.float {
        Float::Exact => (t.lin.vars.iter().map(|(f, c)| (Var::Field(*f), *c)).collect(), t.lin.constant),
        Float::Rounded { key, sign } => (BTreeMap::from([(Var::Rounded(key.clone()), *sign)]), 0.0),
    }
}

fn model_side(t: &Term) -> (BTreeMap<Var, f64>, f64) {
    (t.lin.vars.iter().map(|(f, c)| (Var::Field(*f), *c)).collect(), t.lin.constant)
}

/// `lhs - rhs cmp 0`, and whether the constant is exact (one side a
/// constant, the other none).
fn row(atom: &Atom, side: fn(&Term) -> (BTreeMap<Var, f64>, f64)) -> Row {
    let (mut vars, lc) = side(&atom.0);
    let (rv, rc) = side(&atom.2);
    for (v, c) in rv {
        *vars.entry(v).or_insert(0.0) -= c;
    }
    vars.retain(|_, c| *c != 0.0);
    Row { vars, constant: lc - rc, cmp: atom.1 }
}

/// Closed bounds of one variable.
#[derive(Clone, Copy, Debug)]
struct Bounds {
    lo: f64,
    hi: f64,
}

impl Bounds {
    fn any() -> Bounds {
        Bounds { lo: f64::NEG_INFINITY, hi: f64::INFINITY }
    }
    fn empty(&self) -> bool {
        self.lo > self.hi
    }
}

/// Applies `coef·v + constant cmp 0` (coef ±1, or ±2 with a zero constant)
/// to the bounds of `v`, exactly: `v < c` is `v <= next_down(c)`.
fn bound(b: &mut Bounds, coef: f64, constant: f64, cmp: Cmp, integer: bool) {
    // coef·v cmp -constant  ⇒  v cmp' limit.
    let limit = -constant / coef;
    let upper = coef > 0.0;
    let (strict, eq) = (cmp == Cmp::Lt, cmp == Cmp::Eq);
    if eq {
        b.lo = b.lo.max(limit);
        b.hi = b.hi.min(limit);
    } else if upper {
        let hi = if strict { limit.next_down() } else { limit };
        b.hi = b.hi.min(hi);
    } else {
        let lo = if strict { limit.next_up() } else { limit };
        b.lo = b.lo.max(lo);
    }
    if integer {
        b.lo = b.lo.ceil();
        b.hi = b.hi.floor();
    }
}

/// Whether the bound is exactly what the row says in floating point: one
/// variable, coefficient ±1 (or ±2 against zero: `x < -x`).
fn exact_bound(r: &Row) -> Option<(Var, f64)> {
    if r.vars.len() != 1 {
        return None;
    }
    let (v, c) = r.vars.iter().next().expect("one variable");
    (c.abs() == 1.0 || (c.abs() == 2.0 && r.constant == 0.0)).then(|| (v.clone(), *c))
}

/// True when no floating-point values satisfy the atoms.
pub fn refute(atoms: &[Atom], is_integer: &dyn Fn(FieldId) -> bool) -> bool {
    let rows: Vec<Row> = atoms.iter().map(|a| row(a, refutation_side)).collect();
    let mut bounds: BTreeMap<Var, Bounds> = BTreeMap::new();
    let mut multi = Vec::new();
    for r in &rows {
        if r.vars.is_empty() {
            let holds = match r.cmp {
                Cmp::Lt => r.constant < 0.0,
                Cmp::Le => r.constant <= 0.0,
                Cmp::Eq => r.constant == 0.0,
            };
            if !holds {
                return true;
            }
            continue;
        }
        match exact_bound(r) {
            Some((v, coef)) => {
                let integer = matches!(v, Var::Field(f) if is_integer(f));
                let b = bounds.entry(v).or_insert_with(Bounds::any);
                bound(b, coef, r.constant, r.cmp, integer);
                if b.empty() {
                    return true;
                }
            }
            None => multi.push(r),
        }
    }
    if multi.is_empty() {
        return false;
    }
    // The rest by LP, every variable continuous (a relaxation of the
    // integer fields, which keeps the refutation sound).
    let mut problem = Problem::new(OptimizationDirection::Minimize);
    let mut lp: BTreeMap<Var, microlp::Variable> = BTreeMap::new();
    for r in &multi {
        for v in r.vars.keys() {
            if !lp.contains_key(v) {
                let b = bounds.get(v).copied().unwrap_or_else(Bounds::any);
                lp.insert(v.clone(), problem.add_var(0.0, (b.lo, b.hi)));
            }
        }
    }
    for r in &multi {
        let expr: Vec<(microlp::Variable, f64)> = r.vars.iter().map(|(v, c)| (lp[v], *c)).collect();
        let (op, rhs) = match r.cmp {
            Cmp::Lt => (ComparisonOp::Le, -r.constant - STRICT_MARGIN),
            Cmp::Le => (ComparisonOp::Le, -r.constant),
            Cmp::Eq => (ComparisonOp::Eq, -r.constant),
        };
        problem.add_constraint(expr.as_slice(), op, rhs);
    }
    matches!(problem.solve(), Err(microlp::Error::Infeasible))
}

/// Values of the fields that satisfy the atoms over the reals (close
/// enough for the checker to judge), or None.
pub fn model(atoms: &[Atom], is_integer: &dyn Fn(FieldId) -> bool, rng: &mut Rng, random: bool) -> Option<HashMap<FieldId, f64>> {
    let rows: Vec<Row> = atoms.iter().map(|a| row(a, model_side)).collect();
    let mut bounds: BTreeMap<Var, Bounds> = BTreeMap::new();
    let mut multi = Vec::new();
    for r in &rows {
        match r.vars.len() {
            0 => {
                let holds = match r.cmp {
                    Cmp::Lt => r.constant < 0.0,
                    Cmp::Le => r.constant <= 0.0,
                    Cmp::Eq => r.constant == 0.0,
                };
                if !holds {
                    return None;
                }
            }
            1 => {
                let (v, c) = r.vars.iter().next().expect("one variable");
                let integer = matches!(v, Var::Field(f) if is_integer(*f));
                let b = bounds.entry(v.clone()).or_insert_with(Bounds::any);
                bound(b, *c, r.constant, r.cmp, integer);
                if b.empty() {
                    return None;
                }
            }
            _ => multi.push(r),
        }
    }
    let integer_of = |v: &Var| matches!(v, Var::Field(f) if is_integer(*f));
    let mut values: HashMap<FieldId, f64> = HashMap::new();
    if !multi.is_empty() {
        let solved = WITNESS_BOUNDS
            .iter()
            .find_map(|limit| solve_rows(&multi, &bounds, &integer_of, rng, random, true, *limit))
            .or_else(|| solve_rows(&multi, &bounds, &integer_of, rng, random, false, WITNESS_BOUNDS[2]))?;
        values.extend(solved);
    }
    for (v, b) in &bounds {
        if let Var::Field(f) = v {
            values.entry(*f).or_insert_with(|| pick(*b, integer_of(v), rng, random));
        }
    }
    Some(values)
}

/// The LP of the rows in more than one variable; `inside` keeps every
/// inequality a little inside its boundary, so that rounding on the way
/// to JSON does not cross it.
fn solve_rows(
    multi: &[&Row],
    bounds: &BTreeMap<Var, Bounds>,
    integer_of: &dyn Fn(&Var) -> bool,
    rng: &mut Rng,
    random: bool,
    inside: bool,
    limit: f64,
) -> Option<HashMap<FieldId, f64>> {
    let mut problem = Problem::new(OptimizationDirection::Minimize);
    let mut lp: BTreeMap<Var, microlp::Variable> = BTreeMap::new();
    for r in multi {
        for v in r.vars.keys() {
            if lp.contains_key(v) {
                continue;
            }
            let b = bounds.get(v).copied().unwrap_or_else(Bounds::any);
            let (lo, hi) = (b.lo.max(-limit), b.hi.min(limit));
            if lo > hi {
                return None;
            }
            let weight = if random { rng.unit() * 2.0 - 1.0 } else { 0.0 };
            let var = if integer_of(v) {
                let (lo, hi) = (lo.ceil().max(f64::from(i32::MIN)), hi.floor().min(f64::from(i32::MAX)));
                if lo > hi {
                    return None;
                }
                problem.add_integer_var(weight, (lo as i32, hi as i32))
            } else {
                problem.add_var(weight, (lo, hi))
            };
            lp.insert(v.clone(), var);
        }
    }
    for r in multi {
        let expr: Vec<(microlp::Variable, f64)> = r.vars.iter().map(|(v, c)| (lp[v], *c)).collect();
        let scale = 1.0 + r.constant.abs();
        let margin = if inside { 1e-6 * scale } else { 0.0 };
        let (op, rhs) = match r.cmp {
            Cmp::Lt => (ComparisonOp::Le, -r.constant - (1e-6 * scale).max(margin)),
            Cmp::Le => (ComparisonOp::Le, -r.constant - margin),
            Cmp::Eq => (ComparisonOp::Eq, -r.constant),
        };
        problem.add_constraint(expr.as_slice(), op, rhs);
    }
    let solution = problem.solve().ok()?.into_solution().ok()?;
    Some(
        lp.iter()
            .filter_map(|(v, var)| match v {
                Var::Field(f) => {
                    let x = solution.var_value(*var);
                    Some((*f, if integer_of(v) { x.round() } else { x }))
                }
                Var::Rounded(_) => None,
            })
            .collect(),
    )
}

/// A value within closed bounds: a round one for a witness (0 when it may
/// be, else the whole number nearest the bound that limits it, else the
/// roundest decimal), a spread one when `random`.
fn pick(b: Bounds, integer: bool, rng: &mut Rng, random: bool) -> f64 {
    let (lo, hi) = (b.lo, b.hi);
    let inside = |x: f64| x >= lo && x <= hi && (!integer || x.fract() == 0.0);
    if random {
        let (l, h) = (lo.max(-1e9), hi.min(1e9));
        if l <= h {
            let x = l + (h - l) * rng.unit();
            let x = if integer { x.round() } else { x };
            if inside(x) {
                return x;
            }
        }
    }
    if inside(0.0) {
        return 0.0;
    }
    let target = if lo.is_finite() && lo > 0.0 { lo } else { hi };
    // Whole numbers towards the inside of the bounds, then ever finer
    // roundings of the limiting bound.
    for candidate in [target.ceil(), target.floor(), target.ceil() + 1.0, target.floor() - 1.0] {
        if inside(candidate) {
            return candidate;
        }
    }
    for digits in 0..17 {
        let step = 10f64.powi(target.abs().log10().floor() as i32 - digits);
        for candidate in [(target / step).ceil() * step, (target / step).floor() * step] {
            if inside(candidate) {
                return candidate;
            }
        }
    }
    target
}
