//! What each tool does, over JSON values: arguments in, a JSON object or a
//! [`ToolError`] out. No MCP types here; `mod.rs` wraps the results.
//!
//! The values are the CLI's: `check` and `requests` run the same loader and
//! [`crate::check::check`] as `skillc check`, and their objects are the
//! lines [`report::write_json`] writes, parsed back; `list_rules` is
//! [`report::rules_listing`]. Skills are compiled on every call (about
//! 20 ms for the shipped set), so an edited SKILL.md counts at the next call.

use crate::check::cli::{file_size, load_skills, open_dataset};
use crate::check::{self, Compiled, Report};
use crate::diagnostic::{self, Diagnostic};
use crate::ir::{ExampleRule, Program, Rule};
use crate::report;
use crate::skill::{self, BlockKind};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// A tool call that could not produce its result: the message the CLI
/// would print after `error:`, and for skills that do not compile their
/// diagnostics as `skillc lint --format json` writes them.
#[derive(Debug)]
pub struct ToolError {
    pub message: String,
    pub diagnostics: Option<String>,
}

impl From<String> for ToolError {
    fn from(message: String) -> ToolError {
        ToolError { message, diagnostics: None }
    }
}

impl ToolError {
    /// The error as the agent reads it: the message, then the diagnostics.
    pub fn text(&self) -> String {
        match &self.diagnostics {
            Some(d) => format!("{}\n{d}", self.message),
            None => self.message.clone(),
        }
    }

    /// `{ "error": message, "diagnostics": [..] }`.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("error".into(), self.message.clone().into());
        if let Some(d) = &self.diagnostics {
            out.insert("diagnostics".into(), json_lines(d).into());
        }
        Value::Object(out)
    }
}

type Args = Map<String, Value>;

/// The tools, by name: (name, description for the model, input schema).
pub fn catalogue() -> Vec<(&'static str, &'static str, Value)> {
    let skills = json!({
        "type": "array",
        "items": { "type": "string" },
        "description": "Skill folders or SKILL.md files to compile (default: ./skills of the server's working directory, else the skills shipped with skillc)"
    });
    let dataset = json!({
        "type": "object",
        "properties": {
            "lines": { "type": "string", "description": "The batch itself: JSON Lines text, one company (a JSON object) per line" },
            "path": { "type": "string", "description": "Path of a JSON Lines file to check instead of `lines` (relative to the server's working directory)" },
            "base": { "type": "string", "description": "Path of an existing dataset the batch is checked against, as `skillc check --base`: its records count for uniqueness, ownership and dataset rules, but only the batch is reported" },
            "skills": skills,
        },
        "additionalProperties": false,
    });
    let rule = json!({
        "type": "object",
        "properties": {
            "rule": { "type": "string", "description": "A rule id, as `list_rules` or a check reason gives it (`unique-id`)" },
            "skills": skills,
        },
        "required": ["rule"],
        "additionalProperties": false,
    });
    let listing = json!({ "type": "object", "properties": { "skills": skills }, "additionalProperties": false });
    vec![
        (
            "check",
            "Validate a batch of synthetic records (JSON Lines) against the rules of the skill files. Give the batch as `lines` \
             (the text) or `path` (a file), not both. Returns `entities`: one object per rejected or flagged line, with `line`, \
             `verdict` and `reasons` (each: `rule`, `message` in prose, the `values` that failed, a `hint` saying what would \
             satisfy it); `dataset`: findings about the batch as a whole, with `shortfalls` saying how many records must change \
             or be added; `summary`: counts and the acceptance rate. Accepted lines produce no entity object. A line that is not \
             a JSON object is a `json` rejection with its line number. Repair each rejected record from its reasons and check again.",
            dataset.clone(),
        ),
        (
            "list_rules",
            "List every compiled rule: `id`, `kind` (field, cross-field, cross-entity, plausibility), `severity` (reject or \
             flag), `scope` (the entity, or dataset), the skill and location it comes from, and its `message`: the rule in prose. \
             Read it before generating records.",
            listing,
        ),
        (
            "explain_rule",
            "Explain one rule: its prose `message`, its expression `source` as written in the skill file, kind, severity, \
             scope, location, and `examples`: the example records of its skill file that pass it and that fail it, one JSON \
             object each. Use it when a check rejects records for a rule you do not understand.",
            rule,
        ),
        (
            "requests",
            "What to generate next: the dataset-level findings of a batch (same input as `check`), each with its `shortfalls`: \
             the aggregate as written, how many records match, whether `more` or `fewer` must, and `change` (the fewest \
             existing records to change) or `add` (the fewest new records to add) for the rule to hold, with the records a \
             change would touch. Also the `summary` (per-rule finding counts and value counts). Entity findings are left out: \
             use `check` for them.",
            dataset,
        ),
    ]
}

