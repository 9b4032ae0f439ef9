//! Pins the reference oracle (`tests/support/oracle.rs`) to reference-rules.md
//! and checks the corpus generator (`tests/support/gen.rs`) against it.
//!
//! For every reference rule: one small dataset where it fires and one where it
//! does not, asserting the exact rule set of the line. Then the edge cases of
//! the "Precise semantics" section, then the generator.

#[path = "support/gen.rs"]
mod gen;
#[path = "support/oracle.rs"]
mod oracle;

use oracle::{oracle, OracleResult, Verdict, ALL_RULE_IDS};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const YEAR: i32 = 2025;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A valid, accepted company: Retail, 100 staff, 20M revenue (200k per head).
fn co(id: &str) -> Value {
    json!({
        "id": id,
        "name": format!("{id} Ltd"),
        "industry": "Retail",
        "country": "GB",
        "founded_year": 2000,
        "public": false,
        "fiscal_year_end": "12-31",
        "currency": "GBP",
        "employee_count": 100,
        "standalone_revenue": 20_000_000,
        "consolidated_revenue": 20_000_000,
        "gross_margin": 0.3
    })
}

/// `co(id)` with fields overwritten (a `null` value writes JSON null).
fn co_with(id: &str, fields: Value) -> Value {
    let mut v = co(id);
    let obj = v.as_object_mut().unwrap();
    for (k, val) in fields.as_object().unwrap() {
        obj.insert(k.clone(), val.clone());
    }
    v
}

fn without(mut v: Value, key: &str) -> Value {
    v.as_object_mut().unwrap().remove(key);
    v
}

fn text(lines: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(serde_json::to_string(l).unwrap().as_bytes());
        out.push(b'\n');
    }
    out
}

fn run(lines: &[Value]) -> OracleResult {
    oracle(&text(lines), YEAR)
}

fn run_raw(s: &str) -> OracleResult {
    oracle(s.as_bytes(), YEAR)
}

fn set(rules: &[&str]) -> BTreeSet<String> {
    rules.iter().map(|s| s.to_string()).collect()
}

/// Rules of the `k`-th non-blank line (0-based).
#[track_caller]
fn assert_rules(res: &OracleResult, k: usize, expected: &[&str]) {
    assert_eq!(res.lines[k].rules, set(expected), "line index {k}: {:?}", res.lines[k]);
}

/// A lone line with exactly these rules.
#[track_caller]
fn assert_single(v: Value, expected: &[&str]) {
    let res = run(&[v]);
    assert_eq!(res.lines.len(), 1);
    assert_rules(&res, 0, expected);
}

/// A schema-broken object whose only role is to make an id exist
/// (`owners-exist` holds for it, but it is not in the graph).
fn anchor(id: &str) -> Value {
    json!({ "id": id })
}

// ---------------------------------------------------------------------------
// Baseline
// ---------------------------------------------------------------------------

#[test]
fn base_company_is_accepted() {
    let res = run(&[co("a")]);
    assert_eq!(res.lines.len(), 1);
    assert_eq!(res.lines[0].line, 1);
    assert_eq!(res.lines[0].verdict, Verdict::Accepted);
    assert!(res.lines[0].rules.is_empty());
    assert_eq!(res.lines[0].id.as_deref(), Some("a"));
    // A tiny dataset never covers the behaviour classes.
    assert_eq!(res.dataset_rules, set(&["behaviour-class-coverage"]));
}

#[test]
fn rule_id_list_is_complete() {
    assert_eq!(ALL_RULE_IDS.len(), 30);
    let unique: BTreeSet<&str> = ALL_RULE_IDS.iter().copied().collect();
    assert_eq!(unique.len(), 30);
}

// ---------------------------------------------------------------------------
// json
// ---------------------------------------------------------------------------

#[test]
fn json_fires() {
    for bad in [
        "not json",
        "{\"id\":\"a\"",
        "{\"id\":\"a\"} x",
        "{\"id\":\"a\"}{}",
        "[]",
        "[{\"id\":\"a\"}]",
        "\"x\"",
        "42",
        "null",
        "true",
        "{\"n\":1e400}",
        "{\"n\":-1e400}",
        "{\"n\":NaN}",
        "{\"n\":Infinity}",
        "{\"n\":012}",
        "{'id':'a'}",
        "{\"id\":\"a\",}",
        "{\"id\":\"a\tb\"}",
    ] {
        let res = run_raw(bad);
        assert_eq!(res.lines.len(), 1, "{bad:?}");
        assert_eq!(res.lines[0].rules, set(&["json"]), "{bad:?}");
        assert_eq!(res.lines[0].verdict, Verdict::Rejected);
        assert!(res.lines[0].id.is_none());
    }
    // Not UTF-8.
    let res = oracle(b"{\"id\":\"a\xff\"}\n", YEAR);
    assert_eq!(res.lines[0].rules, set(&["json"]));
    // Out of range anywhere in the object, unknown fields included.
    let res = run_raw("{\"id\":\"a\",\"extra\":{\"deep\":[1e400]}}");
    assert_eq!(res.lines[0].rules, set(&["json"]));
    // Readings pinned: serde_json's limits (nesting deeper than 128, lone
    // surrogate escapes) are `json` failures.
    let deep = format!("{{\"x\":{}{}}}", "[".repeat(200), "]".repeat(200));
    assert_eq!(run_raw(&deep).lines[0].rules, set(&["json"]));
    assert_eq!(run_raw("{\"name\":\"\\ud800\"}").lines[0].rules, set(&["json"]));
}

#[test]
fn json_does_not_fire() {
    // Whitespace around the value is JSON; 1e-400 is in range (it rounds to 0).
    let mut line = serde_json::to_string(&co("a")).unwrap();
    line = format!("  {line}\t ");
    assert_eq!(run_raw(&line).lines[0].rules, set(&[]));
    let v = co_with("a", json!({"tiny": 0}));
    let s = serde_json::to_string(&v).unwrap().replace("\"tiny\":0", "\"tiny\":1e-400");
    assert_eq!(run_raw(&s).lines[0].rules, set(&[]));
}

// ---------------------------------------------------------------------------
// schema
// ---------------------------------------------------------------------------

const REQUIRED: [&str; 12] = [
    "id",
    "name",
    "industry",
    "country",
    "founded_year",
    "public",
    "fiscal_year_end",
    "currency",
    "employee_count",
    "standalone_revenue",
    "consolidated_revenue",
    "gross_margin",
];

#[test]
fn schema_empty_object_one_reason_per_required_field() {
    let res = run_raw("{}");
    assert_eq!(res.lines[0].rules, set(&["schema"]));
    assert_eq!(res.lines[0].schema_fields, REQUIRED.to_vec());
    assert_eq!(res.lines[0].verdict, Verdict::Rejected);
}

