//! `skillc check`'s output files, through the real binary: the mode of the
//! `--accepted`/`--rejected`/`--output` files (the umask's, not 0600), `-`
//! for standard output, the error for a missing directory, the warning
//! (and `--fail-on empty`) for an empty dataset, and the summary's `kept`,
//! `acceptance_rate` and `pass_rate`.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

#[path = "support/cli.rs"]
mod cli;
use cli::json_lines;

#[path = "support/run.rs"]
mod run;
use run::{company, status, stderr, stdout, write};

const SKILLS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/skills");
const BIN: &str = env!("CARGO_BIN_EXE_skillc");

/// Two accepted companies, one flagged (revenue per employee), one rejected
/// (a lower-case country).
fn mixed(dir: &Path) -> PathBuf {
    let lines = [
        company("a", ""),
        company("b", ""),
        company("lean", "").replace("\"employee_count\":500", "\"employee_count\":4"),
        company("shouty", "").replace("\"GB\"", "\"gb\""),
    ];
    write(dir, "d.jsonl", lines.join("\n") + "\n")
}

fn check(args: &[&str]) -> Output {
    Command::new(BIN).arg("check").args(args).args(["--skills", SKILLS]).stdin(Stdio::null()).output().expect("run skillc")
}

/// `skillc check …` with the umask set in the child.
fn check_with_umask(umask: &str, args: &[&str]) -> Output {
    Command::new("sh")
        .args(["-c", &format!("umask {umask}; exec \"$0\" check \"$@\""), BIN])
        .args(args)
        .args(["--skills", SKILLS])
        .output()
        .expect("run sh")
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The names in a directory, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

// ---------------------------------------------------------------- file mode

#[cfg(unix)]
#[test]
fn new_output_files_get_the_mode_the_umask_gives_not_0600() {
    for (umask, expected) in [("027", 0o640), ("022", 0o644), ("002", 0o664)] {
        let dir = tempfile::tempdir().unwrap();
        let data = mixed(dir.path());
        let (ok, back, report) = (dir.path().join("ok.jsonl"), dir.path().join("back.jsonl"), dir.path().join("report.txt"));
        let args = [data.to_str().unwrap(), "--accepted", ok.to_str().unwrap(), "--rejected", back.to_str().unwrap()];
        let out = check_with_umask(umask, &[&args[..], &["--output", report.to_str().unwrap()]].concat());
        assert_eq!(status(&out), 1, "{}", stderr(&out));
        for file in [&ok, &back, &report] {
            assert_eq!(mode(file), expected, "umask {umask}: {} has mode {:o}", file.display(), mode(file));
        }
    }
}

#[cfg(unix)]
#[test]
fn a_replaced_output_file_keeps_its_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = mixed(dir.path());
    let ok = write(dir.path(), "ok.jsonl", "old\n");
    std::fs::set_permissions(&ok, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = check_with_umask("022", &[data.to_str().unwrap(), "--accepted", ok.to_str().unwrap()]);
    assert_eq!(status(&out), 1, "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&ok).unwrap().lines().count(), 3, "replaced by the accepted and flagged lines");
    assert_eq!(mode(&ok), 0o600);
}

// ---------------------------------------------------------------- `-`

#[test]
fn accepted_dash_writes_the_accepted_lines_to_standard_output_and_the_report_to_standard_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = mixed(dir.path());
    let back = dir.path().join("back.jsonl");
    let out = check(&[data.to_str().unwrap(), "--accepted", "-", "--rejected", back.to_str().unwrap()]);
    assert_eq!(status(&out), 1, "{}", stderr(&out));
    let text = std::fs::read_to_string(&data).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(stdout(&out), format!("{}\n{}\n{}\n", lines[0], lines[1], lines[2]), "only the accepted and flagged lines");
    assert!(!dir.path().join("-").exists(), "no file named `-`");
    assert_eq!(std::fs::read_to_string(&back).unwrap(), format!("{}\n", lines[3]));
    let err = stderr(&out);
    assert!(err.contains("line 4: rejected `shouty`") && err.contains("4 lines read"), "the report is on standard error: {err}");
}

#[test]
fn rejected_dash_with_a_json_report_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = mixed(dir.path());
    let report = dir.path().join("report.jsonl");
    let out = check(&[data.to_str().unwrap(), "--rejected", "-", "--format", "json", "--output", report.to_str().unwrap()]);
    assert_eq!(status(&out), 1, "{}", stderr(&out));
    assert!(stdout(&out).starts_with("{\"id\":\"shouty\"") && stdout(&out).lines().count() == 1, "{}", stdout(&out));
    let text = std::fs::read_to_string(&report).unwrap();
    let summary: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(summary["type"], "summary");
    assert!(!stderr(&out).contains("lines read"), "the report went to the file only: {}", stderr(&out));
}

#[test]
fn two_outputs_on_standard_output_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = mixed(dir.path());
    for args in [["--accepted", "-", "--rejected", "-"], ["--output", "-", "--accepted", "-"], ["--rejected", "-", "--output", "-"]] {
        let out = check(&[&[data.to_str().unwrap()][..], &args].concat());
        assert_eq!(status(&out), 2, "{args:?}");
        assert!(out.stdout.is_empty());
        let err = stderr(&out);
        assert!(err.contains("would both write to standard output"), "{err}");
        assert!(err.contains(&format!("`{} -`", args[0])) && err.contains(&format!("`{} -`", args[2])), "{err}");
    }
    assert_eq!(listing(dir.path()), ["d.jsonl"], "nothing written");
}

#[test]
fn output_dash_is_standard_output() {
    let dir = tempfile::tempdir().unwrap();
    let data = mixed(dir.path());
    let plain = check(&[data.to_str().unwrap()]);
    let dash = check(&[data.to_str().unwrap(), "--output", "-"]);
    assert_eq!(stdout(&plain), stdout(&dash));
    assert!(!dir.path().join("-").exists());
}

