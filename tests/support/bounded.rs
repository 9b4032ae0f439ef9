//! Runs the real `skillc` binary with a deadline, for the hostile-input
//! suites (tests/hostile_skills.rs, tests/hostile_data.rs): a run that
//! outlives its deadline is killed and fails the test; a run that panics,
//! dies of a signal (a stack overflow is SIGSEGV/SIGABRT) or exits with a
//! status other than 0, 1 or 2 fails the test too. The peak resident memory
//! of the child is sampled from /proc while it runs.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub elapsed: Duration,
    /// Peak resident set (VmHWM) of the child, in MiB, as last sampled.
    pub peak_mib: u64,
}

impl Run {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    /// The `code` of every JSON diagnostic (lint/rules `--format json`).
    pub fn codes(&self) -> Vec<String> {
        self.json_lines().iter().filter_map(|v| v["code"].as_str().map(str::to_string)).collect()
    }
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout_text()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }
    /// The `summary` line of `check --format json`.
    pub fn summary(&self) -> serde_json::Value {
        self.json_lines().into_iter().find(|v| v["type"] == "summary").expect("a summary line")
    }
}

pub fn skillc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_skillc"))
}

fn peak_mib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

/// Runs `cmd` (feeding `stdin` when given) and waits at most `limit`.
pub fn run_bounded(cmd: &mut Command, stdin: Option<Vec<u8>>, limit: Duration) -> Run {
    let start = Instant::now();
    let mut child = cmd
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run skillc");
    let pid = child.id();
    let writer = stdin.map(|bytes| {
        let mut pipe = child.stdin.take().unwrap();
        // A run that stops reading early closes the pipe: not an error here.
        std::thread::spawn(move || drop(pipe.write_all(&bytes)))
    });
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        out.read_to_end(&mut v).map(|_| v).unwrap_or_default()
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        err.read_to_end(&mut v).map(|_| v).unwrap_or_default()
    });
    let mut peak = 0;
    let status = loop {
        if let Some(p) = peak_mib(pid) {
            peak = peak.max(p);
        }
        if let Some(status) = child.try_wait().expect("wait for skillc") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("skillc did not finish within {limit:?}: {cmd:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    if let Some(w) = writer {
        w.join().unwrap();
    }
    let stdout = out_reader.join().unwrap();
    let stderr = String::from_utf8_lossy(&err_reader.join().unwrap()).into_owned();
    assert!(!stderr.contains("panicked"), "skillc panicked: {cmd:?}\n{stderr}");
    let Some(code) = status.code() else { panic!("skillc died of a signal ({status:?}): {cmd:?}\n{stderr}") };
    assert!(matches!(code, 0..=2), "skillc exited with {code}: {cmd:?}\n{stderr}");
    Run { code, stdout, stderr, elapsed, peak_mib: peak }
}

/// A fresh temporary directory.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

pub fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(path, bytes).unwrap();
}
