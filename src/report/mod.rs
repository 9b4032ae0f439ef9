//! Reports: findings → text for people and JSON Lines for the proposer,
//! and the listing of compiled rules. Pure functions over the check
//! report; docs/output-schema.md documents the JSON (version 1).

use crate::check::{Compiled, LineReport, Reason, ReasonRule, Report, Verdict};
use crate::ir::{Program, Rule};
use rayon::prelude::*;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The version of the JSON Lines output of `check`.
pub const OUTPUT_VERSION: u32 = 1;
/// The additions within `OUTPUT_VERSION` (docs/output-schema.md, Versions).
pub const MINOR_VERSION: u32 = 1;

fn location(program: &Program, span: crate::source::Span) -> Value {
    let (line, column) = program.db.position(span);
    json!({ "file": program.db.get(span.file).name, "line": line, "column": column })
}

/// One reason as the proposer receives it.
pub fn reason_json(c: &Compiled, line: u32, reason: &Reason) -> Value {
    reason_fields(c, line, reason, true)
}

/// [`reason_json`]; without the packed ways out when `packed` is false.
fn reason_fields(c: &Compiled, line: u32, reason: &Reason, packed: bool) -> Value {
    let p = &c.program;
    let mut out = Map::new();
    match &reason.rule {
        ReasonRule::Json => {
            out.insert("rule".into(), "json".into());
            out.insert("kind".into(), "json".into());
            out.insert("severity".into(), "reject".into());
            let detail = reason.detail.as_deref().unwrap_or("");
            out.insert("message".into(), format!("line {line} is not a JSON object: {detail}").into());
            out.insert("location".into(), Value::Null);
            out.insert("values".into(), json!({ "error": detail }));
            out.insert("hint".into(), "write exactly one JSON object on each line".into());
        }
        ReasonRule::Schema(f) => {
            let field = p.schema.field(c.entity, *f);
            let found = reason.detail.as_deref().unwrap_or("");
            let expected = field.ty.describe();
            let message = match found {
                "missing" => format!("required field `{}` is missing", field.name),
                "null" => format!("required field `{}` is null", field.name),
                _ => format!("field `{}` must be {expected}, not {found}", field.name),
            };
            out.insert("rule".into(), "schema".into());
            out.insert("kind".into(), "schema".into());
            out.insert("severity".into(), "reject".into());
            out.insert("message".into(), message.into());
            out.insert("location".into(), location(p, field.span));
            out.insert("values".into(), json!({ "field": field.name, "expected": expected, "found": found }));
            out.insert("hint".into(), format!("set `{}` to {expected}", field.name).into());
            // One way out: the field given a value of its type, with a
            // passing example company's value to try.
            let example = c.example_values.get(&field.name).and_then(|v| v.first());
            let (op, text) = match found {
                "missing" | "null" => ("present", format!("give `{}` a value ({expected})", field.name)),
                _ => ("type", format!("make `{}` {expected}", field.name)),
            };
            let text = match example {
                Some(e) => format!("{text}, such as {e}"),
                None => text,
            };
            let mut edit = json!({ "field": field.name, "op": op });
            if op == "type" {
                edit["value"] = expected.clone().into();
            }
            if let Some(e) = example {
                edit["example"] = e.clone();
            }
            out.insert("hints".into(), json!([{ "text": text, "edits": [edit] }]));
        }
        ReasonRule::Rule(i) => {
            rule_fields(p, &p.rules[*i], &mut out);
            out.insert("values".into(), Value::Object(reason.values.to_map()));
            if let Some(hint) = reason.hint() {
                out.insert("hint".into(), hint.into());
            }
            if let (Some(p), true) = (&reason.packed, packed) {
                // Parsed back only here, for callers that want a value (the
                // JSON report writes the text as it is).
                out.insert("hints".into(), serde_json::from_str(p.json.get()).unwrap_or(Value::Null));
            } else if !reason.alternatives.is_empty() {
                out.insert("hints".into(), Value::Array(reason.alternatives.iter().map(crate::check::hints::alternative_json).collect()));
            }
        }
    }
    Value::Object(out)
}

fn rule_fields(p: &Program, rule: &Rule, out: &mut Map<String, Value>) {
    out.insert("rule".into(), rule.id.clone().into());
    out.insert("kind".into(), rule.kind.as_str().into());
    out.insert("severity".into(), rule.severity.as_str().into());
    out.insert("message".into(), rule.message.clone().into());
    out.insert("location".into(), location(p, rule.span));
}

