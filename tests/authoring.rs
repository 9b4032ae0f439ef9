//! Authoring skills beside the shipped ones (issue 16), through the real
//! binary: a user's skill that extends the shipped `company` entity,
//! `--add-skills` on `check`, `rules`, `lint` and `test`, where a duplicate
//! rule id is reported, `skillc explain`, and how a diagnostic about a path
//! without text is written for CI.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

#[path = "support/cli.rs"]
mod cli;
use cli::json_lines;

/// Runs skillc in `dir` (a temporary folder without `skills/`, so the
/// default skills are the embedded, shipped ones).
fn skillc_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_skillc")).args(args).current_dir(dir).output().expect("run skillc")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A company every shipped rule accepts.
const GOOD: &str = r#"{"id":"alder-health","name":"Alder Health Clinics Inc.","industry":"Healthcare","country":"US","founded_year":1998,"public":false,"exchange":null,"ticker":null,"fiscal_year_end":"12-31","currency":"USD","employee_count":2400,"standalone_revenue":310000000,"consolidated_revenue":310000000,"intercompany_eliminations":0,"equity_method_income":null,"gross_margin":0.41,"arr":null"#;

/// A company line: `GOOD` plus more fields (`,"risk_tier":"high"`).
fn company(id: &str, extra: &str) -> String {
    format!("{}{extra}}}", GOOD.replace("alder-health", id))
}

/// A user's skill that adds an optional field to the shipped `company`
/// and a rule about it, with examples.
fn user_skill() -> String {
    format!(
        "---\nname: risk\ndescription: Risk tiers of the companies in my pipeline.\napplies_to: company\n---\n\n# Risk\n\n\
         ```entity company extend\nrisk_tier: string?\n```\n\n\
         - A bank states its risk tier.\n  ```rule bank-has-risk-tier\n  industry == \"Bank\" implies risk_tier is not null\n  ```\n  \
         ```jsonl example pass bank-has-risk-tier\n  {}\n  ```\n  ```jsonl example fail bank-has-risk-tier\n  {}\n  ```\n",
        company("bank-a", r#","risk_tier":"low""#).replace("Healthcare", "Bank"),
        company("bank-b", "").replace("Healthcare", "Bank"),
    )
}

#[test]
fn a_skill_that_extends_the_shipped_entity_lints_clean_beside_the_shipped_skills() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("mine/risk/SKILL.md"), &user_skill());

    // Alone, its entity is nobody's.
    let alone = skillc_in(dir.path(), &["lint", "mine"]);
    assert_eq!(alone.status.code(), Some(2), "{}", stderr(&alone));
    assert!(stderr(&alone).contains("this block extends `company`, which no ```entity block declares"), "{}", stderr(&alone));

    // Beside the shipped skills: clean, and only the user's file is counted
    // and reported on, its two examples run.
    let added = skillc_in(dir.path(), &["lint", "--add-skills", "mine"]);
    assert_eq!(added.status.code(), Some(0), "{}", stderr(&added));
    let summary = stderr(&added);
    assert!(summary.starts_with("1 file checked: 0 errors, 0 warnings, 29 rules compiled, 2 examples (2 companies) run"), "{summary}");
    let test = skillc_in(dir.path(), &["test", "--add-skills", "mine"]);
    assert_eq!(test.status.code(), Some(0), "{}", stderr(&test));
    assert!(stderr(&test).contains("2 examples (2 companies) in 1 file: all hold"), "{}", stderr(&test));

    // A mistake in the user's file is reported there, under its own name.
    let broken = user_skill().replace("risk_tier is not null", "risk_teir is not null");
    write(&dir.path().join("mine/risk/SKILL.md"), &broken);
    let json = skillc_in(dir.path(), &["lint", "--add-skills", "mine", "--format", "json"]);
    let diags = json_lines(&json);
    assert!(!diags.is_empty());
    for d in &diags {
        assert_eq!(d["file"], Value::from("mine/risk/SKILL.md"), "{d}");
    }
    assert_eq!(diags[0]["code"], Value::from("unknown-field"));
    assert_eq!(diags[0]["help"][0], Value::from("did you mean `risk_tier`?"));
}

