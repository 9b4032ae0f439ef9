//! `skillc lint` and `skillc rules` through the real binary, on the shipped
//! skills, on broken copies of them, and on real-world SKILL.md files.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "support/cli.rs"]
mod cli;
use cli::{copy_dir, json_lines};

const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");

fn skillc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_skillc")).args(args).current_dir(MANIFEST).output().expect("run skillc")
}

fn status(out: &Output) -> i32 {
    out.status.code().unwrap_or_else(|| panic!("skillc was killed by a signal: {out:?}"))
}

/// Every rule of reference-rules.md: (id, kind, scope).
const REFERENCE_RULES: &[(&str, &str, &str)] = &[
    // Field rules
    ("employee-count-range", "field", "company"),
    ("founded-year-not-future", "field", "company"),
    ("consolidated-revenue-positive", "field", "company"),
    ("standalone-revenue-non-negative", "field", "company"),
    ("gross-margin-range", "field", "company"),
    ("fiscal-year-end-valid", "field", "company"),
    ("country-code-format", "field", "company"),
    ("industry-known", "field", "company"),
    ("stake-range", "field", "company"),
    ("stakes-at-most-whole", "field", "company"),
    // Cross-field rules
    ("saas-gross-margin", "cross-field", "company"),
    ("public-listing-valid", "cross-field", "company"),
    ("private-has-no-listing", "cross-field", "company"),
    ("segments-sum-to-revenue", "cross-field", "company"),
    ("standalone-within-consolidated", "cross-field", "company"),
    ("arr-only-for-subscription", "cross-field", "company"),
    // Cross-entity rules
    ("owners-exist", "cross-entity", "company"),
    ("ownership-acyclic", "cross-entity", "company"),
    ("consolidation-covers-subsidiaries", "cross-entity", "company"),
    ("minority-stakes-not-consolidated", "cross-entity", "company"),
    ("equity-method-income-reported", "cross-entity", "company"),
    ("unique-id", "cross-entity", "company"),
    // Plausibility rules
    ("saas-scale-needs-staff", "plausibility", "company"),
    ("holdco-without-operations", "plausibility", "company"),
    ("revenue-per-employee", "plausibility", "company"),
    ("saas-scale-staffing-share", "plausibility", "dataset"),
    ("fiscal-year-mismatch-share", "plausibility", "dataset"),
    ("behaviour-class-coverage", "plausibility", "dataset"),
];

