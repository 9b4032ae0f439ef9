//! `skillc mcp` driven by a real client: the official MCP Python SDK (PyPI
//! `mcp`), through tests/mcp/client.py, the way a coding agent's client
//! starts it. One session makes every call; each result is compared with
//! what the CLI prints for the same input (`check --format json`,
//! `rules --format json`, the `error:` message, `lint --format json`).
//!
//! Skipped, with a message, when `python3` or its `mcp` package is missing,
//! unless `SKILLC_REQUIRE_MCP=1` (as `.ci/run` sets).

#[path = "support/cli.rs"]
mod cli;

use cli::json_lines;
use serde_json::{json, Value};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");
const BIN: &str = env!("CARGO_BIN_EXE_skillc");
const BROKEN_SKILL: &str = "tests/fixtures/diagnostics/unknown-field/typo";

/// The CLI, run in the crate's root (where `./skills` is the default), with
/// `stdin` as its standard input.
fn cli(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(MANIFEST)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// `check --format json`, grouped as the `check` tool returns it.
fn cli_check(args: &[&str], stdin: &str) -> Value {
    let mut all = vec!["check", "--format", "json"];
    all.extend_from_slice(args);
    let lines = json_lines(&cli(&all, stdin));
    let of = |ty: &str| Value::Array(lines.iter().filter(|l| l["type"] == ty).cloned().collect());
    json!({ "entities": of("entity"), "dataset": of("dataset"), "summary": lines.last().cloned().unwrap() })
}

/// Runs the plan through the Python client; `None` when the SDK is missing
/// (and not required).
fn session(plan: &[Value]) -> Option<Value> {
    let required = std::env::var("SKILLC_REQUIRE_MCP").is_ok_and(|v| v == "1");
    let mut child = match Command::new("python3")
        .arg(Path::new(MANIFEST).join("tests/mcp/client.py"))
        .arg(BIN)
        .current_dir(MANIFEST)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            assert!(!required, "SKILLC_REQUIRE_MCP=1 but python3 cannot run: {e}");
            eprintln!("note: python3 cannot run ({e}); skipping the MCP client test");
            return None;
        }
    };
    child.stdin.take().unwrap().write_all(serde_json::to_string(plan).unwrap().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(3) {
        assert!(!required, "SKILLC_REQUIRE_MCP=1 but the Python SDK is missing (python3 -m pip install mcp): {stderr}");
        eprintln!("note: the Python `mcp` package is not installed; skipping the MCP client test (python3 -m pip install mcp)");
        return None;
    }
    assert!(out.status.success(), "the MCP client failed ({:?}):\n{stderr}", out.status);
    Some(serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("client output is not JSON ({e}): {stderr}")))
}

fn call(tool: &str, arguments: Value) -> Value {
    json!({ "tool": tool, "arguments": arguments })
}

/// A successful call's structured content, which its text repeats.
fn ok(result: &Value, what: &str) -> Value {
    assert_eq!(result["is_error"], false, "{what}: {result}");
    let text: Value = serde_json::from_str(result["text"][0].as_str().unwrap()).unwrap();
    assert_eq!(text, result["structured"], "{what}: the text content is the structured content");
    result["structured"].clone()
}

/// A failed call's message (its first text line).
fn error(result: &Value, what: &str) -> String {
    assert_eq!(result["is_error"], true, "{what}: {result}");
    let text = result["text"][0].as_str().unwrap();
    assert_eq!(result["structured"]["error"], text.lines().next().unwrap(), "{what}");
    text.to_string()
}

