//! Renderers: pure functions from diagnostics to text.

use super::{Diagnostic, Severity};
use crate::source::SourceDb;
use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::{Error as FilesError, Files};
use codespan_reporting::term;
use serde::Serialize;

/// codespan's view of our [`SourceDb`]: the line index stays ours.
impl<'a> Files<'a> for SourceDb {
    type FileId = crate::source::FileId;
    type Name = &'a str;
    type Source = &'a str;
    fn name(&'a self, id: Self::FileId) -> Result<&'a str, FilesError> {
        Ok(&self.get(id).name)
    }
    fn source(&'a self, id: Self::FileId) -> Result<&'a str, FilesError> {
        Ok(&self.get(id).text)
    }
    fn line_index(&'a self, id: Self::FileId, byte_index: usize) -> Result<usize, FilesError> {
        let file = self.get(id);
        Ok(file.lines.line_col(&file.text, byte_index).line as usize)
    }
    fn line_range(&'a self, id: Self::FileId, line_index: usize) -> Result<std::ops::Range<usize>, FilesError> {
        let file = self.get(id);
        if line_index >= file.lines.line_count() {
            return Err(FilesError::LineTooLarge { given: line_index, max: file.lines.line_count() - 1 });
        }
        let range = file.lines.line_range(&file.text, line_index);
        // codespan wants the range including the line ending
        let mut end = range.end;
        while end < file.text.len() && matches!(file.text.as_bytes()[end], b'\r' | b'\n') {
            end += 1;
            if file.text.as_bytes()[end - 1] == b'\n' {
                break;
            }
        }
        Ok(range.start..end)
    }
}

/// Terminal text with source snippets, optionally coloured.
pub fn render_terminal(db: &SourceDb, diagnostics: &[Diagnostic], color: bool) -> String {
    use codespan_reporting::term::termcolor::{Buffer, ColorChoice};
    let _ = ColorChoice::Never;
    let mut buffer = if color { Buffer::ansi() } else { Buffer::no_color() };
    let config = term::Config::default();
    for d in diagnostics {
        let severity = match d.severity {
            Severity::Error => cs::Severity::Error,
            Severity::Warning => cs::Severity::Warning,
        };
        let mut labels = Vec::new();
        if d.has_snippet(db) {
            labels.push(cs::Label::primary(d.primary.span.file, d.primary.span.range()).with_message(&d.primary.message));
        }
        labels.extend(d.secondary.iter().map(|l| cs::Label::secondary(l.span.file, l.span.range()).with_message(&l.message)));
        let diagnostic = cs::Diagnostic::new(severity)
            .with_code(d.code.as_str())
            .with_message(&d.message)
            .with_labels(labels)
            .with_notes(d.help.iter().map(|h| format!("help: {h}")).collect());
        // Writing to an in-memory buffer cannot fail for valid spans; a
        // span past the end of its file is clamped by our Files impl.
        let _ = term::emit(&mut buffer, &config, db, &diagnostic);
    }
    String::from_utf8_lossy(buffer.as_slice()).into_owned()
}

/// The JSON form of one diagnostic (one line of `--format json`).
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct JsonDiagnostic {
    pub severity: &'static str,
    pub code: &'static str,
    pub message: String,
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub help: Vec<String>,
}

pub fn to_json(db: &SourceDb, d: &Diagnostic) -> JsonDiagnostic {
    let (line, column) = db.position(d.primary.span);
    let mut end = d.primary.span;
    end.start = end.end;
    let (end_line, end_column) = db.position(end);
    JsonDiagnostic {
        severity: d.severity.as_str(),
        code: d.code.as_str(),
        message: d.message.clone(),
        file: db.get(d.primary.span.file).name.clone(),
        line,
        column,
        end_line,
        end_column,
        help: d.help.clone(),
    }
}

/// JSON Lines: one object per diagnostic.
pub fn render_json(db: &SourceDb, diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diagnostics {
        out.push_str(&serde_json::to_string(&to_json(db, d)).expect("diagnostics serialize"));
        out.push('\n');
    }
    out
}