#[test]
fn schema_reasons_follow_the_field_table_order() {
    let v = co_with("a", json!({"plausibility_flags": [1], "exchange": 3, "employee_count": 1.5}));
    let res = run(&[without(v, "name")]);
    assert_eq!(res.lines[0].rules, set(&["schema"]));
    assert_eq!(res.lines[0].schema_fields, vec!["name", "exchange", "employee_count", "plausibility_flags"]);
}

#[test]
fn schema_fires_for_each_required_field_missing_or_null() {
    for f in REQUIRED {
        let res = run(&[without(co("a"), f)]);
        assert!(res.lines[0].rules.contains("schema"), "missing {f}");
        assert_eq!(res.lines[0].schema_fields, vec![f.to_string()], "missing {f}");
        let res = run(&[co_with("a", json!({ f: null }))]);
        assert_eq!(res.lines[0].schema_fields, vec![f.to_string()], "null {f}");
    }
}

#[test]
fn schema_wrong_types() {
    let cases: Vec<(Value, &str)> = vec![
        (json!({"id": 7}), "id"),
        (json!({"name": ["x"]}), "name"),
        (json!({"industry": 3}), "industry"),
        (json!({"country": 826}), "country"),
        (json!({"founded_year": "2000"}), "founded_year"),
        (json!({"founded_year": 2000.5}), "founded_year"),
        (json!({"public": "false"}), "public"),
        (json!({"public": 0}), "public"),
        (json!({"fiscal_year_end": 1231}), "fiscal_year_end"),
        (json!({"currency": {"code": "GBP"}}), "currency"),
        (json!({"employee_count": "100"}), "employee_count"),
        (json!({"employee_count": 100.5}), "employee_count"),
        (json!({"standalone_revenue": "20M"}), "standalone_revenue"),
        (json!({"consolidated_revenue": true}), "consolidated_revenue"),
        (json!({"gross_margin": "30%"}), "gross_margin"),
        (json!({"exchange": 7203}), "exchange"),
        (json!({"ticker": 7203}), "ticker"),
        (json!({"intercompany_eliminations": "0"}), "intercompany_eliminations"),
        (json!({"equity_method_income": "n/a"}), "equity_method_income"),
        (json!({"arr": "1M"}), "arr"),
        (json!({"segments": {"Stores": 1}}), "segments"),
        (json!({"segments": [{"name": "Stores"}]}), "segments"),
        (json!({"segments": [{"name": 1, "revenue": 20000000}]}), "segments"),
        (json!({"segments": [{"name": "Stores", "revenue": "20000000"}]}), "segments"),
        (json!({"segments": ["Stores"]}), "segments"),
        (json!({"owners": "parent"}), "owners"),
        (json!({"owners": [{"id": "p"}]}), "owners"),
        (json!({"owners": [{"id": 1, "stake": 0.5}]}), "owners"),
        (json!({"owners": [{"id": "p", "stake": "0.5"}]}), "owners"),
        (json!({"owners": [{"id": "p", "stake": null}]}), "owners"),
        (json!({"behaviour_class": 3}), "behaviour_class"),
        (json!({"plausibility_flags": "x"}), "plausibility_flags"),
        (json!({"plausibility_flags": [1]}), "plausibility_flags"),
    ];
    for (patch, field) in cases {
        let res = run(&[co_with("a", patch.clone())]);
        assert_eq!(res.lines[0].rules, set(&["schema"]), "{patch}");
        assert_eq!(res.lines[0].schema_fields, vec![field.to_string()], "{patch}");
    }
}

#[test]
fn schema_does_not_fire() {
    // Whole-valued numbers are integers; optional nulls are absent; an empty
    // string is a string; extra keys and unknown fields are allowed.
    for patch in [
        json!({"employee_count": 100.0}),
        json!({"employee_count": 1e2}),
        json!({"founded_year": 2.0e3}),
        json!({"intercompany_eliminations": null, "equity_method_income": null, "arr": null,
               "segments": null, "owners": null, "behaviour_class": null, "plausibility_flags": null}),
        json!({"segments": [], "owners": [], "plausibility_flags": []}),
        json!({"segments": [{"name": "Stores", "revenue": 20000000, "note": "x"}]}),
        json!({"behaviour_class": "anything", "plausibility_flags": ["a", ""]}),
        json!({"unknown": {"nested": [1, 2]}, "name": ""}),
        json!({"gross_margin": 0}),
    ] {
        let res = run(&[co_with("a", patch.clone())]);
        assert_eq!(res.lines[0].rules, set(&[]), "{patch}");
    }
}

#[test]
fn schema_failure_disables_rules_reading_the_field() {
    // employee_count a string: neither employee-count-range nor revenue-per-employee.
    assert_single(co_with("a", json!({"employee_count": "0"})), &["schema"]);
    // industry wrong type: saas-gross-margin / arr-only-for-subscription do not apply.
    assert_single(co_with("a", json!({"industry": 1, "arr": 5, "gross_margin": 0.1})), &["schema"]);
    // exchange wrong type on a public company: schema, not public-listing-valid.
    assert_single(co_with("a", json!({"public": true, "exchange": 1, "ticker": "ABC"})), &["schema"]);
    // ...and on a private one: not private-has-no-listing either.
    assert_single(co_with("a", json!({"exchange": 1, "ticker": "ABC"})), &["schema"]);
    // consolidated_revenue broken: segments-sum-to-revenue does not apply.
    assert_single(co_with("a", json!({"consolidated_revenue": "x", "segments": [{"name": "s", "revenue": 1}]})), &["schema"]);
    // owners broken: no owners-exist, no stake rules.
    assert_single(co_with("a", json!({"owners": [{"id": "nobody", "stake": "2"}]})), &["schema"]);
    // But rules reading only valid fields still apply to a schema-rejected company.
    assert_single(
        co_with("a", json!({"currency": 1, "country": "gb", "employee_count": 1, "consolidated_revenue": 100})),
        &["schema", "country-code-format", "revenue-per-employee", "standalone-within-consolidated"],
    );
}

// ---------------------------------------------------------------------------
// Field rules
// ---------------------------------------------------------------------------

