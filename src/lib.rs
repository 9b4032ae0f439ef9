//! skillc: compiles constraint rules written in Markdown skill files into a
//! checker, and validates datasets with it.
//!
//! The pipeline, one module a stage, data flowing one way:
//! [`skill`] (files, frontmatter, Markdown blocks) → [`syntax`] (expression
//! AST) → [`ir`] (schema, resolution, types, classification) → [`check`]
//! (compiled evaluator over a dataset) → [`report`] (text and JSON Lines).
//! [`examples`] runs the example companies of skill files through `check`;
//! [`lint`] is `skillc lint` and `skillc test`; [`init`] scaffolds a skill.
//! [`diagnostic`] and [`source`] are shared by every stage; [`lsp`] is the
//! language server, a thin layer over `ir` and `examples`.

pub mod analysis;
pub mod batch;
pub mod check;
pub mod diagnostic;
pub mod embedded;
pub mod examples;
pub mod init;
pub mod ir;
pub mod lint;
pub mod lsp;
pub mod mcp;
pub mod report;
pub mod sample;
pub mod skill;
pub mod source;
pub mod sql;
pub mod syntax;

use diagnostic::Diagnostic;
use source::SourceDb;
use std::path::PathBuf;

/// Compiles the skill files found at `paths` (directories are searched for
/// `SKILL.md`). Returns the program built from every rule that compiled,
/// and every diagnostic.
pub fn compile_paths(paths: &[PathBuf]) -> (ir::Program, Vec<Diagnostic>) {
    compile_mixed(&[], paths)
}

/// Compiles skill files given as (name, text) pairs, such as the embedded
/// default skills or editor buffers.
pub fn compile_sources(sources: &[(String, String)]) -> (ir::Program, Vec<Diagnostic>) {
    compile_mixed(sources, &[])
}

/// Compiles skill files held in memory (`sources`, (name, text) pairs such as
/// the embedded default skills) together with the skill files found at
/// `paths`, into one program: `check --add-skills` beside the shipped
/// skills. Each file keeps its own [`source::FileId`], so every diagnostic
/// points into the file it is about; a path named twice is read once.
pub fn compile_mixed(sources: &[(String, String)], paths: &[PathBuf]) -> (ir::Program, Vec<Diagnostic>) {
    let mut db = SourceDb::default();
    let mut diags = Vec::new();
    let mut files: Vec<_> = sources.iter().map(|(name, text)| db.add(std::path::Path::new(name), name.clone(), text.clone())).collect();
    files.extend(skill::discover(paths, &mut db, &mut diags));
    let (program, mut more) = ir::compile(db, &files);
    diags.append(&mut more);
    diagnostic::sort(&mut diags);
    (program, diags)
}
