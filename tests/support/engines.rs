//! The SQL engines for tests: one persistent runner server
//! (`src/sql/runner.py --serve`) per test binary, started on first use, so
//! every request of the binary, and every `skillc` child process it starts
//! (through `SKILLC_RUNNER_SOCKET`), shares one SparkSession instead of
//! paying Spark's start-up each time.
//!
//! An engine whose Python package (or, for Spark, Java) is missing makes
//! `require` return false, with a message, so the test skips; when `CI` is
//! set or `SKILLC_REQUIRE_DUCKDB=1` / `SKILLC_REQUIRE_SPARK=1` (as `.ci/run`
//! sets), it panics instead: those tests fail, never skip, where the engines
//! are meant to be installed.
//!
//! The server's stdin is a pipe this process holds for its whole life; when
//! the test binary exits the pipe closes and the server stops (with its
//! SparkSession), so no server outlives the tests. Its stderr goes to a log
//! file whose tail is part of every failure message.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");

/// How long one request may take. Generous: requests queue behind each
/// other on the one server, and the first Spark request starts the JVM
/// (under a minute on a loaded 2-core machine).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(900);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    DuckDb,
    Spark,
}

impl Engine {
    pub const ALL: [Engine; 2] = [Engine::DuckDb, Engine::Spark];

    /// The engine's name in the runner protocol (and in `--engine`).
    pub fn name(self) -> &'static str {
        match self {
            Engine::DuckDb => "duckdb",
            Engine::Spark => "spark",
        }
    }

    fn require_var(self) -> &'static str {
        match self {
            Engine::DuckDb => "SKILLC_REQUIRE_DUCKDB",
            Engine::Spark => "SKILLC_REQUIRE_SPARK",
        }
    }

    /// The column type of a string in this engine's SQL.
    pub fn string_type(self) -> &'static str {
        match self {
            Engine::DuckDb => "VARCHAR",
            Engine::Spark => "STRING",
        }
    }
}

/// The runner script, as skillc embeds it.
pub fn runner_script() -> PathBuf {
    Path::new(MANIFEST).join("src/sql/runner.py")
}

/// Whether `engine` can run here. False (after a message) means skip;
/// panics when the engine is required but missing.
pub fn require(engine: Engine) -> bool {
    static CHECKED: OnceLock<[Result<(), String>; 2]> = OnceLock::new();
    let checked = CHECKED.get_or_init(|| Engine::ALL.map(probe));
    let problem = match &checked[engine as usize] {
        Ok(()) => return true,
        Err(problem) => problem,
    };
    let required = std::env::var_os("CI").is_some() || std::env::var(engine.require_var()).is_ok_and(|v| v == "1");
    assert!(!required, "{}=1 (or CI) but {problem}", engine.require_var());
    eprintln!("skipping the {} part: {problem}", engine.name());
    false
}

fn probe(engine: Engine) -> Result<(), String> {
    let module = match engine {
        Engine::DuckDb => "duckdb",
        Engine::Spark => "pyspark",
    };
    let out = Command::new("python3").args(["-c", &format!("import {module}")]).output().map_err(|e| format!("python3 cannot run: {e}"))?;
    if !out.status.success() {
        return Err(format!("the Python package {module} is missing (python3 -m pip install {module})"));
    }
    if engine == Engine::Spark {
        let java = Command::new("java").arg("-version").output().map_err(|e| format!("java cannot run: {e}"))?;
        if !java.status.success() {
            return Err("`java -version` fails (Spark needs Java 17: apt-get install openjdk-17-jre-headless)".into());
        }
    }
    Ok(())
}

/// The shared runner server of this test binary.
pub struct Server {
    dir: tempfile::TempDir,
    socket: PathBuf,
    log: PathBuf,
    // Held, never written: the server stops when this closes (at exit).
    _stdin: Mutex<ChildStdin>,
    child: Mutex<Child>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The server, started on first use; `SKILLC_RUNNER_SOCKET` is set in this
/// process's environment from then on, so `skillc` children inherit it.
pub fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let server = Server::start();
        std::env::set_var("SKILLC_RUNNER_SOCKET", &server.socket);
        server
    })
}