/// A warning about a whole input (one that holds no records): `check`
/// prints it on standard error and lists it in the JSON summary.
#[derive(Clone, Debug)]
pub struct Warning {
    /// What it is about; `empty` is the only kind, named like the
    /// `--fail-on` value that makes it an error.
    pub kind: &'static str,
    pub message: String,
}

/// JSON Lines: an `entity` line per rejected or flagged line, a `dataset`
/// line per dataset finding, then one `summary` line.
pub fn write_json(c: &Compiled, report: &Report, out: &mut impl std::io::Write) -> std::io::Result<()> {
    write_json_with_warnings(c, report, &[], out)
}

/// [`write_json`], with the run's warnings in the summary line.
pub fn write_json_with_warnings(c: &Compiled, report: &Report, warnings: &[Warning], out: &mut impl std::io::Write) -> std::io::Result<()> {
    write_json_with(c, report, &Trailer { warnings, ..Trailer::default() }, out)
}

/// What a run adds to the report beside the findings: warnings, lines
/// before the summary (a `merge` line), and the batch's scores (the
/// summary's `scores`).
#[derive(Default)]
pub struct Trailer<'a> {
    pub warnings: &'a [Warning],
    pub lines: &'a [Value],
    pub scores: Option<&'a Value>,
}

/// [`write_json`], with everything a run adds.
pub fn write_json_with(c: &Compiled, report: &Report, trailer: &Trailer<'_>, out: &mut impl std::io::Write) -> std::io::Result<()> {
    // Entity lines are serialised in parallel, a bounded batch at a time
    // (the memory held is one batch's text), and written in input order.
    const PART: usize = 256;
    const BATCH: usize = 64 * PART;
    let shown: Vec<&LineReport> = report.lines_with_findings().collect();
    for batch in shown.chunks(BATCH) {
        let parts: Vec<std::io::Result<Vec<u8>>> = batch
            .par_chunks(PART)
            .map(|lines| {
                let mut text = Vec::new();
                for line in lines {
                    write_entity_line(c, report, line, &mut text)?;
                }
                Ok(text)
            })
            .collect();
        for part in parts {
            out.write_all(&part?)?;
        }
    }
    for d in &report.dataset {
        let mut value = Map::new();
        value.insert("type".into(), "dataset".into());
        value.insert("version".into(), OUTPUT_VERSION.into());
        rule_fields(&c.program, &c.program.rules[d.rule], &mut value);
        value.insert("values".into(), Value::Object(d.values.to_map()));
        if !d.hints.is_empty() {
            value.insert("hint".into(), d.hints.join("; ").into());
        }
        value.insert("shortfalls".into(), Value::Array(d.shortfalls.iter().map(|s| s.to_json()).collect()));
        if d.shortfalls.is_empty() {
            value.insert("shortfall_note".into(), crate::check::NO_SHORTFALL.into());
        }
        serde_json::to_writer(&mut *out, &Value::Object(value))?;
        out.write_all(b"\n")?;
    }
    for line in trailer.lines {
        serde_json::to_writer(&mut *out, line)?;
        out.write_all(b"\n")?;
    }
    let mut summary = summary_json(report, trailer.warnings);
    if let Some(scores) = trailer.scores {
        summary["scores"] = scores.clone();
    }
    serde_json::to_writer(&mut *out, &summary)?;
    out.write_all(b"\n")
}

/// A reason as the JSON report writes it: its fields, and its packed ways
/// out as their own text.
#[derive(serde::Serialize)]
struct ReasonLine<'a> {
    #[serde(flatten)]
    fields: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hints: Option<&'a serde_json::value::RawValue>,
}

#[derive(serde::Serialize)]
struct EntityLine<'a> {
    entity: Option<&'a str>,
    line: u32,
    reasons: Vec<ReasonLine<'a>>,
    #[serde(rename = "type")]
    kind: &'static str,
    verdict: &'static str,
    version: u32,
}

