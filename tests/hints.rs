//! Repair hints through the real binary and the shipped skills: every way
//! out a rule's form allows, best first, none asking for a value another
//! reject rule forbids (issue 16), and each applicable by a program from
//! its edits alone.

use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};

#[path = "support/cli.rs"]
mod cli;
use cli::json_lines;

const SKILLS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/skills");

fn check(dataset: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_skillc")).arg("check").arg(dataset).args(["--skills", SKILLS]).args(args).output().expect("run skillc")
}

/// The reasons of each input line (line number → reasons), from the JSON report.
fn reasons_by_line(out: &Output) -> std::collections::BTreeMap<u64, Vec<Value>> {
    json_lines(out)
        .into_iter()
        .filter(|l| l["type"] == "entity")
        .map(|l| (l["line"].as_u64().unwrap(), l["reasons"].as_array().unwrap().clone()))
        .collect()
}

fn check_lines(lines: &[String]) -> std::collections::BTreeMap<u64, Vec<Value>> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    reasons_by_line(&check(&path, &["--format", "json"]))
}

fn reason<'a>(reasons: &'a [Value], rule: &str) -> &'a Value {
    reasons.iter().find(|r| r["rule"] == rule).unwrap_or_else(|| panic!("no `{rule}` in {reasons:?}"))
}

// A manufacturer that reports `arr`, and a group with negative consolidated
// revenue (lines of corpora/rules/arr-only-for-subscription.jsonl and
// consolidation-covers-subsidiaries.jsonl).
const MANUFACTURER_WITH_ARR: &str = r#"{"id":"aos-manufacturer","name":"Aos Manufacturer Ltd","industry":"Manufacturing","country":"GB","founded_year":1990,"public":false,"exchange":null,"ticker":null,"fiscal_year_end":"12-31","currency":"GBP","employee_count":500,"standalone_revenue":100000000,"consolidated_revenue":100000000,"intercompany_eliminations":0,"equity_method_income":null,"gross_margin":0.3,"arr":5000000}"#;
const NEGATIVE_GROUP_REVENUE: &str = r#"{"id":"cc-alone","name":"Cc Alone Ltd","industry":"Manufacturing","country":"GB","founded_year":1990,"public":false,"exchange":null,"ticker":null,"fiscal_year_end":"12-31","currency":"GBP","employee_count":500,"standalone_revenue":0,"consolidated_revenue":-10000000,"intercompany_eliminations":5000000,"equity_method_income":null,"gross_margin":0.3,"arr":null}"#;

#[test]
fn a_manufacturer_with_arr_is_first_told_to_remove_it() {
    let found = check_lines(&[MANUFACTURER_WITH_ARR.to_string()]);
    let r = reason(&found[&1], "arr-only-for-subscription");
    let hints = r["hints"].as_array().unwrap();
    assert_eq!(hints[0]["edits"], json!([{"field": "arr", "op": "absent"}]), "{r}");
    assert_eq!(hints[0]["conflicts"], json!([]), "re-checked, and clean: {r}");
    assert_eq!(r["hint"], hints[0]["text"], "`hint` is the best way out");
    assert_eq!(r["hint"], "remove `arr` (absent or null)");
    // Becoming SaaS would break the SaaS margin rule (0.3 < 0.6), and a
    // clean way exists: it is not offered.
    assert!(!hints.iter().any(|h| h["edits"][0]["field"] == "industry"), "{r}");
}

#[test]
fn negative_group_revenue_is_first_told_to_raise_it() {
    let found = check_lines(&[NEGATIVE_GROUP_REVENUE.to_string()]);
    let r = reason(&found[&1], "standalone-within-consolidated");
    let hints = r["hints"].as_array().unwrap();
    assert_eq!(hints[0]["edits"], json!([{"field": "consolidated_revenue", "op": ">=", "value": -5000000}]), "{r}");
    assert_eq!(r["hint"], "raise `consolidated_revenue` to at least -5000000");
    // The other side too, solved through `+ (intercompany_eliminations ?? 0)`.
    assert!(hints.iter().any(|h| h["edits"] == json!([{"field": "intercompany_eliminations", "op": ">=", "value": 10000000}])), "{r}");
    // Lowering `standalone_revenue` below 0 is what another rule forbids.
    assert!(!hints.iter().any(|h| h["edits"][0]["field"] == "standalone_revenue"), "{r}");
}

