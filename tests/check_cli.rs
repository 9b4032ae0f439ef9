//! `skillc check` end to end, through the real binary, in temporary
//! directories: exit statuses, input handling (stdin, blank lines, CRLF,
//! byte-order mark, malformed lines), the accepted/rejected split, thread
//! independence, `--base`, the JSON Lines shape and the text report.

use proptest::prelude::*;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

#[path = "support/cli.rs"]
mod cli;
use cli::json_lines;

const SKILLS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/skills");

/// A plausible private company; `extra` is spliced in before the closing
/// brace (start it with a comma).
fn company(id: &str, extra: &str) -> String {
    format!(
        r#"{{"id":"{id}","name":"{id} Ltd","industry":"Manufacturing","country":"GB","founded_year":1990,"public":false,"fiscal_year_end":"12-31","currency":"GBP","employee_count":500,"standalone_revenue":100000000,"consolidated_revenue":100000000,"gross_margin":0.3{extra}}}"#
    )
}

fn skillc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_skillc"))
}

/// `skillc check <dataset> --skills <shipped skills> <args>`.
fn check(dataset: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Output {
    skillc().arg("check").arg(dataset).args(["--skills", SKILLS]).args(args).output().expect("run skillc")
}

fn check_stdin(input: &[u8], args: &[&str]) -> Output {
    let mut child = skillc()
        .args(["check", "-", "--skills", SKILLS])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run skillc");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    out
}

fn entities(lines: &[Value]) -> Vec<&Value> {
    lines.iter().filter(|l| l["type"] == "entity").collect()
}

fn rules_of(entity: &Value) -> Vec<String> {
    let mut r: Vec<String> = entity["reasons"].as_array().unwrap().iter().map(|r| r["rule"].as_str().unwrap().to_string()).collect();
    r.sort();
    r.dedup();
    r
}

fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn status(out: &Output) -> i32 {
    out.status.code().expect("exited")
}

// ---------------------------------------------------------------- exit status

#[test]
fn exit_status_is_0_when_nothing_is_rejected_even_if_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let clean = write(dir.path(), "clean.jsonl", format!("{}\n{}\n", company("a", ""), company("b", "")));
    let out = check(&clean, &[]);
    assert_eq!(status(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    // revenue per employee of 100M / 10 = 10M is flagged, not rejected
    let flagged = write(dir.path(), "flagged.jsonl", company("c", "").replace("\"employee_count\":500", "\"employee_count\":10") + "\n");
    let out = check(&flagged, &["--format", "json"]);
    assert_eq!(status(&out), 0);
    assert_eq!(entities(&json_lines(&out))[0]["verdict"], "flagged");
}

#[test]
fn exit_status_is_1_when_something_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(dir.path(), "d.jsonl", format!("{}\n{}\n", company("a", ""), company("b", "").replace("\"GB\"", "\"gb\"")));
    assert_eq!(status(&check(&data, &[])), 1);
    let data = write(dir.path(), "j.jsonl", "[]\n");
    assert_eq!(status(&check(&data, &[])), 1, "a json rejection counts");
}

#[test]
fn exit_status_is_2_for_a_missing_dataset_or_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = check(dir.path().join("missing.jsonl"), &[]);
    assert_eq!(status(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.jsonl"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty());
    let out = check(dir.path(), &[]);
    assert_eq!(status(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("directory"));
}

#[test]
fn exit_status_is_2_for_a_missing_base_an_unwritable_split_or_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(dir.path(), "d.jsonl", company("a", "") + "\n");
    assert_eq!(status(&check(&data, &["--base", dir.path().join("nope.jsonl").to_str().unwrap()])), 2);
    let nowhere = dir.path().join("no-such-dir/accepted.jsonl");
    assert_eq!(status(&check(&data, &["--accepted", nowhere.to_str().unwrap()])), 2);
    assert_eq!(status(&check(&data, &["--format", "yaml"])), 2);
    assert_eq!(status(&check(&data, &["--no-such-flag"])), 2);
}

#[test]
fn exit_status_is_2_when_the_skills_do_not_compile() {
    let dir = tempfile::tempdir().unwrap();
    // The shipped skills, with one broken rule added to one of them.
    let skills = dir.path().join("skills");
    for entry in std::fs::read_dir(SKILLS).unwrap() {
        let entry = entry.unwrap();
        let to = skills.join(entry.file_name());
        std::fs::create_dir_all(&to).unwrap();
        let mut text = std::fs::read_to_string(entry.path().join("SKILL.md")).unwrap();
        if entry.file_name() == "company-profile" {
            text.push_str("\n- Broken on purpose.\n  ```rule broken-rule\n  employee_count >\n  ```\n");
        }
        std::fs::write(to.join("SKILL.md"), text).unwrap();
    }
    let data = write(dir.path(), "d.jsonl", company("a", "") + "\n");
    let out = skillc().arg("check").arg(&data).arg("--skills").arg(&skills).output().unwrap();
    assert_eq!(status(&out), 2, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty(), "no report when the skills do not compile");
    assert!(String::from_utf8_lossy(&out.stderr).contains("SKILL.md"), "{}", String::from_utf8_lossy(&out.stderr));
    // The same skills without the broken rule compile.
    let out = skillc().arg("check").arg(&data).arg("--skills").arg(SKILLS).output().unwrap();
    assert_ne!(status(&out), 2);
}

// ---------------------------------------------------------------- input

#[test]
fn standard_input_gives_the_same_report_and_split_as_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = format!("{}\n\n[1]\n{}\n{}", company("a", ""), company("b", "").replace("\"GB\"", "\"gb\""), company("c", ""));
    let file = write(dir.path(), "d.jsonl", &input);
    let (fa, fr) = (dir.path().join("fa"), dir.path().join("fr"));
    let (sa, sr) = (dir.path().join("sa"), dir.path().join("sr"));
    let from_file = check(&file, &["--format", "json", "--accepted", fa.to_str().unwrap(), "--rejected", fr.to_str().unwrap()]);
    let from_stdin =
        check_stdin(input.as_bytes(), &["--format", "json", "--accepted", sa.to_str().unwrap(), "--rejected", sr.to_str().unwrap()]);
    assert_eq!(status(&from_stdin), 1);
    assert_eq!(from_file.stdout, from_stdin.stdout);
    assert_eq!(std::fs::read(&fa).unwrap(), std::fs::read(&sa).unwrap());
    assert_eq!(std::fs::read(&fr).unwrap(), std::fs::read(&sr).unwrap());
    assert_eq!(std::fs::read_to_string(&sr).unwrap().lines().count(), 2);
    // Without a split, stdin is read once and not kept.
    let out = check_stdin(input.as_bytes(), &["--format", "json"]);
    assert_eq!(out.stdout, from_file.stdout);
}

#[test]
fn blank_lines_are_skipped_counted_in_line_numbers_and_reported_nowhere() {
    let dir = tempfile::tempdir().unwrap();
    let bad = company("bad", "").replace("\"GB\"", "\"gb\"");
    let input = format!("\n   \n{}\n\t\n \t \r\n\r\n{}\n\n", company("a", ""), bad);
    let data = write(dir.path(), "d.jsonl", &input);
    let (acc, rej) = (dir.path().join("a"), dir.path().join("r"));
    let out = check(&data, &["--format", "json", "--accepted", acc.to_str().unwrap(), "--rejected", rej.to_str().unwrap()]);
    let lines = json_lines(&out);
    let ents = entities(&lines);
    assert_eq!(ents.len(), 1);
    assert_eq!(ents[0]["line"], 7, "line numbers count blank lines");
    let summary = lines.last().unwrap();
    assert_eq!(summary["read"], 2, "blank lines are not read as companies");
    assert_eq!(std::fs::read_to_string(&acc).unwrap(), company("a", "") + "\n");
    assert_eq!(std::fs::read_to_string(&rej).unwrap(), bad + "\n");
    // A file of blank lines only: nothing read, nothing rejected.
    let blank = write(dir.path(), "blank.jsonl", "\n \n\t\r\n");
    let out = check(&blank, &["--format", "json"]);
    assert_eq!(status(&out), 0);
    assert_eq!(json_lines(&out).last().unwrap()["read"], 0);
}

#[test]
fn crlf_line_endings_and_a_byte_order_mark_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let input = format!("\u{feff}{}\r\n{}\r\n", company("a", ""), company("b", ""));
    let data = write(dir.path(), "d.jsonl", &input);
    let acc = dir.path().join("a");
    let out = check(&data, &["--format", "json", "--accepted", acc.to_str().unwrap()]);
    assert_eq!(status(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    let lines = json_lines(&out);
    assert!(entities(&lines).is_empty(), "{lines:?}");
    assert_eq!(lines.last().unwrap()["accepted"], 2);
    // Lines are copied with their CRLF; the byte-order mark is not part of a line.
    assert_eq!(std::fs::read_to_string(&acc).unwrap(), format!("{}\r\n{}\r\n", company("a", ""), company("b", "")));
    // A byte-order mark anywhere but the start of the file is not JSON.
    let later = write(dir.path(), "later.jsonl", format!("{}\n\u{feff}{}\n", company("a", ""), company("b", "")));
    let ents = json_lines(&check(&later, &["--format", "json"])).into_iter().filter(|l| l["type"] == "entity").collect::<Vec<_>>();
    assert_eq!(ents.len(), 1);
    assert_eq!((ents[0]["line"].as_u64(), rules_of(&ents[0])), (Some(2), vec!["json".to_string()]));
}

#[test]
fn malformed_lines_are_rejected_under_json_with_their_line_number_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&[u8], &str)> = vec![
        (b"[]", "an array"),
        (b"\"x\"", "a string"),
        (b"42", "a number"),
        (b"null", "null"),
        (b"{\"id\":\"trunc\",\"name\":", "truncated"),
        (b"{\"id\":\"caf\xe9\"}", "invalid UTF-8"),
        (b"\xff\xfe{}", "invalid UTF-8 before the object"),
        (b"{\"id\":\"t\"} trailing", "text after the object"),
        (b"{\"id\":\"t\"}{\"id\":\"u\"}", "two objects"),
        (b"{\"id\":\"big\",\"employee_count\":1e400}", "1e400"),
        (b"{\"id\":\"big\",\"note\":1e400}", "1e400 in an unknown field"),
        (b"{\"id\":\"nan\",\"gross_margin\":NaN}", "NaN"),
    ];
    let mut input = Vec::new();
    input.extend_from_slice(company("first", "").as_bytes());
    input.push(b'\n');
    for (bytes, _) in &cases {
        input.extend_from_slice(bytes);
        input.push(b'\n');
    }
    input.extend_from_slice(company("last", "").as_bytes());
    input.push(b'\n');
    let data = write(dir.path(), "d.jsonl", &input);
    let out = check(&data, &["--format", "json"]);
    assert_eq!(status(&out), 1);
    let lines = json_lines(&out);
    let ents = entities(&lines);
    assert_eq!(ents.len(), cases.len(), "{ents:?}");
    for (i, ((_, why), e)) in cases.iter().zip(&ents).enumerate() {
        let n = i as u64 + 2;
        assert_eq!(e["line"], n, "{why}");
        assert_eq!(e["entity"], Value::Null, "{why}");
        assert_eq!(e["verdict"], "rejected", "{why}");
        assert_eq!(rules_of(e), vec!["json"], "{why}");
        let reason = &e["reasons"][0];
        assert_eq!(reason["kind"], "json");
        assert!(reason["message"].as_str().unwrap().contains(&format!("line {n}")), "{why}: {reason}");
        assert!(!reason["values"]["error"].as_str().unwrap().is_empty(), "{why}: the parser's message");
    }
    assert_eq!(lines.last().unwrap()["read"], cases.len() as u64 + 2);
    assert_eq!(lines.last().unwrap()["accepted"], 2, "the lines around the malformed ones are still checked");
}

