//! The SQL engines agree with the native engine (docs/sql.md): every corpus
//! of corpora/rules/, the sample datasets, every example block of the
//! shipped skills, generated datasets and hostile ones, and a skill written
//! only for this test, checked natively and on each engine of `engines()`.
//!
//! What is compared, per dataset: the verdict and key of every line, the
//! rule ids of every line in report order, the full reasons (values and
//! ways out) of `json`, `schema` and every record-local rule, the dataset
//! findings' rule ids, and the summary's counts (read, accepted, flagged,
//! rejected, kept, findings per rule, dataset findings, value counts).
//! Cross-entity reasons are compared by rule id (the engines do not compute
//! their values; an `in_cycle` reason's `component` is compared).
//!
//! The engine list is `SKILLC_ENGINES` (comma-separated) when it is set.
//! Otherwise the hostile dataset, the generated ones, every example block
//! together and the test-only skill run on DuckDB and Spark, and the ~90
//! single-rule corpora and single example blocks on DuckDB only: on Spark
//! each run costs seconds of job scheduling, and all of them would not fit
//! CI's 20 minutes on 2 cores (`SKILLC_ENGINES=spark` runs them all there).
//! An engine that is not installed skips its tests with a message, and
//! fails them on CI or with `SKILLC_REQUIRE_DUCKDB=1` /
//! `SKILLC_REQUIRE_SPARK=1`.

#[path = "support/engines.rs"]
mod engines;
#[path = "support/gen.rs"]
mod gen;

use serde_json::Value;
use skillc::check::{self, Compiled};
use skillc::sql::dialect::DialectName;
use skillc::sql::engine::{check_file, Options};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// The engines of the datasets that every engine checks by default.
const EVERY_ENGINE: &str = "duckdb,spark";
/// The engines of the many small datasets.
const DUCKDB_ONLY: &str = "duckdb";

fn engines(default: &str) -> Vec<DialectName> {
    let list = std::env::var("SKILLC_ENGINES").unwrap_or_else(|_| default.into());
    list.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| match s.trim() {
            "duckdb" => DialectName::Duckdb,
            "spark" => DialectName::Spark,
            other => panic!("unknown engine `{other}` in SKILLC_ENGINES"),
        })
        .collect()
}

