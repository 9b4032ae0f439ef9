//! Renderers for CI systems: SARIF 2.1.0 (code-scanning uploads) and GitHub
//! Actions workflow commands (annotations on a pull request). Pure functions
//! over the same diagnostics as the terminal and JSON renderers.

use super::{to_json, Code, Diagnostic, Severity};
use crate::source::SourceDb;
use serde_json::{json, Value};

/// The URI of a file for SARIF's `artifactLocation.uri`: a relative path
/// stays relative (a URI reference), an absolute path becomes a `file:`
/// URI; bytes outside the unreserved set are percent-encoded.
pub fn file_uri(name: &str) -> String {
    let name = name.replace('\\', "/");
    let mut out = String::new();
    let absolute = name.starts_with('/');
    let windows_drive = name.as_bytes().get(1) == Some(&b':') && name.as_bytes()[0].is_ascii_alphabetic();
    if absolute {
        out.push_str("file://");
    } else if windows_drive {
        out.push_str("file:///");
    }
    for (i, b) in name.bytes().enumerate() {
        let keep = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') || (windows_drive && i == 1 && b == b':');
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// The message with its `help:` lines, as one text.
fn full_message(d: &Diagnostic) -> String {
    let mut text = d.message.clone();
    for h in &d.help {
        text.push_str("\nhelp: ");
        text.push_str(h);
    }
    text
}

/// One SARIF 2.1.0 log with one run: `tool.driver.rules` lists every
/// diagnostic code (id = the code, `shortDescription` = its summary), and
/// each diagnostic is a result pointing at its primary span. Columns count
/// Unicode code points (`columnKind`), like every other output of skillc.
pub fn render_sarif(db: &SourceDb, diagnostics: &[Diagnostic]) -> String {
    let rules: Vec<Value> = Code::ALL
        .iter()
        .map(|c| {
            json!({
                "id": c.as_str(),
                "name": c.as_str(),
                "shortDescription": { "text": c.summary() },
            })
        })
        .collect();
    let results: Vec<Value> = diagnostics
        .iter()
        .map(|d| {
            let j = to_json(db, d);
            let mut location = json!({ "artifactLocation": { "uri": file_uri(&j.file) } });
            // A path without text (a directory) has no region: the result is about the artifact.
            if d.has_snippet(db) {
                location["region"] = json!({
                    "startLine": j.line,
                    "startColumn": j.column,
                    "endLine": j.end_line,
                    "endColumn": j.end_column,
                });
            }
            json!({
                "ruleId": d.code.as_str(),
                "ruleIndex": Code::ALL.iter().position(|c| *c == d.code).unwrap_or(0),
                "level": level(d.severity),
                "message": { "text": full_message(d) },
                "locations": [{ "physicalLocation": location }],
            })
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "skillc",
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                }
            },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    let mut out = serde_json::to_string_pretty(&log).expect("SARIF serializes");
    out.push('\n');
    out
}

/// Escapes the message of a workflow command (what follows `::`).
fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escapes a property value of a workflow command (`file=…`, `title=…`).
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// GitHub Actions workflow commands, one line per diagnostic:
/// `::error file=F,line=L,col=C,endLine=L2,endColumn=C2,title=CODE::message`
/// (`::warning` for warnings); the `help:` lines follow the message.
pub fn render_github(db: &SourceDb, diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let j = to_json(db, d);
        // A path without text (a directory) gets a file-level annotation.
        let position = if d.has_snippet(db) {
            format!(",line={},col={},endLine={},endColumn={}", j.line, j.column, j.end_line, j.end_column)
        } else {
            String::new()
        };
        out.push_str(&format!(
            "::{} file={}{position},title={}::{}\n",
            level(d.severity),
            escape_property(&j.file),
            escape_property(d.code.as_str()),
            escape_data(&full_message(d)),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_references() {
        assert_eq!(file_uri("skills/a b/SKILL.md"), "skills/a%20b/SKILL.md");
        assert_eq!(file_uri("/tmp/x/SKILL.md"), "file:///tmp/x/SKILL.md");
        assert_eq!(file_uri("C:\\x\\SKILL.md"), "file:///C:/x/SKILL.md");
        assert_eq!(file_uri("<embedded>/é.md"), "%3Cembedded%3E/%C3%A9.md");
    }

    #[test]
    fn workflow_commands_escape() {
        assert_eq!(escape_data("50% a\nb"), "50%25 a%0Ab");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }
}
