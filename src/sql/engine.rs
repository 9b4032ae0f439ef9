//! `skillc check --engine duckdb|spark`: the plan sent to the runner, the
//! rows it collects turned into the report the native engine writes.
//!
//! Who decides what: the native reader classifies every line (`json` and
//! `schema`, in `canon`); the engine decides every rule. The explanation of
//! a record-local rule (its values and ways out) is computed natively for
//! the lines the engine found failing, from those lines alone (a
//! record-local rule reads nothing else); a cross-entity rule's reason
//! carries the cycle component for `in_cycle`, and no values otherwise; a
//! dataset finding carries no values or shortfalls (docs/sql.md,
//! "Reports").

use super::canon::{canonicalise, Canonical};
use super::dialect::DialectName;
use super::plan::{self, results, Plan};
use crate::check::{self, Compiled, Finding, LineReport, Reason, ReasonRule, Report, Summary, Values};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

/// The runner skillc starts when no server is named by
/// `SKILLC_RUNNER_SOCKET`: src/sql/runner.py (DuckDB and PySpark).
pub const RUNNER_SOURCE: &str = include_str!("runner.py");

pub struct Options {
    pub engine: DialectName,
    pub master: String,
    pub partitions: Option<u32>,
}

/// What the runner sent back.
#[derive(Default, Debug)]
pub struct Collected {
    pub rows: HashMap<String, Vec<Vec<Value>>>,
    pub rounds: serde_json::Map<String, Value>,
    pub seconds: serde_json::Map<String, Value>,
}

/// Sends one request and reads its responses.
pub fn run_request(request: &Value) -> Result<Collected, String> {
    let line = format!("{request}\n");
    if let Some(socket) = std::env::var_os("SKILLC_RUNNER_SOCKET") {
        let stream = std::os::unix::net::UnixStream::connect(&socket)
            .map_err(|e| format!("cannot connect to the runner at `{}`: {e}", Path::new(&socket).display()))?;
        let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
        writer.write_all(line.as_bytes()).map_err(|e| format!("cannot send the plan to the runner: {e}"))?;
        return read_responses(BufReader::new(stream));
    }
    let python = std::env::var_os("SKILLC_PYTHON").unwrap_or_else(|| "python3".into());
    let mut child = std::process::Command::new(&python)
        .arg("-c")
        .arg(RUNNER_SOURCE)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the runner with `{}`: {e}", Path::new(&python).display()))?;
    // Standard error is drained on its own thread (a chatty engine must
    // not block on a full pipe) and shown only when the run fails.
    let mut stderr = child.stderr.take().ok_or("the runner has no standard error")?;
    let drained = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    {
        let mut stdin = child.stdin.take().ok_or("the runner has no standard input")?;
        stdin.write_all(line.as_bytes()).map_err(|e| format!("cannot send the plan to the runner: {e}"))?;
    }
    let stdout = child.stdout.take().ok_or("the runner has no standard output")?;
    let collected = read_responses(BufReader::new(stdout));
    let status = child.wait().map_err(|e| e.to_string())?;
    let err_text = drained.join().unwrap_or_default();
    match collected {
        Ok(c) => Ok(c),
        Err(e) => {
            let tail: Vec<&str> = err_text.lines().rev().take(12).collect::<Vec<_>>().into_iter().rev().collect();
            Err(if tail.is_empty() { format!("{e} (runner exit status {status})") } else { format!("{e}\n{}", tail.join("\n")) })
        }
    }
}