#[test]
fn shipped_skills_lint_clean() {
    let out = skillc(&["lint", "skills"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(status(&out), 0, "{stderr}");
    assert!(stderr.contains("0 errors, 0 warnings, 28 rules compiled"), "{stderr}");

    let out = skillc(&["lint", "--format", "json", "skills"]);
    assert_eq!(status(&out), 0);
    assert!(json_lines(&out).is_empty(), "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn rules_lists_every_reference_rule_with_its_kind_and_scope() {
    let out = skillc(&["rules", "--format", "json", "skills"]);
    assert_eq!(status(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let rules = json_lines(&out);
    let mut listed: BTreeMap<String, (String, String, String)> = BTreeMap::new();
    for r in &rules {
        let id = r["id"].as_str().unwrap().to_string();
        let row = (r["kind"].as_str().unwrap().into(), r["scope"].as_str().unwrap().into(), r["severity"].as_str().unwrap().into());
        assert!(listed.insert(id.clone(), row).is_none(), "`{id}` is listed twice");
        assert!(r["message"].as_str().is_some_and(|m| !m.is_empty()), "`{id}` has no message");
        assert!(r["file"].as_str().is_some_and(|f| f.starts_with("skills/") && f.ends_with("/SKILL.md")), "{r}");
        assert!(r["line"].as_u64().is_some_and(|l| l > 0), "{r}");
    }
    let expected: BTreeMap<String, (String, String, String)> = REFERENCE_RULES
        .iter()
        .map(|(id, kind, scope)| {
            let severity = if *kind == "plausibility" { "flag" } else { "reject" };
            (id.to_string(), (kind.to_string(), scope.to_string(), severity.to_string()))
        })
        .collect();
    assert_eq!(listed, expected);
}

// ---------------------------------------------------------------------------
// Broken copies of the shipped skills

/// The 1-based lines of the ```rule block that holds byte `offset` of `text`.
fn rule_block_at(text: &str, offset: usize) -> std::ops::RangeInclusive<u64> {
    let lines: Vec<&str> = text.lines().collect();
    let at = text[..offset].matches('\n').count();
    let open = (0..=at).rev().find(|&i| lines[i].trim_start().starts_with("```rule ")).expect("inside a rule block");
    let close = open + 1 + lines[open + 1..].iter().position(|l| l.trim() == "```").expect("closing fence");
    assert!(close >= at, "the change is not inside a rule block");
    (open as u64 + 1)..=(close as u64 + 1)
}

/// The 1-based lines of the first block ```rule <id> … ``` in `text`.
fn rule_lines(text: &str, id: &str) -> std::ops::RangeInclusive<u64> {
    let offset = text.find(&format!("```rule {id}\n")).unwrap_or_else(|| panic!("no rule {id}"));
    rule_block_at(text, offset)
}

/// Copies skills/ into a temporary folder, replaces `from` with `to` in one
/// skill (exactly once), lints the copy, and checks that every error names
/// that file at a line of the rule block that was changed, and that every
/// rule but `id` compiles.
fn break_rule(skill: &str, id: &str, from: &str, to: &str, code: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let skills = tmp.path().join("skills");
    copy_dir(&Path::new(MANIFEST).join("skills"), &skills);
    let file = skills.join(skill).join("SKILL.md");
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.matches(from).count(), 1, "`{from}` must occur once in {skill}");
    let broken = text.replace(from, to);
    std::fs::write(&file, &broken).unwrap();
    let lines = rule_block_at(&broken, text.find(from).unwrap());

    let skills_arg = skills.to_str().unwrap();
    let out = skillc(&["lint", "--format", "json", skills_arg]);
    assert_eq!(status(&out), 2, "{}", String::from_utf8_lossy(&out.stdout));
    let diags = json_lines(&out);
    let errors: Vec<&Value> = diags.iter().filter(|d| d["severity"] == "error").collect();
    assert!(!errors.is_empty(), "no error for {from} -> {to}");
    assert!(errors.iter().any(|d| d["code"] == code), "no `{code}` among {errors:?}");
    for d in &errors {
        assert_eq!(d["file"].as_str().unwrap(), file.to_str().unwrap(), "{d}");
        let line = d["line"].as_u64().unwrap();
        assert!(lines.contains(&line), "line {line} is outside the rule `{id}` (lines {lines:?}): {d}");
        assert!(d["column"].as_u64().unwrap() >= 1);
        assert!(d["message"].as_str().is_some_and(|m| !m.is_empty()));
    }

    // The text form names the same place.
    let out = skillc(&["lint", skills_arg]);
    assert_eq!(status(&out), 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first = errors[0]["line"].as_u64().unwrap();
    assert!(stderr.contains(&format!("{}:{first}:", file.display())), "{stderr}");
    assert!(stderr.contains(&format!("error[{code}]")), "{stderr}");

    // Every other rule, of this file and of the others, still compiles.
    let (program, _) = skillc::compile_paths(std::slice::from_ref(&skills));
    let compiled: BTreeSet<&str> = program.rules.iter().map(|r| r.id.as_str()).collect();
    let expected: BTreeSet<&str> = REFERENCE_RULES.iter().map(|(r, _, _)| *r).filter(|r| *r != id).collect();
    assert_eq!(compiled, expected, "after breaking `{id}`");
}

#[test]
fn a_misspelled_field_points_at_its_rule() {
    break_rule("financial-consistency", "gross-margin-range", "gross_margin ∈ [-1, 1]", "gross_margn ∈ [-1, 1]", "unknown-field");
}

#[test]
fn an_unbalanced_parenthesis_points_at_its_rule() {
    break_rule(
        "financial-consistency",
        "standalone-within-consolidated",
        "consolidated_revenue + (intercompany_eliminations ?? 0)",
        "consolidated_revenue + (intercompany_eliminations ?? 0",
        "syntax-error",
    );
    // Across lines too: the rule of ownership-consolidation spans four.
    break_rule(
        "ownership-consolidation",
        "minority-stakes-not-consolidated",
        "sum(c in subsidiaries where c.stake > 0.5: c.consolidated_revenue))",
        "sum(c in subsidiaries where c.stake > 0.5: c.consolidated_revenue)",
        "syntax-error",
    );
}

#[test]
fn a_string_compared_with_a_number_points_at_its_rule() {
    break_rule(
        "financial-consistency",
        "consolidated-revenue-positive",
        "consolidated_revenue > 0\n",
        "consolidated_revenue > \"0\"\n",
        "type-mismatch",
    );
    break_rule("financial-consistency", "saas-gross-margin", "if industry == \"SaaS\" then", "if industry == 1 then", "type-mismatch");
}

#[test]
fn an_id_used_twice_points_at_the_second_use() {
    // `saas-gross-margin` comes after `gross-margin-range` in the file; giving
    // it the earlier id makes it the duplicate, and it no longer compiles.
    break_rule(
        "financial-consistency",
        "saas-gross-margin",
        "```rule saas-gross-margin",
        "```rule gross-margin-range",
        "duplicate-rule-id",
    );
}

#[test]
fn a_duplicate_across_files_points_at_the_later_file() {
    let tmp = tempfile::tempdir().unwrap();
    let skills = tmp.path().join("skills");
    copy_dir(&Path::new(MANIFEST).join("skills"), &skills);
    // stock-listing sorts after company-profile.
    let file = skills.join("stock-listing/SKILL.md");
    let text = std::fs::read_to_string(&file).unwrap().replace("```rule private-has-no-listing", "```rule unique-id");
    std::fs::write(&file, &text).unwrap();
    let out = skillc(&["lint", "--format", "json", skills.to_str().unwrap()]);
    assert_eq!(status(&out), 2);
    let diags = json_lines(&out);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0]["code"], "duplicate-rule-id");
    assert_eq!(diags[0]["file"].as_str().unwrap(), file.to_str().unwrap());
    let lines = rule_lines(&text, "unique-id");
    assert_eq!(diags[0]["line"].as_u64().unwrap(), *lines.start());
}

#[test]
fn rules_refuses_to_list_broken_skills() {
    let tmp = tempfile::tempdir().unwrap();
    let skills = tmp.path().join("skills");
    copy_dir(&Path::new(MANIFEST).join("skills"), &skills);
    let file = skills.join("financial-consistency/SKILL.md");
    let text = std::fs::read_to_string(&file).unwrap().replace("gross_margin ∈ [-1, 1]", "gross_margn ∈ [-1, 1]");
    std::fs::write(&file, text).unwrap();
    let out = skillc(&["rules", "--format", "json", skills.to_str().unwrap()]);
    assert_eq!(status(&out), 2);
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("error[unknown-field]"));
}

// ---------------------------------------------------------------------------
// Real SKILL.md files written by others

const REAL_SKILLS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/real/skills");

fn skill_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            skill_files(&path, found);
        } else if path.file_name().is_some_and(|n| n == "SKILL.md") {
            found.push(path);
        }
    }
}