fn write_entity_line(c: &Compiled, report: &Report, line: &LineReport, out: &mut Vec<u8>) -> std::io::Result<()> {
    let reasons = report
        .reasons(line)
        .iter()
        .map(|r| {
            // The packed ways out are written as they are.
            let fields = match reason_fields(c, line.line, r, false) {
                Value::Object(fields) => fields,
                _ => Map::new(),
            };
            ReasonLine { fields, hints: r.packed.as_deref().map(|p| p.json.as_ref()) }
        })
        .collect();
    let value = EntityLine {
        entity: report.key(line),
        line: line.line,
        reasons,
        kind: "entity",
        verdict: report.verdict(line).as_str(),
        version: OUTPUT_VERSION,
    };
    serde_json::to_writer(&mut *out, &value)?;
    out.push(b'\n');
    Ok(())
}

/// `part / read`, rounded to 4 decimals; 1 when nothing was read.
fn rate(part: usize, read: usize) -> f64 {
    let rate = if read == 0 { 1.0 } else { part as f64 / read as f64 };
    (rate * 10_000.0).round() / 10_000.0
}

/// The summary line. `acceptance_rate` is `kept / read`, and `kept` counts
/// the flagged lines as `--accepted` does, while `accepted` does not:
/// `pass_rate` is `accepted / read` (docs/output-schema.md).
pub fn summary_json(report: &Report, warnings: &[Warning]) -> Value {
    let s = &report.summary;
    let kept = s.accepted + s.flagged;
    let warnings: Vec<Value> = warnings.iter().map(|w| json!({ "kind": w.kind, "message": w.message })).collect();
    json!({
        "type": "summary",
        "version": OUTPUT_VERSION,
        "read": s.read,
        "accepted": s.accepted,
        "flagged": s.flagged,
        "rejected": s.rejected,
        "kept": kept,
        "acceptance_rate": rate(kept, s.read),
        "pass_rate": rate(s.accepted, s.read),
        "findings": s.findings,
        "dataset_findings": report.dataset.len(),
        "counts": s.tallies,
        "warnings": warnings,
        "minor_version": MINOR_VERSION,
    })
}

