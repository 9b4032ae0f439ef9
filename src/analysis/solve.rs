//! The search: a conjunction of formulas split into cases, depth first.
//!
//! Literals and conjunctions are applied to the case at once (presence,
//! booleans and string literals are decided as they come: a conflict ends
//! the branch); a disjunction is split, the one with fewest open children
//! first. A complete case (a conjunction of literals) is decided by its
//! strings (`strings.rs`) and numbers (`numbers.rs`): refuted, or turned
//! into a record that the caller's `accept` (the real checker) must
//! confirm. Every branch counts against a budget; past it the answer is
//! `Unknown`.

use super::formula::{Formula, Lit, Node};
use super::numbers::{self, Atom};
use super::strings::{StrAnswer, StrConstraints, Strings};
use super::Rng;
use crate::ir::schema::{EntityId, Field, FieldId, FieldType};
use crate::ir::Program;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};

pub enum Answer {
    /// A record that satisfies the formulas, confirmed by `accept`.
    Sat(Value),
    /// No record does.
    Unsat,
    /// Not decided: outside the fragment, past the budget, or a case whose
    /// record the checker did not confirm.
    Unknown,
}

/// The cases (branches) one question may open.
pub const CASE_BUDGET: usize = 4_000;

/// One case being built: what its literals say so far.
#[derive(Clone, Default)]
struct Case {
    present: BTreeMap<FieldId, bool>,
    bools: BTreeMap<FieldId, bool>,
    strings: BTreeMap<FieldId, StrConstraints>,
    numbers: Vec<Atom>,
}

pub struct Solver<'a> {
    program: &'a Program,
    entity: EntityId,
    pub strings: Strings,
    pub rng: Rng,
    /// Spread values (sampling) rather than round ones (witnesses).
    pub random: bool,
    budget: usize,
}

impl<'a> Solver<'a> {
    pub fn new(program: &'a Program, entity: EntityId, seed: u64) -> Solver<'a> {
        Solver {
            program,
            entity,
            strings: Strings::new(program.regexes.iter().map(|(s, _)| s.clone()).collect()),
            rng: Rng::new(seed),
            random: seed != 0,
            budget: 0,
        }
    }

    fn fields(&self) -> &'a [Field] {
        &self.program.schema.entity(self.entity).fields
    }

    /// Whether some record satisfies every formula of `goal` (and the
    /// schema) and is accepted.
    pub fn solve(&mut self, goal: &[Formula], accept: &mut dyn FnMut(&Value) -> bool) -> Answer {
        self.budget = CASE_BUDGET;
        let mut case = Case::default();
        for (i, field) in self.fields().iter().enumerate() {
            if !field.optional {
                case.present.insert(FieldId(i as u32), true);
            }
        }
        self.search(case, goal.to_vec(), accept)
    }

    fn search(&mut self, mut case: Case, mut pending: Vec<Formula>, accept: &mut dyn FnMut(&Value) -> bool) -> Answer {
        if self.budget == 0 {
            return Answer::Unknown;
        }
        self.budget -= 1;
        let mut splits: Vec<Vec<Formula>> = Vec::new();
        while let Some(x) = pending.pop() {
            match &*x {
                Node::True => {}
                Node::False => return Answer::Unsat,
                Node::Lit(l) => {
                    if !self.add(&mut case, l) {
                        return Answer::Unsat;
                    }
                }
                Node::And(items) => pending.extend(items.iter().cloned()),
                Node::Or(items) => splits.push(items.clone()),
            }
        }
        // Drop the children the case already refutes; a disjunction with a
        // child the case already makes true is satisfied.
        let mut open: Vec<Vec<Formula>> = Vec::new();
        for items in splits {
            let mut kept = Vec::new();
            let mut done = false;
            for item in items {
                match self.quick(&case, &item) {
                    Some(true) => {
                        done = true;
                        break;
                    }
                    Some(false) => {}
                    None => kept.push(item),
                }
            }
            if done {
                continue;
            }
            if kept.is_empty() {
                return Answer::Unsat;
            }
            open.push(kept);
        }
        if open.is_empty() {
            return self.leaf(&case, accept);
        }
        let at = (0..open.len()).min_by_key(|i| open[*i].len()).expect("an open disjunction");
        let mut children = open.swap_remove(at);
        if self.random {
            self.rng.shuffle(&mut children);
        }
        let rest: Vec<Formula> = open.into_iter().map(super::formula::or).collect();
        let mut unknown = false;
        for child in children {
            let mut next = rest.clone();
            next.push(child);
            match self.search(case.clone(), next, accept) {
                Answer::Sat(v) => return Answer::Sat(v),
                Answer::Unknown => unknown = true,
                Answer::Unsat => {}
            }
        }
        if unknown {
            Answer::Unknown
        } else {
            Answer::Unsat
        }
    }

