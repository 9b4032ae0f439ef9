//! The conveniences users of ruff, dbt and cedar expect, through the real
//! binary: `completions`, `check --select/--ignore/--quiet/--fail-on/--output`,
//! `init`, and the README's first command.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

#[path = "support/cli.rs"]
mod cli;
use cli::json_lines;

#[path = "support/run.rs"]
mod run;
use run::{company, status, stderr, stdout, write};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const SKILLS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/skills");

fn skillc() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_skillc"));
    c.stdin(Stdio::null());
    c
}

/// `a` accepted, `lean` flagged (`revenue-per-employee`), `shouty` rejected
/// (`country-code-format`), `typed` rejected (`schema`), line 5 not JSON;
/// too few behaviour classes: `behaviour-class-coverage` flags the dataset.
fn mixed(dir: &Path) -> PathBuf {
    let lines = [
        company("a", ""),
        company("lean", "").replace("\"employee_count\":500", "\"employee_count\":4"),
        company("shouty", "").replace("\"GB\"", "\"gb\""),
        company("typed", "").replace("\"founded_year\":1990", "\"founded_year\":\"1990\""),
        "not json".to_string(),
    ];
    write(dir, "d.jsonl", lines.join("\n") + "\n")
}

fn check(data: &Path, args: &[&str]) -> Output {
    skillc().arg("check").arg(data).args(["--skills", SKILLS]).args(args).output().expect("run skillc")
}

/// Line number → the sorted rule ids of its reasons, and the dataset
/// findings' rule ids, of a JSON report.
fn findings(out: &Output) -> (Vec<(u64, Vec<String>)>, Vec<String>) {
    let lines = json_lines(out);
    let ids = |v: &Value| v.as_str().unwrap().to_string();
    let mut entities = Vec::new();
    let mut dataset = Vec::new();
    for l in &lines {
        match l["type"].as_str().unwrap() {
            "entity" => {
                let mut rules: Vec<String> = l["reasons"].as_array().unwrap().iter().map(|r| ids(&r["rule"])).collect();
                rules.sort();
                rules.dedup();
                entities.push((l["line"].as_u64().unwrap(), rules));
            }
            "dataset" => dataset.push(ids(&l["rule"])),
            _ => {}
        }
    }
    (entities, dataset)
}

fn strings(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------- completions

#[test]
fn completions_for_bash_name_the_subcommands_and_the_flags() {
    let out = skillc().args(["completions", "bash"]).output().unwrap();
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    let script = stdout(&out);
    for word in ["check", "lint", "test", "rules", "explain", "lsp", "init", "completions", "--accepted", "--select", "--fail-on"] {
        assert!(script.contains(word), "bash completions lack `{word}`");
    }
    assert!(script.contains("complete -F"), "a bash completion script");
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let out = skillc().args(["completions", shell]).output().unwrap();
        assert_eq!(status(&out), 0, "{shell}");
        assert!(stdout(&out).contains("accepted") && stdout(&out).contains("fail-on"), "{shell}");
    }
    let out = skillc().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(status(&out), 2);
    assert!(stderr(&out).contains("bash"), "the shells are listed: {}", stderr(&out));
}

// ---------------------------------------------------------------- --select / --ignore

#[test]
fn ignore_drops_a_rule_from_the_verdicts_the_findings_and_the_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(dir.path(), "d.jsonl", [company("a", ""), company("shouty", "").replace("\"GB\"", "\"gb\"")].join("\n"));
    let out = check(&data, &["--format", "json", "--ignore", "country-code-format,behaviour-class-coverage"]);
    assert_eq!(status(&out), 0, "nothing else rejects `shouty`: {}", stderr(&out));
    assert_eq!(findings(&out), (vec![], vec![]));
    let summary = json_lines(&out).pop().unwrap();
    assert_eq!(summary["accepted"], 2);
    assert!(summary["findings"].as_object().unwrap().is_empty(), "{summary}");
}

