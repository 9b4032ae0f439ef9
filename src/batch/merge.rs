//! `check CANDIDATES --base DATASET --merge`: the accepted candidates
//! appended to the dataset, atomically, and never one that would make a
//! record of the dataset fail.
//!
//! A candidate that passes against the base can still break a base record:
//! a subsidiary whose revenue the parent's consolidated revenue no longer
//! covers, a parent whose stakes now exceed the whole. So the merge checks
//! the dataset as it would be (base + kept candidates, every record
//! evaluated), and holds back the candidates behind any base record that
//! fails there but did not fail before, and any kept candidate that fails
//! there itself (one that named a rejected candidate as its owner, say).
//! Culprits are found by group testing: halves of the kept set are checked
//! until single candidates are left, so k culprits among n candidates cost
//! about k·log2(n) checks of the dataset (docs/loop.md); candidates that
//! break a record only together are narrowed to those it takes.

use crate::check::base_index::{incremental, incremental::View, Opened};
use crate::check::{check, load_sized, reason_id, Compiled, Report, Verdict};
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, Read, Write};
use std::path::Path;

/// One candidate line: its number in the candidates' input and its bytes
/// (without the line end).
#[derive(Clone, Debug)]
pub struct Candidate {
    pub line: u32,
    pub key: Option<String>,
    pub text: Vec<u8>,
}

/// A record that fails once candidates are merged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broken {
    /// Its line: in the base when `in_base`, else in the candidates.
    pub line: u32,
    pub in_base: bool,
    pub key: Option<String>,
    /// The reject rules it fails there.
    pub rules: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct HeldBack {
    pub candidate: Candidate,
    /// What merging it breaks (itself, when it fails in the merged dataset).
    pub breaks: Vec<Broken>,
}

#[derive(Clone, Debug, Default)]
pub struct Merge {
    pub merged: Vec<Candidate>,
    pub held_back: Vec<HeldBack>,
    /// Checks of the dataset as merged the merge ran (beside the first
    /// check): of the whole dataset, or from the base's index of what the
    /// candidates reach.
    pub checks: usize,
    /// How many of `checks` were from the index.
    pub from_index: usize,
    /// The line number the first merged candidate gets in the base.
    pub first_line: u32,
    /// Whether a line end goes between the base and the candidates (the
    /// base's last line had none).
    pub separated: bool,
}

/// The lines of `input` that `report` accepted or flagged, as the split
/// copies them (to each `\n`, a byte-order mark dropped, the line end cut).
pub fn kept_lines(c: &Compiled, input: &mut File, report: &Report) -> Result<Vec<Candidate>, String> {
    let entity = c.program.schema.entity(c.entity);
    let key_field = entity.key.map(|k| entity.fields[k.0 as usize].name.as_str());
    let mut reader = std::io::BufReader::with_capacity(1 << 20, input);
    let mut kept = Vec::new();
    let mut buf = Vec::new();
    let mut reports = report.lines.iter().peekable();
    let mut line_no: u32 = 0;
    while reports.peek().is_some() {
        buf.clear();
        if reader.read_until(b'\n', &mut buf).map_err(|e| e.to_string())? == 0 {
            break;
        }
        line_no += 1;
        let Some(line) = reports.next_if(|l| l.line == line_no) else { continue };
        if report.verdict(line) == Verdict::Rejected {
            continue;
        }
        let mut text = if line_no == 1 { buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&buf).to_vec() } else { buf.clone() };
        while text.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            text.pop();
        }
        // Kept lines are JSON objects; the key only names them in the report.
        let key = key_field.and_then(|f| {
            let v: serde_json::Value = serde_json::from_slice(&text).ok()?;
            v.get(f)?.as_str().map(str::to_string)
        });
        kept.push(Candidate { line: line_no, key, text });
    }
    Ok(kept)
}

/// Candidates as the lines the merge appends: each one's bytes and a line end.
fn lines_of<'c>(candidates: impl IntoIterator<Item = &'c Candidate>) -> Vec<u8> {
    let mut out = Vec::new();
    for cand in candidates {
        out.extend_from_slice(&cand.text);
        out.push(b'\n');
    }
    out
}

/// The base as a file, with what the merge needs to know of it.
struct Base<'p> {
    path: &'p Path,
    size: u64,
    /// Lines as the loader counts them (to each `\n`; a last line without
    /// one counts).
    lines: u32,
    /// Whether the base's last byte is a line end (else one is put
    /// between the base and the candidates).
    ends_with_newline: bool,
}