    /// Applies a literal; false on a conflict.
    fn add(&self, case: &mut Case, l: &Lit) -> bool {
        let set_present = |case: &mut Case, f: FieldId, p: bool| match case.present.get(&f) {
            Some(q) => *q == p,
            None => {
                case.present.insert(f, p);
                true
            }
        };
        match l {
            Lit::Present(f, p) => set_present(case, *f, *p),
            Lit::Bool(f, b) => {
                if !set_present(case, *f, true) {
                    return false;
                }
                match case.bools.get(f) {
                    Some(x) => x == b,
                    None => {
                        case.bools.insert(*f, *b);
                        true
                    }
                }
            }
            Lit::StrIn(f, set, negated) => {
                if !set_present(case, *f, true) {
                    return false;
                }
                let c = case.strings.entry(*f).or_default();
                if *negated {
                    c.excluded.extend(set.iter().cloned());
                } else {
                    c.within.push(set.clone());
                }
                // Conflicts among literals: every candidate excluded.
                match c.within.first() {
                    Some(first) => first.iter().any(|s| !c.excluded.contains(s) && c.within.iter().all(|w| w.contains(s))),
                    None => true,
                }
            }
            Lit::StrMatch(f, id, negated) => {
                if !set_present(case, *f, true) {
                    return false;
                }
                let c = case.strings.entry(*f).or_default();
                c.patterns.push((id.0 as usize, *negated));
                true
            }
            Lit::Num(a, op, b) => {
                case.numbers.push((a.clone(), *op, b.clone()));
                true
            }
        }
    }

    /// What the case already says of a formula (None: not yet known).
    fn quick(&self, case: &Case, x: &Formula) -> Option<bool> {
        match &**x {
            Node::True => Some(true),
            Node::False => Some(false),
            Node::Lit(l) => self.quick_lit(case, l),
            Node::And(items) => {
                let mut all = true;
                for i in items {
                    match self.quick(case, i) {
                        Some(false) => return Some(false),
                        Some(true) => {}
                        None => all = false,
                    }
                }
                all.then_some(true)
            }
            Node::Or(items) => {
                let mut none = true;
                for i in items {
                    match self.quick(case, i) {
                        Some(true) => return Some(true),
                        Some(false) => {}
                        None => none = false,
                    }
                }
                none.then_some(false)
            }
        }
    }

    fn quick_lit(&self, case: &Case, l: &Lit) -> Option<bool> {
        let present = |f: &FieldId| case.present.get(f).copied();
        match l {
            Lit::Present(f, p) => present(f).map(|q| q == *p),
            Lit::Bool(f, b) => match (present(f), case.bools.get(f)) {
                (Some(false), _) => Some(false),
                (_, Some(x)) => Some(x == b),
                _ => None,
            },
            Lit::StrIn(f, set, negated) => {
                if present(f) == Some(false) {
                    return Some(false);
                }
                let c = case.strings.get(f)?;
                let candidates: Vec<&std::sync::Arc<str>> = match c.within.first() {
                    Some(first) => first.iter().filter(|s| !c.excluded.contains(*s) && c.within.iter().all(|w| w.contains(*s))).collect(),
                    None => {
                        // Only exclusions known: a value of the set that is
                        // excluded is certainly not the value.
                        if !negated && set.iter().all(|s| c.excluded.contains(s)) {
                            return Some(false);
                        }
                        if *negated && set.iter().all(|s| c.excluded.contains(s)) {
                            return Some(true);
                        }
                        return None;
                    }
                };
                let inside = candidates.iter().filter(|s| set.contains(**s)).count();
                if inside == candidates.len() {
                    Some(!negated)
                } else if inside == 0 {
                    Some(*negated)
                } else {
                    None
                }
            }
            Lit::StrMatch(f, _, _) => {
                if present(f) == Some(false) {
                    Some(false)
                } else {
                    None
                }
            }
            Lit::Num(..) => None,
        }
    }