/// Runs the tool `name`; `None` when there is no such tool.
pub fn call(name: &str, args: &Args) -> Option<Result<Value, ToolError>> {
    Some(match name {
        "check" => check_tool(args),
        "list_rules" => list_rules(args),
        "explain_rule" => explain_rule(args),
        "requests" => requests(args),
        _ => return None,
    })
}

/// Rejects arguments the tool does not take, with a did-you-mean.
fn known_args(args: &Args, known: &[&str]) -> Result<(), ToolError> {
    for name in args.keys() {
        if !known.contains(&name.as_str()) {
            let list = known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
            let hint = diagnostic::did_you_mean(name, known.iter().copied()).map(|h| format!("; {h}")).unwrap_or_default();
            return Err(format!("unknown argument `{name}` (this tool takes {list}){hint}").into());
        }
    }
    Ok(())
}

fn string_arg<'a>(args: &'a Args, name: &str) -> Result<Option<&'a str>, ToolError> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("argument `{name}` must be a string").into()),
    }
}

fn skills_arg(args: &Args) -> Result<Vec<PathBuf>, ToolError> {
    match args.get("skills") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(PathBuf::from).ok_or_else(|| ToolError::from("argument `skills` must be a list of paths".to_string())))
            .collect(),
        Some(Value::String(s)) => Ok(vec![PathBuf::from(s)]),
        Some(_) => Err("argument `skills` must be a list of paths".to_string().into()),
    }
}

/// The skills compiled as `skillc check` compiles them; errors as it
/// reports them (the message it prints, and the diagnostics).
fn compile(args: &Args) -> Result<Compiled, ToolError> {
    let program = compile_program(args)?;
    Ok(Compiled::new(program)?)
}

fn compile_program(args: &Args) -> Result<Program, ToolError> {
    let (program, diags) = load_skills(&skills_arg(args)?, &[])?;
    let errors: Vec<Diagnostic> = diags.into_iter().filter(Diagnostic::is_error).collect();
    if errors.is_empty() {
        return Ok(program);
    }
    Err(ToolError {
        message: format!("the skills do not compile ({} error{})", errors.len(), if errors.len() == 1 { "" } else { "s" }),
        diagnostics: Some(diagnostic::render_json(&program.db, &errors)),
    })
}

fn load_file(c: &Compiled, path: &Path, local_rules: bool) -> Result<check::Loaded, ToolError> {
    let file = open_dataset(path)?;
    Ok(check::load_sized(c, file, None, local_rules, file_size(path)).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?)
}

/// Loads and checks the batch the arguments name.
fn run_check(args: &Args) -> Result<(Compiled, Report), ToolError> {
    known_args(args, &["lines", "path", "base", "skills"])?;
    let (lines, path) = (string_arg(args, "lines")?, string_arg(args, "path")?);
    if lines.is_some() == path.is_some() {
        return Err(match lines {
            Some(_) => "give the batch as `lines` or as `path`, not both",
            None => "give the batch to check: `lines` (JSON Lines text) or `path` (a JSON Lines file)",
        }
        .to_string()
        .into());
    }
    let base = string_arg(args, "base")?.map(PathBuf::from);
    let compiled = compile(args)?;
    let base = base.map(|b| load_file(&compiled, &b, false)).transpose()?;
    let candidates = match (lines, path) {
        (Some(text), _) => check::load(&compiled, text.as_bytes(), None, true).map_err(|e| format!("cannot read the lines: {e}"))?,
        (None, path) => load_file(&compiled, Path::new(path.unwrap_or_default()), true)?,
    };
    let report = check::check(&compiled, base, candidates);
    Ok((compiled, report))
}

/// Each line of JSON Lines text, parsed.
fn json_lines(text: &str) -> Vec<Value> {
    text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap_or_else(|_| Value::String(l.into()))).collect()
}

/// The report as `check --format json` writes it, one object per line.
fn report_lines(c: &Compiled, report: &Report) -> Result<Vec<Value>, ToolError> {
    let mut out = Vec::new();
    report::write_json(c, report, &mut out).map_err(|e| format!("cannot write the report: {e}"))?;
    Ok(json_lines(&String::from_utf8_lossy(&out)))
}

