//! The progress bar of a long check: drawn on standard error when it is a
//! terminal (a pseudo-terminal here), never when it is a pipe or with
//! `--quiet`. A check is made long by feeding its standard input slowly:
//! some lines, a pause past the bar's one-second delay, the rest.

#![cfg(unix)]

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The sample dataset's lines: valid companies.
fn sample_lines() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/corpora/sample.jsonl")).expect("corpora/sample.jsonl")
}

/// Runs `skillc check - ARGS` with its standard input fed slowly and its
/// standard error on `stderr`; returns the report (standard output).
fn check_slowly(args: &[&str], stderr: Stdio) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_skillc"))
        .args(["check", "-"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("skillc runs");
    let lines = sample_lines();
    let (first, rest) = lines.split_at(lines.find('\n').expect("a line") + 1);
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(first.as_bytes()).expect("first line written");
    stdin.flush().expect("flushed");
    std::thread::sleep(Duration::from_millis(1600));
    stdin.write_all(rest.as_bytes()).expect("the rest written");
    drop(stdin);
    let mut report = String::new();
    child.stdout.take().expect("stdout").read_to_string(&mut report).expect("report read");
    child.wait().expect("skillc ends");
    report
}

/// A pseudo-terminal: the controller (read by the test) and the path of
/// the terminal the child gets as its standard error.
struct Pty {
    controller: std::fs::File,
    terminal: std::fs::File,
}

fn pty() -> Pty {
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    let controller = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("a pseudo-terminal");
    grantpt(&controller).expect("grantpt");
    unlockpt(&controller).expect("unlockpt");
    let name = ptsname(&controller, Vec::new()).expect("ptsname");
    let terminal = std::fs::OpenOptions::new().read(true).write(true).open(name.to_str().expect("a path")).expect("the terminal");
    let size = rustix::termios::Winsize { ws_row: 24, ws_col: 120, ws_xpixel: 0, ws_ypixel: 0 };
    rustix::termios::tcsetwinsize(&terminal, size).expect("a window size");
    Pty { controller: std::fs::File::from(controller), terminal }
}

/// What the child wrote to the terminal: read until the child's end
/// closes it (Linux reports that as an error on the controller).
fn drawn(args: &[&str]) -> (String, String) {
    let Pty { mut controller, terminal } = pty();
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = controller.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&seen).into_owned()
    });
    // The child holds the only handle on the terminal once it is spawned.
    let report = check_slowly(args, Stdio::from(terminal));
    (reader.join().expect("reader"), report)
}

#[test]
fn a_long_check_on_a_terminal_shows_its_progress() {
    let (terminal, report) = drawn(&["--format", "json"]);
    assert!(terminal.contains(" read, "), "the bar shows what was read: {terminal:?}");
    assert!(terminal.contains(" lines"), "the bar counts lines: {terminal:?}");
    assert!(report.contains("\"type\":\"summary\""), "the report is complete: {report}");
}

#[test]
fn quiet_turns_the_bar_off() {
    let (terminal, report) = drawn(&["--format", "json", "--quiet"]);
    assert_eq!(terminal, "", "nothing is drawn with --quiet");
    assert!(report.contains("\"type\":\"summary\""), "the report is complete: {report}");
}

#[test]
fn no_bar_when_standard_error_is_not_a_terminal() {
    let mut child_err = tempfile::tempfile().expect("a file for standard error");
    let report = check_slowly(&["--format", "json"], Stdio::from(child_err.try_clone().expect("clone")));
    let mut stderr = String::new();
    std::io::Seek::rewind(&mut child_err).expect("rewind");
    child_err.read_to_string(&mut stderr).expect("read");
    assert_eq!(stderr, "", "nothing on a standard error that is not a terminal");
    assert!(report.contains("\"type\":\"summary\""), "the report is complete: {report}");
}
