//! `skillc lint` and `skillc test`: compile skill files, run their
//! examples, and collect every diagnostic for the files asked about.
//!
//! A `SKILL.md` named on the command line (as a pre-commit hook passes the
//! changed files) is compiled together with its sibling skills — every
//! `SKILL.md` one folder down from the folder that holds its own folder,
//! `skills/*/SKILL.md` — so a skill whose entity is declared in another
//! skill still compiles. Only the named files are reported on and only
//! their examples run.

use crate::diagnostic::Diagnostic;
use crate::examples;
use crate::ir::Program;
use crate::source::{FileId, SourceDb};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The outcome of a lint.
pub struct Lint {
    pub program: Program,
    /// Diagnostics of the files asked about, sorted; example diagnostics
    /// included.
    pub diagnostics: Vec<Diagnostic>,
    /// How many files were asked about (context files not counted).
    pub files: usize,
    /// What the examples found (nothing ran when a file has an error).
    pub examples: examples::Outcome,
}

/// The sibling skill files of a `SKILL.md`: `<dir>/*/SKILL.md` where `dir`
/// holds the skill's folder, the file itself left out.
fn siblings(file: &Path) -> Vec<PathBuf> {
    if file.file_name().is_none_or(|n| n != "SKILL.md") {
        return Vec::new();
    }
    let Some(skills_dir) = file.parent().and_then(Path::parent) else { return Vec::new() };
    let skills_dir = if skills_dir.as_os_str().is_empty() { Path::new(".") } else { skills_dir };
    let Ok(entries) = std::fs::read_dir(skills_dir) else { return Vec::new() };
    let own = file.parent().and_then(|p| p.canonicalize().ok());
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()) && !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .filter(|dir| dir.canonicalize().ok() != own)
        .map(|dir| dir.join("SKILL.md"))
        .filter(|f| f.is_file())
        .collect();
    found.sort();
    found
}

/// Compiles `paths` (directories: every `SKILL.md` below; files: with their
/// sibling skills as context), runs the examples of the files asked about
/// when none of them has an error, and returns their diagnostics.
pub fn lint_paths(paths: &[PathBuf]) -> Lint {
    lint(paths, false)
}

/// `lint --add-skills`: like [`lint_paths`], with the default skills as
/// context too — `./skills` when it exists, else the shipped skills built
/// into skillc — so a skill that extends an entity declared there compiles.
/// Only the files at `paths` are reported on and only their examples run.
pub fn lint_added(paths: &[PathBuf]) -> Lint {
    lint(paths, true)
}

fn lint(paths: &[PathBuf], with_defaults: bool) -> Lint {
    let mut db = SourceDb::default();
    let mut hidden = Vec::new();

    // Context first: a rule id defined both in a sibling and in a named
    // file is then reported in the named file.
    let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let mut covered: BTreeSet<PathBuf> = BTreeSet::new();
    for p in paths.iter().filter(|p| p.is_dir()) {
        let mut below = Vec::new();
        crate::skill::walk(p, &mut below);
        covered.extend(below.iter().map(|f| canonical(f)));
    }
    covered.extend(paths.iter().filter(|p| !p.is_dir()).map(|p| canonical(p)));
    let mut context: Vec<PathBuf> = Vec::new();
    let mut embedded: Vec<FileId> = Vec::new();
    if with_defaults {
        let local = Path::new("skills");
        if local.is_dir() {
            let mut below = Vec::new();
            crate::skill::walk(local, &mut below);
            below.sort();
            context.extend(below.into_iter().filter(|f| covered.insert(canonical(f))));
        } else {
            embedded = crate::embedded::skills().into_iter().map(|(name, text)| db.add(Path::new(&name), name.clone(), text)).collect();
        }
    }
    for p in paths.iter().filter(|p| p.is_file()) {
        for s in siblings(p) {
            if covered.insert(canonical(&s)) {
                context.push(s);
            }
        }
    }
    let mut context_files = embedded;
    context_files.extend(crate::skill::discover(&context, &mut db, &mut hidden));

    let mut diagnostics = Vec::new();
    let before = db.files().count();
    let named = crate::skill::discover(paths, &mut db, &mut diagnostics);
    // Every file added for a named path (an unreadable one has no FileId
    // in `named` but is still asked about).
    let asked: Vec<FileId> = db.files().skip(before).map(|(id, _)| id).collect();
    let files: Vec<FileId> = context_files.iter().chain(&named).copied().collect();
    let (program, compiled) = crate::ir::compile(db, &files);
    diagnostics.extend(compiled.into_iter().filter(|d| asked.contains(&d.primary.span.file)));

    let examples = if diagnostics.iter().any(Diagnostic::is_error) {
        examples::Outcome::default()
    } else {
        examples::run(&program, if context_files.is_empty() { None } else { Some(&asked) })
    };
    diagnostics.extend(examples.diagnostics.iter().cloned());
    diagnostics.extend(analysis_findings(&program, &diagnostics, &asked));
    crate::diagnostic::sort(&mut diagnostics);
    Lint { program, diagnostics, files: asked.len(), examples }
}

/// The rule analysis's findings in the files asked about, when nothing has
/// an error (a program with errors holds only part of its rules).
/// Shared by `lint` and the language server.
pub fn analysis_findings(program: &Program, so_far: &[Diagnostic], asked: &[FileId]) -> Vec<Diagnostic> {
    if so_far.iter().any(Diagnostic::is_error) {
        return Vec::new();
    }
    let mut found = crate::analysis::analyse(program).diagnostics;
    found.retain(|d| asked.contains(&d.primary.span.file));
    // A rule whose condition compiling already called always false (or
    // never applying) is not reported twice.
    let said = |d: &Diagnostic| {
        let Some(rule) = program.rules.iter().find(|r| r.span == d.primary.span) else { return false };
        let within =
            |s: crate::source::Span| s.file == rule.expr.span.file && s.start >= rule.expr.span.start && s.end <= rule.expr.span.end;
        so_far.iter().any(|e| {
            matches!(e.code, crate::diagnostic::Code::NeverHolds | crate::diagnostic::Code::NeverApplies) && within(e.primary.span)
        })
    };
    found.retain(|d| !said(d));
    found
}
