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
    let listing: Vec<String> =
        program.rules.iter().zip(&analysis.decided).map(|(r, d)| format!("{} {}", if *d { "decided" } else { "unknown" }, r.id)).collect();
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

mod props {
    //! Random rule sets from a small grammar over a test schema, and
    //! random records: no record refutes a finding, and every witness is
    //! what the checker says.

    use super::{confirm_witness, failed_rules};
    use proptest::prelude::*;
    use serde_json::{json, Map, Value};
    use skillc::diagnostic::{Code, Diagnostic};
    use skillc::ir::Program;

    const SCHEMA: &str =
        "```entity company\nkey id\nid: string\na: number\nb: number?\nn: integer\ns: string\nt: string?\np: boolean\nq: boolean?\n```\n";

    fn atom() -> impl Strategy<Value = String> {
        let c = prop_oneof![Just(-1), Just(0), Just(1), Just(2), Just(3)];
        (0..24usize, c.clone(), c).prop_map(|(k, c, d)| {
            let (lo, hi) = (c.min(d), c.max(d));
            match k {
                0 => format!("a > {c}"),
                1 => format!("a <= {c}"),
                2 => format!("a == {c}"),
                3 => format!("b < {c}"),
                4 => format!("b >= {c}"),
                5 => format!("n > {c}"),
                6 => format!("n <= {c}"),
                7 => format!("n != {c}"),
                8 => "a < b".into(),
                9 => format!("a + b > {c}"),
                10 => format!("a <= b + {c}"),
                11 => format!("n in [{lo}, {hi}]"),
                12 => "b is null".into(),
                13 => "t is not null".into(),
                14 => r#"s == "x""#.into(),
                15 => r#"s != "y""#.into(),
                16 => r#"s in {"x", "z"}"#.into(),
                17 => r#"t == "x""#.into(),
                18 => "s matches /[x-z]/".into(),
                19 => "t matches /[a-y]+/".into(),
                20 => "p".into(),
                21 => "not q".into(),
                22 => format!("(b ?? 0) > {c}"),
                _ => format!("abs(a - {c}) <= 1"),
            }
        })
    }

