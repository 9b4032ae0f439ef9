//! The reference rules, one corpus each, through the real binary.
//!
//! `corpora/rules/<rule-id>.jsonl` (and variants `<rule-id>.<variant>.jsonl`)
//! hold valid context companies and the lines that break the rule; the
//! sibling `.expected.json` lists, for every non-blank line, the entity, the
//! verdict and the exact set of rule ids, and the dataset-level findings.
//! Expectations were written from reference-rules.md, not from the output.
//!
//! Expected file format:
//!
//! ```json
//! {"rule": "…", "about": "…",
//!  "lines": [{"line": 3, "entity": "id or null", "verdict": "rejected",
//!             "rules": ["schema", "…"],            // exact set
//!             "schema_fields": ["name"],            // exact multiset of schema reasons' fields
//!             "mentions": {"rule-id": ["text"]},    // each text appears in that reason
//!             "note": "…"}],
//!  "dataset": [{"rule": "…", "mentions": ["…"]}]}   // exact set of dataset findings
//! ```

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "support/oracle.rs"]
mod oracle;

/// Every rule id of reference-rules.md (all tables), plus `json` and `schema`:
/// the oracle's list is the one copy of it in the tests.
const REFERENCE_RULES: &[&str] = &oracle::ALL_RULE_IDS;

fn skills() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/skills")
}

fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpora/rules")
}

struct Run {
    status: i32,
    lines: Vec<Value>,
    stderr: String,
}

fn check_json(dataset: &Path) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_skillc"))
        .arg("check")
        .arg(dataset)
        .args(["--skills", skills(), "--format", "json"])
        .output()
        .expect("run skillc");
    let stdout = String::from_utf8(out.stdout).expect("the JSON output is UTF-8");
    let lines = stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("output line is not JSON ({e}): {l}"))).collect();
    Run { status: out.status.code().unwrap_or(-1), lines, stderr: String::from_utf8_lossy(&out.stderr).into_owned() }
}

/// The corpora: (file stem such as `unique-id` or `saas-scale-staffing-share.pass`, path).
fn corpora() -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(rules_dir())
        .expect("corpora/rules exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    out.sort();
    out
}

/// The rule id a corpus is about: its stem up to the first `.`.
fn rule_of(stem: &str) -> &str {
    stem.split('.').next().unwrap_or(stem)
}

fn expected_of(path: &Path) -> Value {
    let p = path.with_extension("expected.json");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().map(|s| s.as_str().expect("a string").to_string()).collect()).unwrap_or_default()
}