#[test]
fn a_duplicate_key_takes_the_last_value() {
    let dir = tempfile::tempdir().unwrap();
    let last_good = company("last-good", "").replace("\"country\":\"GB\"", "\"country\":\"gb\",\"country\":\"GB\"");
    let last_bad = company("last-bad", "").replace("\"country\":\"GB\"", "\"country\":\"GB\",\"country\":\"gb\"");
    let data = write(dir.path(), "d.jsonl", format!("{last_good}\n{last_bad}\n"));
    let lines = json_lines(&check(&data, &["--format", "json"]));
    let ents = entities(&lines);
    assert_eq!(ents.len(), 1);
    assert_eq!(ents[0]["entity"], "last-bad");
    assert_eq!(rules_of(ents[0]), vec!["country-code-format"]);
    assert_eq!(ents[0]["reasons"][0]["values"]["country"], "gb");
}

#[test]
fn unknown_fields_and_formatting_are_carried_through_untouched() {
    let dir = tempfile::tempdir().unwrap();
    // Odd spacing, escapes, key order and unknown fields of every JSON type.
    let line = concat!(
        r#"  { "source" : {"batch": 7, "tags": ["a", null, true, 1.50e2]}, "id":"odd", "name":"Caf\u00e9 \"Odd\" Ltd", "#,
        r#""industry":"Manufacturing","country":"GB","founded_year":1990.0,"public":false,"fiscal_year_end":"12-31","currency":"GBP","#,
        r#""employee_count":5e2,"standalone_revenue":100000000,"consolidated_revenue":1.0E8,"gross_margin":0.30,"owners":[],"#,
        r#""segments":[{"name":"Core","revenue":100000000,"memo":"x"}],"notes":null,"z":-0.0 }	"#
    );
    let data = write(dir.path(), "d.jsonl", format!("{line}\r\n"));
    let acc = dir.path().join("accepted.jsonl");
    let out = check(&data, &["--accepted", acc.to_str().unwrap()]);
    assert_eq!(status(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(std::fs::read(&acc).unwrap(), format!("{line}\r\n").into_bytes());
}

/// Lines of a file as byte strings, without their `\n`.
fn split_lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut lines: Vec<Vec<u8>> = bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    if lines.last().is_some_and(Vec::is_empty) {
        lines.pop();
    }
    lines
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'))
}

#[test]
fn the_split_copies_every_non_blank_line_into_exactly_one_file_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        company("ok", ""),
        company("flag", "").replace("\"employee_count\":500", "\"employee_count\":10"),
        String::new(),
        company("rej", "").replace("\"GB\"", "\"gb\""),
        "[1,2]".to_string(),
        company("ok2", ",\"extra\":{\"k\":[1,2,3]}"),
        "  ".to_string(),
        company("last-without-newline", ""),
    ];
    let input = lines.join("\n");
    let data = write(dir.path(), "d.jsonl", &input);
    let (acc, rej) = (dir.path().join("a"), dir.path().join("r"));
    let out = check(&data, &["--format", "json", "--accepted", acc.to_str().unwrap(), "--rejected", rej.to_str().unwrap()]);
    assert_eq!(status(&out), 1);
    let accepted = std::fs::read_to_string(&acc).unwrap();
    let rejected = std::fs::read_to_string(&rej).unwrap();
    // flagged lines are accepted; order is kept; the last line gains a newline
    assert_eq!(accepted, format!("{}\n{}\n{}\n{}\n", lines[0], lines[1], lines[5], lines[7]));
    assert_eq!(rejected, format!("{}\n{}\n", lines[3], lines[4]));
    // Only one of the two files.
    let only = dir.path().join("only-rejected");
    check(&data, &["--rejected", only.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&only).unwrap(), rejected);
    // An empty side is still written (as an empty file).
    let clean = write(dir.path(), "clean.jsonl", company("x", "") + "\n");
    let empty = dir.path().join("empty-rejected");
    assert_eq!(status(&check(&clean, &["--rejected", empty.to_str().unwrap()])), 0);
    assert_eq!(std::fs::read(&empty).unwrap(), b"");
}