#[test]
fn employee_count_range() {
    assert_single(co_with("a", json!({"employee_count": 0})), &["employee-count-range"]);
    assert_single(co_with("a", json!({"employee_count": -3})), &["employee-count-range", "revenue-per-employee"]);
    assert_single(
        co_with("a", json!({"employee_count": 10_000_001, "standalone_revenue": 1e11, "consolidated_revenue": 1e11})),
        &["employee-count-range"],
    );
    assert_single(co_with("a", json!({"employee_count": 10_000_000, "standalone_revenue": 1e11, "consolidated_revenue": 1e11})), &[]);
    assert_single(co_with("a", json!({"employee_count": 1, "standalone_revenue": 200_000, "consolidated_revenue": 200_000})), &[]);
}

#[test]
fn founded_year_not_future() {
    assert_single(co_with("a", json!({"founded_year": 2026})), &["founded-year-not-future"]);
    assert_single(co_with("a", json!({"founded_year": 1599})), &["founded-year-not-future"]);
    assert_single(co_with("a", json!({"founded_year": 2025})), &[]);
    assert_single(co_with("a", json!({"founded_year": 1600})), &[]);
    // The current year is a parameter.
    let res = oracle(&text(&[co_with("a", json!({"founded_year": 2026}))]), 2026);
    assert_rules(&res, 0, &[]);
}

#[test]
fn consolidated_revenue_positive() {
    assert_single(
        co_with("a", json!({"standalone_revenue": 0, "consolidated_revenue": 0})),
        &["consolidated-revenue-positive", "revenue-per-employee"],
    );
    assert_single(
        co_with("a", json!({"standalone_revenue": 0.5, "consolidated_revenue": 0.5, "employee_count": 1})),
        &["revenue-per-employee"],
    );
}

#[test]
fn standalone_revenue_non_negative() {
    // A negative standalone revenue also breaks the 1.01 x (standalone + subs) bound.
    assert_single(
        co_with("a", json!({"standalone_revenue": -1})),
        &["standalone-revenue-non-negative", "minority-stakes-not-consolidated"],
    );
    // Zero is fine: a pure holding whose revenue is its subsidiary's.
    let res = run(&[
        co_with("p", json!({"standalone_revenue": 0, "consolidated_revenue": 20_000_000, "employee_count": 110})),
        co_with("s", json!({"owners": [{"id": "p", "stake": 1}]})),
    ]);
    assert_rules(&res, 0, &[]);
    assert_rules(&res, 1, &[]);
}

#[test]
fn gross_margin_range() {
    assert_single(co_with("a", json!({"gross_margin": 1.01})), &["gross-margin-range"]);
    assert_single(co_with("a", json!({"gross_margin": -1.5})), &["gross-margin-range"]);
    assert_single(co_with("a", json!({"gross_margin": 74})), &["gross-margin-range"]);
    assert_single(co_with("a", json!({"gross_margin": 1})), &[]);
    assert_single(co_with("a", json!({"gross_margin": -1})), &[]);
}

#[test]
fn fiscal_year_end_valid() {
    for bad in ["02-30", "13-01", "00-10", "12-00", "04-31", "1-31", "12/31", "2023-12-31", "1231", "", " 12-31", "１２-31"] {
        assert_single(co_with("a", json!({"fiscal_year_end": bad})), &["fiscal-year-end-valid"]);
    }
    for good in ["02-29", "01-31", "04-30", "12-31", "06-30", "02-01"] {
        assert_single(co_with("a", json!({"fiscal_year_end": good})), &[]);
    }
}

#[test]
fn country_code_format() {
    for bad in ["gb", "GBR", "G", "", "U.K", "ÉS", "G1", " GB"] {
        assert_single(co_with("a", json!({"country": bad})), &["country-code-format"]);
    }
    // Format only: any two upper-case ASCII letters.
    assert_single(co_with("a", json!({"country": "ZZ"})), &[]);
}

#[test]
fn industry_known() {
    for bad in ["saas", "SAAS", "SaaS ", "Software", "", "Holdings"] {
        assert_single(co_with("a", json!({"industry": bad})), &["industry-known"]);
    }
    for good in oracle::INDUSTRIES {
        // SaaS needs a software margin; Holding without subsidiaries needs no flags array.
        let v = co_with("a", json!({"industry": good, "gross_margin": 0.7}));
        assert_single(v, &[]);
    }
}

#[test]
fn stake_range() {
    // Owners exist (as schema-broken objects) but are not in the graph,
    // so only the stake rules speak.
    let res = run(&[anchor("p"), co_with("c", json!({"owners": [{"id": "p", "stake": 0}]}))]);
    assert_rules(&res, 1, &["stake-range"]);
    let res = run(&[anchor("p"), co_with("c", json!({"owners": [{"id": "p", "stake": -0.1}]}))]);
    assert_rules(&res, 1, &["stake-range"]);
    let res = run(&[anchor("p"), co_with("c", json!({"owners": [{"id": "p", "stake": 1.2}]}))]);
    assert_rules(&res, 1, &["stake-range", "stakes-at-most-whole"]);
    let res = run(&[anchor("p"), co_with("c", json!({"owners": [{"id": "p", "stake": 1}]}))]);
    assert_rules(&res, 1, &[]);
    let res = run(&[anchor("p"), co_with("c", json!({"owners": [{"id": "p", "stake": 0.0001}]}))]);
    assert_rules(&res, 1, &[]);
    // Empty owners: nothing to check.
    assert_single(co_with("c", json!({"owners": []})), &[]);
}

#[test]
fn stakes_at_most_whole() {
    let owners = |a: f64, b: f64| json!({"owners": [{"id": "p", "stake": a}, {"id": "q", "stake": b}]});
    let res = run(&[anchor("p"), anchor("q"), co_with("c", owners(0.6, 0.5))]);
    assert_rules(&res, 2, &["stakes-at-most-whole"]);
    let res = run(&[anchor("p"), anchor("q"), co_with("c", owners(0.7, 0.3 + 1e-6))]);
    assert_rules(&res, 2, &["stakes-at-most-whole"]);
    let res = run(&[anchor("p"), anchor("q"), co_with("c", owners(0.6, 0.4))]);
    assert_rules(&res, 2, &[]);
    // Tolerance 1e-9.
    let res = run(&[anchor("p"), anchor("q"), co_with("c", owners(0.5, 0.5 + 1e-10))]);
    assert_rules(&res, 2, &[]);
    // Every entry counts, whoever the owner is, out-of-range stakes included.
    let v = co_with("c", json!({"owners": [{"id": "nobody", "stake": 0.9}, {"id": "p", "stake": -0.5}, {"id": "p", "stake": 0.5}]}));
    let res = run(&[anchor("p"), v]);
    assert_rules(&res, 1, &["owners-exist", "stake-range"]);
    let v = co_with("c", json!({"owners": [{"id": "nobody", "stake": 0.9}, {"id": "p", "stake": 0.2}]}));
    let res = run(&[anchor("p"), v]);
    assert_rules(&res, 1, &["owners-exist", "stakes-at-most-whole"]);
}

