//! Example companies in skill files, run as unit tests of the rules.
//!
//! A ```` ```jsonl example pass|fail|flag <rule ids> ```` block holds
//! companies, one JSON object a line (docs/language.md, section 11). Each
//! block is checked as one small dataset with the public check API
//! ([`check::load`], [`check::check`]); every line whose outcome differs from
//! what the block expects becomes an `example-failed` diagnostic at that
//! line. This module comes after `check` in the pipeline and only calls it:
//! `check` knows nothing of examples.

use crate::check::{self, Compiled, ReasonRule, Report};
use crate::diagnostic::{Code, Diagnostic};
use crate::ir::{Example, ExampleRule, Program, Scope};
use crate::skill::ExampleVerdict;
use crate::source::FileId;
use std::collections::BTreeSet;

/// What running the examples found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// `example-failed` diagnostics (and `example-invalid` when the
    /// examples cannot run at all).
    pub diagnostics: Vec<Diagnostic>,
    /// Example blocks run.
    pub examples: usize,
    /// Example lines (companies) run.
    pub lines: usize,
    /// `example-failed` diagnostics among `diagnostics`.
    pub failed: usize,
}

/// Runs the examples of `program` (only those of `files`, when given).
pub fn run(program: &Program, files: Option<&[FileId]>) -> Outcome {
    let mut outcome = Outcome::default();
    let selected: Vec<&Example> = program.examples.iter().filter(|e| files.is_none_or(|f| f.contains(&e.file))).collect();
    if selected.is_empty() {
        return outcome;
    }
    let compiled = match Compiled::new(program.clone()) {
        Ok(c) => c,
        Err(why) => {
            for e in selected {
                outcome.diagnostics.push(Diagnostic::error(
                    Code::ExampleInvalid,
                    e.verdict_span,
                    format!("cannot run this example: {why}"),
                ));
            }
            return outcome;
        }
    };
    for example in selected {
        run_one(&compiled, example, &mut outcome);
    }
    crate::diagnostic::sort(&mut outcome.diagnostics);
    outcome
}

fn id_of(c: &Compiled, n: ExampleRule) -> String {
    match n {
        ExampleRule::Schema => "schema".into(),
        ExampleRule::Rule(i) => c.program.rules[i].id.clone(),
    }
}

/// "`a`, `b`", or "no finding".
fn describe(ids: &[String]) -> String {
    if ids.is_empty() {
        "no finding".into()
    } else {
        ids.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ")
    }
}