/// A few hundred lines of everything: the rule corpora concatenated
/// (duplicate ids across them included).
fn big_input() -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpora/rules");
    let mut names: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "jsonl")).collect();
    names.sort();
    let mut out = Vec::new();
    for n in names {
        out.extend(std::fs::read(n).unwrap());
    }
    out
}

#[test]
fn the_output_does_not_depend_on_the_number_of_threads() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(dir.path(), "big.jsonl", big_input());
    let run = |threads: &str, format: &str| {
        let (a, r) = (dir.path().join(format!("a{threads}{format}")), dir.path().join(format!("r{threads}{format}")));
        let out =
            check(&data, &["--threads", threads, "--format", format, "--accepted", a.to_str().unwrap(), "--rejected", r.to_str().unwrap()]);
        assert_eq!(status(&out), 1);
        (out.stdout, std::fs::read(a).unwrap(), std::fs::read(r).unwrap())
    };
    for format in ["json", "text"] {
        let one = run("1", format);
        let two = run("2", format);
        assert!(one.0 == two.0, "{format} output differs between --threads 1 and 2");
        assert!(one.1 == two.1 && one.2 == two.2, "the split differs between --threads 1 and 2");
        assert!(one.0.len() > 1000);
    }
}

// ---------------------------------------------------------------- --base