// ---------------------------------------------------------------------------
// Cross-field rules
// ---------------------------------------------------------------------------

#[test]
fn saas_gross_margin() {
    assert_single(co_with("a", json!({"industry": "SaaS", "gross_margin": 0.6})), &["saas-gross-margin"]);
    assert_single(co_with("a", json!({"industry": "SaaS", "gross_margin": 0.2})), &["saas-gross-margin"]);
    assert_single(co_with("a", json!({"industry": "SaaS", "gross_margin": 0.61})), &[]);
    assert_single(co_with("a", json!({"industry": "Retail", "gross_margin": 0.2})), &[]);
}

#[test]
fn public_listing_valid() {
    let listed = |ex: Value, t: Value| co_with("a", json!({"public": true, "exchange": ex, "ticker": t}));
    for (ex, t) in [
        ("NYSE", "F"),
        ("NYSE", "BRK.A"),
        ("NYSE", "ABCD"),
        ("NYSE", "ABCD.B"),
        ("NASDAQ", "GOOGL"),
        ("NASDAQ", "A"),
        ("LSE", "VOD"),
        ("LSE", "BARC"),
        ("XETRA", "SAP"),
        ("XETRA", "1COV"),
        ("XETRA", "12"),
        ("EURONEXT", "AIR"),
        ("EURONEXT", "ABCDE"),
        ("TSE", "7203"),
        ("HKEX", "0700"),
        ("HKEX", "00700"),
    ] {
        assert_single(listed(json!(ex), json!(t)), &[]);
    }
    for (ex, t) in [
        (json!("NYSE"), json!("ABCDE")),
        (json!("NYSE"), json!("BRK.AB")),
        (json!("NYSE"), json!("BRK.")),
        (json!("NYSE"), json!(".A")),
        (json!("NYSE"), json!("brk")),
        (json!("NYSE"), json!("")),
        (json!("NASDAQ"), json!("GOOGLE")),
        (json!("LSE"), json!("V")),
        (json!("LSE"), json!("BARCL")),
        (json!("XETRA"), json!("SAP_")),
        (json!("XETRA"), json!("S")),
        (json!("EURONEXT"), json!("A")),
        (json!("EURONEXT"), json!("A1R")),
        (json!("TSE"), json!("720")),
        (json!("TSE"), json!("72030")),
        (json!("HKEX"), json!("700")),
        (json!("HKEX"), json!("007000")),
        (json!("nyse"), json!("F")),
        (json!("SIX"), json!("NESN")),
        (json!(""), json!("F")),
        (Value::Null, json!("F")),
        (json!("NYSE"), Value::Null),
        (Value::Null, Value::Null),
    ] {
        assert_single(listed(ex.clone(), t.clone()), &["public-listing-valid"]);
    }
    // Absent exchange and ticker on a public company.
    assert_single(co_with("a", json!({"public": true})), &["public-listing-valid"]);
}

#[test]
fn private_has_no_listing() {
    assert_single(co_with("a", json!({"exchange": "LSE", "ticker": "VOD"})), &["private-has-no-listing"]);
    assert_single(co_with("a", json!({"ticker": ""})), &["private-has-no-listing"]);
    assert_single(co_with("a", json!({"exchange": "", "ticker": null})), &["private-has-no-listing"]);
    assert_single(co_with("a", json!({"exchange": null, "ticker": null})), &[]);
    assert_single(co("a"), &[]);
}

#[test]
fn segments_sum_to_revenue() {
    let segs = |a: f64, b: f64| json!({"segments": [{"name": "x", "revenue": a}, {"name": "y", "revenue": b}]});
    assert_single(co_with("a", segs(10_000_000.0, 10_100_000.0)), &[]);
    assert_single(co_with("a", segs(10_000_000.0, 9_900_000.0)), &[]);
    assert_single(co_with("a", segs(10_000_000.0, 10_300_000.0)), &["segments-sum-to-revenue"]);
    assert_single(co_with("a", segs(10_000_000.0, 9_700_000.0)), &["segments-sum-to-revenue"]);
    assert_single(co_with("a", json!({"segments": []})), &[]);
    // consolidated_revenue <= 0: never within 1%, even of a zero sum.
    assert_single(
        co_with(
            "a",
            json!({"standalone_revenue": 0, "consolidated_revenue": 0, "employee_count": 1,
                            "segments": [{"name": "x", "revenue": 0}]}),
        ),
        &["consolidated-revenue-positive", "segments-sum-to-revenue", "revenue-per-employee"],
    );
    // ...but an empty list still does not apply.
    assert_single(
        co_with("a", json!({"standalone_revenue": 0, "consolidated_revenue": 0, "segments": []})),
        &["consolidated-revenue-positive", "revenue-per-employee"],
    );
}

#[test]
fn standalone_within_consolidated() {
    assert_single(co_with("a", json!({"standalone_revenue": 21_000_000})), &["standalone-within-consolidated"]);
    assert_single(
        co_with("a", json!({"standalone_revenue": 21_000_000, "intercompany_eliminations": null})),
        &["standalone-within-consolidated"],
    );
    assert_single(co_with("a", json!({"standalone_revenue": 21_000_000, "intercompany_eliminations": 1_000_000})), &[]);
    assert_single(
        co_with("a", json!({"standalone_revenue": 21_000_001, "intercompany_eliminations": 1_000_000})),
        &["standalone-within-consolidated"],
    );
    assert_single(co_with("a", json!({"standalone_revenue": 20_000_000})), &[]);
}

#[test]
fn arr_only_for_subscription() {
    assert_single(co_with("a", json!({"arr": 1})), &["arr-only-for-subscription"]);
    assert_single(co_with("a", json!({"arr": 0})), &["arr-only-for-subscription"]);
    assert_single(co_with("a", json!({"arr": null})), &[]);
    assert_single(co_with("a", json!({"industry": "SaaS", "gross_margin": 0.8, "arr": 15_000_000})), &[]);
}

// ---------------------------------------------------------------------------
// Cross-entity rules
// ---------------------------------------------------------------------------