#[test]
fn select_keeps_only_the_named_rules_and_skills_plus_the_input_checks() {
    let dir = tempfile::tempdir().unwrap();
    let data = mixed(dir.path());
    let all = findings(&check(&data, &["--format", "json"]));
    assert_eq!(
        all,
        (
            vec![
                (2, strings(&["revenue-per-employee"])),
                (3, strings(&["country-code-format"])),
                (4, strings(&["schema"])),
                (5, strings(&["json"]))
            ],
            strings(&["behaviour-class-coverage"])
        )
    );
    // A rule id: only it, and `json` and `schema`, which every line goes through.
    let only = findings(&check(&data, &["--format", "json", "--select", "country-code-format"]));
    assert_eq!(only, (vec![(3, strings(&["country-code-format"])), (4, strings(&["schema"])), (5, strings(&["json"]))], vec![]));
    // A skill name selects its rules; repeated and comma-separated lists add up.
    let skills = findings(&check(&data, &["--format", "json", "--select", "dataset-plausibility", "--select", "unique-id,json"]));
    assert_eq!(
        skills,
        (
            vec![(2, strings(&["revenue-per-employee"])), (4, strings(&["schema"])), (5, strings(&["json"]))],
            strings(&["behaviour-class-coverage"])
        )
    );
    // `--select schema`: the input checks alone.
    let input = findings(&check(&data, &["--format", "json", "--select", "schema"]));
    assert_eq!(input, (vec![(4, strings(&["schema"])), (5, strings(&["json"]))], vec![]));
    // --ignore wins over --select.
    let both = findings(&check(&data, &["--format", "json", "--select", "dataset-plausibility", "--ignore", "behaviour-class-coverage"]));
    assert_eq!(both, (vec![(2, strings(&["revenue-per-employee"])), (4, strings(&["schema"])), (5, strings(&["json"]))], vec![]));
}

#[test]
fn an_unknown_rule_is_a_usage_error_with_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let data = mixed(dir.path());
    let out = check(&data, &["--ignore", "country-code-formt"]);
    assert_eq!(status(&out), 2);
    assert!(out.stdout.is_empty());
    assert_eq!(stderr(&out), "error: unknown rule or skill `country-code-formt` in `--ignore`; did you mean `country-code-format`?\n");
    let out = check(&data, &["--select", "unique-id,zzz"]);
    assert_eq!(status(&out), 2);
    assert_eq!(stderr(&out), "error: unknown rule or skill `zzz` in `--select`; `skillc rules` lists them\n");
    let out = check(&data, &["--select", "company-profil"]);
    assert!(stderr(&out).contains("did you mean `company-profile`?"), "skill names are suggested too: {}", stderr(&out));
}

#[test]
fn the_input_checks_cannot_be_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let data = mixed(dir.path());
    for id in ["json", "schema"] {
        let out = check(&data, &["--ignore", id]);
        assert_eq!(status(&out), 2);
        assert_eq!(
            stderr(&out),
            format!("error: `{id}` cannot be ignored: it is an input check, and a line that fails it is never accepted\n")
        );
    }
}

// ---------------------------------------------------------------- --quiet

#[test]
fn quiet_keeps_the_findings_and_drops_the_summary_and_the_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let data = mixed(dir.path());
    let loud = check(&data, &[]);
    let quiet = check(&data, &["--quiet"]);
    assert_eq!(status(&quiet), 1);
    let (loud, quiet_text) = (stdout(&loud), stdout(&quiet));
    assert!(loud.contains("lines read") && loud.contains("acceptance rate") && loud.contains("findings: "));
    assert!(
        !quiet_text.contains("lines read") && !quiet_text.contains("acceptance rate") && !quiet_text.contains("findings: "),
        "{quiet_text}"
    );
    assert!(quiet_text.contains("line 3: rejected `shouty`") && quiet_text.contains("dataset: flagged"), "{quiet_text}");
    assert!(loud.starts_with(&quiet_text), "the same findings");
    // JSON: the lines are the interface, unchanged.
    assert_eq!(stdout(&check(&data, &["--format", "json"])), stdout(&check(&data, &["--format", "json", "-q"])));
    // Warnings go; errors stay.
    let empty = write(dir.path(), "empty.jsonl", "");
    assert_eq!(stderr(&check(&empty, &["--quiet"])), "");
    assert_eq!(status(&check(&dir.path().join("missing.jsonl"), &["--quiet"])), 2);
    assert!(stderr(&check(&dir.path().join("missing.jsonl"), &["--quiet"])).starts_with("error: cannot read"));
}

// ---------------------------------------------------------------- --fail-on