#[test]
fn base_companies_are_context_only_candidates_are_reported_and_split() {
    let dir = tempfile::tempdir().unwrap();
    let base = write(
        dir.path(),
        "base.jsonl",
        format!(
            "{}\n{}\n{}\n",
            company("group-parent", ",\"equity_method_income\":0,\"consolidated_revenue\":101000000"),
            company("taken", ""),
            // a rejected base line: never reported, still an owner that exists
            company("base-broken", "").replace("\"GB\"", "\"gb\"")
        ),
    );
    let candidates = [
        company("new-child", ",\"standalone_revenue\":1000000,\"consolidated_revenue\":1000000,\"employee_count\":10,\"owners\":[{\"id\":\"group-parent\",\"stake\":0.8}]"),
        company("taken", ""),
        company("new-orphan", ",\"owners\":[{\"id\":\"not-anywhere\",\"stake\":0.1}]"),
        company("child-of-broken", ",\"owners\":[{\"id\":\"base-broken\",\"stake\":0.1}]"),
    ];
    let cand = write(dir.path(), "cand.jsonl", candidates.join("\n") + "\n");
    let (acc, rej) = (dir.path().join("a"), dir.path().join("r"));
    let out = check(
        &cand,
        &["--base", base.to_str().unwrap(), "--format", "json", "--accepted", acc.to_str().unwrap(), "--rejected", rej.to_str().unwrap()],
    );
    assert_eq!(status(&out), 1, "{}", String::from_utf8_lossy(&out.stderr));
    let lines = json_lines(&out);
    let ents = entities(&lines);
    let got: Vec<(u64, String, Vec<String>)> =
        ents.iter().map(|e| (e["line"].as_u64().unwrap(), e["entity"].as_str().unwrap().to_string(), rules_of(e))).collect();
    assert_eq!(
        got,
        vec![(2, "taken".to_string(), vec!["unique-id".to_string()]), (3, "new-orphan".to_string(), vec!["owners-exist".to_string()])],
        "only candidates are reported; line numbers are the candidates'"
    );
    // The duplicate's reason tells the base line from the candidate line.
    let values = &ents[0]["reasons"][0]["values"];
    assert_eq!((values["lines"].clone(), values["base_lines"].clone()), (serde_json::json!([2]), serde_json::json!([2])));
    let summary = lines.last().unwrap();
    assert_eq!((summary["read"].as_u64(), summary["accepted"].as_u64(), summary["rejected"].as_u64()), (Some(4), Some(2), Some(2)));
    assert_eq!(std::fs::read_to_string(&acc).unwrap(), format!("{}\n{}\n", candidates[0], candidates[3]));
    assert_eq!(std::fs::read_to_string(&rej).unwrap(), format!("{}\n{}\n", candidates[1], candidates[2]));
}