/// Compares one corpus run with its expectations; returns the differences.
fn compare(stem: &str, expected: &Value, run: &Run) -> Vec<String> {
    let mut problems = Vec::new();
    let mut fail = |s: String| problems.push(format!("{stem}: {s}"));
    let lines = expected["lines"].as_array().expect("lines");

    // The summary comes last, and only there.
    let Some(summary) = run.lines.last().filter(|s| s["type"] == "summary") else {
        fail(format!("no summary line last (stderr: {})", run.stderr));
        return problems;
    };
    let mut entities: BTreeMap<u64, &Value> = BTreeMap::new();
    let mut dataset: Vec<&Value> = Vec::new();
    let mut last_line = 0;
    for v in &run.lines[..run.lines.len() - 1] {
        match v["type"].as_str() {
            Some("entity") => {
                let n = v["line"].as_u64().expect("line number");
                if n <= last_line {
                    fail(format!("entity lines out of input order at line {n}"));
                }
                last_line = n;
                entities.insert(n, v);
            }
            Some("dataset") => dataset.push(v),
            other => fail(format!("unexpected output line type {other:?}")),
        }
    }

    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    let mut findings: BTreeMap<String, u64> = BTreeMap::new();
    let mut any_rejected = false;
    for e in lines {
        let n = e["line"].as_u64().expect("expected line number");
        let verdict = e["verdict"].as_str().expect("verdict");
        *counts.entry(verdict).or_default() += 1;
        any_rejected |= verdict == "rejected";
        let rules: BTreeSet<String> = strs(&e["rules"]).into_iter().collect();
        let schema_fields: Option<Vec<String>> = e.get("schema_fields").map(|v| {
            let mut f = strs(v);
            f.sort();
            f
        });
        for r in &rules {
            let k = if r == "schema" { schema_fields.as_ref().map_or(1, |f| f.len() as u64) } else { 1 };
            *findings.entry(r.clone()).or_default() += k;
        }
        if rules.contains("schema") && schema_fields.is_none() {
            fail(format!("line {n}: a schema expectation must list schema_fields"));
        }
        let got = entities.remove(&n);
        if verdict == "accepted" {
            if let Some(g) = got {
                fail(format!("line {n}: expected accepted, got {}", g));
            }
            continue;
        }
        let Some(g) = got else {
            fail(format!("line {n}: expected {verdict} {rules:?}, got accepted (no entity line)"));
            continue;
        };
        if g["verdict"] != verdict {
            fail(format!("line {n}: verdict {} instead of {verdict}", g["verdict"]));
        }
        if g["entity"] != e["entity"] {
            fail(format!("line {n}: entity {} instead of {}", g["entity"], e["entity"]));
        }
        let reasons = g["reasons"].as_array().expect("reasons");
        let got_rules: BTreeSet<String> = reasons.iter().map(|r| r["rule"].as_str().unwrap_or("?").to_string()).collect();
        if got_rules != rules {
            fail(format!("line {n}: rules {got_rules:?} instead of {rules:?}"));
        }
        let non_schema: Vec<&str> = reasons.iter().filter_map(|r| r["rule"].as_str()).filter(|r| *r != "schema").collect();
        if non_schema.len() != non_schema.iter().collect::<BTreeSet<_>>().len() {
            fail(format!("line {n}: a rule is reported twice: {non_schema:?}"));
        }
        if let Some(fields) = &schema_fields {
            let mut got: Vec<String> = reasons
                .iter()
                .filter(|r| r["rule"] == "schema")
                .map(|r| r["values"]["field"].as_str().unwrap_or("?").to_string())
                .collect();
            got.sort();
            if &got != fields {
                fail(format!("line {n}: schema reasons name {got:?} instead of {fields:?}"));
            }
        }
        if let Some(m) = e.get("mentions").and_then(Value::as_object) {
            for (rule, words) in m {
                let text: String = reasons.iter().filter(|r| r["rule"] == rule.as_str()).map(Value::to_string).collect();
                for w in strs(words) {
                    if !text.contains(&w) {
                        fail(format!("line {n}: the `{rule}` reason does not mention {w:?}: {text}"));
                    }
                }
            }
        }
    }
    for (n, g) in entities {
        fail(format!("line {n}: reported but not expected: {g}"));
    }

    let expected_dataset: BTreeSet<String> =
        expected["dataset"].as_array().expect("dataset").iter().map(|d| d["rule"].as_str().expect("rule").to_string()).collect();
    let got_dataset: Vec<String> = dataset.iter().map(|d| d["rule"].as_str().unwrap_or("?").to_string()).collect();
    if got_dataset.iter().cloned().collect::<BTreeSet<_>>() != expected_dataset || got_dataset.len() != expected_dataset.len() {
        fail(format!("dataset findings {got_dataset:?} instead of {expected_dataset:?}"));
    }
    for d in expected["dataset"].as_array().expect("dataset") {
        let rule = d["rule"].as_str().expect("rule");
        *findings.entry(rule.to_string()).or_default() += 1;
        let text: String = dataset.iter().filter(|g| g["rule"] == rule).map(|g| g.to_string()).collect();
        for w in strs(&d["mentions"]) {
            if !text.contains(&w) {
                fail(format!("dataset finding `{rule}` does not mention {w:?}: {text}"));
            }
        }
    }

    let read = lines.len() as u64;
    for (key, want) in [
        ("read", read),
        ("accepted", counts.get("accepted").copied().unwrap_or(0)),
        ("flagged", counts.get("flagged").copied().unwrap_or(0)),
        ("rejected", counts.get("rejected").copied().unwrap_or(0)),
    ] {
        if summary[key].as_u64() != Some(want) {
            fail(format!("summary.{key} is {} instead of {want}", summary[key]));
        }
    }
    let got_findings: BTreeMap<String, u64> =
        summary["findings"].as_object().map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0))).collect()).unwrap_or_default();
    if got_findings != findings {
        fail(format!("summary.findings {got_findings:?} instead of {findings:?}"));
    }
    let want_status = i32::from(any_rejected);
    if run.status != want_status {
        fail(format!("exit status {} instead of {want_status} (stderr: {})", run.status, run.stderr));
    }
    problems
}

