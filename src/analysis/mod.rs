//! The rule analysis: what the record-local rules allow, decided without
//! data. A second reader of `ir::Program`, after `check` in the pipeline:
//! it only calls the checker's public API, to confirm every record it
//! builds.
//!
//! Each record-local rule is translated (`translate.rs`) into three
//! formulas over one record, when it passes, fails or does not apply,
//! following `check::eval`'s three-valued semantics; the search
//! (`solve.rs`) splits a question into cases over the finite domains
//! (presence, booleans, string literals, table keys) and decides each case
//! by its strings (DFAs) and numbers (bounds and LP). What it decides
//! (docs/analysis.md):
//!
//! - `rule-unsatisfiable`: no record passes the rule;
//! - `rule-vacuous`: no record fails it;
//! - `flag-implied`: a flag rule fires only on records reject rules reject;
//! - `rules-contradict`: reject rules that together reject every record of
//!   a case (one field's value, presence or absence), or every record.
//!
//! A rule outside the fragment is `unknown` and is never the subject of a
//! finding; leaving it out of a conjunction only makes fewer records fail,
//! so "no record passes these" stays true of the whole program.
//! [`find_record`] is the same search for one record that passes every
//! record-local reject rule and extra conditions (`skillc sample`).

mod findings;
mod formula;
mod numbers;
mod solve;
mod strings;
mod translate;
mod verify;

pub use findings::{analyse, Analysis};
pub use verify::is_local;

use crate::ir::expr::Expr;
use crate::ir::schema::EntityId;
use crate::ir::{Program, Rule, Severity};
use serde_json::Value;
use solve::{Answer, Solver};
use translate::Translator;

/// What [`find_record`] found.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// A record (a JSON object) that the checker accepts under every
    /// record-local reject rule of the entity, and for which every extra
    /// condition holds.
    Witness(Value),
    /// No record passes the schema, the decided reject rules and the extra
    /// conditions together.
    Unsat,
    /// Not decided (a condition outside the fragment, the budget, or no
    /// candidate the checker confirmed).
    Unknown,
}

/// Whether the analysis decides each rule of the program (by index): a
/// record-local rule inside the fragment.
pub fn decided(program: &Program) -> Vec<bool> {
    program.rules.iter().map(|r| is_local(r) && Translator::rule(program, r).is_ok()).collect()
}

/// A record of `entity` that passes every record-local reject rule and
/// for which each of `extra` (conditions lowered against `entity`, like a
/// rule body) is true. `seed` 0 gives plain values (zeros, the shortest
/// strings); any other seed spreads them, deterministically for the seed.
pub fn find_record(program: &Program, entity: EntityId, extra: &[&Expr], seed: u64) -> Outcome {
    let mut goal = Vec::new();
    for rule in program.rules.iter().filter(|r| r.entity == entity && r.severity == Severity::Reject && is_local(r)) {
        // A rule outside the fragment is left to the checker's confirmation.
        if let Ok(tri) = Translator::rule(program, rule) {
            goal.push(tri.passes());
        }
    }
    let mut extra_rules = Vec::new();
    for (k, e) in extra.iter().enumerate() {
        let mut tr = Translator::new(program, entity);
        let Ok(tri) = tr.condition(e) else { return Outcome::Unknown };
        goal.push(tri.t);
        extra_rules.push(condition_rule(entity, k, e));
    }
    let extra_count = extra_rules.len();
    let Some(verifier) = verify::Verifier::new(program, entity, extra_rules) else { return Outcome::Unknown };
    let rejects: Vec<usize> = program
        .rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.entity == entity && r.severity == Severity::Reject && is_local(r))
        .map(|(i, _)| i)
        .collect();
    let first_extra = program.rules.len();
    let mut accept = |record: &Value| match verifier.failures(record) {
        Some(failed) => {
            rejects.iter().all(|i| !failed.contains(i)) && (first_extra..first_extra + extra_count).all(|i| !failed.contains(&i))
        }
        None => false,
    };
    let mut solver = Solver::new(program, entity, seed);
    match solver.solve(&goal, &mut accept) {
        Answer::Sat(record) => Outcome::Witness(record),
        Answer::Unsat => Outcome::Unsat,
        Answer::Unknown => Outcome::Unknown,
    }
}

/// An extra condition as a rule for the checker to confirm: it fails
/// unless the condition is true (`cond is not null and cond`: an unknown
/// condition is null, and a rule that ends unknown would pass).
fn condition_rule(entity: EntityId, k: usize, e: &Expr) -> Rule {
    use crate::ir::expr::{ExprKind, Ty};
    use crate::ir::{Kind, Scope};
    let span = e.span;
    let boxed = Box::new(e.clone());
    let known = Expr { kind: ExprKind::IsNull { value: boxed.clone(), negated: true }, ty: Ty::Bool, span };
    let expr = Expr { kind: ExprKind::And(Box::new(known), boxed), ty: Ty::Bool, span };
    Rule {
        id: format!("where-{k}"),
        skill: String::new(),
        file: span.file,
        span,
        message: String::new(),
        severity: Severity::Reject,
        scope: Scope::Entity,
        kind: Kind::CrossField,
        entity,
        lets: Vec::new(),
        expr,
        var_count: 0,
        var_names: Vec::new(),
        own_fields: Vec::new(),
        element_fields: Vec::new(),
        needs_dataset: false,
    }
}

/// A small deterministic generator (SplitMix64): case order, string walks
/// and spread values for a seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}
