//! Skill files: discovery, frontmatter and the Markdown body, down to the
//! fenced blocks the compiler reads.

pub mod frontmatter;
pub mod markdown;
mod yaml;

pub use markdown::{Block, BlockKind, ExampleVerdict, Expectation};

use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, SourceDb, Span};
use std::path::{Path, PathBuf};

/// One skill file, read as far as it could be.
#[derive(Clone, Debug)]
pub struct SkillFile {
    pub file: FileId,
    pub frontmatter: frontmatter::Frontmatter,
    pub blocks: Vec<Block>,
}

/// Reads one skill file's text into its frontmatter and blocks.
pub fn read(db: &SourceDb, file: FileId, diags: &mut Vec<Diagnostic>) -> SkillFile {
    let source = db.get(file);
    let folder = if source.path.file_name().is_some_and(|n| n == "SKILL.md") {
        source.path.parent().and_then(|p| p.file_name()).and_then(|n| n.to_str())
    } else {
        None
    };
    let (frontmatter, body_start) = frontmatter::check(file, &source.text, folder, diags);
    let blocks = markdown::extract(file, &source.text, body_start);
    for block in &blocks {
        check_example(block, diags);
    }
    SkillFile { file, frontmatter, blocks }
}

/// What can be checked of an example block without the program: its info
/// string, and that every line is one JSON object.
fn check_example(block: &Block, diags: &mut Vec<Diagnostic>) {
    let BlockKind::Example { expectation } = &block.kind else { return };
    if let Err(e) = expectation {
        let mut d = Diagnostic::error(Code::ExampleInvalid, e.span, e.message.clone());
        if let Some(help) = &e.help {
            d = d.with_help(help.clone());
        }
        diags.push(d);
    }
    let lines = block.lines();
    if lines.is_empty() {
        diags.push(
            Diagnostic::error(Code::ExampleInvalid, block.span, "this example block holds no company")
                .with_help("write one JSON object per line"),
        );
    }
    for (span, line) in lines {
        if let Some(why) = not_a_json_object(line) {
            diags.push(
                Diagnostic::error(Code::ExampleInvalid, span, format!("this example line is not a JSON object: {why}"))
                    .with_help("write exactly one JSON object on each line of an example"),
            );
        }
    }
}

/// Why `line` is not one JSON object, if it is not.
pub fn not_a_json_object(line: &str) -> Option<String> {
    match serde_json::from_str::<serde_json::Value>(line) {
        Ok(serde_json::Value::Object(_)) => None,
        Ok(_) => Some("a JSON value, but not an object".into()),
        Err(e) => Some(e.to_string()),
    }
}

/// Where a skill file comes from: disk, or text already in memory (the
/// embedded default skills, an editor buffer).
pub struct Input {
    pub path: PathBuf,
    pub name: String,
    pub text: Result<String, Diagnostic>,
}

/// Expands command-line paths: a directory means every `SKILL.md` below it;
/// a file is taken as it is. Missing paths become `io-error` diagnostics.
/// A file reached twice (a folder and a file in it, say) is read once.
pub fn discover(paths: &[PathBuf], db: &mut SourceDb, diags: &mut Vec<Diagnostic>) -> Vec<FileId> {
    let mut files = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut first_time = |p: &Path| seen.insert(p.canonicalize().unwrap_or_else(|_| p.to_path_buf()));
    for path in paths {
        if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found);
            found.sort();
            if found.is_empty() {
                let id = db.add(path, path.display().to_string(), String::new());
                diags.push(Diagnostic::warning(Code::Io, Span::new(id, 0, 0), format!("no SKILL.md below `{}`", path.display())));
            }
            files.extend(found.into_iter().filter(|p| first_time(p)).filter_map(|p| load(&p, db, diags)));
        } else if first_time(path) {
            files.extend(load(path, db, diags));
        }
    }
    files
}

/// Every `SKILL.md` below `dir`, without following symbolic links and
/// without recursion (a deep tree cannot overflow the stack).
pub fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else { continue };
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if kind.is_dir() && !hidden && entry.file_name() != "target" {
                stack.push(path);
            } else if kind.is_file() && entry.file_name() == "SKILL.md" {
                found.push(path);
            }
        }
    }
}

/// Loads one file. A file that cannot be read gets its `io-error` and no
/// further checks (an empty text would also fail every frontmatter check).
fn load(path: &Path, db: &mut SourceDb, diags: &mut Vec<Diagnostic>) -> Option<FileId> {
    let name = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Some(db.add(path, name, text)),
            Err(e) => {
                let valid = e.utf8_error().valid_up_to();
                let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
                let id = db.add(path, name, text);
                diags.push(Diagnostic::error(
                    Code::InvalidUtf8,
                    Span::new(id, valid, valid + 1),
                    format!("`{}` is not valid UTF-8 (first bad byte at offset {valid})", path.display()),
                ));
                Some(id)
            }
        },
        Err(e) => {
            let id = db.add(path, name, String::new());
            let why = if path.is_dir() { "is a directory".to_string() } else { e.to_string().to_lowercase() };
            diags.push(Diagnostic::error(Code::Io, Span::new(id, 0, 0), format!("cannot read `{}`: {why}", path.display())));
            None
        }
    }
}