impl<'p> Base<'p> {
    fn open(path: &'p Path) -> Result<Base<'p>, String> {
        let io = |e: std::io::Error| format!("cannot read `{}`: {}", path.display(), e.to_string().to_lowercase());
        let mut file = File::open(path).map_err(io)?;
        let mut buf = vec![0u8; 1 << 20];
        let (mut size, mut lines, mut last) = (0u64, 0u32, b'\n');
        loop {
            let n = file.read(&mut buf).map_err(io)?;
            if n == 0 {
                break;
            }
            size += n as u64;
            lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u32;
            last = buf[n - 1];
        }
        let ends_with_newline = last == b'\n';
        if !ends_with_newline {
            lines += 1;
        }
        Ok(Base { path, size, lines, ends_with_newline })
    }

    /// The dataset as it would be with `extra` appended, checked whole.
    fn check_with(&self, c: &Compiled, extra: &[&Candidate]) -> Result<Report, String> {
        let file = File::open(self.path).map_err(|e| format!("cannot read `{}`: {e}", self.path.display()))?;
        let mut tail = if self.ends_with_newline { Vec::new() } else { vec![b'\n'] };
        tail.extend(lines_of(extra.iter().copied()));
        let size = self.size + tail.len() as u64;
        let loaded = load_sized(c, file.chain(std::io::Cursor::new(tail)), None, true, Some(size))
            .map_err(|e| format!("cannot read `{}`: {e}", self.path.display()))?;
        Ok(check(c, None, loaded))
    }
}

/// Rejected lines of a whole-dataset report, with their reject rules.
fn rejected(c: &Compiled, report: &Report) -> Vec<(u32, Option<String>, Vec<String>)> {
    report
        .lines_with_findings()
        .filter(|l| report.verdict(l) == Verdict::Rejected)
        .map(|l| {
            let rules: BTreeSet<String> = report
                .reasons(l)
                .iter()
                .filter(|r| match r.rule {
                    crate::check::ReasonRule::Rule(i) => c.program.rules[i].severity == crate::ir::Severity::Reject,
                    _ => true,
                })
                .map(|r| reason_id(c, &r.rule))
                .collect();
            (l.line, report.key(l).map(str::to_string), rules.into_iter().collect())
        })
        .collect()
}

struct Merger<'a, 'm> {
    c: &'a Compiled,
    base: Base<'a>,
    /// The base's index, when it has an incremental state: each check of
    /// the dataset as merged then reads only what the candidates reach.
    index: Option<Indexed<'a, 'm>>,
    /// Base lines already rejected before the merge (their failures are
    /// not the candidates' doing), taken once a check reads the whole
    /// dataset.
    failing_before: Option<BTreeSet<u32>>,
    checks: usize,
    from_index: usize,
}

struct Indexed<'a, 'm> {
    view: &'a View<'m>,
    file: File,
}

/// What the dataset with `kept` appended breaks: base lines that fail and
/// did not before, and the kept candidates that fail (by index into
/// `kept`).
struct Outcome {
    base: Vec<Broken>,
    candidates: Vec<(usize, Broken)>,
}

impl Merger<'_, '_> {
    fn outcome(&mut self, kept: &[&Candidate]) -> Result<Outcome, String> {
        self.checks += 1;
        if let Some(outcome) = self.index.as_ref().and_then(|index| self.outcome_indexed(index, kept)) {
            self.from_index += 1;
            return Ok(outcome);
        }
        if self.failing_before.is_none() {
            self.checks += 1;
            let before = self.base.check_with(self.c, &[])?;
            self.failing_before = Some(rejected(self.c, &before).into_iter().map(|(line, _, _)| line).collect());
        }
        let report = self.base.check_with(self.c, kept)?;
        let failing_before = self.failing_before.as_ref().expect("taken above");
        Ok(self.classify(&report, kept, |line| !failing_before.contains(&line)))
    }

    /// The rejected lines of `report`, a check of the base's records with
    /// `kept` after them (the candidates numbered from the line after the
    /// base's last): the kept candidates that fail, and the base lines that
    /// fail and are `new` failures.
    fn classify(&self, report: &Report, kept: &[&Candidate], new: impl Fn(u32) -> bool) -> Outcome {
        let first = self.base.lines + 1;
        let mut out = Outcome { base: Vec::new(), candidates: Vec::new() };
        for (line, key, rules) in rejected(self.c, report) {
            if line >= first {
                let i = (line - first) as usize;
                out.candidates.push((i, Broken { line: kept[i].line, in_base: false, key, rules }));
            } else if new(line) {
                out.base.push(Broken { line, in_base: true, key, rules });
            }
        }
        out
    }