#[test]
fn owners_exist() {
    let child = co_with("c", json!({"owners": [{"id": "nobody", "stake": 0.1}]}));
    assert_single(child.clone(), &["owners-exist"]);
    // Any JSON object with that id string will do, whatever its verdict.
    let res = run(&[anchor("nobody"), child.clone()]);
    assert_rules(&res, 1, &[]);
    // A line that is not a JSON object does not count.
    let mut input = b"{\"id\":\"nobody\"} trailing\n".to_vec();
    input.extend(text(std::slice::from_ref(&child)));
    let res = oracle(&input, YEAR);
    assert_rules(&res, 0, &["json"]);
    assert_rules(&res, 1, &["owners-exist"]);
    // Duplicated owners still exist.
    let res = run(&[co("p"), co("p"), co_with("c", json!({"owners": [{"id": "p", "stake": 0.1}]}))]);
    assert_rules(&res, 2, &[]);
    // Ids are compared exactly.
    let res = run(&[co("P"), co_with("c", json!({"owners": [{"id": "p", "stake": 0.1}]}))]);
    assert_rules(&res, 1, &["owners-exist"]);
}

#[test]
fn ownership_acyclic() {
    let owned_by = |id: &str, owner: &str, stake: f64| co_with(id, json!({"owners": [{"id": owner, "stake": stake}]}));
    // Two-cycle, both rejected.
    let res = run(&[owned_by("a", "b", 0.1), owned_by("b", "a", 0.1)]);
    assert_rules(&res, 0, &["ownership-acyclic"]);
    assert_rules(&res, 1, &["ownership-acyclic"]);
    // Five-cycle with a tail hanging off it: the tail is not on the cycle.
    let res = run(&[
        owned_by("a", "e", 0.1),
        owned_by("b", "a", 0.1),
        owned_by("c", "b", 0.1),
        owned_by("d", "c", 0.1),
        owned_by("e", "d", 0.1),
        owned_by("tail", "c", 0.1),
    ]);
    for k in 0..5 {
        assert_rules(&res, k, &["ownership-acyclic"]);
    }
    assert_rules(&res, 5, &[]);
    // Self-ownership is a cycle, whatever the stake (0 still makes an edge).
    let res = run(&[owned_by("a", "a", 0.1)]);
    assert_rules(&res, 0, &["ownership-acyclic"]);
    let res = run(&[owned_by("a", "a", 0.0)]);
    assert_rules(&res, 0, &["ownership-acyclic", "stake-range"]);
    // A self-held controlling stake: the company is its own controlled
    // subsidiary, and its sums still hold (cr >= sr, cr <= 1.01*(sr+cr)).
    let res = run(&[owned_by("a", "a", 1.0)]);
    assert_rules(&res, 0, &["ownership-acyclic"]);
    // A chain is not a cycle.
    let res = run(&[co("a"), owned_by("b", "a", 0.1), owned_by("c", "b", 0.1)]);
    for k in 0..3 {
        assert_rules(&res, k, &[]);
    }
    // A cycle through a company outside the graph is no cycle.
    let broken = without(owned_by("b", "a", 0.1), "currency");
    let res = run(&[owned_by("a", "b", 0.1), broken]);
    assert_rules(&res, 0, &[]);
    assert_rules(&res, 1, &["schema"]);
    // ...nor through a duplicated id.
    let res = run(&[owned_by("a", "b", 0.1), owned_by("b", "a", 0.1), co("b")]);
    assert_rules(&res, 0, &[]);
    assert_rules(&res, 1, &["unique-id"]);
    assert_rules(&res, 2, &["unique-id"]);
    // A schema-broken company listing itself gets no cross-entity finding.
    let res = run(&[without(owned_by("a", "a", 0.1), "name")]);
    assert_rules(&res, 0, &["schema"]);
}

#[test]
fn ownership_acyclic_long_cycle_does_not_recurse() {
    // A single cycle through 100,000 companies: iterative SCC, no stack overflow.
    let n = 100_000;
    let mut input = Vec::new();
    for i in 0..n {
        let v = co_with(&format!("c{i}"), json!({"owners": [{"id": format!("c{}", (i + 1) % n), "stake": 0.1}]}));
        input.extend(serde_json::to_vec(&v).unwrap());
        input.push(b'\n');
    }
    let res = oracle(&input, YEAR);
    assert_eq!(res.lines.len(), n);
    assert!(res.lines.iter().all(|l| l.rules == set(&["ownership-acyclic"])));
}

/// Parent `p` with controlled subsidiary `s` (sr = cr = 10M, 50 staff).
fn parent_and_sub(parent: Value, stake: f64) -> Vec<Value> {
    vec![
        parent,
        co_with(
            "s",
            json!({"standalone_revenue": 10_000_000, "consolidated_revenue": 10_000_000, "employee_count": 50,
                   "owners": [{"id": "p", "stake": stake}]}),
        ),
    ]
}

#[test]
fn consolidation_covers_subsidiaries() {
    // p: own 5M; consolidated 9M < 10M of the subsidiary.
    let p = co_with("p", json!({"standalone_revenue": 5_000_000, "consolidated_revenue": 9_000_000}));
    let res = run(&parent_and_sub(p, 0.6));
    assert_rules(&res, 0, &["consolidation-covers-subsidiaries"]);
    assert_rules(&res, 1, &[]);
    // Its own eliminations are subtracted: 9M >= 10M - 1M.
    let p =
        co_with("p", json!({"standalone_revenue": 5_000_000, "consolidated_revenue": 9_000_000, "intercompany_eliminations": 1_000_000}));
    assert_rules(&run(&parent_and_sub(p, 0.6)), 0, &[]);
    // Consistent consolidation.
    let p = co_with("p", json!({"standalone_revenue": 5_000_000, "consolidated_revenue": 15_000_000}));
    assert_rules(&run(&parent_and_sub(p, 0.6)), 0, &[]);
    // Stake 0.5 is not control: nothing to cover, but then 9M > 1.01 x 5M.
    let p = co_with("p", json!({"standalone_revenue": 5_000_000, "consolidated_revenue": 9_000_000, "equity_method_income": 0}));
    assert_rules(&run(&parent_and_sub(p, 0.5)), 0, &["minority-stakes-not-consolidated"]);
    // With no controlled subsidiary the sum is 0 and the rule still applies.
    assert_single(
        co_with("a", json!({"standalone_revenue": 0, "consolidated_revenue": -1})),
        &["consolidated-revenue-positive", "consolidation-covers-subsidiaries", "revenue-per-employee", "standalone-within-consolidated"],
    );
    // A stake of 1.2 still makes a controlled subsidiary.
    let p = co_with("p", json!({"standalone_revenue": 5_000_000, "consolidated_revenue": 9_000_000}));
    let res = run(&parent_and_sub(p, 1.2));
    assert_rules(&res, 0, &["consolidation-covers-subsidiaries"]);
    assert_rules(&res, 1, &["stake-range", "stakes-at-most-whole"]);
    // A subsidiary outside the graph contributes nothing.
    let p = co_with("p", json!({"standalone_revenue": 9_000_000, "consolidated_revenue": 9_000_000}));
    let mut lines = parent_and_sub(p, 0.6);
    lines[1] = without(lines[1].clone(), "currency");
    let res = run(&lines);
    assert_rules(&res, 0, &[]);
    assert_rules(&res, 1, &["schema"]);
}