#[test]
fn every_corpus_gives_exactly_the_expected_verdicts() {
    let corpora = corpora();
    assert!(!corpora.is_empty());
    let mut problems = Vec::new();
    for (stem, path) in &corpora {
        let expected = expected_of(path);
        assert_eq!(expected["rule"].as_str(), Some(rule_of(stem)), "{stem}: the expected file names another rule");
        problems.extend(compare(stem, &expected, &check_json(path)));
    }
    assert!(problems.is_empty(), "{} differences:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn every_reference_rule_has_a_corpus_and_every_corpus_a_rule() {
    // The shipped skills define exactly the reference rules (plus the
    // built-in `json` and `schema`).
    let out = Command::new(env!("CARGO_BIN_EXE_skillc")).args(["rules", skills(), "--format", "json"]).output().expect("run skillc rules");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut compiled: BTreeSet<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].as_str().unwrap().to_string())
        .collect();
    compiled.extend(["json".to_string(), "schema".to_string()]);
    let reference: BTreeSet<String> = REFERENCE_RULES.iter().map(|s| s.to_string()).collect();
    assert_eq!(compiled, reference, "the shipped skills and reference-rules.md disagree");

    let corpora = corpora();
    let covered: BTreeSet<String> = corpora.iter().map(|(stem, _)| rule_of(stem).to_string()).collect();
    let missing: Vec<&String> = reference.difference(&covered).collect();
    assert!(missing.is_empty(), "reference rules without a corpus in corpora/rules: {missing:?}");
    let unknown: Vec<&String> = covered.difference(&reference).collect();
    assert!(unknown.is_empty(), "corpora named after no reference rule: {unknown:?}");

    // Each corpus has its expectations, and no expectation is orphaned.
    for entry in std::fs::read_dir(rules_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".expected.json") {
            assert!(rules_dir().join(format!("{stem}.jsonl")).exists(), "{name} has no corpus");
        } else if name.ends_with(".jsonl") {
            assert!(path.with_extension("expected.json").exists(), "{name} has no .expected.json");
        }
    }

    // For every rule, the corpora hold a case where it fires and one where
    // it does not.
    for id in &reference {
        let (mut fires, mut holds) = (false, false);
        for (_, path) in corpora.iter().filter(|(stem, _)| rule_of(stem) == id) {
            let e = expected_of(path);
            for l in e["lines"].as_array().unwrap() {
                if strs(&l["rules"]).contains(id) {
                    fires = true;
                } else {
                    holds = true;
                }
            }
            let in_dataset = e["dataset"].as_array().unwrap().iter().any(|d| d["rule"] == id.as_str());
            let dataset_rule =
                ["saas-scale-staffing-share", "fiscal-year-mismatch-share", "behaviour-class-coverage"].contains(&id.as_str());
            if dataset_rule {
                fires |= in_dataset;
                holds |= !in_dataset;
            }
        }
        assert!(fires, "no corpus makes `{id}` fire");
        assert!(holds, "no corpus shows `{id}` holding");
    }
}

/// Days since 1970-01-01 → calendar year, counted plainly (independent of
/// the checker's own arithmetic).
fn year_now() -> i64 {
    let mut days = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() / 86_400) as i64;
    let mut year = 1970;
    loop {
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let len = if leap { 366 } else { 365 };
        if days < len {
            return year;
        }
        days -= len;
        year += 1;
    }
}

#[test]
fn founded_year_accepts_the_current_year_and_rejects_the_next() {
    let year = year_now();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("years.jsonl");
    let line = |id: &str, y: i64| {
        format!(
            r#"{{"id":"{id}","name":"Fresh Co","industry":"Other","country":"GB","founded_year":{y},"public":false,"fiscal_year_end":"12-31","currency":"GBP","employee_count":20,"standalone_revenue":2000000,"consolidated_revenue":2000000,"gross_margin":0.4}}"#
        )
    };
    std::fs::write(&path, format!("{}\n{}\n", line("this-year", year), line("next-year", year + 1))).unwrap();
    let run = check_json(&path);
    let entities: Vec<&Value> = run.lines.iter().filter(|l| l["type"] == "entity").collect();
    assert_eq!(entities.len(), 1, "{:?}", run.lines);
    assert_eq!(entities[0]["entity"], "next-year");
    assert_eq!(entities[0]["reasons"][0]["rule"], "founded-year-not-future");
    assert_eq!(entities[0]["reasons"].as_array().unwrap().len(), 1);
    assert_eq!(run.status, 1);
}

#[test]
fn the_sample_corpus_is_accepted_whole() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpora/sample.jsonl");
    let run = check_json(&path);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.lines.len(), 1, "only the summary, no finding: {:?}", run.lines);
    let s = &run.lines[0];
    let n = std::fs::read_to_string(&path).unwrap().lines().filter(|l| !l.trim().is_empty()).count() as u64;
    assert!((40..=60).contains(&n));
    assert_eq!(s["read"], n);
    assert_eq!(s["accepted"], n);
    assert_eq!(s["flagged"], 0);
    assert_eq!(s["rejected"], 0);
    for class in ["happy-path", "fiscal-year-mismatch", "minority-stake", "deep-hierarchy", "holdco-without-operations"] {
        assert!(s["counts"]["behaviour_class"][class].as_u64().unwrap_or(0) >= 3, "{class}: {s}");
    }
}