#[test]
fn base_companies_take_part_in_graph_rules() {
    let dir = tempfile::tempdir().unwrap();
    // The base parent consolidates 100M of its own and nothing else; a
    // candidate controlled subsidiary earning 50M breaks the parent's
    // accounts, but only candidates are reported: the candidate passes.
    // A candidate that closes an ownership cycle through the base is rejected.
    let base = write(
        dir.path(),
        "base.jsonl",
        format!("{}\n{}\n", company("b-parent", ""), company("b-loop", ",\"owners\":[{\"id\":\"c-loop\",\"stake\":0.1}]")),
    );
    let cand = write(
        dir.path(),
        "cand.jsonl",
        format!(
            "{}\n{}\n",
            company(
                "c-sub",
                ",\"standalone_revenue\":150000000,\"consolidated_revenue\":150000000,\"owners\":[{\"id\":\"b-parent\",\"stake\":0.9}]"
            ),
            company("c-loop", ",\"owners\":[{\"id\":\"b-loop\",\"stake\":0.1}]")
        ),
    );
    let lines = json_lines(&check(&cand, &["--base", base.to_str().unwrap(), "--format", "json"]));
    let ents = entities(&lines);
    assert_eq!(ents.len(), 1, "{ents:?}");
    assert_eq!(ents[0]["entity"], "c-loop");
    assert_eq!(rules_of(ents[0]), vec!["ownership-acyclic"]);
    let cycle = ents[0]["reasons"][0]["values"]["cycle"].to_string();
    assert!(cycle.contains("b-loop") && cycle.contains("c-loop"), "{cycle}");
}