#[test]
fn minority_stakes_not_consolidated() {
    // p consolidated its 30% associate: 15M > 1.01 x 5M.
    let p = co_with("p", json!({"standalone_revenue": 5_000_000, "consolidated_revenue": 15_000_000, "equity_method_income": 100}));
    let res = run(&parent_and_sub(p, 0.3));
    assert_rules(&res, 0, &["minority-stakes-not-consolidated"]);
    // Within the 1% margin.
    let p = co_with("p", json!({"standalone_revenue": 5_000_000, "consolidated_revenue": 5_040_000, "equity_method_income": 100}));
    assert_rules(&run(&parent_and_sub(p, 0.3)), 0, &[]);
    let p = co_with("p", json!({"standalone_revenue": 5_000_000, "consolidated_revenue": 5_060_000, "equity_method_income": 100}));
    assert_rules(&run(&parent_and_sub(p, 0.3)), 0, &["minority-stakes-not-consolidated"]);
    // Controlled subsidiaries count with their consolidated revenue.
    let p = co_with("p", json!({"standalone_revenue": 5_000_000, "consolidated_revenue": 15_100_000}));
    assert_rules(&run(&parent_and_sub(p, 0.8)), 0, &[]);
}

#[test]
fn equity_method_income_reported() {
    let p = co("p");
    let sub = |stake: f64| co_with("s", json!({"owners": [{"id": "p", "stake": stake}]}));
    let res = run(&[p.clone(), sub(0.2)]);
    assert_rules(&res, 0, &["equity-method-income-reported"]);
    let res = run(&[co_with("p", json!({"equity_method_income": null})), sub(0.5)]);
    assert_rules(&res, 0, &["equity-method-income-reported"]);
    let res = run(&[co_with("p", json!({"equity_method_income": 0})), sub(0.5)]);
    assert_rules(&res, 0, &[]);
    let res = run(&[p.clone(), sub(0.19)]);
    assert_rules(&res, 0, &[]);
    // An investee outside the graph does not count.
    let res = run(&[p.clone(), without(sub(0.3), "name")]);
    assert_rules(&res, 0, &[]);
}

#[test]
fn parallel_edges_are_merged() {
    // Same owner twice: controlled if any stake > 0.5, investee if any in [0.2, 0.5].
    let p = co_with("p", json!({"standalone_revenue": 5_000_000, "consolidated_revenue": 15_000_000}));
    let s = co_with(
        "s",
        json!({"standalone_revenue": 10_000_000, "consolidated_revenue": 10_000_000, "employee_count": 50,
               "owners": [{"id": "p", "stake": 0.55}, {"id": "p", "stake": 0.3}]}),
    );
    let res = run(&[p.clone(), s.clone()]);
    // Both controlled (consolidation fine, counted once) and an investee (needs equity income);
    // the sum 0.85 is fine.
    assert_rules(&res, 0, &["equity-method-income-reported"]);
    assert_rules(&res, 1, &[]);
    // Counted once: consolidating it twice (25M) breaks the 1.01 bound.
    let p2 = co_with("p", json!({"standalone_revenue": 5_000_000, "consolidated_revenue": 25_000_000, "equity_method_income": 1}));
    let res = run(&[p2, s]);
    assert_rules(&res, 0, &["minority-stakes-not-consolidated"]);
    // Two stakes 0.3 + 0.3 from the same owner: not controlled (no stake > 0.5).
    let s = co_with(
        "s",
        json!({"standalone_revenue": 10_000_000, "consolidated_revenue": 10_000_000, "employee_count": 50,
               "owners": [{"id": "p", "stake": 0.3}, {"id": "p", "stake": 0.3}]}),
    );
    let res = run(&[co_with("p", json!({"equity_method_income": 1})), s]);
    assert_rules(&res, 0, &[]);
}

#[test]
fn unique_id() {
    let res = run(&[co("a"), co("b"), co("a")]);
    assert_rules(&res, 0, &["unique-id"]);
    assert_rules(&res, 1, &[]);
    assert_rules(&res, 2, &["unique-id"]);
    // Every object with that string id is involved, schema-broken ones too.
    let res = run(&[co("a"), anchor("a")]);
    assert_rules(&res, 0, &["unique-id"]);
    assert_rules(&res, 1, &["schema", "unique-id"]);
    // A non-string id is not an id.
    let res = run(&[co("1"), co_with("x", json!({"id": 1}))]);
    assert_rules(&res, 0, &[]);
    assert_rules(&res, 1, &["schema"]);
    // Duplicates leave the graph: a subsidiary of a duplicated owner has no edge.
    let p = co_with("p", json!({"consolidated_revenue": 5_000_000}));
    let res = run(&[p.clone(), p, co_with("s", json!({"owners": [{"id": "p", "stake": 1}]}))]);
    assert_rules(&res, 2, &[]);
}

// ---------------------------------------------------------------------------
// Plausibility, company scope
// ---------------------------------------------------------------------------

#[test]
fn saas_scale_needs_staff() {
    let saas = |arr: f64, ec: i64| {
        co_with(
            "a",
            json!({"industry": "SaaS", "gross_margin": 0.8, "arr": arr, "employee_count": ec,
                   "standalone_revenue": 200_000_000, "consolidated_revenue": 200_000_000}),
        )
    };
    let res = run(&[saas(100_000_001.0, 50)]);
    assert_rules(&res, 0, &["saas-scale-needs-staff"]);
    assert_eq!(res.lines[0].verdict, Verdict::Flagged);
    assert_single(saas(100_000_001.0, 51), &[]);
    assert_single(saas(100_000_000.0, 50), &[]);
    // Absent arr: does not apply.
    assert_single(without(saas(1.0, 50), "arr"), &[]);
}

