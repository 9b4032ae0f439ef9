//! The skill files the server compiles: editor buffers laid over the files
//! on disk, grouped into programs the way `skillc lint DIR` groups them.
//!
//! A program is the skill files of a *skill root*: the `skills` folder
//! that holds the skill's folder or its group's (every `SKILL.md` below
//! it), or else the folder that holds the skill's own folder (the sibling
//! skills `<root>/*/SKILL.md`). So the shipped skills compile together like
//! `skillc lint skills`, and each folder of `tests/fixtures/diagnostics/`
//! compiles on its own, like its snapshot.

use crate::diagnostic::{self, Diagnostic};
use crate::examples;
use crate::ir::{self, Program};
use crate::skill;
use crate::source::{FileId, SourceDb};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// An open editor buffer.
#[derive(Clone, Debug)]
pub struct Document {
    /// The URI exactly as the client sent it (answers must use the same).
    pub uri: String,
    pub version: i32,
    pub text: String,
}

/// One program as last compiled.
pub struct Compiled {
    pub program: Program,
    pub diagnostics: Vec<Diagnostic>,
}

impl Compiled {
    pub fn file_of(&self, path: &Path) -> Option<FileId> {
        self.program.db.files().find(|(_, f)| f.path == path).map(|(id, _)| id)
    }
}

#[derive(Default)]
pub struct Workspace {
    /// The workspace folders the client named.
    folders: Vec<PathBuf>,
    pub documents: BTreeMap<PathBuf, Document>,
    pub compiled: BTreeMap<PathBuf, Compiled>,
}

/// Only files named `SKILL.md` are skill files; other Markdown is left alone.
pub fn is_skill_file(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == "SKILL.md")
}

/// The folder whose skills compile together with `path`: the `skills`
/// folder that holds the skill's folder (`skills/<name>/SKILL.md`) or a
/// group of skills (`skills/<group>/<name>/SKILL.md`), else the folder
/// that holds the skill's folder.
pub fn skill_root(path: &Path) -> PathBuf {
    let mut above = path.ancestors().skip(2);
    let holder = above.next().unwrap_or(Path::new("/"));
    let skills = |a: &Path| a.file_name().is_some_and(|n| n == "skills");
    match above.next() {
        Some(group_holder) if !skills(holder) && skills(group_holder) => group_holder.to_path_buf(),
        _ => holder.to_path_buf(),
    }
}

/// The skill files on disk of a skill root: every `SKILL.md` below a
/// `skills` folder (as `lint skills` finds them), else the sibling skills
/// `<root>/*/SKILL.md` only (as `lint` takes a named file's context), so a
/// skill outside any `skills` folder never makes the server walk a home
/// folder.
fn skill_files(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    if root.file_name().is_some_and(|n| n == "skills") {
        skill::walk(root, &mut found);
    } else if let Ok(entries) = std::fs::read_dir(root) {
        for entry in entries.flatten() {
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if !hidden && entry.file_type().is_ok_and(|t| t.is_dir()) {
                let file = entry.path().join("SKILL.md");
                if file.is_file() {
                    found.push(file);
                }
            }
        }
    }
    found
}

impl Workspace {
    /// Adds a workspace folder: its `skills/` folder, when it has one, is
    /// compiled even when none of its files is open.
    pub fn add_folder(&mut self, folder: &Path) {
        if !self.folders.iter().any(|f| f == folder) {
            self.folders.push(folder.to_path_buf());
        }
    }

    /// The skill roots to keep compiled: the workspace's and those of the
    /// open documents.
    pub fn roots(&self) -> BTreeSet<PathBuf> {
        let mut roots: BTreeSet<PathBuf> = self.folders.iter().map(|f| f.join("skills")).filter(|s| s.is_dir()).collect();
        roots.extend(self.documents.keys().map(|p| skill_root(p)));
        roots
    }

    /// Compiles the program of one skill root and keeps it.
    pub fn compile(&mut self, root: &Path) {
        let compiled = self.build(root);
        self.compiled.insert(root.to_path_buf(), compiled);
    }

    fn build(&self, root: &Path) -> Compiled {
        let mut paths: BTreeSet<PathBuf> = skill_files(root).into_iter().collect();
        paths.extend(self.documents.keys().cloned());
        paths.retain(|p| skill_root(p) == root);

        let mut db = SourceDb::default();
        let mut diags = Vec::new();
        let mut files = Vec::new();
        let texts: Vec<Option<String>> =
            paths.iter().map(|p| self.documents.get(p).map(|d| d.text.clone()).or_else(|| std::fs::read_to_string(p).ok())).collect();
        let context = shipped_context(texts.iter().flatten());
        let context_files: Vec<FileId> = context.into_iter().map(|(name, text)| db.add(Path::new(&name), name.clone(), text)).collect();
        for (path, text) in paths.iter().zip(texts) {
            match text {
                Some(text) => files.push(db.add(path, self.display_name(path), text)),
                // `lint`'s own loading reports invalid UTF-8 or an
                // unreadable file.
                None => files.extend(skill::discover(std::slice::from_ref(path), &mut db, &mut diags)),
            }
        }
        let own = files.clone();
        let all: Vec<FileId> = context_files.iter().chain(&files).copied().collect();
        let (program, mut more) = ir::compile(db, &all);
        diags.append(&mut more);
        // The shipped skills are context: their diagnostics are not this root's.
        diags.retain(|d| !context_files.contains(&d.primary.span.file));
        // As `lint` does: the examples run when nothing has an error.
        if !diags.iter().any(Diagnostic::is_error) {
            let only = (!context_files.is_empty()).then_some(own.as_slice());
            diags.extend(examples::run(&program, only).diagnostics);
            diags.extend(crate::lint::analysis_findings(&program, &diags, &own));
        }
        diagnostic::sort(&mut diags);
        Compiled { program, diagnostics: diags }
    }

