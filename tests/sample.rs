//! `skillc sample`: what it makes, `check` accepts, for the shipped skills
//! and for a skill written for the test; `--where` restricts; the seed
//! decides the output; records are distinct and spread. The real binary.

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn shipped() -> PathBuf {
    root().join("skills")
}

fn run(args: &[&str], skills: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_skillc")).args(args).arg("--skills").arg(skills).output().unwrap()
}

/// `sample ARGS`, which must succeed: its lines.
fn sample(args: &[&str], skills: &Path) -> Vec<String> {
    let mut all = vec!["sample"];
    all.extend_from_slice(args);
    let out = run(&all, skills);
    assert!(out.status.success(), "sample {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(str::to_string).collect()
}

fn records(lines: &[String]) -> Vec<Value> {
    lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Checks `lines` as one dataset with `skills`: every line accepted (none
/// rejected, none flagged); returns the summary.
fn assert_accepted(lines: &[String], skills: &Path) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("sample.jsonl");
    std::fs::write(&data, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_skillc"))
        .args(["check", data.to_str().unwrap(), "--format", "json", "--skills"])
        .arg(skills)
        .output()
        .unwrap();
    let report: Vec<Value> = String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let entities: Vec<&Value> = report.iter().filter(|l| l["type"] == "entity").collect();
    assert!(entities.is_empty(), "check found problems with sampled records: {entities:#?}");
    let summary = report.iter().find(|l| l["type"] == "summary").expect("a summary line").clone();
    assert_eq!(summary["read"], lines.len(), "{summary}");
    assert_eq!(summary["accepted"], lines.len(), "{summary}");
    summary
}

fn distinct_values(records: &[Value], field: &str) -> usize {
    records.iter().filter_map(|r| r.get(field)).map(Value::to_string).collect::<BTreeSet<_>>().len()
}

/// A skill about another entity, written for this test: a key with a
/// pattern, an enumeration, a numeric cross-field constraint, bounds, and
/// an optional field required in one case.
const GADGETS: &str = r#"---
name: gadgets
description: Gadgets for the sampling test.
applies_to: gadget
---

# Gadgets

```entity gadget
key sku
sku: string
colour: string
weight_g: number
max_load_g: number
released: integer
serial: string?
```

- A SKU is three capitals, a dash and four digits.
  ```rule sku-format
  sku matches /[A-Z]{3}-[0-9]{4}/
  ```
- The colour is one of three.
  ```rule colour-known
  colour in {"red", "green", "blue"}
  ```
- A gadget is between 10 g and 50 kg.
  ```rule weight-range
  weight_g ∈ [10, 50_000]
  ```
- It carries at least twice its weight, and at most 200 kg.
  ```rule load-exceeds-weight
  max_load_g >= 2 * weight_g and max_load_g <= 200_000
  ```
- Released between 1990 and 2030.
  ```rule released-range
  released ∈ [1990, 2030]
  ```
- A red gadget has a serial number: two letters and six digits.
  ```rule red-has-serial
  if colour == "red" then serial is not null and serial matches /[A-Z]{2}[0-9]{6}/
  ```
"#;

fn gadgets() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let skill = dir.path().join("gadgets");
    std::fs::create_dir(&skill).unwrap();
    std::fs::write(skill.join("SKILL.md"), GADGETS).unwrap();
    (dir, skill)
}

#[test]
fn check_accepts_every_sampled_company() {
    let lines = sample(&["-n", "60", "--seed", "7"], &shipped());
    assert_eq!(lines.len(), 60);
    assert_accepted(&lines, &shipped());
}

#[test]
fn check_accepts_every_sampled_group_and_parents_come_first() {
    let lines = sample(&["-n", "40", "--seed", "3", "--groups"], &shipped());
    assert_eq!(lines.len(), 40);
    assert_accepted(&lines, &shipped());
    let recs = records(&lines);
    let mut seen = BTreeSet::new();
    let mut children = 0;
    for r in &recs {
        for owner in r.get("owners").and_then(Value::as_array).into_iter().flatten() {
            let parent = owner["id"].as_str().unwrap();
            assert!(seen.contains(parent), "{} is listed before its parent {parent}", r["id"]);
            children += 1;
        }
        seen.insert(r["id"].as_str().unwrap().to_string());
    }
    assert!(children >= 10, "groups should link records: {children} ownership links in 40 records");
}

#[test]
fn a_skill_written_for_the_test_is_sampled_and_checked() {
    let (_dir, skill) = gadgets();
    let lines = sample(&["-n", "200", "--seed", "11"], &skill);
    assert_eq!(lines.len(), 200);
    assert_accepted(&lines, &skill);
    let recs = records(&lines);
    // Every constraint holds by construction of the checker; the spread is
    // what the sampler adds: a wide range takes many values, and every
    // colour of the enumeration appears.
    assert!(distinct_values(&recs, "weight_g") >= 100, "weights: {}", distinct_values(&recs, "weight_g"));
    assert!(distinct_values(&recs, "released") >= 25, "years: {}", distinct_values(&recs, "released"));
    assert_eq!(distinct_values(&recs, "colour"), 3);
    let sku = regex::Regex::new("^[A-Z]{3}-[0-9]{4}$").unwrap();
    assert!(recs.iter().all(|r| sku.is_match(r["sku"].as_str().unwrap())));
    let reds_with_serial = recs.iter().filter(|r| r["colour"] == "red").all(|r| r["serial"].is_string());
    assert!(reds_with_serial);
}

#[test]
fn where_restricts_every_record() {
    let lines = sample(&["-n", "30", "--seed", "5", "--where", r#"industry == "Bank""#], &shipped());
    assert_eq!(lines.len(), 30);
    assert_accepted(&lines, &shipped());
    assert!(records(&lines).iter().all(|r| r["industry"] == "Bank"));

    let (_dir, skill) = gadgets();
    let lines = sample(&["-n", "30", "--where", "weight_g > 1000 and colour != \"blue\""], &skill);
    let recs = records(&lines);
    assert!(recs.iter().all(|r| r["weight_g"].as_f64().unwrap() > 1000.0 && r["colour"] != "blue"), "{lines:#?}");
}

#[test]
fn an_uncompilable_where_is_a_diagnostic() {
    let out = run(&["sample", "--where", "industy == \"Bank\""], &shipped());
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("industy") && err.contains("--where"), "{err}");
    assert!(err.contains("industry"), "a did-you-mean: {err}");

    let out = run(&["sample", "--where", "employee_count + 1"], &shipped());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("must be a condition"));

    let out = run(&["sample", "--where", "industry == "], &shipped());
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_seed_decides_the_output() {
    let a = sample(&["-n", "25", "--seed", "42"], &shipped());
    let b = sample(&["-n", "25", "--seed", "42"], &shipped());
    let c = sample(&["-n", "25", "--seed", "43"], &shipped());
    assert_eq!(a, b, "the same seed gives the same bytes");
    assert_ne!(a, c, "another seed gives other records");
    let g1 = sample(&["-n", "20", "--seed", "42", "--groups"], &shipped());
    let g2 = sample(&["-n", "20", "--seed", "42", "--groups"], &shipped());
    assert_eq!(g1, g2);
}

#[test]
fn records_are_distinct_and_spread() {
    let lines = sample(&["-n", "200", "--seed", "9"], &shipped());
    let recs = records(&lines);
    let ids: BTreeSet<&str> = recs.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 200, "keys are unique");
    // Distinct under the fingerprint (all but id and name).
    let fingerprints: BTreeSet<String> = recs
        .iter()
        .map(|r| {
            let mut r = r.as_object().unwrap().clone();
            r.remove("id");
            r.remove("name");
            Value::Object(r).to_string()
        })
        .collect();
    assert_eq!(fingerprints.len(), 200);
    for (field, at_least) in [("founded_year", 60), ("employee_count", 100), ("consolidated_revenue", 100), ("gross_margin", 40)] {
        let n = distinct_values(&recs, field);
        assert!(n >= at_least, "`{field}` takes {n} distinct values in 200 records");
    }
    assert!(distinct_values(&recs, "industry") >= 8, "industries: {}", distinct_values(&recs, "industry"));
    // Not pinned to a bound: the years span more than a century.
    let years: Vec<f64> = recs.iter().map(|r| r["founded_year"].as_f64().unwrap()).collect();
    let (min, max) = years.iter().fold((f64::MAX, f64::MIN), |(a, b), y| (a.min(*y), b.max(*y)));
    assert!(max - min >= 100.0, "years from {min} to {max}");
}

#[test]
fn an_impossible_where_stops_with_what_blocked_it() {
    let out = run(&["sample", "-n", "3", "--where", "employee_count < 0"], &shipped());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("made 0 of 3"), "{err}");
    assert!(err.contains("employee-count-range") || err.contains("--where"), "{err}");
}

#[test]
fn entity_picks_what_to_sample_when_the_skills_declare_several() {
    let (_dir, skill) = gadgets();
    let out = Command::new(env!("CARGO_BIN_EXE_skillc"))
        .args(["sample", "-n", "20", "--entity", "gadget", "--skills"])
        .arg(shipped())
        .arg("--skills")
        .arg(&skill)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<String> = String::from_utf8(out.stdout).unwrap().lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 20);
    assert!(records(&lines).iter().all(|r| r.get("sku").is_some() && r.get("id").is_none()));
    assert_accepted(&lines, &skill);

    let out = run(&["sample", "--entity", "gizmo"], &shipped());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no entity `gizmo`"));
    let out = run(&["sample", "--groups"], &skill);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("relation of `gadget` to itself"));
}

