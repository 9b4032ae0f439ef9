//! The rule analysis (src/analysis/, docs/analysis.md): each finding on
//! skills written to have it, snapshotted as `lint` prints it; every
//! witness record checked by the real checker; no finding on the shipped
//! skills or on rules that real records satisfy; and `find_record`.

use serde_json::Value;
use skillc::check::{self, Compiled};
use skillc::diagnostic::{render_terminal, Code, Diagnostic};
use skillc::ir::Program;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");
const FIXTURES: &str = "tests/fixtures/analysis";

/// The ids of the rules a record fails, or None when it fails the schema.
fn failed_rules(program: &Program, record: &Value) -> Option<BTreeSet<String>> {
    let compiled = Compiled::new(program.clone()).expect("compiles");
    let line = format!("{record}\n");
    let loaded = check::load(&compiled, line.as_bytes(), None, true).expect("loads");
    let report = check::check(&compiled, None, loaded);
    let mut ids = BTreeSet::new();
    for reason in report.reasons(&report.lines[0]) {
        let id = check::reason_id(&compiled, &reason.rule);
        if id == "schema" || id == "json" {
            return None;
        }
        // Dataset rules judge a dataset, not the record.
        if program.rules.iter().any(|r| r.id == id && skillc::analysis::is_local(r)) {
            ids.insert(id);
        }
    }
    Some(ids)
}

/// The witness a finding's help carries: the JSON object after the colon.
fn witness(d: &Diagnostic) -> Option<Value> {
    d.help.iter().find_map(|h| h.find(": {").and_then(|at| serde_json::from_str(&h[at + 2..]).ok()))
}

/// The rule ids in backticks in a text, in order.
fn ids_in(text: &str) -> Vec<String> {
    text.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

/// Checks what a finding's witness claims against the checker: a
/// contradiction's record passes the rules it names as passed and fails the
/// one it names as failed; a flag's record is flagged and rejected as said.
fn confirm_witness(program: &Program, d: &Diagnostic) {
    let Some(record) = witness(d) else {
        assert!(matches!(d.code, Code::RuleUnsatisfiable | Code::RuleVacuous), "{d:?} has no witness");
        return;
    };
    let failed = failed_rules(program, &record).unwrap_or_else(|| panic!("witness {record} fails the schema"));
    let help = d.help.iter().find(|h| h.contains(": {")).unwrap();
    let words = &help[..help.find(": {").unwrap()];
    match d.code {
        Code::RulesContradict => {
            let (passed, broken) = words.split_once(" but fails ").unwrap();
            for id in ids_in(passed.split(" passes ").nth(1).unwrap()) {
                assert!(!failed.contains(&id), "witness {record} should pass `{id}`; fails {failed:?}");
            }
            for id in ids_in(broken) {
                assert!(failed.contains(&id), "witness {record} should fail `{id}`; fails {failed:?}");
            }
        }
        Code::FlagImplied => {
            for id in ids_in(words.split(" flagged by ").nth(1).unwrap()) {
                assert!(failed.contains(&id), "witness {record} should fail `{id}`; fails {failed:?}");
            }
        }
        other => panic!("unexpected witness on {other:?}"),
    }
}

/// Lints a fixture folder as `skillc lint` does; the analysis's findings
/// rendered for the terminal, each witness confirmed.
fn lint_fixture(name: &str) -> (Vec<Diagnostic>, String) {
    let lint = skillc::lint::lint_paths(&[PathBuf::from(FIXTURES).join(name)]);
    assert!(!lint.diagnostics.iter().any(Diagnostic::is_error), "{:?}", lint.diagnostics);
    for d in &lint.diagnostics {
        confirm_witness(&lint.program, d);
    }
    let text = render_terminal(&lint.program.db, &lint.diagnostics, false);
    (lint.diagnostics, text)
}

fn codes(diags: &[Diagnostic]) -> Vec<&'static str> {
    diags.iter().map(|d| d.code.as_str()).collect()
}

#[test]
fn two_regular_expressions_with_no_common_string_make_a_rule_unsatisfiable() {
    let (diags, text) = lint_fixture("regex-clash");
    assert_eq!(codes(&diags), ["rule-unsatisfiable"]);
    insta::assert_snapshot!("regex_clash", text);
}

#[test]
fn a_table_of_patterns_none_of_which_meets_another_rule_is_a_contradiction() {
    let (diags, text) = lint_fixture("table-lookup");
    assert_eq!(codes(&diags), ["rules-contradict"]);
    insta::assert_snapshot!("table_lookup", text);
}

#[test]
fn a_rule_on_an_optional_field_that_cannot_fail_is_vacuous() {
    let (diags, text) = lint_fixture("optional-vacuous");
    assert_eq!(codes(&diags), ["rule-vacuous"]);
    insta::assert_snapshot!("optional_vacuous", text);
}

#[test]
fn two_bounds_that_cannot_both_hold_contradict_for_every_record() {
    let (diags, text) = lint_fixture("contradict-global");
    assert_eq!(codes(&diags), ["rules-contradict"]);
    // The margin rule is not part of the smallest set.
    assert!(!diags[0].message.contains("margin-range"), "{}", diags[0].message);
    insta::assert_snapshot!("contradict_global", text);
}