impl Server {
    fn start() -> Server {
        // Under cargo's own scratch directory: a static is never dropped, so
        // this directory (the log; the socket is removed by the server) stays.
        let dir = tempfile::Builder::new().prefix("runner-").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let socket = dir.path().join("runner.sock");
        let log = dir.path().join("runner.log");
        let mut child = Command::new("python3")
            .arg(runner_script())
            .arg("--serve")
            .arg(&socket)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("python3 starts the runner");
        let stdin = child.stdin.take().unwrap();
        let server = Server { dir, socket, log, _stdin: Mutex::new(stdin), child: Mutex::new(child) };
        let deadline = Instant::now() + Duration::from_secs(60);
        while UnixStream::connect(&server.socket).is_err() {
            if let Some(status) = server.child.lock().unwrap().try_wait().unwrap() {
                panic!("the runner server exited ({status}) before listening:\n{}", server.log_tail());
            }
            assert!(Instant::now() < deadline, "the runner server did not listen within 60 s:\n{}", server.log_tail());
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The last lines the server logged, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Sends one request (its `id` is filled in) and reads its responses.
    pub fn request(&self, mut request: Value) -> Response {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        request["id"] = json!(id);
        let mut line = serde_json::to_string(&request).unwrap();
        line.push('\n');
        self.exchange(line.as_bytes(), 1).pop().unwrap()
    }

    /// Sends raw request lines on one connection and reads `answers`
    /// terminal responses (done or error) back, grouped per request.
    pub fn exchange(&self, lines: &[u8], answers: usize) -> Vec<Response> {
        let mut stream = UnixStream::connect(&self.socket).unwrap_or_else(|e| panic!("connect to the runner: {e}\n{}", self.log_tail()));
        stream.set_read_timeout(Some(REQUEST_TIMEOUT)).unwrap();
        stream.write_all(lines).unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let responses =
            read_responses(BufReader::new(&stream), answers).unwrap_or_else(|e| panic!("{e}\nrunner log:\n{}", self.log_tail()));
        // The server closes the connection when it has answered everything.
        let mut rest = Vec::new();
        let _ = (&stream).read_to_end(&mut rest);
        assert!(rest.iter().all(u8::is_ascii_whitespace), "unexpected output after the answers: {}", String::from_utf8_lossy(&rest));
        responses
    }
}

/// What the runner answered to one request.
#[derive(Debug, Default)]
pub struct Response {
    pub id: Value,
    /// Rows per `collect` name, in the order they came.
    pub results: BTreeMap<String, Vec<Value>>,
    /// Each line as the runner wrote it (exact numbers: serde_json reads
    /// a long decimal as a double).
    pub raw: Vec<String>,
    /// The `done` line, or `None` after an error.
    pub done: Option<Value>,
    /// The `error` line.
    pub error: Option<Value>,
}

impl Response {
    /// The rows of result `name`; panics (with the error) when the request failed.
    pub fn rows(&self, name: &str) -> &[Value] {
        assert!(self.error.is_none(), "the request failed: {}", self.error.as_ref().unwrap());
        self.results.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The error message and failing step; panics when the request succeeded.
    pub fn failure(&self) -> (String, Value) {
        let e = self.error.as_ref().unwrap_or_else(|| panic!("expected an error, got {:?}", self.done));
        (e["error"].as_str().unwrap().to_string(), e["step"].clone())
    }

    /// `rounds[view]` of the done line.
    pub fn rounds(&self, view: &str) -> u64 {
        let done = self.done.as_ref().unwrap_or_else(|| panic!("the request failed: {}", self.error.as_ref().unwrap()));
        done["rounds"][view].as_u64().unwrap_or_else(|| panic!("no rounds for {view}: {done}"))
    }
}

/// Reads protocol lines until `answers` requests have ended.
pub fn read_responses(reader: impl BufRead, answers: usize) -> Result<Vec<Response>, String> {
    let mut out = Vec::new();
    let mut current = Response::default();
    for line in reader.lines() {
        let line = line.map_err(|e| format!("reading the runner's answer: {e}"))?;
        let v: Value = serde_json::from_str(&line).map_err(|e| format!("the runner wrote a line that is not JSON ({e}): {line}"))?;
        current.id = v["id"].clone();
        current.raw.push(line.clone());
        if let Some(name) = v.get("result") {
            let row = v.get("row").cloned().ok_or_else(|| format!("a result line without a row: {line}"))?;
            current.results.entry(name.as_str().unwrap().to_string()).or_default().push(row);
        } else if v.get("done") == Some(&Value::Bool(true)) {
            current.done = Some(v);
        } else if v.get("error").is_some() {
            current.error = Some(v);
        } else {
            return Err(format!("an unknown line from the runner: {line}"));
        }
        if current.done.is_some() || current.error.is_some() {
            out.push(std::mem::take(&mut current));
            if out.len() == answers {
                return Ok(out);
            }
        }
    }
    Err(format!("the runner stopped after {} of {answers} answers", out.len()))
}

/// A request for `engine` with these steps (local master, default partitions).
pub fn plan(engine: Engine, steps: Value) -> Value {
    json!({ "engine": engine.name(), "master": "local[2]", "partitions": null, "steps": steps })
}