#[test]
fn an_mcp_client_gets_the_values_of_the_cli() {
    // Every rule corpus and the sample, by path.
    let mut corpora: Vec<String> = std::fs::read_dir(Path::new(MANIFEST).join("corpora/rules"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .map(|p| p.strip_prefix(MANIFEST).unwrap().to_str().unwrap().to_string())
        .collect();
    corpora.sort();
    corpora.push("corpora/sample.jsonl".into());
    assert!(corpora.len() > 20, "{corpora:?}");

    let sample = std::fs::read_to_string(Path::new(MANIFEST).join("corpora/sample.jsonl")).unwrap();
    let first = sample.lines().next().unwrap();
    // Inline: a good line, a malformed one, a blank one, the good one again.
    let inline = format!("{first}\n{{\"id\": \"half\",\n\n{first}\n");
    let coverage = "corpora/rules/behaviour-class-coverage.jsonl";

    let mut plan: Vec<Value> = corpora.iter().map(|p| call("check", json!({ "path": p }))).collect();
    let n = plan.len();
    plan.extend([
        call("check", json!({ "lines": inline })),                                               // n
        call("check", json!({ "lines": format!("{first}\n"), "base": "corpora/sample.jsonl" })), // n+1
        call("requests", json!({ "path": coverage })),                                           // n+2
        call("list_rules", json!({})),                                                           // n+3
        call("explain_rule", json!({ "rule": "unique-id" })),                                    // n+4
        call("explain_rule", json!({ "rule": "unique-idd" })),                                   // n+5
        call("check", json!({ "path": "corpora/no-such.jsonl" })),                               // n+6
        call("check", json!({ "lines": first, "skills": [BROKEN_SKILL] })),                      // n+7
        call("chek", json!({})),                                                                 // n+8
        call("check", json!({ "lines": first, "path": coverage })),                              // n+9
        call("check", json!({ "lines": format!("{first}\n") })),                                 // n+10
    ]);
    let Some(out) = session(&plan) else { return };
    let calls = out["calls"].as_array().unwrap();
    assert_eq!(calls.len(), plan.len());

    // The session: who the server is and the tools it offers.
    assert_eq!(out["server"]["name"], "skillc");
    assert_eq!(out["server"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(out["instructions"].as_str().unwrap().contains("requests"), "{}", out["instructions"]);
    let tools = out["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["check", "list_rules", "explain_rule", "requests"]);
    for t in tools {
        assert_eq!(t["inputSchema"]["type"], "object", "{t}");
        assert!(t["description"].as_str().unwrap().len() > 100, "{t}");
        assert_eq!(t["annotations"]["readOnlyHint"], true, "{t}");
    }
    assert_eq!(tools[0]["inputSchema"]["properties"]["lines"]["type"], "string");
    assert_eq!(tools[2]["inputSchema"]["required"], json!(["rule"]));

    // `check` by path: exactly the CLI's report values, corpus by corpus.
    for (path, result) in corpora.iter().zip(calls) {
        assert_eq!(ok(result, path), cli_check(&[path], ""), "check {path}");
    }

    // Inline lines: the malformed one is a `json` rejection at its line.
    let inline_result = ok(&calls[n], "inline");
    assert_eq!(inline_result, cli_check(&["-"], &inline), "inline lines");
    let json_rejection = inline_result["entities"].as_array().unwrap().iter().find(|e| e["reasons"][0]["rule"] == "json").unwrap();
    assert_eq!(json_rejection["line"], 2, "{json_rejection}");
    assert_eq!(json_rejection["verdict"], "rejected");
    assert_eq!(inline_result["summary"]["read"], 3, "the blank line is not read");

    // Against a base: the first sample company again is a duplicate id.
    let based = ok(&calls[n + 1], "base");
    assert_eq!(based, cli_check(&["-", "--base", "corpora/sample.jsonl"], &format!("{first}\n")));
    assert_eq!(based["summary"]["rejected"], 1, "{based}");

    // `requests`: the CLI's dataset lines, with their shortfalls.
    let requests = ok(&calls[n + 2], "requests");
    let expected = cli_check(&[coverage], "");
    assert_eq!(requests["requests"], expected["dataset"]);
    assert_eq!(requests["summary"], expected["summary"]);
    assert!(!requests["requests"][0]["shortfalls"].as_array().unwrap().is_empty(), "{requests}");

    // `list_rules`: `skillc rules --format json`, every rule with its prose.
    let rules = ok(&calls[n + 3], "list_rules");
    assert_eq!(rules["rules"], Value::Array(json_lines(&cli(&["rules", "--format", "json"], ""))));

    // `explain_rule`: the listing's fields, the source, passing and failing examples.
    let explained = ok(&calls[n + 4], "explain_rule");
    let listed = rules["rules"].as_array().unwrap().iter().find(|r| r["id"] == "unique-id").unwrap();
    for (k, v) in listed.as_object().unwrap() {
        assert_eq!(&explained[k], v, "explain_rule `{k}`");
    }
    assert_eq!(explained["source"], "unique(id)");
    let examples = explained["examples"].as_array().unwrap();
    for verdict in ["pass", "fail"] {
        let e = examples.iter().find(|e| e["verdict"] == verdict).unwrap_or_else(|| panic!("no {verdict} example: {explained}"));
        assert!(e["rules"].as_array().unwrap().contains(&json!("unique-id")), "{e}");
        assert!(e["records"][0]["id"].is_string(), "records are companies: {e}");
    }

    // Errors are tool errors with the CLI's message; the session goes on.
    let unknown = error(&calls[n + 5], "unknown rule");
    assert_eq!(unknown, "unknown rule `unique-idd`; did you mean `unique-id`? (`list_rules` lists them)");
    let missing = error(&calls[n + 6], "missing file");
    let cli_missing = cli(&["check", "corpora/no-such.jsonl"], "");
    assert_eq!(format!("error: {missing}\n"), String::from_utf8_lossy(&cli_missing.stderr));

    let broken = &calls[n + 7];
    let message = error(broken, "broken skills");
    let cli_broken = cli(&["check", "-", "--skills", BROKEN_SKILL], first);
    let cli_message = String::from_utf8_lossy(&cli_broken.stderr).lines().last().unwrap().to_string();
    assert_eq!(cli_message, "error: the skills do not compile (2 errors)");
    assert_eq!(format!("error: {}", message.lines().next().unwrap()), cli_message);
    let lint: Vec<Value> =
        json_lines(&cli(&["lint", "--format", "json", BROKEN_SKILL], "")).into_iter().filter(|d| d["severity"] == "error").collect();
    assert!(!lint.is_empty());
    assert_eq!(broken["structured"]["diagnostics"], Value::Array(lint), "the diagnostics of `lint --format json`");

    let unknown_tool = calls[n + 8]["protocol_error"].as_str().unwrap();
    assert_eq!(unknown_tool, "unknown tool `chek`; did you mean `check`?");
    assert_eq!(error(&calls[n + 9], "both inputs"), "give the batch as `lines` or as `path`, not both");

    // After every error, the same server still checks.
    let last = ok(&calls[n + 10], "after the errors");
    assert_eq!(last["summary"]["read"], 1, "{last}");
}
