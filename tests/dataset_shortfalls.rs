//! Dataset findings name the records behind them and how many must change
//! (or be added): `shortfalls` in the JSON report. Each test applies what
//! a shortfall says to the data, through the real binary, and checks that
//! exactly that much fixes the finding: one change or addition fewer does
//! not.

use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

#[path = "support/cli.rs"]
mod cli;

fn check(lines: &[Value]) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.jsonl");
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_skillc"))
        .args(["check", "--format", "json", "--skills"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("skills"))
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.code().unwrap_or(2) < 2, "{}", String::from_utf8_lossy(&out.stderr));
    cli::json_lines(&out)
}

fn finding<'a>(report: &'a [Value], rule: &str) -> Option<&'a Value> {
    report.iter().find(|l| l["type"] == "dataset" && l["rule"] == rule)
}

fn corpus(name: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpora/rules").join(name);
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn big_saas(i: usize, staff: u64) -> Value {
    let mut c = corpus("saas-scale-staffing-share.jsonl")[0].clone();
    c["id"] = format!("cloud-{i:03}").into();
    c["name"] = format!("Cloud {i:03} Ltd").into();
    c["employee_count"] = staff.into();
    c
}

fn usize_of(v: &Value) -> usize {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}")) as usize
}

#[test]
fn a_share_below_its_minimum_names_the_records_that_fail_and_how_many_must_change() {
    const RULE: &str = "saas-scale-staffing-share";
    for (n, under) in [(20, 2), (20, 5), (40, 3), (25, 2), (60, 30)] {
        // The understaffed companies come first, then the staffed ones.
        let data: Vec<Value> = (0..n).map(|i| big_saas(i, if i < under { 40 } else { 260 })).collect();
        let report = check(&data);
        let f = finding(&report, RULE).unwrap_or_else(|| panic!("{n} companies, {under} understaffed: no finding"));
        let s = &f["shortfalls"][0];
        assert_eq!(s["function"], "share");
        assert_eq!(s["direction"], "more");
        assert_eq!(s["condition"], "c.employee_count > 50");
        assert_eq!((usize_of(&s["matching"]), usize_of(&s["of"])), (n - under, n));
        let named: Vec<String> = (0..under.min(20)).map(|i| format!("cloud-{i:03}")).collect();
        assert_eq!(s["records"], json!(named), "{n}/{under}");
        assert_eq!(usize_of(&s["records_total"]), under);

        // Staffing `change` of the named companies is enough; one fewer is not.
        let change = usize_of(&s["change"]);
        for (m, fixed) in [(change, true), (change - 1, false)] {
            let mut d = data.clone();
            for c in d.iter_mut().take(m) {
                c["employee_count"] = 260.into();
            }
            assert_eq!(finding(&check(&d), RULE).is_none(), fixed, "{n}/{under}: changing {m} of {change}");
        }
        // So is adding `add` staffed companies; one fewer is not.
        let add = usize_of(&s["add"]);
        for (a, fixed) in [(add, true), (add - 1, false)] {
            let mut d = data.clone();
            d.extend((0..a).map(|i| big_saas(1000 + i, 260)));
            assert_eq!(finding(&check(&d), RULE).is_none(), fixed, "{n}/{under}: adding {a} of {add}");
        }
    }
}

#[test]
fn a_share_above_its_range_names_the_groups_behind_it_and_both_ways_back() {
    const RULE: &str = "fiscal-year-mismatch-share";
    let data = corpus("fiscal-year-mismatch-share.high.jsonl");
    let report = check(&data);
    let s = &finding(&report, RULE).expect("the corpus is flagged")["shortfalls"][0];
    assert_eq!(s["direction"], "fewer");
    assert_eq!((usize_of(&s["matching"]), usize_of(&s["of"])), (6, 20));
    // 6 of 20 groups mismatch; at most 25% may: one must change, or four
    // groups without a mismatch join.
    assert_eq!((usize_of(&s["change"]), usize_of(&s["add"])), (1, 4));
    assert_eq!(usize_of(&s["records_total"]), 6);
    // A group is named by its members' ids.
    let first = s["records"][0].as_array().expect("a group is a list of ids");
    assert!(first.contains(&json!("fymh-g00")) && first.contains(&json!("fymh-g00-sub1")), "{first:?}");

    // Align the subsidiaries' year ends in the first `change` named groups.
    let align = |groups: usize| -> Vec<Value> {
        let members: Vec<String> = s["records"].as_array().unwrap()[..groups]
            .iter()
            .flat_map(|g| g.as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_string()))
            .collect();
        let mut d = data.clone();
        for c in d.iter_mut().filter(|c| members.iter().any(|m| c["id"] == m.as_str())) {
            c["fiscal_year_end"] = "12-31".into();
        }
        d
    };
    assert!(finding(&check(&align(1)), RULE).is_none(), "aligning one named group fixes the share");
    // Or add groups whose years agree.
    let with_groups = |n: usize| -> Vec<Value> {
        let mut d = data.clone();
        for i in 0..n {
            let mut parent = data[0].clone();
            parent["id"] = format!("aligned-{i}").into();
            let mut sub = data[1].clone();
            sub["id"] = format!("aligned-{i}-sub").into();
            sub["fiscal_year_end"] = parent["fiscal_year_end"].clone();
            sub["owners"] = json!([{"id": format!("aligned-{i}"), "stake": 0.8}]);
            d.push(parent);
            d.push(sub);
        }
        d
    };
    assert!(finding(&check(&with_groups(4)), RULE).is_none());
    assert!(finding(&check(&with_groups(3)), RULE).is_some(), "three aligned groups are not enough: 6/23 > 25%");
}