// ---------------------------------------------------------------- JSON Lines

#[test]
fn every_json_line_has_its_type_and_documented_fields() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(
        dir.path(),
        "d.jsonl",
        [
            company("fine", ""),
            company("too-many", "").replace("\"employee_count\":500", "\"employee_count\":20000000"),
            company("orphan", ",\"owners\":[{\"id\":\"ghost\",\"stake\":0.5}]"),
            company("loop-a", ",\"owners\":[{\"id\":\"loop-b\",\"stake\":0.1}]"),
            company("loop-b", ",\"owners\":[{\"id\":\"loop-a\",\"stake\":0.1}]"),
            company("shell", ",\"industry\":\"Holding\",\"plausibility_flags\":[]").replacen("\"industry\":\"Manufacturing\",", "", 1),
            company("typed", "").replace("\"founded_year\":1990", "\"founded_year\":\"1990\""),
            "not json".to_string(),
        ]
        .join("\n"),
    );
    let out = check(&data, &["--format", "json"]);
    let lines = json_lines(&out);
    let (last, body) = lines.split_last().unwrap();
    assert_eq!(last["type"], "summary");
    for l in &lines {
        assert_eq!(l["version"], 1, "{l}");
    }
    let kinds = ["field", "cross-field", "cross-entity", "plausibility", "json", "schema"];
    let mut hints: std::collections::BTreeMap<String, String> = Default::default();
    for l in body {
        match l["type"].as_str().unwrap() {
            "entity" => {
                assert!(l["entity"].is_string() || l["entity"].is_null(), "{l}");
                assert!(l["line"].as_u64().unwrap() >= 1);
                let verdict = l["verdict"].as_str().unwrap();
                assert!(["rejected", "flagged"].contains(&verdict), "accepted companies are not listed: {l}");
                let reasons = l["reasons"].as_array().unwrap();
                assert!(!reasons.is_empty());
                let mut any_reject = false;
                for r in reasons {
                    let rule = r["rule"].as_str().unwrap();
                    assert!(kinds.contains(&r["kind"].as_str().unwrap()), "{r}");
                    let severity = r["severity"].as_str().unwrap();
                    assert!(["reject", "flag"].contains(&severity));
                    any_reject |= severity == "reject";
                    assert!(!r["message"].as_str().unwrap().is_empty());
                    assert!(r["values"].is_object(), "{r}");
                    if rule == "json" {
                        assert!(r["location"].is_null());
                    } else {
                        let loc = &r["location"];
                        assert!(loc["file"].as_str().unwrap().ends_with("SKILL.md"), "{r}");
                        assert!(loc["line"].as_u64().unwrap() >= 1 && loc["column"].as_u64().unwrap() >= 1);
                    }
                    if let Some(h) = r["hint"].as_str() {
                        hints.insert(format!("{}:{rule}", l["entity"]), h.to_string());
                    }
                }
                assert_eq!(verdict == "rejected", any_reject, "{l}");
            }
            "dataset" => {
                for key in ["rule", "kind", "message"] {
                    assert!(l[key].is_string(), "{key}: {l}");
                }
                assert_eq!(l["severity"], "flag");
                assert!(l["location"].is_object() && l["values"].is_object(), "{l}");
            }
            other => panic!("unexpected type {other}: {l}"),
        }
    }
    // Hints where they can be computed: the bound, the missing owner, the cycle.
    let hint = |k: &str| hints.get(k).unwrap_or_else(|| panic!("no hint for {k}: {hints:?}")).clone();
    assert!(hint("\"too-many\":employee-count-range").contains("10000000"));
    assert!(hint("\"orphan\":owners-exist").contains("ghost"));
    let cycle = hint("\"loop-a\":ownership-acyclic");
    assert!(cycle.contains("loop-a") && cycle.contains("loop-b"), "{cycle}");
    assert!(hint("\"typed\":schema").contains("founded_year"));
    assert!(hint("null:json").len() > 5);
    // The summary.
    let s = last;
    let n = |k: &str| s[k].as_u64().unwrap_or_else(|| panic!("summary.{k}: {s}"));
    assert_eq!(n("read"), 8);
    assert_eq!(n("accepted") + n("flagged") + n("rejected"), n("read"));
    assert_eq!((n("accepted"), n("flagged"), n("rejected")), (1, 1, 6));
    let rate = s["acceptance_rate"].as_f64().unwrap();
    assert!((rate - 2.0 / 8.0).abs() < 1e-4, "{rate}");
    let findings = s["findings"].as_object().unwrap();
    assert_eq!(findings["ownership-acyclic"], 2);
    assert_eq!(findings["json"], 1);
    assert_eq!(findings["holdco-without-operations"], 1);
    assert!(s["counts"].is_object());
}