#[test]
fn holdco_without_operations() {
    let holding = |flags: Value| co_with("h", json!({"industry": "Holding", "plausibility_flags": flags}));
    let res = run(&[holding(json!([]))]);
    assert_rules(&res, 0, &["holdco-without-operations"]);
    assert_eq!(res.lines[0].verdict, Verdict::Flagged);
    assert_single(holding(json!(["other"])), &["holdco-without-operations"]);
    assert_single(holding(json!(["holdco-without-operations"])), &[]);
    assert_single(holding(Value::Null), &[]);
    assert_single(without(holding(json!([])), "plausibility_flags"), &[]);
    // With a controlled subsidiary in the graph it does not fire.
    let h = co_with(
        "p",
        json!({"industry": "Holding", "plausibility_flags": [], "standalone_revenue": 5_000_000,
               "consolidated_revenue": 15_000_000}),
    );
    assert_rules(&run(&parent_and_sub(h.clone(), 0.6)), 0, &[]);
    // An investee is not a controlled subsidiary.
    let h2 = co_with("p", json!({"industry": "Holding", "plausibility_flags": [], "equity_method_income": 0}));
    assert_rules(&run(&parent_and_sub(h2, 0.4)), 0, &["holdco-without-operations"]);
    // Outside the graph it does not apply.
    let res = run(&[without(holding(json!([])), "currency")]);
    assert_rules(&res, 0, &["schema"]);
    let res = run(&[holding(json!([])), holding(json!([]))]);
    assert_rules(&res, 0, &["unique-id"]);
}

#[test]
fn revenue_per_employee() {
    let rpe = |cr: f64, ec: i64| co_with("a", json!({"standalone_revenue": cr, "consolidated_revenue": cr, "employee_count": ec}));
    assert_single(rpe(499_900.0, 100), &["revenue-per-employee"]);
    assert_single(rpe(500_000.0, 100), &[]);
    assert_single(rpe(500_000_000.0, 100), &[]);
    assert_single(rpe(500_000_100.0, 100), &["revenue-per-employee"]);
    // employee_count 0: not applicable.
    assert_single(rpe(500_000.0, 0), &["employee-count-range"]);
    // Flag rules are reported on rejected companies too.
    let v = co_with("a", json!({"standalone_revenue": 1, "consolidated_revenue": 1, "country": "gb"}));
    let res = run(&[v]);
    assert_rules(&res, 0, &["country-code-format", "revenue-per-employee"]);
    assert_eq!(res.lines[0].verdict, Verdict::Rejected);
}

// ---------------------------------------------------------------------------
// Dataset-level rules
// ---------------------------------------------------------------------------

fn all_classes(times: usize) -> Vec<Value> {
    let mut out = Vec::new();
    for class in oracle::BEHAVIOUR_CLASSES {
        for _ in 0..times {
            out.push(json!({ "behaviour_class": class }));
        }
    }
    out
}

#[test]
fn behaviour_class_coverage() {
    assert_eq!(run(&all_classes(3)).dataset_rules, set(&[]));
    let mut lines = all_classes(3);
    lines.pop();
    assert_eq!(run(&lines).dataset_rules, set(&["behaviour-class-coverage"]));
    // Duplicates count twice; exact comparison ("Happy-path" is not a class).
    let mut lines = all_classes(2);
    lines.extend(all_classes(1));
    assert_eq!(run(&lines).dataset_rules, set(&[]));
    let mut lines = all_classes(3);
    lines.retain(|v| v["behaviour_class"] != "happy-path");
    for _ in 0..3 {
        lines.push(json!({"behaviour_class": "Happy-path"}));
    }
    assert_eq!(run(&lines).dataset_rules, set(&["behaviour-class-coverage"]));
}

fn big_saas(staff: i64) -> Value {
    // Schema-broken on purpose: the dataset rule counts every usable object.
    json!({"industry": "SaaS", "arr": 200_000_000, "employee_count": staff})
}

#[test]
fn saas_scale_staffing_share() {
    let mut base = all_classes(3);
    // 20 large SaaS, 19 staffed: exactly 95%, does not fire.
    let mut lines = base.clone();
    lines.extend((0..19).map(|_| big_saas(200)));
    lines.push(big_saas(10));
    assert_eq!(run(&lines).dataset_rules, set(&[]));
    // 18 of 20: fires.
    let mut lines = base.clone();
    lines.extend((0..18).map(|_| big_saas(200)));
    lines.extend((0..2).map(|_| big_saas(10)));
    assert_eq!(run(&lines).dataset_rules, set(&["saas-scale-staffing-share"]));
    // Fewer than 20 large SaaS: never fires.
    let mut lines = base.clone();
    lines.extend((0..19).map(|_| big_saas(10)));
    assert_eq!(run(&lines).dataset_rules, set(&[]));
    // arr at the threshold, other industries and unusable staff counts are not counted.
    base.extend((0..19).map(|_| big_saas(10)));
    base.push(json!({"industry": "SaaS", "arr": 100_000_000, "employee_count": 10}));
    base.push(json!({"industry": "Retail", "arr": 200_000_000, "employee_count": 10}));
    base.push(json!({"industry": "SaaS", "arr": 200_000_000, "employee_count": 10.5}));
    base.push(json!({"industry": "SaaS", "arr": 200_000_000}));
    assert_eq!(run(&base).dataset_rules, set(&[]));
}

/// `groups` parent/subsidiary pairs, the first `mismatched` with different year ends.
fn fye_groups(groups: usize, mismatched: usize) -> Vec<Value> {
    let mut out = all_classes(3);
    for g in 0..groups {
        let p = format!("p{g}");
        out.push(co_with(&p, json!({"consolidated_revenue": 40_000_000, "employee_count": 200})));
        let fye = if g < mismatched { "03-31" } else { "12-31" };
        out.push(co_with(&format!("s{g}"), json!({"fiscal_year_end": fye, "owners": [{"id": p, "stake": 0.6}]})));
    }
    out
}

#[test]
fn fiscal_year_mismatch_share() {
    let check = |groups: usize, mismatched: usize, fires: bool| {
        let res = run(&fye_groups(groups, mismatched));
        // The behaviour-class objects are schema-broken; every company is accepted.
        assert!(res.lines.iter().filter(|l| l.id.is_some()).all(|l| l.verdict == Verdict::Accepted), "{groups}/{mismatched}");
        let expected = if fires { set(&["fiscal-year-mismatch-share"]) } else { set(&[]) };
        assert_eq!(res.dataset_rules, expected, "{mismatched} of {groups}");
    };
    check(20, 0, true);
    check(20, 1, false); // 5%
    check(20, 3, false); // 15%
    check(20, 5, false); // 25%
    check(20, 6, true); // 30%
    check(19, 0, false); // fewer than 20 multi-entity groups
    check(19, 19, false);
    check(40, 1, true); // 2.5%
}