    /// A complete case: refuted, or a record for `accept`.
    fn leaf(&mut self, case: &Case, accept: &mut dyn FnMut(&Value) -> bool) -> Answer {
        let mut strings: HashMap<FieldId, String> = HashMap::new();
        let mut unknown = false;
        for (f, c) in &case.strings {
            match self.strings.solve(c, &mut self.rng) {
                StrAnswer::Value(s) => {
                    strings.insert(*f, s);
                }
                StrAnswer::Empty => return Answer::Unsat,
                StrAnswer::Unknown => unknown = true,
            }
        }
        let fields = self.fields();
        let is_integer = |f: FieldId| matches!(fields[f.0 as usize].ty, FieldType::Integer);
        if numbers::refute(&case.numbers, &is_integer) {
            return Answer::Unsat;
        }
        if unknown {
            return Answer::Unknown;
        }
        let Some(values) = numbers::model(&case.numbers, &is_integer, &mut self.rng, self.random) else { return Answer::Unknown };
        let record = self.record(case, &strings, &values);
        if accept(&record) {
            return Answer::Sat(record);
        }
        // The LP's values may sit a rounding error outside a boundary:
        // the same values rounded to nine significant digits.
        let rounded: HashMap<FieldId, f64> = values.iter().map(|(f, x)| (*f, round_to(*x, 9))).collect();
        if rounded != values {
            let record = self.record(case, &strings, &rounded);
            if accept(&record) {
                return Answer::Sat(record);
            }
        }
        Answer::Unknown
    }

    /// The record of a case: every required field, the optional ones the
    /// case makes present; values from the case, the rest plain.
    fn record(&self, case: &Case, strings: &HashMap<FieldId, String>, numbers: &HashMap<FieldId, f64>) -> Value {
        let mut object = Map::new();
        for (i, field) in self.fields().iter().enumerate() {
            let f = FieldId(i as u32);
            if field.optional && case.present.get(&f) != Some(&true) {
                continue;
            }
            let value = match &field.ty {
                FieldType::String => Value::String(strings.get(&f).cloned().unwrap_or_else(|| "x".into())),
                FieldType::Number | FieldType::Integer => number(numbers.get(&f).copied().unwrap_or(0.0), field.ty == FieldType::Integer),
                FieldType::Boolean => Value::Bool(case.bools.get(&f).copied().unwrap_or(false)),
                other => plain(other),
            };
            object.insert(field.name.clone(), value);
        }
        Value::Object(object)
    }
}

fn round_to(x: f64, digits: i32) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(digits - 1 - x.abs().log10().floor() as i32);
    let r = (x * scale).round() / scale;
    if r.is_finite() {
        r
    } else {
        x
    }
}

pub fn number(x: f64, integer: bool) -> Value {
    if (integer || x.fract() == 0.0) && x.abs() < 9.0e15 {
        Value::from(x as i64)
    } else {
        serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
    }
}

/// A value of a type that no constraint reads: an empty list, an object of
/// plain values.
fn plain(ty: &FieldType) -> Value {
    match ty {
        FieldType::String => Value::String("x".into()),
        FieldType::Number | FieldType::Integer => Value::from(0),
        FieldType::Boolean => Value::Bool(false),
        FieldType::List(_) => Value::Array(vec![]),
        FieldType::Object(fields) => Value::Object(fields.iter().filter(|f| !f.optional).map(|f| (f.name.clone(), plain(&f.ty))).collect()),
    }
}
