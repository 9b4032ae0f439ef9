//! Example blocks (```` ```jsonl example ```` , docs/language.md section 11)
//! through the real binary: the shipped skills pass their examples, every
//! shipped rule has a passing and a failing example, and a rule changed so
//! that an example no longer holds fails at that example's line.

use skillc::ir::{ExampleRule, Program};
use skillc::skill::ExampleVerdict;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "support/cli.rs"]
mod cli;
use cli::{copy_dir, json_lines};

const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");

fn skillc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_skillc")).args(args).current_dir(MANIFEST).output().expect("run skillc")
}

/// A copy of the shipped skills in a temporary folder.
fn shipped_copy() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let skills = tmp.path().join("skills");
    copy_dir(&Path::new(MANIFEST).join("skills"), &skills);
    (tmp, skills)
}

/// Replaces `from` (which must occur once) with `to` in a skill of the copy.
fn edit(skills: &Path, skill: &str, from: &str, to: &str) -> (PathBuf, String) {
    let file = skills.join(skill).join("SKILL.md");
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.matches(from).count(), 1, "`{from}` must occur once in {skill}");
    let text = text.replace(from, to);
    std::fs::write(&file, &text).unwrap();
    (file, text)
}

/// The 1-based line numbers of the JSON lines of the example block whose
/// info string is exactly `info` (which must occur once).
fn example_lines(text: &str, info: &str) -> Vec<u64> {
    let lines: Vec<&str> = text.lines().collect();
    let opens: Vec<usize> =
        lines.iter().enumerate().filter(|(_, l)| l.trim() == format!("```jsonl example {info}")).map(|(i, _)| i).collect();
    assert_eq!(opens.len(), 1, "```jsonl example {info} must occur once");
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate().skip(opens[0] + 1) {
        if l.trim() == "```" {
            break;
        }
        out.push(i as u64 + 1);
    }
    out
}

fn shipped_program() -> Program {
    let (program, diags) = skillc::compile_paths(&[Path::new(MANIFEST).join("skills")]);
    assert!(diags.is_empty(), "{diags:?}");
    program
}