// ---------------------------------------------------------------- missing directory

#[test]
fn a_missing_output_directory_names_the_path_given_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = mixed(dir.path());
    let missing = dir.path().join("nonexistdir");
    for flag in ["--accepted", "--rejected", "--output"] {
        let target = missing.join("ok.jsonl");
        let out = check(&[data.to_str().unwrap(), flag, target.to_str().unwrap()]);
        assert_eq!(status(&out), 2);
        let err = stderr(&out);
        assert_eq!(err, format!("error: cannot write `{}`: no such file or directory (os error 2)\n", target.display()), "{flag}");
        assert!(out.stdout.is_empty(), "the error comes before any report: {}", stdout(&out));
    }
    // The other file of a split is not left behind either.
    let ok = dir.path().join("ok.jsonl");
    let out =
        check(&[data.to_str().unwrap(), "--accepted", ok.to_str().unwrap(), "--rejected", missing.join("back.jsonl").to_str().unwrap()]);
    assert_eq!(status(&out), 2);
    assert_eq!(listing(dir.path()), ["d.jsonl"], "no temporary file, no half of the split");
}

#[test]
fn a_directory_as_an_output_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = mixed(dir.path());
    let out = check(&[data.to_str().unwrap(), "--accepted", dir.path().to_str().unwrap()]);
    assert_eq!(status(&out), 2);
    assert_eq!(stderr(&out), format!("error: `{}` is a directory, not a file\n", dir.path().display()));
}

// ---------------------------------------------------------------- empty dataset

#[test]
fn an_empty_dataset_warns_in_text_and_json_and_fails_with_fail_on_empty() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write(dir.path(), "empty.jsonl", "\n  \n");
    let name = empty.display().to_string();

    let out = check(&[&name]);
    assert_eq!(status(&out), 0, "a warning only: {}", stderr(&out));
    assert_eq!(stderr(&out), format!("warning: `{name}` holds no records: nothing was checked (`--fail-on empty` makes this an error)\n"));

    let out = check(&[&name, "--format", "json"]);
    assert_eq!(status(&out), 0);
    assert!(stderr(&out).starts_with("warning: "), "{}", stderr(&out));
    let summary = json_lines(&out).pop().unwrap();
    assert_eq!(summary["read"], 0);
    assert_eq!(
        summary["warnings"],
        serde_json::json!([{ "kind": "empty", "message": format!("`{name}` holds no records: nothing was checked") }])
    );

    for args in [vec![&name[..], "--fail-on", "empty"], vec![&name[..], "--fail-on", "empty", "--quiet", "--format", "json"]] {
        let out = check(&args);
        assert_eq!(status(&out), 1, "a failed batch, not a usage error: {args:?}");
        assert_eq!(stderr(&out), format!("error: `{name}` holds no records: nothing was checked (--fail-on empty)\n"), "{args:?}");
    }

    // --quiet silences the warning.
    let out = check(&[&name, "--quiet"]);
    assert_eq!((status(&out), stderr(&out)), (0, String::new()));
}

#[test]
fn an_empty_candidate_batch_or_base_warns_with_base() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(dir.path(), "d.jsonl", company("a", "") + "\n");
    let empty = write(dir.path(), "empty.jsonl", "");

    let out = check(&[empty.to_str().unwrap(), "--base", data.to_str().unwrap(), "--fail-on", "empty"]);
    assert_eq!(status(&out), 1);
    assert!(stderr(&out).contains(&format!("`{}` holds no records", empty.display())), "{}", stderr(&out));

    let out = check(&[data.to_str().unwrap(), "--base", empty.to_str().unwrap(), "--format", "json"]);
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    let summary = json_lines(&out).pop().unwrap();
    assert_eq!(summary["read"], 1);
    let warnings = summary["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0]["message"], format!("the base `{}` holds no records: the candidates were checked alone", empty.display()));
}

#[test]
fn empty_standard_input_is_named_so() {
    let out = Command::new(BIN).args(["check", "-", "--skills", SKILLS]).stdin(Stdio::null()).output().unwrap();
    assert_eq!(status(&out), 0);
    assert!(stderr(&out).starts_with("warning: standard input holds no records"), "{}", stderr(&out));
}

#[test]
fn a_dataset_with_records_has_no_warning() {
    let dir = tempfile::tempdir().unwrap();
    let out = check(&[mixed(dir.path()).to_str().unwrap(), "--format", "json", "--fail-on", "empty"]);
    assert_eq!(status(&out), 1, "rejected, not empty");
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
    assert_eq!(json_lines(&out).pop().unwrap()["warnings"], serde_json::json!([]));
}

// ---------------------------------------------------------------- rates

#[test]
fn kept_counts_the_flagged_lines_the_acceptance_rate_counts_and_the_pass_rate_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let data = mixed(dir.path());
    let out = check(&[data.to_str().unwrap(), "--format", "json"]);
    let s = json_lines(&out).pop().unwrap();
    let n = |k: &str| s[k].as_u64().unwrap_or_else(|| panic!("{k}: {s}"));
    assert_eq!((n("read"), n("accepted"), n("flagged"), n("rejected"), n("kept")), (4, 2, 1, 1, 3));
    assert_eq!(s["acceptance_rate"], 0.75, "kept / read");
    assert_eq!(s["pass_rate"], 0.5, "accepted / read");

    let out = check(&[data.to_str().unwrap()]);
    assert!(stdout(&out).contains("acceptance rate 75.00%: 3 of 4 lines kept (accepted or flagged)\n"), "{}", stdout(&out));
}