#[test]
fn fiscal_year_mismatch_share_counts_groups_not_edges() {
    // 20 groups; group 0 has two mismatched subsidiaries and a minority associate
    // with another year end (not controlled: no mismatch). 1 of 20 = 5%.
    let mut lines = fye_groups(20, 0);
    lines.push(co_with("s0b", json!({"fiscal_year_end": "06-30", "owners": [{"id": "p0", "stake": 0.7}]})));
    lines.push(co_with("s0c", json!({"fiscal_year_end": "09-30", "owners": [{"id": "p0", "stake": 0.7}]})));
    lines.push(co_with("a1", json!({"fiscal_year_end": "06-30", "owners": [{"id": "p1", "stake": 0.1}]})));
    let res = run(&lines);
    assert_eq!(res.dataset_rules, set(&[]));
    // A mismatch only through a non-controlling stake does not count.
    let mut lines = fye_groups(20, 0);
    lines.push(co_with("a1", json!({"fiscal_year_end": "06-30", "owners": [{"id": "p1", "stake": 0.1}]})));
    assert_eq!(run(&lines).dataset_rules, set(&["fiscal-year-mismatch-share"]));
}

// ---------------------------------------------------------------------------
// Lines
// ---------------------------------------------------------------------------

#[test]
fn blank_lines_bom_and_crlf() {
    let a = serde_json::to_string(&co("a")).unwrap();
    let b = serde_json::to_string(&co("b")).unwrap();
    let input = format!("\u{feff}{a}\r\n\r\n  \t \n\n{b}\r\n\r");
    let res = run_raw(&input);
    assert_eq!(res.lines.len(), 2);
    assert_eq!(res.lines[0].line, 1);
    assert_eq!(res.lines[1].line, 5);
    assert!(res.lines.iter().all(|l| l.rules.is_empty()));
    // A final line without newline is a line.
    let res = run_raw(&format!("{a}\n{b}"));
    assert_eq!(res.lines.len(), 2);
    assert_eq!(res.lines[1].line, 2);
    // A BOM anywhere else is not whitespace.
    let res = run_raw(&format!("{a}\n\u{feff}{b}\n"));
    assert_rules(&res, 1, &["json"]);
    // Only spaces, tabs and CR are blank; a form feed is not.
    let res = run_raw("\u{c}\n");
    assert_eq!(res.lines.len(), 1);
    assert_rules(&res, 0, &["json"]);
    // Empty input.
    assert!(run_raw("").lines.is_empty());
    assert!(run_raw("\u{feff}").lines.is_empty());
}

#[test]
fn duplicate_keys_last_wins() {
    let a = serde_json::to_string(&co("a")).unwrap();
    let first_bad = a.replacen('{', "{\"employee_count\":-1,", 1);
    assert_rules(&run_raw(&first_bad), 0, &[]);
    let last_bad = format!("{},\"employee_count\":-1}}", &a[..a.len() - 1]);
    assert_rules(&run_raw(&last_bad), 0, &["employee-count-range", "revenue-per-employee"]);
    let last_null = format!("{},\"name\":null}}", &a[..a.len() - 1]);
    let res = run_raw(&last_null);
    assert_eq!(res.lines[0].schema_fields, vec!["name".to_string()]);
}

#[test]
fn verdicts() {
    let res = run(&[co("a"), co_with("b", json!({"employee_count": 1})), co_with("c", json!({"country": "x"}))]);
    assert_eq!(res.lines[0].verdict, Verdict::Accepted);
    assert_eq!(res.lines[1].verdict, Verdict::Flagged);
    assert_eq!(res.lines[2].verdict, Verdict::Rejected);
}

// ---------------------------------------------------------------------------
// The generator
// ---------------------------------------------------------------------------

fn generated(companies: usize, seed: u64, violations: f64) -> Vec<u8> {
    let mut out = Vec::new();
    gen::generate(&gen::GenConfig { companies, seed, violations }, &mut out).unwrap();
    out
}

#[test]
fn generator_is_deterministic() {
    let a = generated(2_000, 42, 0.1);
    let b = generated(2_000, 42, 0.1);
    assert_eq!(a, b);
    assert_ne!(a, generated(2_000, 43, 0.1));
    assert_ne!(a, generated(2_000, 42, 0.05));
    // A prefix is not a different corpus: the same seed with more companies
    // starts the same way (streaming).
    let longer = generated(3_000, 42, 0.1);
    let cut = a.len() / 2;
    assert_eq!(a[..cut], longer[..cut]);
}

#[test]
fn generator_writes_exactly_the_requested_number_of_companies() {
    for (n, v) in [(0, 0.0), (1, 0.0), (2, 0.5), (3, 1.0), (7, 0.2), (997, 0.05), (1000, 1.0)] {
        let res = oracle(&generated(n, 5, v), YEAR);
        assert_eq!(res.lines.len(), n, "{n} companies at {v}");
    }
}

#[test]
fn generator_clean_corpus_is_accepted() {
    for seed in [1, 2] {
        let data = generated(4_000, seed, 0.0);
        let res = oracle(&data, YEAR);
        assert_eq!(res.lines.len(), 4_000);
        let rejected: Vec<_> = res.lines.iter().filter(|l| l.verdict == Verdict::Rejected).take(5).collect();
        assert!(rejected.is_empty(), "seed {seed}: {rejected:?}");
        let flagged = res.lines.iter().filter(|l| l.verdict == Verdict::Flagged).count();
        assert!(flagged <= 40, "seed {seed}: {flagged} flagged");
        assert_eq!(res.dataset_rules, set(&[]), "seed {seed}");
        // Realistic line sizes, and the format's texture: CRLF, blank lines.
        let avg = data.len() / 4_000;
        assert!((350..=700).contains(&avg), "average line {avg} bytes");
        assert!(data.windows(2).any(|w| w == b"\r\n"));
        assert!(res.lines.last().unwrap().line > 4_000, "some blank lines");
    }
}

#[test]
fn generator_violations_cover_every_rule() {
    for seed in [1, 2, 3] {
        let res = oracle(&generated(5_000, seed, 0.2), YEAR);
        let mut fired: BTreeSet<String> = res.dataset_rules.clone();
        for l in &res.lines {
            fired.extend(l.rules.iter().cloned());
        }
        let missing: Vec<&str> = ALL_RULE_IDS.iter().copied().filter(|r| !fired.contains(*r)).collect();
        assert!(missing.is_empty(), "seed {seed}: never fired: {missing:?}");
        // About a fifth of the companies break something (knock-on effects included).
        let rejected = res.lines.iter().filter(|l| l.verdict == Verdict::Rejected).count();
        assert!((600..=1_400).contains(&rejected), "seed {seed}: {rejected} rejected");
    }
}

#[test]
fn generator_low_violation_rate_is_mostly_clean() {
    let res = oracle(&generated(5_000, 9, 0.05), YEAR);
    let rejected = res.lines.iter().filter(|l| l.verdict == Verdict::Rejected).count();
    assert!((150..=400).contains(&rejected), "{rejected} rejected");
}