#[test]
fn the_shipped_skills_pass_their_examples() {
    let out = skillc(&["test", "skills"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains(" in 6 files: all hold"), "{stderr}");

    let out = skillc(&["test", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(json_lines(&out).is_empty());

    // lint runs them too
    let out = skillc(&["lint", "skills"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("companies) run"), "{stderr}");
}

#[test]
fn every_shipped_rule_has_a_passing_and_a_failing_example() {
    let program = shipped_program();
    assert_eq!(program.rules.len(), 28);
    // Each example sits next to a rule it names: after that rule and before
    // the next rule of its file (its host). Examples before the first rule
    // of a file (the entity's own examples) are not about one rule.
    let mut starts: Vec<(u32, u32, usize)> = program.rules.iter().enumerate().map(|(i, r)| (r.file.0, r.span.start, i)).collect();
    starts.sort();
    let mut passing = BTreeSet::new();
    let mut failing = BTreeSet::new();
    for e in &program.examples {
        let Some(&(_, _, host)) = starts.iter().rev().find(|(f, s, _)| *f == e.file.0 && *s < e.span.start) else { continue };
        let names_host = e.rules.iter().any(|(r, _)| *r == ExampleRule::Rule(host));
        assert!(names_host, "an example after `{}` does not name it", program.rules[host].id);
        if e.verdict == ExampleVerdict::Pass {
            passing.insert(host);
        } else {
            failing.insert(host);
        }
    }
    let missing = |set: &BTreeSet<usize>| -> Vec<&str> {
        program.rules.iter().enumerate().filter(|(i, _)| !set.contains(i)).map(|(_, r)| r.id.as_str()).collect()
    };
    assert!(missing(&passing).is_empty(), "rules without a passing example next to them: {:?}", missing(&passing));
    assert!(missing(&failing).is_empty(), "rules without a failing example next to them: {:?}", missing(&failing));
}

/// A rule loosened so that its failing example passes: `example-failed`
/// at that example's line, with the expected and found ids; lint agrees.
#[test]
fn a_loosened_rule_fails_its_example_at_its_line() {
    let (_tmp, skills) = shipped_copy();
    let (file, text) = edit(&skills, "financial-consistency", "then gross_margin > 0.6", "then gross_margin > 0.3");
    let lines = example_lines(&text, "fail saas-gross-margin");
    assert_eq!(lines.len(), 1);

    let out = skillc(&["test", "--format", "json", skills.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let diags = json_lines(&out);
    assert_eq!(diags.len(), 1, "{diags:?}");
    let d = &diags[0];
    assert_eq!(d["code"], "example-failed");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["file"].as_str().unwrap(), file.to_str().unwrap());
    assert_eq!(d["line"].as_u64().unwrap(), lines[0]);
    assert_eq!(d["end_line"].as_u64().unwrap(), lines[0]);
    // the span is the whole JSON object
    let line_text = text.lines().nth(lines[0] as usize - 1).unwrap();
    assert_eq!(d["column"].as_u64().unwrap() as usize, line_text.len() - line_text.trim_start().len() + 1);
    assert_eq!(d["end_column"].as_u64().unwrap() as usize, line_text.chars().count() + 1);
    assert_eq!(d["message"], "example `fjord-analytics` expected `saas-gross-margin`, found no finding");

    let lint = skillc(&["lint", "--format", "json", skills.to_str().unwrap()]);
    assert_eq!(lint.status.code(), Some(2));
    assert_eq!(json_lines(&lint), diags);

    // The text form points at the same line.
    let out = skillc(&["test", skills.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("{}:{}:", file.display(), lines[0])), "{stderr}");
    assert!(stderr.contains("error[example-failed]"), "{stderr}");
    assert!(stderr.contains("1 line failed"), "{stderr}");
}

/// A rule tightened so that passing examples fail: every passing example
/// line that now fails is reported, with the finding's hint.
#[test]
fn a_tightened_rule_fails_the_passing_examples() {
    let (_tmp, skills) = shipped_copy();
    let (file, text) = edit(&skills, "company-profile", "employee_count ∈ [1, 10_000_000]", "employee_count ∈ [1, 2_000]");
    let out = skillc(&["test", "--format", "json", skills.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let diags = json_lines(&out);
    assert!(diags.iter().all(|d| d["code"] == "example-failed"), "{diags:?}");
    // The rule's own passing example (3,100 employees) is among them.
    let line = example_lines(&text, "pass employee-count-range")[0];
    let own =
        diags.iter().find(|d| d["file"].as_str() == file.to_str() && d["line"].as_u64() == Some(line)).expect("the rule's own example");
    assert_eq!(own["message"], "example `saffron-health` expected no finding, found `employee-count-range`");
    assert!(own["help"][0].as_str().unwrap().starts_with("`employee-count-range`: "), "{own}");
    // Examples of other skills with big companies fail too, each at its line.
    assert!(diags.iter().any(|d| d["file"].as_str().unwrap().ends_with("stock-listing/SKILL.md")), "{diags:?}");
}

/// A dataset rule changed so that its failing dataset example holds: the
/// diagnostic points at the rule id in the info string.
#[test]
fn a_dataset_rule_changed_fails_at_the_info_string() {
    let (_tmp, skills) = shipped_copy();
    let (file, text) = edit(
        &skills,
        "dataset-plausibility",
        "count(c in companies where c.behaviour_class == k) >= 3)",
        "count(c in companies where c.behaviour_class == k) >= 2)",
    );
    let out = skillc(&["test", "--format", "json", skills.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let diags = json_lines(&out);
    assert_eq!(diags.len(), 1, "{diags:?}");
    let info = "```jsonl example flag behaviour-class-coverage";
    let line = text.lines().position(|l| l.trim() == info).unwrap() as u64 + 1;
    assert_eq!(diags[0]["file"].as_str().unwrap(), file.to_str().unwrap());
    assert_eq!(diags[0]["line"].as_u64().unwrap(), line);
    assert_eq!(diags[0]["message"], "example dataset expected `behaviour-class-coverage`, found no finding of `behaviour-class-coverage`");
}

/// An example edited so that it breaks another rule too: reported with both
/// sets of ids.
#[test]
fn an_example_that_breaks_another_rule_is_reported() {
    let (_tmp, skills) = shipped_copy();
    let (file, text) = edit(
        &skills,
        "financial-consistency",
        "\"gross_margin\":0.41,\"arr\":16500000",
        "\"gross_margin\":0.41,\"arr\":16500000,\"country\":\"no\"",
    );
    let line = example_lines(&text, "fail saas-gross-margin")[0];
    let out = skillc(&["test", "--format", "json", skills.to_str().unwrap()]);
    let diags = json_lines(&out);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0]["file"].as_str().unwrap(), file.to_str().unwrap());
    assert_eq!(diags[0]["line"].as_u64().unwrap(), line);
    assert_eq!(
        diags[0]["message"],
        "example `fjord-analytics` expected `saas-gross-margin`, found `country-code-format`, `saas-gross-margin`"
    );
}

/// `lint FILE` (what a pre-commit hook runs on a changed skill) compiles the
/// sibling skills for context but reports only the file, and runs only its
/// examples.
#[test]
fn lint_of_one_skill_file_uses_its_siblings_as_context() {
    let (_tmp, skills) = shipped_copy();
    let one = skills.join("financial-consistency/SKILL.md");
    let out = skillc(&["lint", "--format", "json", one.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let out = skillc(&["lint", one.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("1 file checked: 0 errors, 0 warnings, 28 rules compiled"), "{stderr}");

    // A broken sibling is not reported when only this file is linted...
    edit(&skills, "stock-listing", "if not public then exchange is null", "if not pubic then exchange is null");
    let out = skillc(&["lint", "--format", "json", one.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    // ... but it is when it is linted itself.
    let sibling = skills.join("stock-listing/SKILL.md");
    let out = skillc(&["lint", "--format", "json", one.to_str().unwrap(), sibling.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let diags = json_lines(&out);
    assert!(diags.iter().all(|d| d["file"].as_str() == sibling.to_str()), "{diags:?}");
    assert!(diags.iter().any(|d| d["code"] == "unknown-field"), "{diags:?}");

    // A broken example in the file is reported.
    let (_, text) =
        edit(&skills, "financial-consistency", "```jsonl example fail gross-margin-range", "```jsonl example fail gross-margin-rang");
    let line = text.lines().position(|l| l.trim() == "```jsonl example fail gross-margin-rang").unwrap() as u64 + 1;
    let out = skillc(&["lint", "--format", "json", one.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let diags = json_lines(&out);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0]["code"], "example-invalid");
    assert_eq!(diags[0]["line"].as_u64().unwrap(), line);
    assert_eq!(diags[0]["help"][0], "did you mean `gross-margin-range`?");

    // Without context, the same file alone cannot compile: its entity is
    // declared in company-schema.
    let lonely = tempfile::tempdir().unwrap();
    let copy = lonely.path().join("SKILL.md");
    std::fs::copy(skills.join("company-profile/SKILL.md"), &copy).unwrap();
    let out = skillc(&["lint", "--format", "json", copy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(json_lines(&out).iter().any(|d| d["code"] == "applies-to-invalid"));
}

/// Examples in a skill written from scratch: cross-entity examples see each
/// other within a block and only within it.
#[test]
fn a_block_is_one_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shop");
    std::fs::create_dir_all(&dir).unwrap();
    let text = r#"---
name: shop
description: Shops and their owners.
applies_to: company
---

```entity company
key id
collection companies
id: string
revenue: number
owners: [{id: string, stake: number}]?
relation parents = owners.id -> company
```

- Every owner is a company of the dataset.
  ```rule owners-exist
  all(o in owners: o.id in keys(companies))
  ```
  ```jsonl example pass owners-exist
  {"id":"parent","revenue":10}
  {"id":"child","revenue":5,"owners":[{"id":"parent","stake":1}]}
  ```
  ```jsonl example fail owners-exist
  {"id":"child","revenue":5,"owners":[{"id":"parent","stake":1}]}
  ```
  ```jsonl example fail owners-exist
  {"id":"other","revenue":10}
  {"id":"child","revenue":5,"owners":[{"id":"parent","stake":1}]}
  ```
"#;
    std::fs::write(dir.join("SKILL.md"), text).unwrap();
    let out = skillc(&["test", "--format", "json", tmp.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));

    // The context line (`other`) has no finding; if no line fails, the
    // block is reported at its first line.
    std::fs::write(dir.join("SKILL.md"), text.replace(r#"{"id":"other","revenue":10}"#, r#"{"id":"parent","revenue":10}"#)).unwrap();
    let out = skillc(&["test", "--format", "json", tmp.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let diags = json_lines(&out);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0]["message"], "example expected `owners-exist` on at least one line, but no line of the block has exactly that");
    let first = text.lines().position(|l| l.trim() == r#"{"id":"other","revenue":10}"#).unwrap() as u64 + 1;
    assert_eq!(diags[0]["line"].as_u64().unwrap(), first);
}