#[test]
fn a_coverage_rule_asks_for_the_companies_each_short_class_needs() {
    const RULE: &str = "behaviour-class-coverage";
    let data = corpus("behaviour-class-coverage.several-short.jsonl");
    let report = check(&data);
    let f = finding(&report, RULE).expect("classes fall short");
    let shortfalls = f["shortfalls"].as_array().unwrap();
    assert_eq!(shortfalls.len(), 4, "one per class that falls short: {shortfalls:?}");
    let template = data[0].clone();
    let mut fixed = data.clone();
    for (i, s) in shortfalls.iter().enumerate() {
        assert_eq!((s["function"].as_str(), s["direction"].as_str()), (Some("count"), Some("more")));
        assert!(s.get("records").is_none(), "a count short of a minimum names nobody: {s}");
        // The class is in the condition as the rule wrote it, bound variable replaced.
        let condition = s["condition"].as_str().unwrap();
        let class = condition.rsplit('"').nth(1).unwrap();
        assert_eq!(usize_of(&s["add"]), 3 - usize_of(&s["matching"]), "{condition}");
        let mut add = usize_of(&s["add"]);
        if i == 0 {
            add -= 1; // one class left one short
        }
        for j in 0..add {
            let mut c = template.clone();
            c["id"] = format!("{class}-{j}").into();
            c["behaviour_class"] = class.into();
            fixed.push(c);
        }
    }
    let left = check(&fixed);
    let f = finding(&left, RULE).expect("the first class is still one short");
    assert_eq!(f["shortfalls"].as_array().unwrap().len(), 1);
    assert_eq!(f["shortfalls"][0]["add"], 1);
}

#[test]
fn the_text_report_says_what_a_shortfall_needs_in_one_sentence() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpora/rules/saas-scale-staffing-share.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_skillc"))
        .args(["check", "--skills"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("skills"))
        .arg(path)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let need = text.lines().find(|l| l.trim_start().starts_with("need:")).expect("a need line");
    insta::assert_snapshot!(need.trim(), @"need: `share(c in big_saas: c.employee_count > 50)` is 18 of 20: make `employee_count > 50` hold for 1 of the 2 that fail it (sss-00, sss-01); or add 20 to `big_saas` with `employee_count > 50`");
}

/// A skill written for this test: the shortfalls come from the rules'
/// form, whatever the entity and the rule ids.
const THINGS: &str = r#"---
name: things
description: Things of two kinds, for the shortfall tests.
applies_to: thing
---

```entity thing
key id
collection things
id: string
kind: string
size: number
```

## Plausibility

- About 40% of things are large (between 20% and 60%).
  ```rule large-share
  share(t in things: t.size > 10) ∈ [20%, 60%]
  ```
- At most two things are big.
  ```rule few-big
  count(t in things where t.kind == "big") <= 2
  ```
- Things are large on average.
  ```rule large-mean
  mean(t in things: t.size) >= 100
  ```
"#;

fn check_things(lines: &[Value]) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("things")).unwrap();
    std::fs::write(dir.path().join("things/SKILL.md"), THINGS).unwrap();
    let data = dir.path().join("data.jsonl");
    std::fs::write(&data, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_skillc"))
        .args(["check", "--format", "json", "--skills"])
        .arg(dir.path())
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.code().unwrap_or(2) < 2, "{}", String::from_utf8_lossy(&out.stderr));
    cli::json_lines(&out)
}

#[test]
fn a_skill_written_for_the_test_gets_predicates_prose_targets_and_an_explicit_note() {
    // 8 of 10 things are large (80% > 60%); 4 are big (> 2).
    let things: Vec<Value> = (0..10)
        .map(|i| json!({"id": format!("t{i}"), "kind": if i % 2 == 0 && i < 8 { "big" } else { "small" }, "size": if i < 8 { 50 } else { 5 }}))
        .collect();
    let report = check_things(&things);

    let share = &finding(&report, "large-share").expect("80% is above 60%")["shortfalls"][0];
    assert_eq!(share["direction"], "fewer");
    assert_eq!(share["predicate"], json!({"op": ">", "left": {"field": "size"}, "right": 10}));
    // 8/10 down to 60%: two must shrink, or 4 small ones join (8/14 < 0.6).
    assert_eq!((usize_of(&share["change"]), usize_of(&share["add"])), (2, 4));
    // The prose's 40%: 8 / (10 + a) <= 0.4 from a = 10.
    assert_eq!((share["target"].as_f64(), usize_of(&share["add_to_target"])), (Some(0.4), 10));

    let big = &finding(&report, "few-big").expect("4 big things")["shortfalls"][0];
    assert_eq!((big["function"].as_str(), big["direction"].as_str()), (Some("count"), Some("fewer")));
    assert_eq!(usize_of(&big["change"]), 2);
    assert!(big["add"].is_null(), "adding things never lowers a count: {big}");
    assert_eq!(big["records"], json!(["t0", "t2", "t4", "t6"]));
    assert_eq!(big["predicate"], json!({"op": "==", "left": {"field": "kind"}, "right": "big"}));

    let mean = finding(&report, "large-mean").expect("the mean is 40.5");
    assert_eq!(mean["shortfalls"], json!([]));
    assert!(mean["shortfall_note"].as_str().unwrap().contains("no number of records"), "{mean}");
}