/// Whether the engine's Python client is installed; a missing one fails
/// the test when it is required.
fn available(engine: DialectName) -> bool {
    let (module, require) = match engine {
        DialectName::Duckdb => ("duckdb", "SKILLC_REQUIRE_DUCKDB"),
        DialectName::Spark => ("pyspark", "SKILLC_REQUIRE_SPARK"),
    };
    let python = std::env::var("SKILLC_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = std::process::Command::new(python).args(["-c", &format!("import {module}")]).output().is_ok_and(|o| o.status.success());
    let required = std::env::var_os("CI").is_some() || std::env::var(require).as_deref() == Ok("1");
    if !ok && required {
        panic!("the Python package `{module}` is required ({require} or CI is set) but cannot be imported");
    }
    if !ok {
        eprintln!("skipped: the Python package `{module}` is not installed (pip install {module})");
    }
    ok
}

fn compiled(paths: &[PathBuf]) -> Compiled {
    let (program, diags) =
        if paths.is_empty() { skillc::compile_sources(&skillc::embedded::skills()) } else { skillc::compile_paths(paths) };
    assert!(!diags.iter().any(|d| d.is_error()), "the skills do not compile");
    Compiled::new(program).expect("a checker")
}

fn json_lines(c: &Compiled, report: &check::Report) -> Vec<Value> {
    let mut out = Vec::new();
    skillc::report::write_json(c, report, &mut out).expect("written");
    String::from_utf8(out).expect("UTF-8").lines().map(|l| serde_json::from_str(l).expect("JSON")).collect()
}

/// Rule ids whose reasons the engines give in full.
fn local_rules(c: &Compiled) -> HashSet<String> {
    let mut ids: HashSet<String> = c.program.rules.iter().filter(|r| !r.needs_dataset).map(|r| r.id.clone()).collect();
    ids.insert("json".into());
    ids.insert("schema".into());
    ids
}

/// The comparable view of a report: per line (verdict, entity, rule ids,
/// the full reasons of local rules, the components of cycle reasons), the
/// dataset rule ids, the summary counts.
fn view(lines: &[Value], local: &HashSet<String>) -> (BTreeMap<u64, Value>, Vec<Value>, Value) {
    let mut entities = BTreeMap::new();
    let mut dataset = Vec::new();
    let mut summary = Value::Null;
    for l in lines {
        match l["type"].as_str() {
            Some("entity") => {
                let reasons = l["reasons"].as_array().cloned().unwrap_or_default();
                let ids: Vec<Value> = reasons.iter().map(|r| r["rule"].clone()).collect();
                let full: Vec<Value> = reasons.iter().filter(|r| local.contains(r["rule"].as_str().unwrap_or(""))).cloned().collect();
                let components: Vec<Value> = reasons.iter().filter_map(|r| r["values"].get("component").cloned()).collect();
                entities.insert(
                    l["line"].as_u64().expect("a line number"),
                    serde_json::json!({"verdict": l["verdict"], "entity": l["entity"], "rules": ids, "reasons": full, "components": components}),
                );
            }
            Some("dataset") => dataset.push(l["rule"].clone()),
            Some("summary") => {
                summary = serde_json::json!({
                    "read": l["read"], "accepted": l["accepted"], "flagged": l["flagged"], "rejected": l["rejected"],
                    "kept": l["kept"], "findings": l["findings"], "dataset_findings": l["dataset_findings"], "counts": l["counts"],
                    "version": l["version"],
                })
            }
            _ => {}
        }
    }
    (entities, dataset, summary)
}

/// Checks `data` natively and on every engine and asserts they agree.
fn agree(name: &str, c: &Compiled, data: &Path, default_engines: &str) {
    let native = {
        let loaded = check::load(c, std::fs::File::open(data).expect("dataset"), None, true).expect("loaded");
        json_lines(c, &check::check(c, None, loaded))
    };
    let local = local_rules(c);
    let expected = view(&native, &local);
    for engine in engines(default_engines) {
        if !available(engine) {
            continue;
        }
        // One runner server per test binary: Spark's session starts once.
        engines::server();
        let options = Options { engine, master: "local[2]".into(), partitions: None };
        let report = check_file(c, data, &options).unwrap_or_else(|e| panic!("{name} on {}: {e}", engine.as_str()));
        let got = view(&json_lines(c, &report), &local);
        for (line, want) in &expected.0 {
            assert_eq!(got.0.get(line), Some(want), "{name} on {}: line {line}", engine.as_str());
        }
        assert_eq!(got.0.len(), expected.0.len(), "{name} on {}: the lines with findings", engine.as_str());
        assert_eq!(got.1, expected.1, "{name} on {}: dataset findings", engine.as_str());
        assert_eq!(got.2, expected.2, "{name} on {}: summary", engine.as_str());
    }
}

#[test]
fn every_rule_corpus_agrees() {
    let c = compiled(&[]);
    let mut corpora: Vec<PathBuf> = std::fs::read_dir("corpora/rules")
        .expect("corpora/rules")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    corpora.sort();
    assert!(corpora.len() > 20, "the rule corpora are there");
    for path in corpora.iter().chain([PathBuf::from("corpora/sample.jsonl"), PathBuf::from("corpora/candidates.jsonl")].iter()) {
        agree(&path.display().to_string(), &c, path, DUCKDB_ONLY);
    }
}

#[test]
fn every_example_block_of_the_shipped_skills_agrees() {
    let c = compiled(&[]);
    let dir = tempfile::tempdir().expect("a temporary directory");
    assert!(c.program.examples.len() > 20);
    // Every block together (their companies interact: shared ids,
    // relations, groups), and each block that names a dataset rule alone:
    // those rules count the block's own companies. (A run per block costs
    // a runner start; every block alone took half an hour on 2 cores.)
    let mut all = String::new();
    for (i, example) in c.program.examples.iter().enumerate() {
        let text: String = example.lines.iter().map(|(_, l)| format!("{l}\n")).collect();
        all.push_str(&text);
        let dataset_rule = example
            .rules
            .iter()
            .any(|(r, _)| matches!(r, skillc::ir::ExampleRule::Rule(i) if c.program.rules[*i].scope == skillc::ir::Scope::Dataset));
        if !dataset_rule {
            continue;
        }
        let path = dir.path().join(format!("example-{i}.jsonl"));
        std::fs::write(&path, text).expect("written");
        let (line, _) = c.program.db.position(example.span);
        agree(&format!("{}:{line}", c.program.db.get(example.file).name), &c, &path, DUCKDB_ONLY);
    }
    let path = dir.path().join("all-examples.jsonl");
    std::fs::write(&path, all).expect("written");
    agree("every example block together", &c, &path, EVERY_ENGINE);
}

#[test]
fn generated_datasets_agree() {
    let c = compiled(&[]);
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (companies, seed, violations) in [(3000, 1, 0.05), (2000, 7, 0.2), (500, 3, 0.0)] {
        let path = dir.path().join(format!("gen-{seed}.jsonl"));
        let mut out = Vec::new();
        gen::generate(&gen::GenConfig { companies, seed, violations }, &mut out).expect("generated");
        std::fs::write(&path, out).expect("written");
        agree(&format!("generated {companies} companies, seed {seed}, {violations} violating"), &c, &path, EVERY_ENGINE);
    }
}

fn company(id: &str, extra: &str) -> String {
    format!(
        r#"{{"id":"{id}","name":"{id} Ltd","industry":"Manufacturing","country":"GB","founded_year":1990,"public":false,"fiscal_year_end":"12-31","currency":"GBP","employee_count":500,"standalone_revenue":100000000,"consolidated_revenue":100000000,"gross_margin":0.3{extra}}}"#
    )
}

fn owned(id: &str, owner: &str, stake: f64) -> String {
    company(id, &format!(r#","owners":[{{"id":"{owner}","stake":{stake}}}]"#))
}

#[test]
fn cycles_chains_duplicates_and_malformed_lines_agree() {
    let c = compiled(&[]);
    let mut lines: Vec<Vec<u8>> = Vec::new();
    // Cycles: a pair, a triangle, a self-owner, a figure of eight, a ring
    // of 30 with a tail.
    lines.push(owned("pair-a", "pair-b", 0.6).into());
    lines.push(owned("pair-b", "pair-a", 0.6).into());
    for (a, b) in [("tri-a", "tri-b"), ("tri-b", "tri-c"), ("tri-c", "tri-a")] {
        lines.push(owned(a, b, 0.3).into());
    }
    lines.push(owned("self", "self", 1.0).into());
    lines.push(company("fig-x", r#","owners":[{"id":"fig-y","stake":0.2}]"#).into());
    lines.push(company("fig-y", r#","owners":[{"id":"fig-x","stake":0.2},{"id":"fig-z","stake":0.2}]"#).into());
    lines.push(company("fig-z", r#","owners":[{"id":"fig-y","stake":0.2},{"id":"fig-z","stake":0.1}]"#).into());
    for i in 0..30 {
        lines.push(owned(&format!("ring-{i:02}"), &format!("ring-{:02}", (i + 1) % 30), 0.1).into());
    }
    lines.push(owned("ring-tail", "ring-07", 0.9).into());
    // Chains eight deep, controlling stakes, in both line orders.
    for chain in 0..3 {
        let mut ids: Vec<String> = (0..8).map(|d| format!("chain{chain}-{d}")).collect();
        if chain == 1 {
            ids.reverse();
        }
        for id in &ids {
            let depth: usize = id.rsplit('-').next().and_then(|d| d.parse().ok()).unwrap_or(0);
            if depth == 0 {
                lines.push(company(id, r#","industry":"Holding","consolidated_revenue":900000000"#).into());
            } else {
                lines.push(owned(id, &format!("chain{chain}-{}", depth - 1), 0.9).into());
            }
        }
    }
    // Duplicate ids (out of the graph), an owner that does not exist, a
    // parallel owner entry.
    lines.push(company("dup", "").into());
    lines.push(owned("dup", "pair-a", 0.1).into());
    lines.push(owned("orphan", "nobody", 0.5).into());
    lines.push(company("parallel", r#","owners":[{"id":"chain0-0","stake":0.3},{"id":"chain0-0","stake":0.3}]"#).into());
    // Malformed and hostile lines.
    lines.push(company("overflow", r#","extra":1e400"#).into());
    lines.push(b"{\"id\":\"bad-utf8\",\"name\":\"Caf\xe9\"}".to_vec());
    lines.push(company("dup-key", r#","gross_margin":7,"gross_margin":0.4"#).into());
    lines.push(company("dup-key-bad", r#","gross_margin":0.4,"gross_margin":7"#).into());
    lines.push(b"not json".to_vec());
    lines.push(b"[1,2]".to_vec());
    lines.push(company("whole-float", r#","employee_count":500.0,"founded_year":1.99e3"#).into());
    lines.push(company("not-whole", r#","employee_count":500.5"#).into());
    lines.push(company("schema-null", r#","name":null"#).into());
    lines.push(company("nulls", r#","exchange":null,"arr":null,"segments":null"#).into());
    lines.push(company("segments", r#","segments":[{"name":"A","revenue":60000000},{"name":"B","revenue":40000000}]"#).into());
    lines.push(company("bad-segments", r#","segments":[{"name":"A","revenue":6000000}]"#).into());
    lines.push(company("private-listed", r#","exchange":"LSE","ticker":"ABC""#).into());
    lines.push(company("public-bad", r#","public":true,"exchange":"NYSE","ticker":"toolong""#).into());
    lines.push(company("public-unknown", r#","public":true,"exchange":"MOON","ticker":"A""#).into());
    // A pattern matches the whole string: Java's `$` would also match
    // before the final line break (docs/sql.md, `matches`).
    lines.push(company("ticker-newline", r#","public":true,"exchange":"NYSE","ticker":"IBM\n""#).into());
    lines.push(company("fiscal-newline", r#","fiscal_year_end":"12-31\n""#).into());
    lines.push(company("zero-staff", r#","employee_count":0"#).into());
    lines.push(company("flags", r#","industry":"Holding","plausibility_flags":["holdco-without-operations"]"#).into());
    lines.push(company("holdco", r#","industry":"Holding""#).into());
    lines.push(b"   ".to_vec());
    let mut text = b"\xEF\xBB\xBF".to_vec();
    for (i, l) in lines.iter().enumerate() {
        text.extend_from_slice(l);
        text.extend_from_slice(if i % 5 == 0 { b"\r\n" } else { b"\n" });
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("hostile.jsonl");
    std::fs::write(&path, text).expect("written");
    agree("cycles, chains, duplicates, malformed lines", &c, &path, EVERY_ENGINE);
}

#[test]
fn a_skill_written_only_for_this_test_agrees() {
    let c = compiled(&[PathBuf::from("tests/fixtures/sql/shops")]);
    agree("tests/fixtures/sql/shops.jsonl", &c, Path::new("tests/fixtures/sql/shops.jsonl"), EVERY_ENGINE);
    // Every rule of the skill fails somewhere, and the dataset rules too:
    // the agreement is not about rules that never fire.
    let loaded = check::load(&c, std::fs::File::open("tests/fixtures/sql/shops.jsonl").expect("data"), None, true).expect("loaded");
    let report = check::check(&c, None, loaded);
    for rule in &c.program.rules {
        assert!(report.summary.findings.contains_key(&rule.id), "no line of shops.jsonl fails `{}`", rule.id);
    }
}

#[test]
fn the_duckdb_script_of_a_small_skill_is_stable() {
    let c = compiled(&[PathBuf::from("tests/fixtures/sql/shops")]);
    let plan = skillc::sql::compile(&c.program, DialectName::Duckdb, 2026).expect("a plan");
    insta::assert_snapshot!("shops_duckdb_sql", skillc::sql::script(&plan, DialectName::Duckdb));
    let plan = skillc::sql::compile(&c.program, DialectName::Spark, 2026).expect("a plan");
    insta::assert_snapshot!("shops_spark_sql", skillc::sql::script(&plan, DialectName::Spark));
}

#[test]
fn a_construct_a_dialect_cannot_express_is_an_error_at_the_rule() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let skill = dir.path().join("deep");
    std::fs::create_dir_all(&skill).expect("created");
    let text = std::fs::read_to_string("tests/fixtures/sql/shops/SKILL.md").expect("the skill");
    let extra = "\n- Grand-franchisors are known.\n  ```rule grand\n  all(f in franchisors: count(g in f.franchisors) >= 0)\n  ```\n\n- Tags are words.\n  ```rule words\n  all(t in tags: t matches /\\w+/)\n  ```\n";
    std::fs::write(skill.join("SKILL.md"), text.replace("name: shops", "name: deep") + extra).expect("written");
    let c = compiled(&[skill]);
    for dialect in [DialectName::Duckdb, DialectName::Spark] {
        let Err(diags) = skillc::sql::compile(&c.program, dialect, 2026) else { panic!("the plan should fail") };
        let rendered = skillc::diagnostic::render_terminal(&c.program.db, &diags, false);
        assert!(diags.iter().all(|d| d.code == skillc::diagnostic::Code::SqlUnsupported), "{rendered}");
        assert!(rendered.contains("two relations deep"), "{rendered}");
        assert!(rendered.contains("regular expression"), "{rendered}");
        if dialect == DialectName::Duckdb {
            insta::assert_snapshot!("sql_unsupported", rendered.replace(&dir.path().display().to_string(), "TMP"));
        }
    }
}