fn read_responses(reader: impl BufRead) -> Result<Collected, String> {
    let mut out = Collected::default();
    for line in reader.lines() {
        let line = line.map_err(|e| format!("cannot read the runner's answer: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(&line).map_err(|e| format!("the runner answered a line that is not JSON ({e}): {line}"))?;
        if let Some(error) = v.get("error") {
            let step = v.get("step").map_or(String::new(), |s| format!(" at step {s}"));
            return Err(format!("the engine failed{step}: {}", error.as_str().unwrap_or(&error.to_string())));
        }
        if v.get("done").and_then(Value::as_bool) == Some(true) {
            out.rounds = v.get("rounds").and_then(Value::as_object).cloned().unwrap_or_default();
            out.seconds = v.get("seconds").and_then(Value::as_object).cloned().unwrap_or_default();
            return Ok(out);
        }
        if let (Some(name), Some(Value::Array(row))) = (v.get("result").and_then(Value::as_str), v.get("row")) {
            out.rows.entry(name.to_string()).or_default().push(row.clone());
        }
    }
    Err("the runner stopped before it answered".into())
}

/// Checks the dataset at `path` on the engine.
pub fn check_file(c: &Compiled, path: &Path, options: &Options) -> Result<Report, String> {
    let mut timer = check::Timer::new();
    let dialect = options.engine.dialect();
    let plan = plan::build(&c.program, dialect, c.entity, c.current_year).map_err(|diags| {
        eprint!("{}", crate::diagnostic::render_terminal(&c.program.db, &diags, false));
        format!(
            "the skills cannot run on {} ({} rule construct{} it cannot express)",
            options.engine.as_str(),
            diags.len(),
            if diags.len() == 1 { "" } else { "s" }
        )
    })?;
    let staging = std::env::var_os("SKILLC_STAGING_DIR").map(std::path::PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let mut canonical_file = tempfile::Builder::new()
        .prefix("skillc-records-")
        .suffix(".jsonl")
        .tempfile_in(&staging)
        .map_err(|e| format!("cannot write the canonical records in `{}`: {e}", staging.display()))?;
    let input = crate::check::cli::open_dataset(path)?;
    let found = {
        let mut out = std::io::BufWriter::new(canonical_file.as_file_mut());
        let found = canonicalise(c, input, &mut out).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        out.flush().map_err(|e| e.to_string())?;
        found
    };
    timer.phase("canonical records written");
    let data_path = canonical_file.path().to_string_lossy().to_string();
    let steps: Vec<Value> = plan
        .steps
        .iter()
        .map(|s| {
            let mut s = s.clone();
            if s["path"] == plan::DATA_PATH {
                s["path"] = data_path.clone().into();
            }
            s
        })
        .collect();
    let request = json!({
        "id": 1,
        "engine": options.engine.as_str(),
        "master": options.master,
        "partitions": options.partitions,
        "steps": steps,
    });
    let collected = run_request(&request)?;
    timer.phase("plan run on the engine");
    if std::env::var_os("SKILLC_TIMINGS").is_some() {
        eprintln!("engine rounds {}", Value::Object(collected.rounds.clone()));
        eprintln!("engine seconds {}", Value::Object(collected.seconds.clone()));
    }
    let report = assemble(c, path, &plan, &found, &collected)?;
    timer.phase("report assembled");
    Ok(report)
}

fn as_indices(v: &Value) -> Vec<usize> {
    v.as_array().map(|a| a.iter().filter_map(|x| x.as_u64().map(|n| n as usize)).collect()).unwrap_or_default()
}

fn reason_order(rule: &ReasonRule) -> (u8, usize) {
    match rule {
        ReasonRule::Json => (0, 0),
        ReasonRule::Schema(f) => (1, f.0 as usize),
        ReasonRule::Rule(i) => (2, *i),
    }
}

fn bare(rule: ReasonRule) -> Reason {
    Reason { rule, values: Values::default(), hints: Vec::new(), alternatives: Vec::new(), packed: None, detail: None }
}

/// The report from the engine's rows and the native reader's findings.
fn assemble(c: &Compiled, path: &Path, plan: &Plan, found: &Canonical, collected: &Collected) -> Result<Report, String> {
    let rules = &c.program.rules;
    let empty = Vec::new();
    // line → (key, failing rules), from the engine.
    let mut failing: HashMap<u32, (Option<String>, Vec<usize>)> = HashMap::new();
    for row in collected.rows.get(results::RECORDS).unwrap_or(&empty) {
        let line = row.first().and_then(Value::as_u64).ok_or("the engine sent a record without its line")? as u32;
        let key = row.get(1).and_then(Value::as_str).map(str::to_string);
        failing.insert(line, (key, row.get(2).map(as_indices).unwrap_or_default()));
    }
    let dataset_failed: Vec<usize> =
        collected.rows.get(results::DATASET).and_then(|r| r.first()).and_then(|r| r.first()).map(as_indices).unwrap_or_default();
    // The cycle component of each record on a cycle.
    let mut components: HashMap<u32, Vec<String>> = HashMap::new();
    for row in collected.rows.get(results::COMPONENTS).unwrap_or(&empty) {
        if let (Some(line), Some(Value::Array(keys))) = (row.first().and_then(Value::as_u64), row.get(2)) {
            // Capped as the native explanation caps it.
            let max = crate::check::explain::MAX_LIST;
            let mut shown: Vec<String> = keys.iter().take(max).filter_map(|k| k.as_str().map(str::to_string)).collect();
            if keys.len() > max {
                shown.push(format!("… {} more", keys.len() - max));
            }
            components.insert(line as u32, shown);
        }
    }

    // The lines whose reasons are explained natively: those with a json or
    // schema finding, or a record-local rule the engine found failing.
    let local = |i: &usize| !rules[*i].needs_dataset;
    let schema_records: std::collections::HashSet<u32> = found.schema.iter().map(|(r, _)| *r).collect();
    let explained: Vec<u32> = found
        .lines
        .iter()
        .filter(|(line, record)| match record {
            None => true,
            Some(r) => schema_records.contains(r) || failing.get(line).is_some_and(|(_, f)| f.iter().any(local)),
        })
        .map(|(line, _)| *line)
        .collect();
    let native = explain_lines(c, path, &explained)?;

    let mut lines = Vec::with_capacity(found.lines.len());
    let mut findings = Vec::new();
    let mut summary = Summary::default();
    for (line, record) in &found.lines {
        summary.read += 1;
        let (engine_key, engine_rules) = failing.get(line).cloned().unwrap_or((None, Vec::new()));
        let mut reasons: Vec<Reason> = Vec::new();
        let mut key = engine_key.clone();
        if let Some((native_key, native_reasons)) = native.get(line) {
            if key.is_none() {
                key = native_key.clone();
            }
            for r in native_reasons {
                let keep = match r.rule {
                    ReasonRule::Json | ReasonRule::Schema(_) => true,
                    ReasonRule::Rule(i) => local(&i) && engine_rules.contains(&i),
                };
                if keep {
                    reasons.push(r.clone());
                }
            }
        } else if record.is_none() {
            reasons.push(bare(ReasonRule::Json));
        }
        for &i in &engine_rules {
            if reasons.iter().any(|r| r.rule == ReasonRule::Rule(i)) {
                continue;
            }
            let mut reason = bare(ReasonRule::Rule(i));
            if let Some(component) = components.get(line).filter(|_| reads_in_cycle(&rules[i])) {
                let mut values = serde_json::Map::new();
                values.insert("component".into(), Value::Array(component.iter().cloned().map(Value::String).collect()));
                reason.values = Values::new(values);
            }
            reasons.push(reason);
        }
        reasons.sort_by_key(|r| reason_order(&r.rule));
        let verdict = check::count_verdict(c, &mut summary, &reasons);
        let slot = if reasons.is_empty() {
            None
        } else {
            findings.push(Finding { verdict, key: if record.is_some() { key.map(String::into_boxed_str) } else { None }, reasons });
            Some(findings.len() as u32 - 1)
        };
        lines.push(LineReport::with_finding(*line, slot));
    }
    let mut dataset = Vec::new();
    for &i in plan.dataset_rules.iter().filter(|i| dataset_failed.contains(i)) {
        *summary.findings.entry(rules[i].id.clone()).or_default() += 1;
        dataset.push(check::DatasetFinding { rule: i, values: Values::default(), hints: Vec::new(), shortfalls: Vec::new() });
    }
    let mut tallies: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for row in collected.rows.get(results::COUNTS).unwrap_or(&empty) {
        if let (Some(field), Some(value), Some(n)) =
            (row.first().and_then(Value::as_str), row.get(1).and_then(Value::as_str), row.get(2).and_then(Value::as_u64))
        {
            *tallies.entry(field.to_string()).or_default().entry(value.to_string()).or_default() += n as usize;
        }
    }
    summary.tallies = tallies;
    Ok(Report { lines, findings, dataset, summary })
}

fn reads_in_cycle(rule: &crate::ir::Rule) -> bool {
    let mut found = false;
    check::walk(&rule.expr, &mut |e| {
        if matches!(e.kind, crate::ir::expr::ExprKind::Call(crate::ir::expr::Builtin::InCycle(_), _)) {
            found = true;
        }
    });
    found
}

/// The native reasons of the given lines, checked as a dataset of their
/// own: exact for `json`, `schema` and the record-local rules, which read
/// nothing but the line. line → (key, reasons).
/// A line's key and reasons.
type Explained = HashMap<u32, (Option<String>, Vec<Reason>)>;

fn explain_lines(c: &Compiled, path: &Path, wanted: &[u32]) -> Result<Explained, String> {
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    let input = crate::check::cli::open_dataset(path)?;
    let mut reader = BufReader::new(input);
    let mut text = Vec::new();
    let mut buf = Vec::new();
    let mut line_no = 0u32;
    let mut next = wanted.iter().peekable();
    while next.peek().is_some() {
        buf.clear();
        if reader.read_until(b'\n', &mut buf).map_err(|e| format!("cannot read `{}`: {e}", path.display()))? == 0 {
            break;
        }
        line_no += 1;
        if next.peek() == Some(&&line_no) {
            next.next();
            // The first line keeps its byte-order mark: the loader skips it.
            text.extend_from_slice(&buf);
            if !buf.ends_with(b"\n") {
                text.push(b'\n');
            }
        }
    }
    let loaded = check::load(c, std::io::Cursor::new(text), None, true).map_err(|e| e.to_string())?;
    let report = check::check(c, None, loaded);
    let mut out = HashMap::new();
    for (line, entry) in wanted.iter().zip(&report.lines) {
        out.insert(*line, (report.key(entry).map(str::to_string), report.reasons(entry).to_vec()));
    }
    Ok(out)
}