#[test]
fn fail_on_flag_fails_on_flagged_lines_and_on_dataset_findings() {
    let dir = tempfile::tempdir().unwrap();
    let lean = company("lean", ",\"behaviour_class\":\"happy-path\"").replace("\"employee_count\":500", "\"employee_count\":4");
    let flagged = write(dir.path(), "flagged.jsonl", lean + "\n");
    let args = ["--ignore", "behaviour-class-coverage"];
    assert_eq!(status(&check(&flagged, &args)), 0, "flags alone pass by default");
    assert_eq!(status(&check(&flagged, &[&args[..], &["--fail-on", "reject"]].concat())), 0);
    assert_eq!(status(&check(&flagged, &[&args[..], &["--fail-on", "flag"]].concat())), 1);

    // A clean company, but too few behaviour classes: a dataset finding only.
    let clean = write(dir.path(), "clean.jsonl", company("a", "") + "\n");
    let out = check(&clean, &["--format", "json"]);
    assert_eq!(findings(&out), (vec![], strings(&["behaviour-class-coverage"])));
    assert_eq!(status(&out), 0);
    assert_eq!(status(&check(&clean, &["--fail-on", "flag"])), 1);
    assert_eq!(status(&check(&clean, &["--fail-on", "flag", "--ignore", "behaviour-class-coverage"])), 0);

    // Rejections fail whatever --fail-on says; values combine.
    let rejected = write(dir.path(), "rejected.jsonl", company("shouty", "").replace("\"GB\"", "\"gb\"") + "\n");
    assert_eq!(status(&check(&rejected, &["--fail-on", "empty"])), 1);
    assert_eq!(status(&check(&clean, &["--fail-on", "empty,flag"])), 1);
    let out = check(&clean, &["--fail-on", "flagged"]);
    assert_eq!(status(&out), 2);
    assert!(stderr(&out).contains("reject") && stderr(&out).contains("empty"), "the values are listed: {}", stderr(&out));
}

// ---------------------------------------------------------------- --output

#[test]
fn output_writes_the_report_to_a_file_and_nothing_to_standard_output() {
    let dir = tempfile::tempdir().unwrap();
    let data = mixed(dir.path());
    for format in ["text", "json"] {
        let plain = check(&data, &["--format", format]);
        let file = dir.path().join(format!("report.{format}"));
        let out = check(&data, &["--format", format, "--output", file.to_str().unwrap()]);
        assert_eq!(status(&out), status(&plain));
        assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{}", stderr(&out));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), stdout(&plain), "{format}");
    }
    // Short form, and a file that exists is replaced.
    let file = dir.path().join("report.text");
    let out = check(&data, &["-o", file.to_str().unwrap(), "--quiet"]);
    assert_eq!(status(&out), 1);
    assert!(!std::fs::read_to_string(&file).unwrap().contains("lines read"));
}

// ---------------------------------------------------------------- init

#[test]
fn init_scaffolds_a_skill_that_lints_tests_and_checks_clean() {
    let dir = tempfile::tempdir().unwrap();
    let skills = dir.path().join("skills");
    let out = skillc().arg("init").arg(&skills).args(["--name", "inventory", "--entity", "item"]).output().unwrap();
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    let file = skills.join("inventory/SKILL.md");
    assert!(stdout(&out).contains(&format!("created `{}`", file.display())), "{}", stdout(&out));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("---\nname: inventory\n") && text.contains("applies_to: item") && text.contains("```entity item"));

    let lint = skillc().arg("lint").arg(&skills).output().unwrap();
    assert_eq!(status(&lint), 0, "{}", stderr(&lint));
    assert!(stderr(&lint).contains("0 errors, 0 warnings, 1 rule compiled"), "{}", stderr(&lint));
    let test = skillc().arg("test").arg(&skills).output().unwrap();
    assert_eq!(status(&test), 0, "{}", stderr(&test));
    assert!(stderr(&test).ends_with("all hold\n"), "{}", stderr(&test));

    let data = write(
        dir.path(),
        "items.jsonl",
        "{\"id\":\"bolt\",\"name\":\"Bolt\",\"quantity\":40}\n{\"id\":\"nut\",\"name\":\"Nut\",\"quantity\":-2}\n{\"id\":\"washer\",\"name\":\"Washer\"}\n",
    );
    let out = skillc().arg("check").arg(&data).arg("--skills").arg(&skills).args(["--format", "json"]).output().unwrap();
    assert_eq!(status(&out), 1);
    assert_eq!(findings(&out), (vec![(2, strings(&["quantity-not-negative"])), (3, strings(&["schema"]))], vec![]));
}

#[test]
fn init_defaults_to_skills_my_skill_which_check_then_uses() {
    let dir = tempfile::tempdir().unwrap();
    let out = skillc().arg("init").current_dir(dir.path()).output().unwrap();
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    assert!(dir.path().join("skills/my-skill/SKILL.md").is_file());
    let data = write(dir.path(), "r.jsonl", "{\"id\":\"one\",\"name\":\"One\",\"quantity\":1}\n");
    let out = skillc().arg("check").arg(&data).current_dir(dir.path()).output().unwrap();
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("1 line read: 1 accepted"), "./skills is used: {}", stdout(&out));
}