#[test]
fn a_pattern_way_offers_a_passing_examples_value_and_a_clean_way_drops_the_conflicting_ones() {
    // A public company whose ticker has the wrong format. Its way out
    // carries a matching ticker from the skills' passing examples, which the
    // re-check tries: clean, so going private (which would break
    // `private-has-no-listing`) is dropped.
    let line = MANUFACTURER_WITH_ARR
        .replace("\"arr\":5000000", "\"arr\":null")
        .replace("\"public\":false,\"exchange\":null,\"ticker\":null", "\"public\":true,\"exchange\":\"NYSE\",\"ticker\":\"GOOGLE\"");
    let found = check_lines(&[line]);
    let r = reason(&found[&1], "public-listing-valid");
    let hints = r["hints"].as_array().unwrap();
    assert_eq!(hints.len(), 1, "{r}");
    let edit = &hints[0]["edits"][0];
    assert_eq!((edit["op"].as_str(), edit["pattern"].as_str()), (Some("matches"), Some("[A-Z]{1,4}(\\.[A-Z])?")), "{r}");
    let example = edit["example"].as_str().expect("an example ticker");
    assert!(regex::Regex::new("^[A-Z]{1,4}(\\.[A-Z])?$").unwrap().is_match(example), "{example}");
    assert_eq!(hints[0]["conflicts"], json!([]), "re-checked with the example: {r}");
}