fn run_one(c: &Compiled, e: &Example, outcome: &mut Outcome) {
    let named = &e.rules;
    let rules = &c.program.rules;
    let is_dataset = |n: &ExampleRule| matches!(n, ExampleRule::Rule(i) if rules[*i].scope == Scope::Dataset);
    // Dataset rules are checked only on blocks that name one: a handful of
    // companies is not a sample of a dataset.
    let dataset_mode = named.iter().any(|(n, _)| is_dataset(n));
    let expected_line: Vec<String> = if e.verdict == ExampleVerdict::Pass {
        Vec::new()
    } else {
        let mut line: Vec<(usize, String)> = named
            .iter()
            .filter(|(n, _)| !is_dataset(n))
            .map(|(n, _)| (if let ExampleRule::Rule(i) = n { i + 1 } else { 0 }, id_of(c, *n)))
            .collect();
        line.sort();
        line.into_iter().map(|(_, id)| id).collect()
    };

    let text: String = e.lines.iter().map(|(_, l)| format!("{l}\n")).collect();
    let report = match check::load(c, text.as_bytes(), None, true) {
        Ok(loaded) => check::check(c, None, loaded),
        Err(why) => {
            outcome.diagnostics.push(Diagnostic::error(Code::ExampleInvalid, e.verdict_span, format!("cannot read this example: {why}")));
            return;
        }
    };
    outcome.examples += 1;
    outcome.lines += e.lines.len();
    let key_field = c.program.schema.entity(c.entity).key.map(|f| c.program.schema.field(c.entity, f).name.clone());
    let key_of = |line: &str| -> Option<String> {
        let value: serde_json::Value = serde_json::from_str(line).ok()?;
        value.get(key_field.as_deref()?)?.as_str().map(str::to_string)
    };
    let subject = |line: &str| key_of(line).map_or_else(|| "example".to_string(), |k| format!("example `{k}`"));

    let expected = if e.verdict == ExampleVerdict::Pass { BTreeSet::new() } else { expected_line.iter().cloned().collect() };
    let mut hits = 0;
    for ((span, line), found) in e.lines.iter().zip(&report.lines) {
        let mut ids: Vec<String> = Vec::new();
        for r in report.reasons(found) {
            let id = check::reason_id(c, &r.rule);
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        let actual: BTreeSet<String> = ids.iter().cloned().collect();
        if actual == expected && !expected.is_empty() {
            hits += 1;
            continue;
        }
        if actual.is_empty() {
            // A passing line of a `pass` block, or a context line of a
            // `fail` block (a subsidiary shown with its parent).
            continue;
        }
        let want = if e.verdict == ExampleVerdict::Pass { "no finding".to_string() } else { describe(&expected_line) };
        let mut d = Diagnostic::error(Code::ExampleFailed, *span, format!("{} expected {want}, found {}", subject(line), describe(&ids)));
        for r in report.reasons(found).iter().filter(|r| !expected.contains(&check::reason_id(c, &r.rule))) {
            d = d.with_help(explain_reason(c, r));
        }
        outcome.diagnostics.push(d);
        outcome.failed += 1;
    }
    if e.verdict != ExampleVerdict::Pass && !expected_line.is_empty() && hits == 0 {
        // No line fails the named rules: the rule (or the example) changed.
        let (span, line) = &e.lines[0];
        let message = if e.lines.len() == 1 {
            format!("{} expected {}, found no finding", subject(line), describe(&expected_line))
        } else {
            format!("example expected {} on at least one line, but no line of the block has exactly that", describe(&expected_line))
        };
        // Lines with other findings were reported above; a block of only
        // clean lines is reported at its first line.
        if report.lines.iter().all(|l| report.reasons(l).is_empty()) {
            outcome.diagnostics.push(
                Diagnostic::error(Code::ExampleFailed, *span, message)
                    .with_help(format!("{} holds for this example: change the example or the rule", describe(&expected_line))),
            );
            outcome.failed += 1;
        }
    }
    if dataset_mode {
        check_dataset(c, e, &report, outcome);
    }
}

/// Checks the dataset rules a dataset example names: each must fail (for
/// `fail` and `flag`) or hold (for `pass`). Other dataset rules are not
/// checked: an example dataset is focused on its rule, not a full sample.
fn check_dataset(c: &Compiled, e: &Example, report: &Report, outcome: &mut Outcome) {
    let rules = &c.program.rules;
    for (n, span) in &e.rules {
        let ExampleRule::Rule(i) = *n else { continue };
        if rules[i].scope != Scope::Dataset {
            continue;
        }
        let id = &rules[i].id;
        let finding = report.dataset.iter().find(|f| f.rule == i);
        let d = match (e.verdict, finding) {
            (ExampleVerdict::Pass, Some(f)) => {
                let d =
                    Diagnostic::error(Code::ExampleFailed, *span, format!("example dataset expected no finding of `{id}`, found `{id}`"));
                if f.hints.is_empty() {
                    d
                } else {
                    d.with_help(format!("`{id}`: {}", f.hints.join("; ")))
                }
            }
            (ExampleVerdict::Fail | ExampleVerdict::Flag, None) => {
                Diagnostic::error(Code::ExampleFailed, *span, format!("example dataset expected `{id}`, found no finding of `{id}`"))
                    .with_help(format!("`{id}` holds for this dataset: change the example or the rule"))
            }
            _ => continue,
        };
        outcome.diagnostics.push(d);
        outcome.failed += 1;
    }
}

/// One line of help for an unexpected finding: the rule and what would
/// satisfy it.
fn explain_reason(c: &Compiled, r: &check::Reason) -> String {
    let id = check::reason_id(c, &r.rule);
    match &r.rule {
        ReasonRule::Schema(f) => {
            let field = c.program.schema.field(c.entity, *f);
            format!("`schema`: `{}` must be {}, found {}", field.name, field.ty.describe(), r.detail.as_deref().unwrap_or("?"))
        }
        ReasonRule::Json => format!("`json`: {}", r.detail.as_deref().unwrap_or("")),
        ReasonRule::Rule(i) => match &r.hint() {
            Some(hint) => format!("`{id}`: {hint}"),
            None => format!("`{id}`: {}", c.program.rules[*i].message),
        },
    }
}