#[test]
fn rules_that_forbid_one_industry_together_name_the_case() {
    let (diags, text) = lint_fixture("contradict-case");
    assert_eq!(codes(&diags), ["rules-contradict"]);
    assert!(diags[0].message.contains(r#"`industry == "SaaS"`"#), "{}", diags[0].message);
    insta::assert_snapshot!("contradict_case", text);
}

#[test]
fn a_flag_that_fires_only_where_a_sum_is_already_rejected_is_implied() {
    let (diags, text) = lint_fixture("flag-implied-sum");
    assert_eq!(codes(&diags), ["flag-implied"]);
    insta::assert_snapshot!("flag_implied_sum", text);
}

#[test]
fn rules_that_real_records_satisfy_have_no_finding() {
    let (diags, text) = lint_fixture("satisfiable");
    assert!(diags.is_empty(), "{text}");
    let (program, _) = skillc::compile_paths(&[PathBuf::from(FIXTURES).join("satisfiable")]);
    let decided = skillc::analysis::decided(&program);
    assert!(decided.iter().all(|d| *d), "every rule of the fixture is in the fragment: {decided:?}");
}

#[test]
fn the_diagnostics_fixtures_findings_have_confirmed_witnesses() {
    for code in ["rule-unsatisfiable", "rule-vacuous", "flag-implied", "rules-contradict"] {
        let lint = skillc::lint::lint_paths(&[Path::new("tests/fixtures/diagnostics").join(code)]);
        let found: Vec<&Diagnostic> = lint.diagnostics.iter().filter(|d| d.code.as_str() == code).collect();
        assert_eq!(found.len(), 1, "{code}: {:?}", lint.diagnostics);
        confirm_witness(&lint.program, found[0]);
    }
}

fn shipped() -> Program {
    let (program, diags) = skillc::compile_paths(&[Path::new(MANIFEST).join("skills")]);
    assert!(diags.is_empty(), "{diags:?}");
    program
}

#[test]
fn the_shipped_skills_lint_clean_under_the_analysis() {
    let program = shipped();
    let analysis = skillc::analysis::analyse(&program);
    let text = render_terminal(&program.db, &analysis.diagnostics, false);
    assert!(analysis.diagnostics.is_empty(), "{text}");
    // What the analysis decides of them, for the record (docs/analysis.md).
    let listing: Vec<String> = program
        .rules
        .iter()
        .zip(&analysis.decided)
        .map(|(r, d)| format!("{} {}", if *d { "decided" } else { "unknown" }, r.id))
        .collect();
    insta::assert_snapshot!("shipped_decided", listing.join("\n"));
}

#[test]
fn a_found_record_passes_every_record_local_reject_rule_of_the_shipped_skills() {
    let program = shipped();
    let entity = program.dataset_entity().unwrap();
    for seed in [0, 1, 2, 3, 42] {
        let skillc::analysis::Outcome::Witness(record) = skillc::analysis::find_record(&program, entity, &[], seed) else {
            panic!("seed {seed}: no record found")
        };
        let failed = failed_rules(&program, &record).unwrap_or_else(|| panic!("{record} fails the schema"));
        let rejected: Vec<&String> =
            failed.iter().filter(|id| program.rules.iter().any(|r| &r.id == *id && r.severity == skillc::ir::Severity::Reject)).collect();
        assert!(rejected.is_empty(), "seed {seed}: {record} is rejected by {rejected:?}");
    }
}

#[test]
fn a_found_record_meets_the_extra_conditions_or_none_exists() {
    // The extra condition is the body of a rule of the test skill, taken
    // out of the program.
    let (mut program, _) = skillc::compile_paths(&[PathBuf::from(FIXTURES).join("contradict-case")]);
    let entity = program.dataset_entity().unwrap();
    let at = program.rules.iter().position(|r| r.id == "industry-known").unwrap();
    let known = program.rules.remove(at);
    // Retail passes both remaining rules; SaaS cannot (the contradiction).
    let retail = skillc::analysis::find_record(&program, entity, &[&known.expr], 7);
    let skillc::analysis::Outcome::Witness(record) = retail else { panic!("{retail:?}") };
    assert!(failed_rules(&program, &record).unwrap().is_empty(), "{record}");
    let industry = record["industry"].as_str().unwrap();
    assert!(["SaaS", "Bank", "Retail"].contains(&industry), "{record}");
    assert_ne!(industry, "SaaS", "{record}");

    // `industry == "SaaS"`, the condition of `saas-reports-arr`: no record.
    let saas = program.rules.iter().find(|r| r.id == "saas-reports-arr").unwrap();
    let skillc::ir::expr::ExprKind::Implies(is_saas, _) = &saas.expr.kind else { panic!("{:?}", saas.expr) };
    assert_eq!(skillc::analysis::find_record(&program, entity, &[is_saas], 0), skillc::analysis::Outcome::Unsat);
}