#[test]
fn a_sum_over_a_list_offers_one_way_per_element_and_a_sentence_ranks_before_a_conflict() {
    // Stakes adding up to more than the whole (0.6 + 0.45): the choice of
    // which stake to lower is the program's, so each owner is a way of its
    // own, lowering that stake by the excess.
    let over = MANUFACTURER_WITH_ARR
        .replace("\"arr\":5000000", "\"arr\":null,\"owners\":[{\"id\":\"aos-a\",\"stake\":0.6},{\"id\":\"aos-b\",\"stake\":0.45}]");
    // A listing on an exchange the ticker table does not know: saying which
    // exchange takes words; going private breaks `private-has-no-listing`.
    let unknown = MANUFACTURER_WITH_ARR
        .replace("\"arr\":5000000", "\"arr\":null")
        .replace("\"public\":false,\"exchange\":null,\"ticker\":null", "\"public\":true,\"exchange\":\"SIX\",\"ticker\":\"ABC\"");
    let found = check_lines(&[over, unknown]);
    let r = reason(&found[&1], "stakes-at-most-whole");
    let hints = r["hints"].as_array().unwrap_or_else(|| panic!("the ways are listed: {r}"));
    let fields: Vec<&str> = hints.iter().map(|h| h["edits"][0]["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["owners[0].stake", "owners[1].stake"], "{r}");
    for (h, stake) in hints.iter().zip([0.6, 0.45]) {
        let bound = h["edits"][0]["value"].as_f64().unwrap();
        assert_eq!(h["edits"][0]["op"], "<=");
        assert!((stake - bound - 0.05).abs() < 1e-6, "lowered by the excess of 0.05: {h}");
        assert_eq!(h["conflicts"], json!([]), "{h}");
    }
    assert_eq!(r["hint"], hints[0]["text"]);
    let r = reason(&found[&2], "public-listing-valid");
    let hints = r["hints"].as_array().unwrap();
    assert_eq!(hints[0]["edits"], json!([]), "not re-checked comes before a way that breaks a rule: {r}");
    let last = hints.last().unwrap();
    assert_eq!(last["edits"], json!([{"field": "public", "op": "==", "value": false}]), "{r}");
    assert_eq!(last["conflicts"], json!(["private-has-no-listing"]), "{r}");
    assert_eq!(r["hint"], hints[0]["text"]);
}

#[test]
fn the_text_report_lists_every_way_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.jsonl");
    let listed = MANUFACTURER_WITH_ARR
        .replace("aos-manufacturer", "listed")
        .replace("\"arr\":5000000", "\"arr\":null")
        .replace("\"public\":false,\"exchange\":null,\"ticker\":null", "\"public\":true,\"exchange\":\"NYSE\",\"ticker\":\"GOOGLE\"");
    let over = MANUFACTURER_WITH_ARR
        .replace("aos-manufacturer", "over")
        .replace("\"arr\":5000000", "\"arr\":null")
        .replace("\"standalone_revenue\":100000000", "\"standalone_revenue\":106000000");
    std::fs::write(&path, [MANUFACTURER_WITH_ARR, NEGATIVE_GROUP_REVENUE, &listed, &over].join("\n") + "\n").unwrap();
    let out = check(&path, &[]);
    let text = String::from_utf8(out.stdout).unwrap().replace(SKILLS, "[skills]");
    // The findings and their hints (the messages and values are other tests').
    let hints: Vec<&str> = text
        .lines()
        .take_while(|l| !l.starts_with("dataset:"))
        .filter(|l| ["hint:", "✗", "!", "line "].iter().any(|p| l.trim_start().starts_with(p)))
        .map(|l| if l.starts_with("  ") && !l.trim_start().starts_with("hint:") { l.split(": ").next().unwrap_or(l) } else { l })
        .collect();
    insta::assert_snapshot!("hints_text", hints.join("\n"));
}

// ------------------------------------------------------------ corpus sweep

#[derive(Debug)]
enum Step {
    Key(String),
    Index(usize),
}

/// `owners[1].stake` → owners, 1, stake.
fn parse_path(path: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    for part in path.split('.') {
        let (name, mut rest) = part.split_once('[').map_or((part, ""), |(n, r)| (n, r));
        steps.push(Step::Key(name.to_string()));
        while !rest.is_empty() {
            let (index, tail) = rest.split_once(']').expect("closing bracket");
            steps.push(Step::Index(index.parse().expect("an index")));
            rest = tail.strip_prefix('[').unwrap_or(tail);
        }
    }
    steps
}

fn next_after(x: f64, up: bool) -> f64 {
    if x == 0.0 {
        return if up { f64::from_bits(1) } else { -f64::from_bits(1) };
    }
    let bits = x.to_bits();
    f64::from_bits(if up == (x > 0.0) { bits + 1 } else { bits - 1 })
}

fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9e15 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

/// Applies one edit to the record with a concrete value meeting it; false
/// when the test cannot choose one generically (a pattern, a key, ...).
fn apply(record: &mut Value, edit: &Value) -> bool {
    let steps = parse_path(edit["field"].as_str().unwrap());
    let (last, parents) = steps.split_last().unwrap();
    let mut at = &mut *record;
    for step in parents {
        at = match step {
            Step::Key(k) => &mut at[k.as_str()],
            Step::Index(i) => &mut at[*i],
        };
    }
    let current = match last {
        Step::Key(k) => at.get(k.as_str()).cloned(),
        Step::Index(i) => at.get(*i).cloned(),
    };
    let value = &edit["value"];
    let new = match edit["op"].as_str().unwrap() {
        ">=" | "<=" | "==" => Some(value.clone()),
        ">" => Some(json!(next_after(value.as_f64().unwrap(), true))),
        "<" => Some(json!(next_after(value.as_f64().unwrap(), false))),
        "!=" => match value {
            Value::Bool(b) => Some(json!(!b)),
            Value::Number(n) if n.is_i64() => Some(json!(n.as_i64().unwrap() + 1)),
            Value::Number(n) => Some(json!(next_after(n.as_f64().unwrap(), true))),
            _ => return false,
        },
        "between" => {
            let (min, max) = (edit["min"].as_f64().unwrap(), edit["max"].as_f64().unwrap());
            let (min_in, max_in) = (edit["min_inclusive"] == true, edit["max_inclusive"] == true);
            let x = current.as_ref().and_then(Value::as_f64).unwrap_or(min);
            let x = if x < min || (x == min && !min_in) {
                if min_in {
                    min
                } else {
                    next_after(min, true)
                }
            } else if x > max || (x == max && !max_in) {
                if max_in {
                    max
                } else {
                    next_after(max, false)
                }
            } else {
                x
            };
            Some(number(x))
        }
        "in" => Some(edit["values"][0].clone()),
        "contains" => {
            let mut list = current.and_then(|c| c.as_array().cloned()).unwrap_or_default();
            list.push(value.clone());
            Some(Value::Array(list))
        }
        "not contains" => {
            let mut list = current.and_then(|c| c.as_array().cloned()).unwrap_or_default();
            list.retain(|v| v != value);
            Some(Value::Array(list))
        }
        "absent" => None,
        _ => return false,
    };
    match (last, new) {
        (Step::Key(k), Some(v)) => {
            at[k.as_str()] = v;
        }
        (Step::Key(k), None) => {
            at.as_object_mut().unwrap().remove(k.as_str());
        }
        (Step::Index(i), Some(v)) => at[*i] = v,
        (Step::Index(_), None) => return false,
    }
    true
}

/// The reject rules (and `schema`) a line fails, by rule id.
fn rejects(reasons: &[Value]) -> std::collections::BTreeSet<String> {
    reasons.iter().filter(|r| r["severity"] == "reject").map(|r| r["rule"].as_str().unwrap().to_string()).collect()
}

/// For every rejected line of every corpus in corpora/rules/, every
/// record-level reason of kind field or cross-field, and every way out not
/// declared to conflict: applying its edits to the line makes the rule
/// pass and no reject rule of the record (field, cross-field, schema) fail
/// that passed before.
#[test]
fn no_hint_of_the_rule_corpora_asks_for_what_another_rule_forbids() {
    let corpora = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpora/rules");
    let mut files: Vec<_> =
        std::fs::read_dir(&corpora).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "jsonl")).collect();
    files.sort();
    let (mut tried, mut skipped, mut failures) = (0, 0, Vec::new());
    let dir = tempfile::tempdir().unwrap();
    for file in &files {
        // Some corpora hold lines that are not UTF-8: lines as bytes.
        let text = std::fs::read(file).unwrap();
        let lines: Vec<Vec<u8>> = text.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
        let before = reasons_by_line(&check(file, &["--format", "json"]));
        for (&line_no, reasons) in &before {
            if !reasons.iter().any(|r| r["severity"] == "reject") {
                continue;
            }
            for r in reasons {
                if !["field", "cross-field"].contains(&r["kind"].as_str().unwrap()) {
                    continue;
                }
                let rule = r["rule"].as_str().unwrap();
                for alt in r["hints"].as_array().into_iter().flatten() {
                    if alt["conflicts"].as_array().is_some_and(|c| !c.is_empty()) {
                        continue;
                    }
                    let Ok(mut record) = serde_json::from_slice::<Value>(&lines[line_no as usize - 1]) else { continue };
                    let edits = alt["edits"].as_array().unwrap();
                    if edits.is_empty() || !edits.iter().all(|e| apply(&mut record, e)) {
                        skipped += 1;
                        continue;
                    }
                    tried += 1;
                    let mut patched = lines.clone();
                    patched[line_no as usize - 1] = record.to_string().into_bytes();
                    let path = dir.path().join("patched.jsonl");
                    std::fs::write(&path, patched.join(&b'\n')).unwrap();
                    let after = reasons_by_line(&check(&path, &["--format", "json"]));
                    let now = after.get(&line_no).map(|r| rejects(r)).unwrap_or_default();
                    let was = rejects(reasons);
                    let where_ = format!("{}:{line_no} `{rule}`: {alt}\n  line: {record}", file.display());
                    if now.contains(rule) {
                        failures.push(format!("the rule still fails after {where_}"));
                    }
                    for id in now.difference(&was) {
                        let local = after[&line_no].iter().find(|x| x["rule"] == id.as_str()).map(|x| x["kind"].clone());
                        let local = local.as_ref().and_then(Value::as_str).unwrap_or("");
                        if ["field", "cross-field", "schema"].contains(&local) {
                            failures.push(format!("`{id}` now fails after {where_}"));
                        }
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {tried} ways out break what they should not:\n{}", failures.len(), failures.join("\n"));
    assert!(tried >= 50, "only {tried} ways out tried");
    // Patterns, keys, `present`, `!=` a string: no single value the test
    // can choose (the corpora: 48 patterns and 4 `!=` a string of 138).
    assert!(skipped <= tried, "{skipped} ways out skipped, {tried} tried");
}