    /// [`Merger::outcome`] from the base's index, without reading the
    /// whole base: None when the index cannot say (the caller then checks
    /// the whole dataset).
    ///
    /// Only a base record the candidates reach can change its verdict:
    /// one in a component (records linked by a relation the rules walk, or
    /// sharing a key) that a candidate joins, names or is named from, or
    /// holding a value a candidate's `unique` field holds
    /// (`incremental::reached`). Those records, `rows`, are checked with
    /// everything their rules read around them, `context`: what they in
    /// turn reach (their `unique` values' other holders, the records
    /// their key tests name, with those records' components). Their
    /// verdicts there are their verdicts in the whole dataset, before the
    /// candidates (the context alone) and after (the context and the
    /// candidates); so are the candidates', whose own reach is in `rows`.
    fn outcome_indexed(&self, index: &Indexed<'_, '_>, kept: &[&Candidate]) -> Option<Outcome> {
        let c = self.c;
        let first = self.base.lines + 1;
        let kept_text = lines_of(kept.iter().copied());
        let kept_lines: Vec<u32> = (0..kept.len() as u32).map(|i| first + i).collect();
        let candidates = incremental::load_lines(c, kept_text.clone(), &kept_lines, true)?;
        let rows = incremental::reached(c, index.view, &candidates)?;
        let reached = incremental::load_rows(c, index.view, &index.file, &rows)?;
        let context = incremental::reached(c, index.view, &reached)?;
        let (mut text, mut lines) = incremental::row_lines(index.view, &index.file, &context)?;
        let before = check(c, None, incremental::load_lines(c, text.clone(), &lines, true)?);
        text.extend_from_slice(&kept_text);
        lines.extend_from_slice(&kept_lines);
        let after = check(c, None, incremental::load_lines(c, text, &lines, true)?);
        let reached_lines: BTreeSet<u32> = reached.entries.iter().map(|e| e.line).collect();
        let failing_before: BTreeSet<u32> = rejected(c, &before).into_iter().map(|(line, _, _)| line).collect();
        Some(self.classify(&after, kept, |line| reached_lines.contains(&line) && !failing_before.contains(&line)))
    }

    /// The candidates of `set` behind the base failures of `base ∪ set`,
    /// each with what it breaks alone. When no single candidate breaks
    /// anything but the set does (they break it together), the whole set.
    fn culprits(&mut self, set: &[&Candidate]) -> Result<Vec<(usize, Vec<Broken>)>, String> {
        let outcome = self.outcome(set)?;
        if outcome.base.is_empty() {
            return Ok(Vec::new());
        }
        if set.len() == 1 {
            return Ok(vec![(0, outcome.base)]);
        }
        let (a, b) = set.split_at(set.len() / 2);
        let mut found = self.culprits(a)?;
        found.extend(self.culprits(b)?.into_iter().map(|(i, broken)| (i + a.len(), broken)));
        if found.is_empty() {
            found = self.together(set)?;
        }
        Ok(found)
    }