/// The Agent Skills violations these files hold, found by reading them
/// against agentskills-spec/specification.md: a `name` that differs from
/// its folder, and one `description` of 1068 characters (the limit is 1024).
/// Unknown top-level fields (`version`, `cowork`) are not violations: the
/// linter may only warn about them.
const REAL_VIOLATIONS: &[(&str, &str)] = &[
    ("anthropics/claude-api/SKILL.md", "description-too-long"),
    ("anthropics/template/SKILL.md", "name-mismatch"),
    ("microsoft-cat/_template/SKILL.md", "name-mismatch"),
    ("vercel-labs/composition-patterns/SKILL.md", "name-mismatch"),
    ("vercel-labs/react-best-practices/SKILL.md", "name-mismatch"),
    ("vercel-labs/react-native-skills/SKILL.md", "name-mismatch"),
    ("vercel-labs/react-view-transitions/SKILL.md", "name-mismatch"),
];

#[test]
fn real_skills_lint_with_exactly_their_violations() {
    let root = Path::new(REAL_SKILLS);
    if !root.is_dir() {
        eprintln!("note: {} does not exist; skipping the real-skills test", root.display());
        return;
    }
    let mut files = Vec::new();
    skill_files(root, &mut files);
    assert_eq!(files.len(), 41, "the real skills folder should hold 41 SKILL.md files");

    let root_arg = root.to_str().unwrap();
    let out = skillc(&["lint", root_arg]);
    let code = status(&out);
    assert!(code == 0 || code == 2, "exit status {code}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("41 files checked"), "{stderr}");

    let out = skillc(&["lint", "--format", "json", root_arg]);
    assert_eq!(status(&out), 2);
    let mut errors = BTreeSet::new();
    for d in json_lines(&out) {
        let file = d["file"].as_str().unwrap();
        let relative = file.strip_prefix(root_arg).unwrap_or(file).trim_start_matches('/').to_string();
        assert!(files.iter().any(|f| f.ends_with(&relative)), "a diagnostic for a file that is not a SKILL.md: {d}");
        if d["severity"] == "error" {
            errors.insert((relative, d["code"].as_str().unwrap().to_string()));
        } else {
            assert_eq!(d["severity"], "warning", "{d}");
        }
    }
    let expected: BTreeSet<(String, String)> = REAL_VIOLATIONS.iter().map(|(f, c)| (f.to_string(), c.to_string())).collect();
    assert_eq!(errors, expected);

    // Through the library: every file was read, none yields a rule.
    let (program, _) = skillc::compile_paths(&[root.to_path_buf()]);
    assert_eq!(program.db.files().count(), 41);
    assert!(program.rules.is_empty());
}

/// Input nested beyond the limits is reported, never a crash: long chains
/// build trees as deep as brackets do.
#[test]
fn deep_rules_are_refused_not_crashed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("deep");
    std::fs::create_dir_all(&dir).unwrap();
    let mut nested = "revenue".to_string();
    for _ in 0..12 {
        nested = format!("({nested}{})", " + 1".repeat(60));
    }
    let rules = [
        format!("revenue{} > 0", " ?? revenue".repeat(3000)),
        format!("count(owners{}) > 0", ".id".repeat(3000)),
        format!("{nested} > 0"),
        format!("{}revenue{} > 0", "(".repeat(1000), ")".repeat(1000)),
        format!("{}public", "not ".repeat(5000)),
        vec!["public"; 5000].join(" implies "),
        format!("{}public", "if public then ".repeat(2000)),
    ];
    let mut text = String::from("---\nname: deep\ndescription: Rules nested too deep.\napplies_to: company\n---\n\n```entity company\nkey id\nid: string\nrevenue: number?\npublic: boolean\nowners: [{id: string}]?\n```\n\n");
    for (i, rule) in rules.iter().enumerate() {
        text.push_str(&format!("- Rule {i}.\n  ```rule deep-{i}\n  {rule}\n  ```\n"));
    }
    std::fs::write(dir.join("SKILL.md"), text).unwrap();
    let out = skillc(&["lint", "--format", "json", tmp.path().to_str().unwrap()]);
    assert_eq!(status(&out), 2, "{}", String::from_utf8_lossy(&out.stderr));
    let diags = json_lines(&out);
    assert_eq!(diags.len(), rules.len(), "{diags:?}");
    assert!(diags.iter().all(|d| d["code"] == "too-deep"), "{diags:?}");
}