/// The report's lines of one `type`.
fn of_type(lines: &[Value], ty: &str) -> Vec<Value> {
    lines.iter().filter(|l| l["type"] == ty).cloned().collect()
}

fn check_tool(args: &Args) -> Result<Value, ToolError> {
    let (compiled, report) = run_check(args)?;
    let lines = report_lines(&compiled, &report)?;
    Ok(json!({
        "entities": of_type(&lines, "entity"),
        "dataset": of_type(&lines, "dataset"),
        "summary": report::summary_json(&report, &[]),
    }))
}

fn requests(args: &Args) -> Result<Value, ToolError> {
    let (compiled, report) = run_check(args)?;
    let lines = report_lines(&compiled, &report)?;
    Ok(json!({ "requests": of_type(&lines, "dataset"), "summary": report::summary_json(&report, &[]) }))
}

fn list_rules(args: &Args) -> Result<Value, ToolError> {
    known_args(args, &["skills"])?;
    let program = compile_program(args)?;
    Ok(json!({ "rules": json_lines(&report::rules_listing(&program, true)) }))
}

fn explain_rule(args: &Args) -> Result<Value, ToolError> {
    known_args(args, &["rule", "skills"])?;
    let id =
        string_arg(args, "rule")?.ok_or_else(|| ToolError::from("give the `rule` to explain (an id from `list_rules`)".to_string()))?;
    let program = compile_program(args)?;
    let Some(index) = program.rules.iter().position(|r| r.id == id) else {
        let hint = diagnostic::did_you_mean(id, program.rules.iter().map(|r| r.id.as_str())).map(|h| format!("; {h}")).unwrap_or_default();
        return Err(format!("unknown rule `{id}`{hint} (`list_rules` lists them)").into());
    };
    let rule = &program.rules[index];
    let listing = json_lines(&report::rules_listing(&program, true));
    let mut out = match listing.into_iter().find(|r| r["id"] == id) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    out.insert("source".into(), rule_source(&program, rule).map_or(Value::Null, Value::String));
    out.insert("examples".into(), examples(&program, index).into());
    Ok(Value::Object(out))
}

/// The text of the rule's block between its fences.
fn rule_source(program: &Program, rule: &Rule) -> Option<String> {
    let skill = skill::read(&program.db, rule.file, &mut Vec::new());
    skill.blocks.into_iter().find_map(|b| match b.kind {
        BlockKind::Rule { id: Some((_, span)) } if span == rule.span => Some(b.content.trim_end().to_string()),
        _ => None,
    })
}

/// The example blocks that name the rule: verdict, the rules the block
/// names, and its records.
fn examples(program: &Program, index: usize) -> Vec<Value> {
    let name = |r: &ExampleRule| match r {
        ExampleRule::Schema => "schema".to_string(),
        ExampleRule::Rule(i) => program.rules[*i].id.clone(),
    };
    program
        .examples
        .iter()
        .filter(|e| e.rules.iter().any(|(r, _)| *r == ExampleRule::Rule(index)))
        .map(|e| {
            let (line, _) = program.db.position(e.span);
            json!({
                "verdict": e.verdict.as_str(),
                "rules": e.rules.iter().map(|(r, _)| name(r)).collect::<Vec<_>>(),
                "file": program.db.get(e.file).name,
                "line": line,
                "records": e.lines.iter().map(|(_, text)| serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone()))).collect::<Vec<_>>(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: Value) -> Args {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn every_tool_in_the_catalogue_answers() {
        for (name, _, schema) in catalogue() {
            assert_eq!(schema["type"], "object", "{name}");
            assert!(call(name, &Args::new()).is_some(), "{name}");
        }
        assert!(call("no-such-tool", &Args::new()).is_none());
    }

    #[test]
    fn a_misspelt_argument_is_named_with_a_suggestion() {
        let err = call("check", &args(json!({ "line": "{}" }))).unwrap().unwrap_err();
        assert_eq!(err.message, "unknown argument `line` (this tool takes `lines`, `path`, `base`, `skills`); did you mean `lines`?");
    }

    #[test]
    fn both_or_neither_batch_is_an_error() {
        let both = call("check", &args(json!({ "lines": "", "path": "x" }))).unwrap().unwrap_err();
        assert_eq!(both.message, "give the batch as `lines` or as `path`, not both");
        let neither = call("requests", &Args::new()).unwrap().unwrap_err();
        assert!(neither.message.starts_with("give the batch to check"), "{}", neither.message);
    }
}
