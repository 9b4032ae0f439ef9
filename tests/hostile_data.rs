//! Hostile datasets (issue 6, items 3-5), through the real binary with a
//! deadline: numbers past f64 and i64, NaN-like values, duplicate keys,
//! deep nesting, a 100 MB line, trailing commas, missing final newlines,
//! empty files, directories, missing files and pipes as the dataset,
//! arithmetic that divides by zero or overflows, ownership graphs of a
//! million companies in one chain and one cycle, interrupted runs, and
//! memory that follows the rules rather than the input. Whatever the
//! input, every non-blank line is counted once and lands in exactly one of
//! --accepted / --rejected. docs/limits.md states the limits.

#[path = "support/bounded.rs"]
mod bounded;

use bounded::{run_bounded, skillc, tempdir, write, Run};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const SKILLS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/skills");
const SMALL: Duration = Duration::from_secs(30);
const BIG: Duration = Duration::from_secs(300);

/// A plausible private company; `extra` is spliced in before the closing
/// brace (start it with a comma).
/// Checks `input` and asserts that each of its `lines` lines is rejected
/// under `json` and nothing else.
fn every_line_is_a_json_rejection(input: &str, lines: usize) {
    let (_, entities) = check_bytes(input.as_bytes());
    assert_eq!(entities.len(), lines);
    for e in &entities {
        assert_eq!(rules_of(e), ["json"], "{e}");
    }
}

fn company(id: &str, extra: &str) -> String {
    format!(
        r#"{{"id":"{id}","name":"{id} Ltd","industry":"Manufacturing","country":"GB","founded_year":1990,"public":false,"fiscal_year_end":"12-31","currency":"GBP","employee_count":500,"standalone_revenue":100000000,"consolidated_revenue":100000000,"gross_margin":0.3{extra}}}"#
    )
}

fn check_cmd(dataset: &Path, skills: &Path, args: &[&str]) -> Command {
    let mut cmd = skillc();
    cmd.arg("check").arg(dataset).arg("--skills").arg(skills).args(args);
    cmd
}

/// `check --format json` of `bytes` with the shipped skills, splitting into
/// accepted/rejected files; asserts nothing is lost. Returns the run and the
/// entity lines by line number.
fn check_bytes(bytes: &[u8]) -> (Run, Vec<serde_json::Value>) {
    let dir = tempdir();
    let data = dir.path().join("data.jsonl");
    write(&data, bytes);
    let (acc, rej) = (dir.path().join("ok.jsonl"), dir.path().join("back.jsonl"));
    let run = run_bounded(
        check_cmd(&data, Path::new(SKILLS), &["--format", "json", "--accepted"]).arg(&acc).arg("--rejected").arg(&rej),
        None,
        SMALL,
    );
    assert_nothing_lost(bytes, &run, &acc, &rej);
    let entities = run.json_lines().into_iter().filter(|v| v["type"] == "entity").collect();
    (run, entities)
}

