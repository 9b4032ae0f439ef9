//! The four findings, each confirmed before it is reported: a witness the
//! checker judges as the finding says, and sets of rules made minimal by
//! asking again without each rule.

use super::formula::{self as fm, CaseAtom, Formula};
use super::solve::{Answer, Solver};
use super::translate::{Translator, Tri};
use super::verify::{is_local, Verifier};
use crate::diagnostic::{Code, Diagnostic};
use crate::ir::schema::EntityId;
use crate::ir::{Program, Severity};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Past this, the questions left are not asked (and nothing is reported
/// of them): the analysis must not hold up a lint.
const DEADLINE: Duration = Duration::from_millis(1500);

/// How the checker must judge a record built for a question: the rules it
/// fails, and the record.
type Accept<'x> = dyn Fn(&BTreeSet<usize>, &Value) -> bool + 'x;

pub struct Analysis {
    /// Warnings, in rule order.
    pub diagnostics: Vec<Diagnostic>,
    /// Per rule of the program: inside the decided fragment.
    pub decided: Vec<bool>,
}

/// Analyses the record-local rules of every entity.
pub fn analyse(program: &Program) -> Analysis {
    let started = Instant::now();
    let mut decided = vec![false; program.rules.len()];
    let mut diagnostics = Vec::new();
    let entities: BTreeSet<EntityId> = program.rules.iter().filter(|r| is_local(r)).map(|r| r.entity).collect();
    for entity in entities {
        let mut run = Run::new(program, entity, started);
        for (i, tri) in &run.tris {
            decided[*i] = tri.is_some();
        }
        run.findings(&mut diagnostics);
    }
    diagnostics.retain(|d| !program.allowed.iter().any(|(file, codes)| *file == d.primary.span.file && codes.contains(&d.code)));
    Analysis { diagnostics, decided }
}

struct Run<'a> {
    program: &'a Program,
    entity: EntityId,
    started: Instant,
    /// The entity's record-local rules (program index) and their outcomes,
    /// None outside the fragment.
    tris: Vec<(usize, Option<Tri>)>,
    verifier: Option<Verifier>,
    solver: Solver<'a>,
}

impl<'a> Run<'a> {
    fn new(program: &'a Program, entity: EntityId, started: Instant) -> Run<'a> {
        let tris = program
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.entity == entity && is_local(r))
            .map(|(i, r)| (i, Translator::rule(program, r).ok()))
            .collect();
        Run {
            program,
            entity,
            started,
            tris,
            verifier: Verifier::new(program, entity, Vec::new()),
            solver: Solver::new(program, entity, 0),
        }
    }

    fn late(&self) -> bool {
        self.started.elapsed() > DEADLINE
    }

    /// Asks for a record satisfying `goal` that the checker judges as
    /// `accept` says.
    fn ask(&mut self, goal: &[Formula], accept: &Accept<'_>) -> Answer {
        if self.late() {
            return Answer::Unknown;
        }
        let Some(verifier) = &self.verifier else { return Answer::Unknown };
        let mut check = |record: &Value| match verifier.failures(record) {
            Some(failed) => accept(&failed, record),
            None => false,
        };
        self.solver.solve(goal, &mut check)
    }

    fn rule_name(&self, i: usize) -> String {
        format!("`{}`", self.program.rules[i].id)
    }

    fn entity_name(&self) -> &str {
        &self.program.schema.entity(self.entity).name
    }

