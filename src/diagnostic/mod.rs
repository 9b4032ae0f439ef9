//! The one diagnostic type, and its renderers.
//!
//! Every stage reports problems as [`Diagnostic`] values; the terminal,
//! JSON Lines and language-server outputs are pure functions over them.
//! Message style: lower case, no trailing period, user input in backticks.

mod ci;
mod codes;
mod render;

pub use ci::{file_uri, render_github, render_sarif};
pub use codes::Code;
pub use render::{render_json, render_terminal, to_json, JsonDiagnostic};

use crate::source::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A span with an optional short text shown beside it.
#[derive(Clone, Debug)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: Code,
    pub message: String,
    /// Where the problem is; `message` of the primary label may be empty.
    pub primary: Label,
    /// Related places (the first definition of a duplicate id, say).
    pub secondary: Vec<Label>,
    /// `help: …` lines: what to do about it.
    pub help: Vec<String>,
}

impl Diagnostic {
    pub fn error(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Error, code, span, message)
    }
    pub fn warning(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Warning, code, span, message)
    }
    fn new(severity: Severity, code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity,
            code,
            message: message.into(),
            primary: Label { span, message: String::new() },
            secondary: Vec::new(),
            help: Vec::new(),
        }
    }
    pub fn with_label(mut self, text: impl Into<String>) -> Diagnostic {
        self.primary.message = text.into();
        self
    }
    pub fn with_secondary(mut self, span: Span, text: impl Into<String>) -> Diagnostic {
        self.secondary.push(Label { span, message: text.into() });
        self
    }
    pub fn with_help(mut self, text: impl Into<String>) -> Diagnostic {
        self.help.push(text.into());
        self
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
    /// Whether the primary span points into text: a diagnostic about a path
    /// that has none (a directory, a missing or empty file) is about the
    /// path itself, and is rendered without a snippet or a region.
    pub fn has_snippet(&self, db: &crate::source::SourceDb) -> bool {
        !db.get(self.primary.span.file).text.is_empty()
    }
}

/// "did you mean `x`?" for the closest of `candidates`, when one is close.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut best: Option<(f64, &str)> = None;
    for candidate in candidates {
        let score = strsim::jaro_winkler(name, candidate);
        if score > 0.8 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, c)| format!("did you mean `{c}`?"))
}

/// Sorts diagnostics by file and position so every output is stable.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by_key(|d| (d.primary.span.file, d.primary.span.start, d.severity, d.code));
}