/// The non-blank lines of an input as reference-rules.md defines them
/// (`\n` ends a line, a BOM at the start is ignored, blank = only spaces,
/// tabs and `\r`), without their line endings.
fn non_blank_lines(input: &[u8]) -> Vec<&[u8]> {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let body = input.strip_suffix(b"\n").unwrap_or(input);
    if input.is_empty() {
        return Vec::new();
    }
    body.split(|&b| b == b'\n').filter(|l| !l.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'))).collect()
}

fn file_lines(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if bytes.is_empty() {
        return Vec::new();
    }
    assert!(bytes.ends_with(b"\n"), "{} ends with a line break", path.display());
    bytes[..bytes.len() - 1].split(|&b| b == b'\n').map(<[u8]>::to_vec).collect()
}

/// Every non-blank line is counted in the summary and lands in exactly one
/// of the two files, byte for byte (a `\r` before `\n` stays), in order.
fn assert_nothing_lost(input: &[u8], run: &Run, accepted: &Path, rejected: &Path) {
    let lines = non_blank_lines(input);
    let s = run.summary();
    assert_eq!(s["read"].as_u64(), Some(lines.len() as u64), "summary.read counts every non-blank line");
    let (a, f, r) = (s["accepted"].as_u64().unwrap(), s["flagged"].as_u64().unwrap(), s["rejected"].as_u64().unwrap());
    assert_eq!(a + f + r, lines.len() as u64);
    let (acc, rej) = (file_lines(accepted), file_lines(rejected));
    assert_eq!(acc.len() as u64, a + f, "accepted + flagged lines are in --accepted");
    assert_eq!(rej.len() as u64, r, "rejected lines are in --rejected");
    let rejected_lines: Vec<u64> = run
        .json_lines()
        .iter()
        .filter(|v| v["type"] == "entity" && v["verdict"] == "rejected")
        .map(|v| v["line"].as_u64().unwrap())
        .collect();
    // Rebuild the input's non-blank lines from the two files, in order.
    let numbered: Vec<u64> = {
        let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
        let body = input.strip_suffix(b"\n").unwrap_or(input);
        if input.is_empty() {
            Vec::new()
        } else {
            body.split(|&b| b == b'\n')
                .enumerate()
                .filter(|(_, l)| !l.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')))
                .map(|(i, _)| i as u64 + 1)
                .collect()
        }
    };
    let (mut ai, mut ri) = (acc.iter(), rej.iter());
    for (line, original) in numbered.iter().zip(&lines) {
        let copy = if rejected_lines.contains(line) { ri.next() } else { ai.next() };
        assert_eq!(copy.map(Vec::as_slice), Some(*original), "line {line} is copied byte for byte into its file");
    }
}

fn rules_of(entity: &serde_json::Value) -> Vec<String> {
    let mut r: Vec<String> = entity["reasons"].as_array().unwrap().iter().map(|r| r["rule"].as_str().unwrap().to_string()).collect();
    r.sort();
    r.dedup();
    r
}

// ------------------------------------------------------------ numbers

#[test]
fn numbers_beyond_f64_are_json_rejections() {
    let input = format!(
        "{}\n{}\n{}\n",
        company("a", r#","employee_count":1e400"#),
        company("b", r#","extra":-1e400"#),
        company("c", r#","owners":[{"id":"a","stake":1e999}]"#)
    );
    every_line_is_a_json_rejection(&input, 3);
}

#[test]
fn numbers_beyond_i64_and_u64_are_doubles() {
    // Whole numbers past i64 and u64 are still whole doubles: an integer
    // field accepts them, and the range rule rejects them.
    let input = format!(
        "{}\n{}\n{}\n",
        company("a", r#","employee_count":9223372036854775808"#),
        company("b", r#","employee_count":184467440737095516160000"#),
        company("c", r#","employee_count":-9223372036854775809"#)
    );
    let (_, entities) = check_bytes(input.as_bytes());
    assert_eq!(entities.len(), 3);
    for e in &entities {
        assert!(!rules_of(e).contains(&"json".to_string()) && !rules_of(e).contains(&"schema".to_string()), "{e}");
        assert_eq!(e["verdict"], "rejected");
    }
}

#[test]
fn nan_like_values_are_not_numbers() {
    let input = [
        company("a", r#","gross_margin":NaN"#),
        company("b", r#","gross_margin":Infinity"#),
        company("c", r#","gross_margin":-Infinity"#),
        company("d", r#","extra":NaN"#),
        company("e", r#","employee_count":"NaN""#),
        company("f", r#","employee_count":"Infinity""#),
        company("g", r#","employee_count":"1e400""#),
    ]
    .join("\n");
    let (_, entities) = check_bytes(input.as_bytes());
    let rules: Vec<Vec<String>> = entities.iter().map(rules_of).collect();
    assert_eq!(rules[..4], [vec!["json"], vec!["json"], vec!["json"], vec!["json"]]);
    assert_eq!(rules[4..], [vec!["schema"], vec!["schema"], vec!["schema"]]);
}

// ------------------------------------------------------------ structure

#[test]
fn duplicate_keys_take_the_last_value_whatever_their_types() {
    let input = format!(
        "{}\n{}\n",
        company("a", r#","employee_count":"many","employee_count":null,"employee_count":500"#),
        company("b", r#","employee_count":500,"employee_count":"many""#)
    );
    let (run, entities) = check_bytes(input.as_bytes());
    assert_eq!(run.summary()["accepted"], 1);
    assert_eq!(entities.len(), 1);
    assert_eq!(entities[0]["line"], 2);
    assert_eq!(rules_of(&entities[0]), ["schema"]);
}

#[test]
fn deep_nesting_is_a_json_rejection() {
    let deep_array = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_object = format!("{}1{}", r#"{"a":"#.repeat(100_000), "}".repeat(100_000));
    let input = [
        company("a", &format!(r#","extra":{deep_array}"#)),
        company("b", &format!(r#","extra":{deep_object}"#)),
        company("c", &format!(r#","owners":{deep_array}"#)),
        company("d", &format!(r#","segments":[{deep_object}]"#)),
        // 100 levels: within serde_json's limit of 128, an unknown field.
        company("e", &format!(r#","extra":{}{}"#, "[".repeat(100), "]".repeat(100))),
    ]
    .join("\n");
    let (run, entities) = check_bytes(input.as_bytes());
    assert_eq!(run.summary()["accepted"], 1);
    for e in &entities {
        assert_eq!(rules_of(e), ["json"], "{e}");
        assert!(e["reasons"][0]["message"].as_str().unwrap_or_default().contains("recursion limit"), "{e}");
    }
}

#[test]
fn trailing_commas_are_json_rejections() {
    let input = format!("{}\n{}\n{}\n", company("a", ","), company("b", r#","owners":[{"id":"a","stake":0.5},]"#), company("c", "") + ",");
    every_line_is_a_json_rejection(&input, 3);
}

#[test]
fn odd_bytes_are_json_rejections_and_nothing_is_lost() {
    let mut input = Vec::new();
    for line in [
        company("a", "").into_bytes(),
        b"\x00\x00\x00".to_vec(),
        b"{\"id\": \"\xff\xfe\"}".to_vec(),
        b"{\"id\": \"\\ud800\"}".to_vec(),
        b"\r\r\r{}".to_vec(),
        b"{} {}".to_vec(),
        b"{}\r".to_vec(),
        "\u{feff}{}".as_bytes().to_vec(),
        b"  \t \r".to_vec(),
        company("b", "").into_bytes(),
        b"\x1b[31m red".to_vec(),
    ] {
        input.extend_from_slice(&line);
        input.push(b'\n');
    }
    input.extend_from_slice(b"\r\n\r\n\n\n");
    let (run, _) = check_bytes(&input);
    assert_eq!(run.summary()["read"], 10);
}

// ------------------------------------------------------------ files

#[test]
fn a_file_without_a_final_newline_keeps_its_last_line() {
    let input = format!("{}\n{}", company("a", ""), company("b", r#","employee_count":-1"#));
    let (run, entities) = check_bytes(input.as_bytes());
    assert_eq!(run.summary()["read"], 2);
    assert_eq!(entities[0]["line"], 2);
}

#[test]
fn an_empty_file_reads_nothing_and_writes_empty_splits() {
    for input in [&b""[..], b"\n\n\n", b"\xEF\xBB\xBF", b"  \r\n\t\n"] {
        let (run, entities) = check_bytes(input);
        assert_eq!(run.code, 0);
        assert_eq!(run.summary()["read"], 0);
        assert!(entities.is_empty());
    }
}

#[test]
fn a_directory_or_a_missing_file_as_the_dataset_is_an_error() {
    let dir = tempdir();
    let run = run_bounded(&mut check_cmd(dir.path(), Path::new(SKILLS), &[]), None, SMALL);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("is a directory"), "{}", run.stderr);
    let run = run_bounded(&mut check_cmd(&dir.path().join("missing.jsonl"), Path::new(SKILLS), &[]), None, SMALL);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("missing.jsonl"), "{}", run.stderr);
    // As --base too.
    let data = dir.path().join("d.jsonl");
    write(&data, company("a", ""));
    let run = run_bounded(check_cmd(&data, Path::new(SKILLS), &["--base"]).arg(dir.path()), None, SMALL);
    assert_eq!(run.code, 2);
}

#[test]
fn standard_input_as_the_dataset_is_split_completely() {
    let input = format!("{}\n{}\n\n{}", company("a", ""), company("b", r#","employee_count":-1"#), company("c", ""));
    let dir = tempdir();
    let (acc, rej) = (dir.path().join("ok.jsonl"), dir.path().join("back.jsonl"));
    let run = run_bounded(
        skillc().args(["check", "-", "--format", "json", "--skills", SKILLS, "--accepted"]).arg(&acc).arg("--rejected").arg(&rej),
        Some(input.clone().into_bytes()),
        SMALL,
    );
    assert_nothing_lost(input.as_bytes(), &run, &acc, &rej);
}

/// Regression: a dataset path that is a pipe (a named FIFO, or a shell's
/// `<(…)`) was read twice when splitting — once to check, then re-opened
/// to copy the lines — and the second read found the pipe drained (or
/// blocked on a FIFO with no writer): the split files held blank lines, or
/// the run hung. A dataset that is not a regular file is now spilled to a
/// temporary file while it is read, like standard input.
#[test]
fn a_named_pipe_as_the_dataset_is_split_completely() {
    let dir = tempdir();
    let fifo = dir.path().join("data.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let input = format!("{}\n{}\n{}\n", company("a", ""), company("b", r#","employee_count":-1"#), company("c", ""));
    let writer = {
        let (fifo, input) = (fifo.clone(), input.clone());
        std::thread::spawn(move || std::fs::write(fifo, input).unwrap())
    };
    let (acc, rej) = (dir.path().join("ok.jsonl"), dir.path().join("back.jsonl"));
    let run = run_bounded(
        check_cmd(&fifo, Path::new(SKILLS), &["--format", "json", "--accepted"]).arg(&acc).arg("--rejected").arg(&rej),
        None,
        SMALL,
    );
    writer.join().unwrap();
    assert_nothing_lost(input.as_bytes(), &run, &acc, &rej);
}

/// A line of 100 MB (generated): read whole, checked, copied byte for byte.
#[test]
fn a_single_line_of_100_mb() {
    let dir = tempdir();
    let data = dir.path().join("big.jsonl");
    let pad = "x".repeat(100 << 20);
    let line = company("big", &format!(r#","notes":"{pad}""#));
    let input = format!("{}\n{line}\n{}\n", company("a", ""), company("b", ""));
    write(&data, &input);
    drop(pad);
    let (acc, rej) = (dir.path().join("ok.jsonl"), dir.path().join("back.jsonl"));
    let run = run_bounded(
        check_cmd(&data, Path::new(SKILLS), &["--format", "json", "--accepted"]).arg(&acc).arg("--rejected").arg(&rej),
        None,
        BIG,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.summary()["read"], 3);
    assert_eq!(std::fs::metadata(&acc).unwrap().len(), input.len() as u64);
    // The line is held once while it is parsed (plus the chunk it grew in).
    assert!(run.peak_mib < 700, "a 100 MB line took {} MiB", run.peak_mib);
}

// ------------------------------------------------------------ arithmetic

const THING: &str = "---
name: thing
description: A test entity with numbers and an ownership graph.
---

```entity thing
key id
collection things
id: string
a: number?
b: number?
xs: [number]?
owners: [{id: string, stake: number}]?
relation parents = owners.id -> thing
relation subsidiaries = inverse parents
graph ownership = parents
```
";

/// Each rule holds exactly when arithmetic has its documented result
/// (docs/limits.md): `x / 0` is absent, overflow is ±infinity, and a result
/// that is not a number (∞ − ∞, 0 × ∞) is absent.
const ARITHMETIC: &str = "---
name: arithmetic
description: Rules that hold when division by zero and overflow have their documented results.
applies_to: thing
---

- Division by zero has no value.
  ```rule div-zero-absent
  if b == 0 then (a / b) is null and (b / b) is null and (a / b ?? 7) == 7
  ```
- Overflow is infinity, which compares as IEEE 754 says.
  ```rule overflow-is-infinite
  if a > 1e300 then a * a > 1e308 and a * a == a * a and -(a * a) < -1e308 and a * a + 1 == a * a
  ```
- A result that is not a number is absent.
  ```rule nan-is-absent
  if a > 1e300 then (a * a - a * a) is null and (0 * (a * a)) is null
  ```
- Sums overflow to infinity too.
  ```rule sum-overflows
  if a > 1e300 then sum(xs) > 1e308 and mean(xs) > 1e308
  ```
- A rule whose value is absent does not apply.
  ```rule absent-does-not-apply
  a / b > 1
  ```
";

#[test]
fn division_by_zero_and_overflow_have_defined_results() {
    let dir = tempdir();
    write(&dir.path().join("thing/SKILL.md"), THING);
    write(&dir.path().join("arithmetic/SKILL.md"), ARITHMETIC);
    let input = concat!(
        r#"{"id":"zero","a":5,"b":0}"#,
        "\n",
        r#"{"id":"zeros","a":0,"b":0}"#,
        "\n",
        r#"{"id":"huge","a":1.7976931348623157e308,"b":0,"xs":[1e308,1e308,1e308]}"#,
        "\n",
        // A quotient past the largest double is infinite, not absent.
        r#"{"id":"ratio","a":1e300,"b":1e-300}"#,
        "\n",
        r#"{"id":"negzero","a":1,"b":-0.0}"#,
        "\n"
    );
    let data = dir.path().join("d.jsonl");
    write(&data, input);
    let run = run_bounded(&mut check_cmd(&data, dir.path(), &["--format", "json"]), None, SMALL);
    let entities: Vec<_> = run.json_lines().into_iter().filter(|v| v["type"] == "entity").collect();
    assert!(entities.is_empty(), "{entities:?}");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.summary()["accepted"], 5);
}

// ------------------------------------------------------------ graphs

const GRAPH_RULES: &str = "---
name: graph
description: Ownership rules over a long chain or cycle.
applies_to: thing
---

- No company owns itself, directly or not.
  ```rule acyclic
  not in_cycle(ownership)
  ```
- At most one parent.
  ```rule one-parent
  count(parents) <= 1
  ```
- Stakes of subsidiaries are fractions.
  ```rule subsidiary-stakes
  all(c in subsidiaries where c.stake > 0.5: c.a is null)
  ```

## Plausibility

- Groups exist.
  ```rule some-groups
  count([g in groups(ownership) where count(g) >= 2]) >= 1
  ```
";

/// n companies, each owned by the one before it (and, for a cycle, the
/// first by the last). `c0` is the root of the chain.
fn ownership(n: usize, cycle: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(n * 48);
    for i in 0..n {
        let owner = if i > 0 {
            Some(i - 1)
        } else if cycle {
            Some(n - 1)
        } else {
            None
        };
        match owner {
            Some(o) => out.extend_from_slice(format!("{{\"id\":\"c{i}\",\"owners\":[{{\"id\":\"c{o}\",\"stake\":1}}]}}\n").as_bytes()),
            None => out.extend_from_slice(format!("{{\"id\":\"c{i}\"}}\n").as_bytes()),
        }
    }
    out
}

/// A chain and a cycle of `n` companies: checked with no recursion that
/// could overflow the stack, and split completely.
fn graph_of(n: usize, cycle: bool) {
    let dir = tempdir();
    write(&dir.path().join("thing/SKILL.md"), THING);
    write(&dir.path().join("graph/SKILL.md"), GRAPH_RULES);
    let input = ownership(n, cycle);
    let data = dir.path().join("d.jsonl");
    write(&data, &input);
    let (acc, rej) = (dir.path().join("ok.jsonl"), dir.path().join("back.jsonl"));
    // Text output: a million JSON reasons would only test the disk.
    let run = run_bounded(check_cmd(&data, dir.path(), &["--accepted"]).arg(&acc).arg("--rejected").arg(&rej), None, BIG);
    assert_eq!(run.code, if cycle { 1 } else { 0 }, "{}", run.stderr);
    let (a, r) = (file_lines(&acc).len(), file_lines(&rej).len());
    assert_eq!((a, r), if cycle { (0, n) } else { (n, 0) });
}

#[test]
fn an_ownership_chain_of_200k_companies() {
    graph_of(200_000, false);
}

#[test]
fn an_ownership_cycle_of_200k_companies() {
    graph_of(200_000, true);
}

/// The issue's size; `cargo test --release -- --ignored` runs it (about a
/// minute each in a debug build).
#[test]
#[ignore]
fn an_ownership_chain_of_1m_companies() {
    graph_of(1_000_000, false);
}

#[test]
#[ignore]
fn an_ownership_cycle_of_1m_companies() {
    graph_of(1_000_000, true);
}

// ------------------------------------------------------------ nothing lost

/// Kills `check --accepted X --rejected Y` at increasing moments of a run
/// over a big input: X and Y are each either untouched (their old content)
/// or complete, never half-written.
#[test]
fn an_interrupted_run_never_leaves_a_half_written_split() {
    let dir = tempdir();
    write(&dir.path().join("thing/SKILL.md"), THING);
    write(&dir.path().join("graph/SKILL.md"), GRAPH_RULES);
    let input = ownership(200_000, false);
    let data = dir.path().join("d.jsonl");
    write(&data, &input);
    let (acc, rej) = (dir.path().join("ok.jsonl"), dir.path().join("back.jsonl"));
    let cmd = || {
        let mut c = check_cmd(&data, dir.path(), &["--accepted"]);
        c.arg(&acc).arg("--rejected").arg(&rej).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
        c
    };
    let full = run_bounded(&mut cmd(), None, BIG);
    assert_eq!(full.code, 0);
    let complete = std::fs::read(&acc).unwrap();
    assert_eq!(complete, input);
    let elapsed = full.elapsed;
    for step in 1..=12u32 {
        std::fs::write(&acc, b"old accepted\n").unwrap();
        std::fs::write(&rej, b"old rejected\n").unwrap();
        let mut child = cmd().spawn().unwrap();
        std::thread::sleep(elapsed * step / 12);
        let _ = child.kill();
        child.wait().unwrap();
        let now = std::fs::read(&acc).unwrap();
        assert!(now == b"old accepted\n" || now == complete, "killed at {step}/12: --accepted holds {} bytes", now.len());
        let now = std::fs::read(&rej).unwrap();
        assert!(now == b"old rejected\n" || now.is_empty(), "killed at {step}/12: --rejected is half-written");
    }
}

/// Memory follows what the rules read, not the input: 100 MB of lines whose
/// bulk is a field no rule reads peak far below the input's size.
#[test]
fn memory_follows_the_rules_not_the_input() {
    let dir = tempdir();
    let data = dir.path().join("d.jsonl");
    let pad = "x".repeat(10_000);
    let mut input = String::with_capacity(101 << 20);
    let mut i = 0;
    while input.len() < 100 << 20 {
        input.push_str(&company(&format!("c{i}"), &format!(r#","notes":"{pad}""#)));
        input.push('\n');
        i += 1;
    }
    write(&data, &input);
    drop(input);
    let run = run_bounded(&mut check_cmd(&data, Path::new(SKILLS), &["--format", "json"]), None, BIG);
    assert_eq!(run.summary()["read"], i);
    assert!(run.peak_mib < 80, "100 MB of input took {} MiB", run.peak_mib);
}

/// Across several read chunks (8 MiB each) and the pieces they are cut
/// into: every bad line is reported under its own line number, blank and
/// CRLF lines count as lines, a byte-order mark is skipped, and the split
/// files hold exactly the right lines, from standard input as from a file.
#[test]
fn line_numbers_and_the_split_hold_across_chunks() {
    let dir = tempdir();
    let data = dir.path().join("d.jsonl");
    let mut input = String::from("\u{feff}");
    let (mut bad, mut good) = (Vec::new(), Vec::new());
    let mut line = 0usize;
    while input.len() < 30 << 20 {
        line += 1;
        if line % 9_973 == 2 {
            input.push_str(&format!("not json {line}\n"));
            bad.push(line);
        } else if line.is_multiple_of(7_919) {
            input.push_str("   \r\n");
        } else if line.is_multiple_of(5) {
            input.push_str(&company(&format!("c{line}"), ""));
            input.push_str("\r\n");
            good.push(line);
        } else {
            input.push_str(&company(&format!("c{line}"), ""));
            input.push('\n');
            good.push(line);
        }
    }
    write(&data, &input);
    let acc = dir.path().join("acc.jsonl");
    let rej = dir.path().join("rej.jsonl");
    let split = ["--format", "json", "--accepted", acc.to_str().unwrap(), "--rejected", rej.to_str().unwrap()];
    for stdin in [false, true] {
        let run = if stdin {
            let mut cmd = check_cmd(Path::new("-"), Path::new(SKILLS), &split);
            run_bounded(&mut cmd, Some(input.clone().into_bytes()), BIG)
        } else {
            run_bounded(&mut check_cmd(&data, Path::new(SKILLS), &split), None, BIG)
        };
        let reported: Vec<usize> =
            run.json_lines().iter().filter(|v| v["type"] == "entity").map(|v| v["line"].as_u64().unwrap() as usize).collect();
        assert_eq!(reported, bad, "stdin: {stdin}");
        assert_eq!(run.summary()["read"], bad.len() + good.len());
        let accepted = std::fs::read_to_string(&acc).unwrap();
        let ids: Vec<String> =
            accepted.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].as_str().unwrap().to_string()).collect();
        assert_eq!(ids, good.iter().map(|l| format!("c{l}")).collect::<Vec<_>>(), "stdin: {stdin}");
        let rejected = std::fs::read_to_string(&rej).unwrap();
        assert_eq!(rejected.lines().collect::<Vec<_>>(), bad.iter().map(|l| format!("not json {l}")).collect::<Vec<_>>());
    }
}