    fn condition() -> impl Strategy<Value = String> {
        atom().prop_recursive(2, 6, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(x, y)| format!("({x}) and ({y})")),
                (inner.clone(), inner.clone()).prop_map(|(x, y)| format!("({x}) or ({y})")),
                (inner.clone(), inner.clone()).prop_map(|(x, y)| format!("({x}) implies ({y})")),
                inner.clone().prop_map(|x| format!("not ({x})")),
                (inner.clone(), inner.clone(), inner).prop_map(|(x, y, z)| format!("if {x} then {y} else {z}")),
            ]
        })
    }

    /// A skill of the rules: reject rules first, then flags under a
    /// Plausibility heading.
    fn skill(rules: &[(String, bool)]) -> String {
        let mut text = format!(
            "---\nname: props\ndescription: A test skill.\napplies_to: company\nmetadata:\n  skillc-allow: \"rule-without-examples never-holds never-applies unknown-value\"\n---\n\n# Test\n\n{SCHEMA}\n"
        );
        for flags in [false, true] {
            if flags {
                text.push_str("\n## Plausibility\n\n");
            }
            for (k, (body, flag)) in rules.iter().enumerate() {
                if *flag == flags {
                    text.push_str(&format!("- Rule {k}.\n  ```rule r{k}\n  {body}\n  ```\n\n"));
                }
            }
        }
        text
    }

    fn record() -> impl Strategy<Value = Value> {
        let number = prop_oneof![
            Just(-2.0),
            Just(-1.0),
            Just(-0.5),
            Just(0.0),
            Just(0.5),
            Just(1.0),
            Just(1.5),
            Just(2.0),
            Just(2.5),
            Just(3.0),
            Just(4.0)
        ];
        let string = prop_oneof![Just("x"), Just("y"), Just("z"), Just("w"), Just("abc")];
        (
            number.clone(),
            proptest::option::of(number),
            -2i64..5,
            string.clone(),
            proptest::option::of(string),
            any::<bool>(),
            proptest::option::of(any::<bool>()),
        )
            .prop_map(|(a, b, n, s, t, p, q)| {
                let mut m = Map::new();
                m.insert("id".into(), json!("c"));
                m.insert("a".into(), json!(a));
                if let Some(b) = b {
                    m.insert("b".into(), json!(b));
                }
                m.insert("n".into(), json!(n));
                m.insert("s".into(), json!(s));
                if let Some(t) = t {
                    m.insert("t".into(), json!(t));
                }
                m.insert("p".into(), json!(p));
                if let Some(q) = q {
                    m.insert("q".into(), json!(q));
                }
                Value::Object(m)
            })
    }

    /// The rule (id) whose id a span points at.
    fn rule_at(program: &Program, span: skillc::source::Span) -> String {
        program.rules.iter().find(|r| r.span == span).map(|r| r.id.clone()).expect("a finding points at a rule id")
    }

    /// Whether a record is in a case as the message writes it: `f == "v"`,
    /// `f == true`, `f is null`, `f is not null`.
    fn in_case(case: &str, record: &Value) -> bool {
        let value = |f: &str| record.get(f).filter(|v| !v.is_null()).cloned();
        if let Some(f) = case.strip_suffix(" is not null") {
            return value(f).is_some();
        }
        if let Some(f) = case.strip_suffix(" is null") {
            return value(f).is_none();
        }
        let (f, v) = case.split_once(" == ").expect("a case");
        value(f) == Some(serde_json::from_str::<Value>(v).expect("a JSON value"))
    }

    /// The cases a contradiction names (none: every record).
    fn cases(d: &Diagnostic) -> Vec<String> {
        match d.message.split_once(" record with ") {
            None => vec![],
            Some((_, rest)) => rest.split('`').skip(1).step_by(2).map(str::to_string).collect(),
        }
    }

    fn refuted(program: &Program, d: &Diagnostic, records: &[Value]) -> Option<String> {
        let primary = rule_at(program, d.primary.span);
        let others: Vec<String> = d.secondary.iter().map(|l| rule_at(program, l.span)).collect();
        for record in records {
            let failed = failed_rules(program, record).expect("the test records pass the schema");
            let refutes = match d.code {
                Code::RuleUnsatisfiable => !failed.contains(&primary),
                Code::RuleVacuous => failed.contains(&primary),
                Code::RulesContradict => {
                    let case = cases(d);
                    let in_scope = case.is_empty() || case.iter().any(|c| in_case(c, record));
                    in_scope && !failed.contains(&primary) && others.iter().all(|r| !failed.contains(r))
                }
                Code::FlagImplied => failed.contains(&primary) && others.iter().all(|r| !failed.contains(r)),
                _ => false,
            };
            if refutes {
                return Some(format!("{record} refutes {}: {}", d.code.as_str(), d.message));
            }
        }
        None
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]
        #[test]
        fn no_record_refutes_a_finding_and_every_witness_is_confirmed(
            rules in proptest::collection::vec((condition(), proptest::bool::weighted(0.3)), 1..4),
            records in proptest::collection::vec(record(), 150),
        ) {
            let (program, diags) = skillc::compile_sources(&[("props/SKILL.md".into(), skill(&rules))]);
            prop_assume!(!diags.iter().any(Diagnostic::is_error));
            let analysis = skillc::analysis::analyse(&program);
            for d in &analysis.diagnostics {
                confirm_witness(&program, d);
                if let Some(why) = refuted(&program, d, &records) {
                    panic!("{why}\n{}", skill(&rules));
                }
            }
        }
    }
}

#[test]
fn lint_shows_the_findings_as_sarif_and_rules_lists_what_is_decided() {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_skillc")).args(args).current_dir(MANIFEST).output().unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let sarif: Value = serde_json::from_str(&run(&["lint", "--format", "sarif", "tests/fixtures/diagnostics/rules-contradict"])).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let ids: Vec<&str> = results.iter().filter_map(|r| r["ruleId"].as_str()).collect();
    assert_eq!(ids, ["rules-contradict"], "{sarif}");

    let listing = run(&["rules", "--format", "json"]);
    let analysis: Vec<(String, String)> = listing
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|r| (r["id"].as_str().unwrap().to_string(), r["analysis"].as_str().unwrap().to_string()))
        .collect();
    assert!(analysis.contains(&("saas-gross-margin".into(), "decided".into())), "{listing}");
    assert!(analysis.contains(&("unique-id".into(), "unknown".into())), "{listing}");
}