    fn findings(&mut self, out: &mut Vec<Diagnostic>) {
        let decided: Vec<(usize, Tri)> = self.tris.iter().filter_map(|(i, t)| t.clone().map(|t| (*i, t))).collect();
        // Per rule: can a record pass it, can one fail it.
        let mut satisfiable = Vec::new();
        let mut fails_on: BTreeMap<usize, Value> = BTreeMap::new();
        for (i, tri) in &decided {
            let i = *i;
            match self.ask(&[tri.passes()], &|failed, _| !failed.contains(&i)) {
                Answer::Unsat => out.push(self.unsatisfiable(i)),
                Answer::Sat(_) => satisfiable.push(i),
                Answer::Unknown => {}
            }
            match self.ask(std::slice::from_ref(&tri.f), &|failed, _| failed.contains(&i)) {
                Answer::Unsat => out.push(self.vacuous(i)),
                Answer::Sat(record) => {
                    fails_on.insert(i, record);
                }
                Answer::Unknown => {}
            }
        }
        let passes: BTreeMap<usize, Formula> = decided.iter().map(|(i, t)| (*i, t.passes())).collect();
        let rejects: Vec<usize> = satisfiable.iter().copied().filter(|i| self.program.rules[*i].severity == Severity::Reject).collect();

        // Flags that only fire where a reject rule rejects.
        for (i, tri) in &decided {
            let i = *i;
            if self.program.rules[i].severity != Severity::Flag || !fails_on.contains_key(&i) || !satisfiable.contains(&i) {
                continue;
            }
            let fires =
                |set: &[usize]| -> Vec<Formula> { std::iter::once(tri.f.clone()).chain(set.iter().map(|r| passes[r].clone())).collect() };
            let unsat = |run: &mut Run, set: &[usize]| {
                let owned = set.to_vec();
                matches!(
                    run.ask(&fires(set), &move |failed, _| failed.contains(&i) && owned.iter().all(|r| !failed.contains(r))),
                    Answer::Unsat
                )
            };
            if !unsat(self, &rejects) {
                continue;
            }
            let core = self.minimise(&rejects, 1, &unsat);
            // The record the flag fires on must be rejected by the core.
            let witness = &fails_on[&i];
            let Some(failed) = self.verifier.as_ref().and_then(|v| v.failures(witness)) else { continue };
            let rejecting: Vec<usize> = core.iter().copied().filter(|r| failed.contains(r)).collect();
            if rejecting.is_empty() {
                continue;
            }
            out.push(self.flag_implied(i, &core, &rejecting, witness));
        }

        // Reject rules that together reject every record, or every record
        // of a case.
        let all: Vec<Formula> = rejects.iter().map(|r| passes[r].clone()).collect();
        let pass_all = |set: &[usize]| -> Box<Accept<'_>> {
            let owned = set.to_vec();
            Box::new(move |failed: &BTreeSet<usize>, _: &Value| owned.iter().all(|r| !failed.contains(r)))
        };
        let mut reported: BTreeMap<Vec<usize>, Vec<Option<CaseAtom>>> = BTreeMap::new();
        match self.ask(&all, &*pass_all(&rejects)) {
            Answer::Unsat => {
                if let Some(core) = self.contradiction(None, &rejects, &passes) {
                    reported.entry(core).or_default().push(None);
                }
            }
            Answer::Sat(_) => {
                let mut atoms = BTreeSet::new();
                all.iter().for_each(|x| fm::case_atoms(x, &mut atoms));
                let optional = |f: crate::ir::schema::FieldId| self.program.schema.field(self.entity, f).optional;
                atoms.retain(|a| !matches!(a, CaseAtom::Present(f, _) if !optional(*f)));
                for atom in atoms {
                    let mut goal = all.clone();
                    goal.push(atom.formula());
                    let accept = pass_all(&rejects);
                    let in_case = atom.clone();
                    let program = self.program;
                    let fields = &program.schema.entity(self.entity).fields;
                    let holds =
                        move |failed: &BTreeSet<usize>, record: &Value| accept(failed, record) && case_holds(&in_case, fields, record);
                    if matches!(self.ask(&goal, &holds), Answer::Unsat) {
                        if let Some(core) = self.contradiction(Some(&atom), &rejects, &passes) {
                            reported.entry(core).or_default().push(Some(atom));
                        }
                    }
                }
            }
            Answer::Unknown => {}
        }
        for (core, mut cases) in reported {
            // A field's presence covers each of its values.
            let covered: Vec<crate::ir::schema::FieldId> =
                cases.iter().filter_map(|c| if let Some(CaseAtom::Present(f, true)) = c { Some(*f) } else { None }).collect();
            cases.retain(|c| !matches!(c, Some(CaseAtom::Value(f, _) | CaseAtom::Bool(f, _)) if covered.contains(f)));
            if let Some(d) = self.contradict(&core, &cases, &rejects, &passes) {
                out.push(d);
            }
        }
    }

    /// The smallest set of `rules` (by removing one rule at a time) for
    /// which `unsat` still holds, keeping at least `floor` rules.
    fn minimise(&mut self, rules: &[usize], floor: usize, unsat: &dyn Fn(&mut Run, &[usize]) -> bool) -> Vec<usize> {
        let mut core = rules.to_vec();
        let mut k = 0;
        while k < core.len() && core.len() > floor {
            let mut without = core.clone();
            without.remove(k);
            if unsat(self, &without) {
                core = without;
            } else {
                k += 1;
            }
        }
        core
    }

    /// The minimal rules that reject every record of the case, when there
    /// are two or more of them and each rule alone lets some record of the
    /// case pass (a case one rule rejects on its own is that rule's intent).
    fn contradiction(&mut self, case: Option<&CaseAtom>, rejects: &[usize], passes: &BTreeMap<usize, Formula>) -> Option<Vec<usize>> {
        let program = self.program;
        let fields = &program.schema.entity(self.entity).fields;
        let case_formula = case.map(CaseAtom::formula);
        let goal_of = |set: &[usize]| -> Vec<Formula> { set.iter().map(|r| passes[r].clone()).chain(case_formula.clone()).collect() };
        let in_case = |record: &Value| case.is_none_or(|c| case_holds(c, fields, record));
        if case.is_some() {
            for r in rejects {
                let r = *r;
                if !matches!(self.ask(&goal_of(&[r]), &|failed, record| !failed.contains(&r) && in_case(record)), Answer::Sat(_)) {
                    return None;
                }
            }
        }
        let unsat = |run: &mut Run, set: &[usize]| {
            let owned = set.to_vec();
            matches!(
                run.ask(&goal_of(set), &move |failed, record| owned.iter().all(|r| !failed.contains(r)) && in_case(record)),
                Answer::Unsat
            )
        };
        let core = self.minimise(rejects, 2, &unsat);
        (core.len() >= 2).then_some(core)
    }

    fn unsatisfiable(&self, i: usize) -> Diagnostic {
        let rule = &self.program.rules[i];
        Diagnostic::warning(
            Code::RuleUnsatisfiable,
            rule.span,
            format!("no {} record can pass rule {}", self.entity_name(), self.rule_name(i)),
        )
        .with_label("every record that passes the schema fails this rule")
        .with_help("its conditions contradict each other, or the field types (an integer, a required field) leave no value that passes")
    }

    fn vacuous(&self, i: usize) -> Diagnostic {
        let rule = &self.program.rules[i];
        Diagnostic::warning(Code::RuleVacuous, rule.span, format!("rule {} can never fail", self.rule_name(i)))
            .with_label(format!("every {} record that passes the schema passes this rule", self.entity_name()))
            .with_help("a rule that cannot fail checks nothing: tighten its condition, or remove it")
    }

    fn flag_implied(&self, i: usize, core: &[usize], rejecting: &[usize], witness: &Value) -> Diagnostic {
        let rule = &self.program.rules[i];
        let names = list(&core.iter().map(|r| self.rule_name(*r)).collect::<Vec<_>>());
        let mut d = Diagnostic::warning(
            Code::FlagImplied,
            rule.span,
            format!(
                "flag {} only fires on records that {names} already reject{}",
                self.rule_name(i),
                if core.len() == 1 { "s" } else { "" }
            ),
        )
        .with_label("no accepted record is ever flagged by this rule");
        for r in core {
            d = d.with_secondary(self.program.rules[*r].span, "rejects every record the flag fires on");
        }
        let by = list(&rejecting.iter().map(|r| self.rule_name(*r)).collect::<Vec<_>>());
        d.with_help(format!("for example, this record is flagged by {} and rejected by {by}: {witness}", self.rule_name(i)))
            .with_help("make the flag fire on records the reject rules accept, or remove it")
    }

    /// A record of the case that passes every reject rule but one of the
    /// core (the fewest other rules broken), confirmed by the checker.
    fn contradict(
        &mut self,
        core: &[usize],
        cases: &[Option<CaseAtom>],
        rejects: &[usize],
        passes: &BTreeMap<usize, Formula>,
    ) -> Option<Diagnostic> {
        let program = self.program;
        let fields = &program.schema.entity(self.entity).fields;
        let case = cases[0].clone();
        let case_formula = case.as_ref().map(CaseAtom::formula);
        let mut example = None;
        'search: for pool in [rejects, core] {
            for broken in core {
                let keep: Vec<usize> = pool.iter().copied().filter(|r| r != broken).collect();
                let goal: Vec<Formula> = keep.iter().map(|r| passes[r].clone()).chain(case_formula.clone()).collect();
                let (b, c) = (*broken, case.clone());
                let accept = move |failed: &BTreeSet<usize>, record: &Value| {
                    failed.contains(&b)
                        && keep.iter().all(|r| !failed.contains(r))
                        && c.as_ref().is_none_or(|c| case_holds(c, fields, record))
                };
                if let Answer::Sat(record) = self.ask(&goal, &accept) {
                    example = Some((b, record));
                    break 'search;
                }
            }
        }
        // Without a confirmed record of the case, nothing is reported.
        let (broken, record) = example?;
        let described: Vec<String> = cases.iter().map(|c| self.describe(c.as_ref())).collect();
        let names = list(&core.iter().map(|r| self.rule_name(*r)).collect::<Vec<_>>());
        let first = core[0];
        let mut d = Diagnostic::warning(
            Code::RulesContradict,
            self.program.rules[first].span,
            format!("rules {names} together reject every {} record{}", self.entity_name(), scope_words(&described)),
        )
        .with_label("this rule and the others named cannot all pass");
        for r in &core[1..] {
            d = d.with_secondary(self.program.rules[*r].span, format!("contradicts {}", self.rule_name(first)));
        }
        let others: Vec<String> = core.iter().filter(|r| **r != broken).map(|r| self.rule_name(*r)).collect();
        let case_words = match &case {
            Some(c) => format!(" with {}", self.describe(Some(c))),
            None => String::new(),
        };
        Some(d.with_help(format!(
            "for example, this record{case_words} passes {} but fails {}: {record}",
            list(&others),
            self.rule_name(broken)
        )))
    }

    fn describe(&self, case: Option<&CaseAtom>) -> String {
        let name = |f: &crate::ir::schema::FieldId| self.program.schema.field(self.entity, *f).name.clone();
        match case {
            None => String::new(),
            Some(CaseAtom::Value(f, v)) => format!("`{} == {}`", name(f), Value::String(v.to_string())),
            Some(CaseAtom::Bool(f, b)) => format!("`{} == {b}`", name(f)),
            Some(CaseAtom::Present(f, true)) => format!("`{} is not null`", name(f)),
            Some(CaseAtom::Present(f, false)) => format!("`{} is null`", name(f)),
        }
    }
}

/// " with `a`", " with `a` or with `b`", or nothing for every record.
fn scope_words(cases: &[String]) -> String {
    if cases.iter().any(String::is_empty) {
        return String::new();
    }
    format!(" with {}", cases.join(" and every record with "))
}

/// "`a`", "`a` and `b`", "`a`, `b` and `c`".
fn list(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Whether a record (JSON) is in the case.
fn case_holds(case: &CaseAtom, fields: &[crate::ir::schema::Field], record: &Value) -> bool {
    let get = |f: &crate::ir::schema::FieldId| record.get(&fields[f.0 as usize].name).filter(|v| !v.is_null());
    match case {
        CaseAtom::Value(f, v) => get(f).and_then(Value::as_str) == Some(&**v),
        CaseAtom::Bool(f, b) => get(f).and_then(Value::as_bool) == Some(*b),
        CaseAtom::Present(f, p) => get(f).is_some() == *p,
    }
}