#[test]
fn check_add_skills_adds_to_the_shipped_skills_and_skills_replaces_them() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("mine/risk/SKILL.md"), &user_skill());
    let data = [
        company("ok-clinic", r#","risk_tier":"low""#),
        company("tierless-bank", "").replace("Healthcare", "Bank"),
        company("bad-margin", r#","risk_tier":"low""#).replace("\"gross_margin\":0.41", "\"gross_margin\":4.1"),
    ]
    .join("\n");
    write(&dir.path().join("data.jsonl"), &data);

    let out = skillc_in(dir.path(), &["check", "data.jsonl", "--add-skills", "mine", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let lines = json_lines(&out);
    let rejected: Vec<(String, Vec<String>)> = lines
        .iter()
        .filter(|l| l["type"] == "entity")
        .map(|l| {
            let rules = l["reasons"].as_array().unwrap().iter().map(|r| r["rule"].as_str().unwrap().to_string()).collect();
            (l["entity"].as_str().unwrap().to_string(), rules)
        })
        .collect();
    // The user's rule and a shipped rule, each on its own company; the
    // added field reads like any other.
    assert_eq!(
        rejected,
        [
            ("tierless-bank".to_string(), vec!["bank-has-risk-tier".to_string()]),
            ("bad-margin".to_string(), vec!["gross-margin-range".to_string()])
        ]
    );

    // `--skills` replaces the defaults: the extension has nothing to extend.
    let replaced = skillc_in(dir.path(), &["check", "data.jsonl", "--skills", "mine"]);
    assert_eq!(replaced.status.code(), Some(2));
    assert!(stderr(&replaced).contains("which no ```entity block declares"), "{}", stderr(&replaced));

    // `rules --add-skills` lists both.
    let rules = skillc_in(dir.path(), &["rules", "--add-skills", "mine", "--format", "json"]);
    assert_eq!(rules.status.code(), Some(0), "{}", stderr(&rules));
    let ids: Vec<String> = json_lines(&rules).iter().filter_map(|r| r["id"].as_str().map(String::from)).collect();
    assert!(ids.contains(&"bank-has-risk-tier".to_string()) && ids.contains(&"industry-known".to_string()), "{ids:?}");
    assert_eq!(ids.len(), 29);
}

#[test]
fn extensions_are_seen_by_the_rules_of_every_skill_in_any_file_order() {
    let dir = tempfile::tempdir().unwrap();
    let skills = dir.path().join("skills");
    // `a-uses` (first in file order) reads a field that `b-extends` adds to
    // the entity `c-declares` declares.
    write(
        &skills.join("a-uses/SKILL.md"),
        "---\nname: a-uses\ndescription: Uses the added field.\napplies_to: thing\n---\n\n\
         - Tagged things are big.\n  ```rule tagged-big\n  tag is not null implies size > 10\n  ```\n  \
         ```jsonl example fail tagged-big\n  {\"id\":\"x\",\"size\":1,\"tag\":\"t\"}\n  ```\n",
    );
    write(
        &skills.join("b-extends/SKILL.md"),
        "---\nname: b-extends\ndescription: Adds a field.\n---\n\n```entity thing extend\ntag: string?\nsize: number\nsummary tag\n```\n",
    );
    write(
        &skills.join("c-declares/SKILL.md"),
        "---\nname: c-declares\ndescription: Declares the entity.\n---\n\n```entity thing\nkey id\nid: string\nsize: number\n```\n",
    );
    let out = skillc_in(dir.path(), &["lint"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("3 files checked: 0 errors, 0 warnings, 1 rule compiled, 1 example (1 company) run"),
        "{}",
        stderr(&out)
    );

    // Two full declarations are still a duplicate, and the help says how
    // to extend instead.
    write(
        &skills.join("b-extends/SKILL.md"),
        "---\nname: b-extends\ndescription: Adds a field.\n---\n\n```entity thing\nkey id\nid: string\ntag: string?\n```\n",
    );
    let dup = skillc_in(dir.path(), &["lint", "--format", "json"]);
    let diags = json_lines(&dup);
    let d = diags.iter().find(|d| d["code"] == "entity-duplicate").expect("entity-duplicate");
    assert_eq!(d["help"][0], Value::from("to add fields to it from this skill, write ```entity thing extend"));
}

/// Two skills that define the same rule id; the second file in path order
/// is `b-second`.
fn two_skills_sharing_an_id(dir: &Path) {
    for name in ["a-first", "b-second"] {
        write(
            &dir.join(format!("skills/{name}/SKILL.md")),
            &format!(
                "---\nname: {name}\ndescription: A test skill.\napplies_to: thing\nmetadata:\n  skillc-allow: rule-without-examples\n---\n\n\
                 {}- Size is positive.\n  ```rule size-positive\n  size > 0\n  ```\n",
                if name == "a-first" { "```entity thing\nkey id\nid: string\nsize: number\n```\n\n" } else { "" }
            ),
        );
    }
}

#[test]
fn a_duplicate_rule_id_is_reported_on_the_later_or_the_named_file() {
    let dir = tempfile::tempdir().unwrap();
    two_skills_sharing_an_id(dir.path());
    let duplicate = |args: &[&str]| -> (String, String) {
        let out = skillc_in(dir.path(), args);
        let diags = json_lines(&out);
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(diags[0]["code"], "duplicate-rule-id");
        let text = skillc_in(dir.path(), &args[..args.len() - 2]);
        (diags[0]["file"].as_str().unwrap().to_string(), stderr(&text))
    };
    // The whole folder: the later file in path order.
    let (file, text) = duplicate(&["lint", "skills", "--format", "json"]);
    assert_eq!(file, "skills/b-second/SKILL.md");
    assert!(text.contains("first defined here"), "{text}");
    // A pre-commit hook passes the edited file: reported there, whichever
    // comes first, with the sibling as "first defined here".
    let (file, text) = duplicate(&["lint", "skills/a-first/SKILL.md", "--format", "json"]);
    assert_eq!(file, "skills/a-first/SKILL.md");
    let secondary = text.split("first defined here").next().unwrap();
    assert!(secondary.contains("skills/b-second/SKILL.md:"), "{text}");
}

#[test]
fn skillc_allow_turns_a_warning_off_for_its_file_only() {
    let dir = tempfile::tempdir().unwrap();
    two_skills_sharing_an_id(dir.path());
    // One rule, so no duplicate; the file without `skillc-allow` warns.
    let b = dir.path().join("skills/b-second/SKILL.md");
    let text = std::fs::read_to_string(&b).unwrap();
    std::fs::write(&b, text.replace("metadata:\n  skillc-allow: rule-without-examples\n", "").replace("size-positive", "size-small"))
        .unwrap();
    let out = skillc_in(dir.path(), &["lint", "--format", "json"]);
    let diags = json_lines(&out);
    let codes: Vec<(&str, &str)> = diags.iter().map(|d| (d["code"].as_str().unwrap(), d["file"].as_str().unwrap())).collect();
    assert_eq!(codes, [("rule-without-examples", "skills/b-second/SKILL.md")]);

    // A code that does not exist is reported, with the closest warning.
    let a = dir.path().join("skills/a-first/SKILL.md");
    let text = std::fs::read_to_string(&a).unwrap();
    std::fs::write(&a, text.replace("skillc-allow: rule-without-examples", "skillc-allow: rule-without-example")).unwrap();
    let diags = json_lines(&skillc_in(dir.path(), &["lint", "--format", "json"]));
    let bad = diags.iter().find(|d| d["code"] == "metadata-invalid").expect("metadata-invalid");
    assert_eq!(bad["severity"], "warning");
    assert_eq!(bad["help"][0], "did you mean `rule-without-examples`?");
}

#[test]
fn explain_prints_the_meaning_an_example_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let out = skillc_in(dir.path(), &["explain", "unknown-value"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("unknown-value: a string compared with a field"), "{text}");
    assert!(text.contains("\n    warning[unknown-value]: `Bnak` is not a value of `industry`"), "{text}");
    assert!(text.contains("\nFix: correct the string"), "{text}");
    assert!(!text.contains("$ skillc explain"), "{text}");

    let typo = skillc_in(dir.path(), &["explain", "unknown-feild"]);
    assert_eq!(typo.status.code(), Some(2));
    assert!(stderr(&typo).contains("did you mean `unknown-field`?"), "{}", stderr(&typo));
}

#[test]
fn a_folder_without_skills_is_reported_without_a_snippet_or_a_region() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("empty")).unwrap();
    let text = stderr(&skillc_in(dir.path(), &["lint", "empty"]));
    assert!(text.starts_with("warning[io-error]: no SKILL.md below `empty`\n\n"), "{text}");
    assert!(!text.contains('│'), "no snippet: {text}");

    let sarif: Value = serde_json::from_slice(&skillc_in(dir.path(), &["lint", "empty", "--format", "sarif"]).stdout).unwrap();
    let location = &sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "empty");
    assert!(location.get("region").is_none(), "{location}");

    let github = String::from_utf8(skillc_in(dir.path(), &["lint", "empty", "--format", "github"]).stdout).unwrap();
    assert_eq!(github, "::warning file=empty,title=io-error::no SKILL.md below `empty`\n");
}