#[test]
fn init_refuses_to_overwrite_and_refuses_bad_names() {
    let dir = tempfile::tempdir().unwrap();
    let skills = dir.path().join("skills");
    assert_eq!(status(&skillc().arg("init").arg(&skills).output().unwrap()), 0);
    let file = skills.join("my-skill/SKILL.md");
    std::fs::write(&file, "mine").unwrap();
    let out = skillc().arg("init").arg(&skills).output().unwrap();
    assert_eq!(status(&out), 2);
    assert_eq!(stderr(&out), format!("error: `{}` already exists; not overwritten\n", file.display()));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");

    for (args, message) in [
        (["--name", "My_Skill"], "invalid skill name `My_Skill`: only lower-case letters, digits and hyphens are allowed"),
        (["--entity", "2nd"], "invalid entity name `2nd`: it must not start with a digit"),
        (["--entity", "a-b"], "invalid entity name `a-b`: only ASCII letters, digits and `_` are allowed"),
    ] {
        let out = skillc().arg("init").arg(&skills).args(args).output().unwrap();
        assert_eq!(status(&out), 2, "{args:?}");
        assert_eq!(stderr(&out), format!("error: {message}\n"));
    }
    assert!(!skills.join("My_Skill").exists(), "nothing written");
}

// ---------------------------------------------------------------- README

/// The first command of the README's code block, and the second.
fn readme_commands() -> (String, String) {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let block = readme.split("```sh\n").nth(1).unwrap();
    let mut lines = block.lines().map(|l| l.split('#').next().unwrap().trim().to_string());
    (lines.next().unwrap(), lines.next().unwrap())
}

#[test]
fn the_readme_first_command_shows_rejections_with_their_reasons_and_hints() {
    let (first, second) = readme_commands();
    assert_eq!(first, "cargo run --release -- check corpora/candidates.jsonl --base corpora/sample.jsonl");
    assert_eq!(second, "cargo test --locked");
    // The same command, on the debug binary, from the repository's root
    // (where ./skills is found).
    let args: Vec<&str> = first.split_whitespace().skip_while(|w| *w != "--").skip(1).collect();
    let out = skillc().args(&args).current_dir(ROOT).output().unwrap();
    assert_eq!(status(&out), 1, "something is rejected: {}", stderr(&out));
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
    let text = stdout(&out);
    for (header, rule, hint) in [
        ("line 4: rejected `solvik-analytics`", "saas-gross-margin", "raise `gross_margin` above 0.6"),
        ("line 5: rejected `pinecrest-foods`", "private-has-no-listing", "remove `ticker` (absent or null)"),
        ("line 6: rejected `halvorsen-service`", "owners-exist", "halvorsen-holdings"),
        ("line 7: flagged `tessera-cloud`", "saas-scale-needs-staff", "raise `employee_count` to at least 51"),
    ] {
        let at = text.find(header).unwrap_or_else(|| panic!("no `{header}` in:\n{text}"));
        let finding = text[at..].split("\n\n").next().unwrap();
        assert!(finding.contains(rule), "{finding}");
        let hint_line = finding.lines().find(|l| l.trim_start().starts_with("hint: ")).unwrap_or_else(|| panic!("no hint: {finding}"));
        assert!(hint_line.contains(hint), "{hint_line}");
    }
    assert!(text.contains("10 lines read: 6 accepted, 1 flagged, 3 rejected; 0 dataset findings\n"), "{text}");
    assert!(text.contains("acceptance rate 70.00%: 7 of 10 lines kept (accepted or flagged)\n"), "{text}");
}

// ---------------------------------------------------------------- help

#[test]
fn every_new_flag_has_help_text() {
    let out = skillc().args(["check", "--help"]).output().unwrap();
    let help = stdout(&out);
    for flag in ["--select <RULES>", "--ignore <RULES>", "--fail-on <WHEN>", "--output <FILE>", "--quiet"] {
        let line = help.lines().find(|l| l.contains(flag)).unwrap_or_else(|| panic!("no {flag} in:\n{help}"));
        let at = help.find(line).unwrap();
        assert!(help[at + line.len()..].lines().nth(1).is_some_and(|l| l.trim().len() > 10), "{flag} has no help text:\n{help}");
    }
    let out = skillc().args(["--help"]).output().unwrap();
    assert!(stdout(&out).contains("init") && stdout(&out).contains("completions"));
}