struct Style {
    color: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// Human-readable report, at most `max_per_rule` findings shown per rule:
/// the findings, then the summary.
pub fn render_text(c: &Compiled, report: &Report, max_per_rule: usize, color: bool) -> String {
    render_findings(c, report, max_per_rule, color) + &render_summary(report, color)
}

/// The findings of the text report (all that `check --quiet` prints).
pub fn render_findings(c: &Compiled, report: &Report, max_per_rule: usize, color: bool) -> String {
    let style = Style { color };
    let mut out = String::new();
    let mut shown: BTreeMap<String, usize> = BTreeMap::new();
    let mut hidden: BTreeMap<String, usize> = BTreeMap::new();
    for line in report.lines_with_findings() {
        let visible: Vec<&Reason> = report
            .reasons(line)
            .iter()
            .filter(|r| {
                let id = crate::check::reason_id(c, &r.rule);
                let n = shown.entry(id.clone()).or_default();
                if *n < max_per_rule {
                    *n += 1;
                    true
                } else {
                    *hidden.entry(id).or_default() += 1;
                    false
                }
            })
            .collect();
        if visible.is_empty() {
            continue;
        }
        out.push_str(&header(line, report.verdict(line), report.key(line), &style));
        for r in visible {
            out.push_str(&reason_text(c, line.line, r, &style));
        }
        out.push('\n');
    }
    for d in &report.dataset {
        out.push_str(&style.paint("1;33", "dataset: flagged"));
        out.push('\n');
        let reason = Reason {
            packed: None,
            rule: ReasonRule::Rule(d.rule),
            values: d.values.clone(),
            hints: d.hints.clone(),
            alternatives: Vec::new(),
            detail: None,
        };
        out.push_str(&reason_text(c, 0, &reason, &style));
        for s in &d.shortfalls {
            out.push_str(&format!("      {} {}\n", style.paint("36", "need:"), s.sentence()));
        }
        if d.shortfalls.is_empty() {
            out.push_str(&format!("      {} {}\n", style.paint("36", "need:"), crate::check::NO_SHORTFALL));
        }
        out.push('\n');
    }
    for (id, n) in &hidden {
        out.push_str(&format!("… {n} more finding{} of `{id}` not shown (--max-per-rule)\n", if *n == 1 { "" } else { "s" }));
    }
    out
}

/// The summary of the text report: the counts, what the acceptance rate
/// is, and the findings per rule.
pub fn render_summary(report: &Report, color: bool) -> String {
    let style = Style { color };
    let mut out = String::new();
    let s = &report.summary;
    out.push_str(&format!(
        "{} line{} read: {} accepted, {} flagged, {} rejected; {} dataset finding{}\n",
        s.read,
        if s.read == 1 { "" } else { "s" },
        style.paint("32", &s.accepted.to_string()),
        style.paint("33", &s.flagged.to_string()),
        style.paint("31", &s.rejected.to_string()),
        report.dataset.len(),
        if report.dataset.len() == 1 { "" } else { "s" }
    ));
    if s.read > 0 {
        let kept = s.accepted + s.flagged;
        let percent = kept as f64 * 100.0 / s.read as f64;
        out.push_str(&format!("acceptance rate {percent:.2}%: {kept} of {} lines kept (accepted or flagged)\n", s.read));
    }
    if !s.findings.is_empty() {
        let mut by_count: Vec<(&String, &usize)> = s.findings.iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let parts: Vec<String> = by_count.iter().map(|(id, n)| format!("{id} {n}")).collect();
        out.push_str(&format!("findings: {}\n", parts.join(", ")));
    }
    out
}

fn header(line: &LineReport, verdict: Verdict, key: Option<&str>, style: &Style) -> String {
    let verdict = match verdict {
        Verdict::Rejected => style.paint("1;31", "rejected"),
        Verdict::Flagged => style.paint("1;33", "flagged"),
        Verdict::Accepted => "accepted".into(),
    };
    match key {
        Some(k) => format!("line {}: {verdict} `{k}`\n", line.line),
        None => format!("line {}: {verdict}\n", line.line),
    }
}

fn reason_text(c: &Compiled, line: u32, r: &Reason, style: &Style) -> String {
    let v = reason_json(c, line, r);
    let mut out = String::new();
    let sign = if v["severity"] == "reject" { style.paint("31", "✗") } else { style.paint("33", "!") };
    out.push_str(&format!(
        "  {sign} {} ({}): {}\n",
        style.paint("1", v["rule"].as_str().unwrap_or("")),
        v["kind"].as_str().unwrap_or(""),
        v["message"].as_str().unwrap_or("")
    ));
    if let Some(values) = v["values"].as_object() {
        if !values.is_empty() && !matches!(r.rule, ReasonRule::Json | ReasonRule::Schema(_)) {
            let parts: Vec<String> = values.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            out.push_str(&format!("      {}\n", parts.join(", ")));
        }
    }
    if let Some(p) = &r.packed {
        out.push_str(&format!("      {} {}\n", style.paint("36", "hint:"), p.all()));
    } else if !r.alternatives.is_empty() {
        let all = crate::check::hints::alternatives_text(&r.alternatives);
        out.push_str(&format!("      {} {all}\n", style.paint("36", "hint:")));
    } else if let Some(hint) = v["hint"].as_str() {
        out.push_str(&format!("      {} {hint}\n", style.paint("36", "hint:")));
    }
    if let Some(loc) = v["location"].as_object() {
        out.push_str(&format!("      --> {}:{}:{}\n", loc["file"].as_str().unwrap_or(""), loc["line"], loc["column"]));
    }
    out
}

/// `skillc rules`: one rule per line, or one JSON object per rule.
pub fn rules_listing(p: &Program, as_json: bool) -> String {
    let mut out = String::new();
    let decided = crate::analysis::decided(p);
    for (rule, decided) in p.rules.iter().zip(decided) {
        let (line, column) = p.db.position(rule.span);
        let file = &p.db.get(rule.file).name;
        let scope = match rule.scope {
            crate::ir::Scope::Entity => p.schema.entity(rule.entity).name.clone(),
            crate::ir::Scope::Dataset => "dataset".into(),
        };
        if as_json {
            let v = json!({
                "id": rule.id,
                "kind": rule.kind.as_str(),
                "severity": rule.severity.as_str(),
                "scope": scope,
                "entity": p.schema.entity(rule.entity).name,
                "skill": rule.skill,
                "file": file,
                "line": line,
                "column": column,
                "message": rule.message,
                // Whether the rule analysis decides the rule (docs/analysis.md).
                "analysis": if decided { "decided" } else { "unknown" },
            });
            out.push_str(&v.to_string());
            out.push('\n');
        } else {
            out.push_str(&format!("{:<36} {:<13} {:<7} {:<8} {file}:{line}\n", rule.id, rule.kind.as_str(), rule.severity.as_str(), scope));
        }
    }
    out
}