    /// The members of `set`, which breaks records while neither of its
    /// halves does, that break them together: each member is dropped in
    /// turn, in input order, when the rest still break something, so every
    /// member left is needed (without any one of them the others break
    /// nothing) and a candidate that only sat beside them is not held back.
    /// Each with what those members break together.
    fn together(&mut self, set: &[&Candidate]) -> Result<Vec<(usize, Vec<Broken>)>, String> {
        let mut needed: Vec<usize> = (0..set.len()).collect();
        let mut i = 0;
        while i < needed.len() && needed.len() > 1 {
            let rest: Vec<&Candidate> = needed.iter().filter(|&&k| k != needed[i]).map(|&k| set[k]).collect();
            if self.outcome(&rest)?.base.is_empty() {
                i += 1;
            } else {
                needed.remove(i);
            }
        }
        let members: Vec<&Candidate> = needed.iter().map(|&k| set[k]).collect();
        let broken = self.outcome(&members)?.base;
        Ok(needed.into_iter().map(|k| (k, broken.clone())).collect())
    }
}

/// Decides which of `candidates` (the accepted and flagged lines of the
/// batch) can join the dataset at `base`; from the base's index when it
/// has an incremental state (the same answer, without a check of the
/// whole dataset per step).
pub fn plan(c: &Compiled, base: &Path, candidates: Vec<Candidate>, index: Option<&Opened>) -> Result<Merge, String> {
    if let Some(index) = index {
        let file = File::open(base).map_err(|e| format!("cannot read `{}`: {e}", base.display()))?;
        if let Some(planned) = index.with_state(|view| plan_with(c, base, candidates.clone(), Some(Indexed { view, file }))) {
            return planned;
        }
    }
    plan_with(c, base, candidates, None)
}

fn plan_with(c: &Compiled, base: &Path, candidates: Vec<Candidate>, index: Option<Indexed<'_, '_>>) -> Result<Merge, String> {
    let base = Base::open(base)?;
    let mut merger = Merger { c, base, index, failing_before: None, checks: 0, from_index: 0 };
    let mut kept = candidates;
    let mut held_back = Vec::new();
    // Each round removes at least one candidate or ends: bounded.
    loop {
        let refs: Vec<&Candidate> = kept.iter().collect();
        let outcome = merger.outcome(&refs)?;
        let out: BTreeSet<usize> = if !outcome.candidates.is_empty() {
            // A kept candidate that fails in the merged dataset: itself.
            let mut failing = BTreeSet::new();
            for (i, broken) in outcome.candidates {
                failing.insert(i);
                held_back.push(HeldBack { candidate: kept[i].clone(), breaks: vec![broken] });
            }
            failing
        } else if !outcome.base.is_empty() {
            let found = merger.culprits(&refs)?;
            let mut culprits = BTreeSet::new();
            for (i, breaks) in found {
                if culprits.insert(i) {
                    held_back.push(HeldBack { candidate: kept[i].clone(), breaks });
                }
            }
            culprits
        } else {
            break;
        };
        kept = kept.into_iter().enumerate().filter(|(i, _)| !out.contains(i)).map(|(_, k)| k).collect();
    }
    held_back.sort_by_key(|h| h.candidate.line);
    let (first_line, separated) = (merger.base.lines + 1, !merger.base.ends_with_newline && merger.base.size > 0);
    Ok(Merge { merged: kept, held_back, checks: merger.checks, from_index: merger.from_index, first_line, separated })
}

/// Appends `merged` to the dataset at `base`: written beside it and renamed
/// over it, so the original stays whole on any error or interruption; the
/// file keeps its permissions.
pub fn write(base: &Path, merged: &[Candidate]) -> Result<(), String> {
    let name = || format!("`{}`", base.display());
    let io = |e: std::io::Error| format!("cannot write {}: {}", name(), e.to_string().to_lowercase());
    let dir = base.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let permissions = std::fs::metadata(base).map_err(io)?.permissions();
    let mut tmp = tempfile::Builder::new().prefix(".skillc-merge-").tempfile_in(dir).map_err(io)?;
    let mut original = File::open(base).map_err(io)?;
    let copied = std::io::copy(&mut original, tmp.as_file_mut()).map_err(io)?;
    {
        let mut out = std::io::BufWriter::new(tmp.as_file_mut());
        if copied > 0 && !ends_with_newline(&mut original)? {
            out.write_all(b"\n").map_err(io)?;
        }
        out.write_all(&lines_of(merged)).map_err(io)?;
        out.flush().map_err(io)?;
    }
    tmp.as_file().sync_all().map_err(io)?;
    tmp.as_file().set_permissions(permissions).map_err(io)?;
    tmp.persist(base).map_err(|e| io(e.error))?;
    Ok(())
}

fn ends_with_newline(file: &mut File) -> Result<bool, String> {
    use std::io::{Seek, SeekFrom};
    let mut last = [0u8; 1];
    file.seek(SeekFrom::End(-1)).and_then(|_| file.read_exact(&mut last)).map_err(|e| e.to_string())?;
    Ok(last[0] == b'\n')
}

impl Merge {
    /// The bytes the merge appends to the base after its own (and after
    /// the line end `separated` puts between).
    pub fn appended(&self) -> Vec<u8> {
        lines_of(&self.merged)
    }

    /// The report's `merge` line (docs/output-schema.md).
    pub fn to_json(&self, base: &Path) -> serde_json::Value {
        let broken = |b: &Broken| {
            serde_json::json!({
                "line": b.line, "in": if b.in_base { "base" } else { "candidates" }, "entity": b.key, "rules": b.rules,
            })
        };
        serde_json::json!({
            "type": "merge",
            "version": crate::report::OUTPUT_VERSION,
            "base": base.display().to_string(),
            "merged": self.merged.len(),
            "merged_lines": self.merged.iter().map(|c| c.line).collect::<Vec<_>>(),
            "held_back": self.held_back.iter().map(|h| serde_json::json!({
                "line": h.candidate.line,
                "entity": h.candidate.key,
                "breaks": h.breaks.iter().map(broken).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "checks": self.checks,
        })
    }

    /// The text report's lines about the merge.
    pub fn to_text(&self, base: &Path) -> String {
        let mut out =
            format!("merged {} candidate{} into `{}`", self.merged.len(), if self.merged.len() == 1 { "" } else { "s" }, base.display());
        if self.held_back.is_empty() {
            out.push('\n');
            return out;
        }
        out.push_str(&format!("; held back {} that would make records fail:\n", self.held_back.len()));
        for h in &self.held_back {
            let who = h.candidate.key.as_deref().map_or(String::new(), |k| format!(" `{k}`"));
            let what: Vec<String> = h
                .breaks
                .iter()
                .map(|b| {
                    let whose = if b.in_base { "base" } else { "candidate" };
                    let key = b.key.as_deref().map_or(String::new(), |k| format!(" `{k}`"));
                    format!("{whose} line {}{key} ({})", b.line, b.rules.join(", "))
                })
                .collect();
            out.push_str(&format!("  line {}{who}: {}\n", h.candidate.line, what.join("; ")));
        }
        out
    }
}