/// The shipped skills, compiled in-process (the seed test calls the library).
fn shipped_program() -> skillc::ir::Program {
    let (program, diags) = skillc::compile_sources(&skillc::embedded::skills());
    assert!(!diags.iter().any(skillc::diagnostic::Diagnostic::is_error));
    program
}

/// A seed record comes first, repaired where it breaks a rule, and
/// keeps its key.
#[test]
fn seed_records_are_repaired_and_come_first() {
    let record = serde_json::json!({
        "id": "seeded-co", "name": "Seeded Co", "industry": "Retail", "country": "GB", "founded_year": 1990,
        "public": false, "fiscal_year_end": "12-31", "currency": "GBP", "employee_count": 0,
        "standalone_revenue": 40_000_000, "consolidated_revenue": 40_000_000, "gross_margin": 0.3
    });
    let Value::Object(seed) = record else { unreachable!() };
    let opts = skillc::sample::Options { count: 3, seed: 1, seeds: vec![seed], ..skillc::sample::Options::default() };
    let c = skillc::sample::prepare(shipped_program(), &opts).unwrap();
    let lines = skillc::sample::sample(&c, &opts).unwrap();
    assert_eq!(lines.len(), 3);
    let first: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(first["id"], "seeded-co");
    assert!(first["employee_count"].as_f64().unwrap() >= 1.0, "{first}");
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let report = skillc::check::check(&c, None, skillc::check::load(&c, text.as_bytes(), None, true).unwrap());
    assert_eq!(report.summary.accepted, 3);
}