// ---------------------------------------------------------------- text

#[test]
fn the_text_report_of_a_small_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(
        dir.path(),
        "small.jsonl",
        [
            company("northwind", ",\"behaviour_class\":\"happy-path\""),
            company("shouty", "").replace("\"GB\"", "\"gb\"").replace("\"gross_margin\":0.3", "\"gross_margin\":30"),
            String::new(),
            company("lean", "").replace("\"employee_count\":500", "\"employee_count\":4"),
            company("orphan", ",\"owners\":[{\"id\":\"ghost\",\"stake\":0.6}]"),
            "{\"id\":\"cut\",\"name\":".to_string(),
            "{}".to_string(),
        ]
        .join("\n"),
    );
    let out = check(&data, &[]);
    assert_eq!(status(&out), 1);
    let text = String::from_utf8(out.stdout).unwrap().replace(SKILLS, "[skills]");
    insta::assert_snapshot!("check_text_small", text);
}

// ---------------------------------------------------------------- property

/// One input line, as the generator makes it.
fn line_strategy() -> impl Strategy<Value = Vec<u8>> {
    let ids = prop::sample::select(vec!["p", "q", "r", "s", "t", "u"]);
    let valid = (
        ids,
        prop::sample::select(vec![0u32, 1, 500, 20_000_000]),
        prop::sample::select(vec!["GB", "gb"]),
        prop::option::of(prop::sample::select(vec!["p", "q", "zz"])),
    )
        .prop_map(|(id, staff, country, owner)| {
            let owners = owner.map(|o| format!(",\"owners\":[{{\"id\":\"{o}\",\"stake\":0.6}}]")).unwrap_or_default();
            company(id, &owners)
                .replace("\"employee_count\":500", &format!("\"employee_count\":{staff}"))
                .replace("\"GB\"", &format!("\"{country}\""))
                .into_bytes()
        });
    let noise = prop::collection::vec(any::<u8>().prop_filter("no newline", |b| *b != b'\n'), 0..40);
    let truncated = (any::<prop::sample::Index>()).prop_map(|i| {
        let full = company("cut", "");
        let at = 1 + i.index(full.len() - 2);
        full.as_bytes()[..at].to_vec()
    });
    let arrays = prop::sample::select(vec![b"[]".to_vec(), b"[1,2]".to_vec(), b"[{\"id\":\"p\"}]".to_vec()]);
    let blank = prop::sample::select(vec![Vec::new(), b"  ".to_vec(), b"\t".to_vec(), b" \r".to_vec()]);
    let crlf = Just(()).prop_map(|_| (company("crlf", "") + "\r").into_bytes());
    prop_oneof![4 => valid, 2 => noise, 2 => truncated, 1 => arrays, 2 => blank, 1 => crlf]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn every_non_blank_line_lands_in_exactly_one_file(lines in prop::collection::vec(line_strategy(), 0..30), final_newline in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let mut input = lines.join(&b'\n');
        if final_newline && !lines.is_empty() {
            input.push(b'\n');
        }
        let data = write(dir.path(), "d.jsonl", &input);
        let (acc, rej) = (dir.path().join("a"), dir.path().join("r"));
        let out = check(&data, &["--format", "json", "--accepted", acc.to_str().unwrap(), "--rejected", rej.to_str().unwrap()]);
        prop_assert!(status(&out) == 0 || status(&out) == 1, "{}", String::from_utf8_lossy(&out.stderr));

        // The non-blank input lines (a leading byte-order mark is not part of line 1).
        let mut expected: Vec<Vec<u8>> = split_lines(&input);
        if let Some(first) = expected.first_mut() {
            if first.starts_with(b"\xEF\xBB\xBF") {
                first.drain(..3);
            }
        }
        let mut expected: Vec<Vec<u8>> = expected.into_iter().filter(|l| !is_blank(l)).collect();
        let mut got = split_lines(&std::fs::read(&acc).unwrap());
        got.extend(split_lines(&std::fs::read(&rej).unwrap()));
        expected.sort();
        got.sort();
        prop_assert_eq!(&got, &expected);
        let report = json_lines(&out);
        prop_assert_eq!(report.last().unwrap()["read"].as_u64(), Some(expected.len() as u64));
    }
}