    /// A path as hover text shows it: relative to its workspace folder.
    fn display_name(&self, path: &Path) -> String {
        let relative = self.folders.iter().find_map(|f| path.strip_prefix(f).ok());
        relative.unwrap_or(path).display().to_string()
    }

    /// The compiled program that holds `path`, and the file's id in it.
    pub fn file(&self, path: &Path) -> Option<(&Compiled, FileId)> {
        let compiled = self.compiled.get(&skill_root(path))?;
        Some((compiled, compiled.file_of(path)?))
    }
}

/// The names of the entities a skill file's text declares and extends.
fn entities_of(text: &str) -> (Vec<String>, Vec<String>) {
    let (mut declared, mut extended) = (Vec::new(), Vec::new());
    let Ok((_, body)) = skill::frontmatter::split(text) else { return (declared, extended) };
    for block in skill::markdown::extract(FileId(0), text, body) {
        if let skill::BlockKind::Entity { name: Some((name, _)), modifier } = block.kind {
            match modifier {
                None => declared.push(name),
                Some((word, _)) if word == "extend" => extended.push(name),
                Some(_) => {}
            }
        }
    }
    (declared, extended)
}

/// The shipped skills, when a skill of the root (`texts`) extends an entity
/// that no file of the root declares but a shipped skill does (a user's own
/// skills beside the shipped `company`): the root then compiles with them
/// as context, as `skillc lint --add-skills` does.
fn shipped_context<'a>(texts: impl Iterator<Item = &'a String>) -> Vec<(String, String)> {
    let (mut declared, mut extended) = (Vec::new(), Vec::new());
    for text in texts {
        let (d, e) = entities_of(text);
        declared.extend(d);
        extended.extend(e);
    }
    extended.retain(|e| !declared.contains(e));
    if extended.is_empty() {
        return Vec::new();
    }
    let shipped = crate::embedded::skills();
    if shipped.iter().any(|(_, text)| entities_of(text).0.iter().any(|d| extended.contains(d))) {
        shipped
    } else {
        Vec::new()
    }
}

/// `file:///a/b%20c` → `/a/b c`; other schemes are not files.
pub fn uri_to_path(uri: &str) -> Option<PathBuf> {
    let rest = uri.strip_prefix("file://")?;
    // An authority (`localhost`) may come before the path.
    let path = &rest[rest.find('/')?..];
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    let path = String::from_utf8(out).ok()?;
    // `file:///C:/x` on Windows
    let path = match path.as_bytes() {
        [b'/', drive, b':', ..] if drive.is_ascii_alphabetic() && cfg!(windows) => path[1..].to_string(),
        _ => path,
    };
    Some(PathBuf::from(path))
}

/// `/a/b c` → `file:///a/b%20c`.
pub fn path_to_uri(path: &Path) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    let mut out = String::from("file://");
    if !text.starts_with('/') {
        out.push('/');
    }
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_round_trip() {
        let path = Path::new("/tmp/my skills/ü/SKILL.md");
        let uri = path_to_uri(path);
        assert_eq!(uri, "file:///tmp/my%20skills/%C3%BC/SKILL.md");
        assert_eq!(uri_to_path(&uri).as_deref(), Some(path));
        assert_eq!(uri_to_path("file://localhost/a/b").as_deref(), Some(Path::new("/a/b")));
        assert_eq!(uri_to_path("untitled:Untitled-1"), None);
        assert_eq!(uri_to_path("file:///a%2").as_deref(), Some(Path::new("/a%2")));
    }

    #[test]
    fn skill_roots() {
        assert_eq!(skill_root(Path::new("/w/skills/a/SKILL.md")), Path::new("/w/skills"));
        assert_eq!(skill_root(Path::new("/w/skills/group/a/SKILL.md")), Path::new("/w/skills"));
        assert_eq!(skill_root(Path::new("/w/fixtures/dup/first/SKILL.md")), Path::new("/w/fixtures/dup"));
        // A `skills` folder far above is another project's.
        assert_eq!(skill_root(Path::new("/skills/repo/tests/fx/a/SKILL.md")), Path::new("/skills/repo/tests/fx"));
        assert_eq!(skill_root(Path::new("/SKILL.md")), Path::new("/"));
    }
}