/// A failing value is reported with every digit the evaluation produced:
/// keeping reasons compact once went through JSON text, and re-parsing it
/// turned 20116451.612903226 into 20116451.612903222.
#[test]
fn a_failing_ratio_is_reported_to_the_last_digit() {
    let dir = tempfile::tempdir().unwrap();
    let line = company("ratio", "")
        .replace("\"employee_count\":", "\"employee_count\":31,\"x_employee_count\":")
        .replace("\"consolidated_revenue\":", "\"consolidated_revenue\":623610000,\"x_consolidated_revenue\":")
        .replace("\"standalone_revenue\":", "\"standalone_revenue\":623610000,\"x_standalone_revenue\":");
    let data = write(dir.path(), "d.jsonl", format!("{line}\n"));
    let out = check(&data, &["--format", "json"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("\"consolidated_revenue / employee_count\":20116451.612903226"), "{text}");
}

/// A duplicate key's reason lists the input lines of every copy: line
/// numbers count blank lines and lines that are not JSON objects, in the
/// base and in the candidates alike.
#[test]
fn duplicate_lines_count_blank_and_malformed_lines() {
    let dir = tempfile::tempdir().unwrap();
    let base = write(dir.path(), "base.jsonl", format!("oops\n{}\n\n{}\n", company("b", ""), company("a", "")));
    let candidates = format!("\nnot json\n{}\n{{bad\n{}\n{}\n", company("a", ""), company("c", ""), company("a", ""));
    let data = write(dir.path(), "new.jsonl", &candidates);
    let out = check(&data, &["--base", base.to_str().unwrap(), "--format", "json"]);
    let lines = json_lines(&out);
    let duplicates: Vec<(u64, Value, Value)> = entities(&lines)
        .iter()
        .filter(|e| rules_of(e) == ["unique-id"])
        .map(|e| {
            let values = &e["reasons"][0]["values"];
            (e["line"].as_u64().unwrap(), values["lines"].clone(), values["base_lines"].clone())
        })
        .collect();
    let expected = (serde_json::json!([3, 6]), serde_json::json!([4]));
    assert_eq!(duplicates, vec![(3, expected.0.clone(), expected.1.clone()), (6, expected.0, expected.1)]);
}
