//! The persisted base: what `check NEW --base BASE` needs of BASE, written
//! once (`skillc index BASE`, or automatically beside the base on the first
//! check against it) and read back on every later check instead of parsing
//! the base's JSON again.
//!
//! The file is a snapshot of the base as the loader left it (the kept
//! columns, the schema-failure masks, the line reports and the lines that
//! were not JSON): loading a base is a pure function of its bytes and of
//! what the compiled program keeps (`Compiled::plan`, `Compiled::retained`),
//! so a check from the snapshot is the check from the JSON, line for line
//! and byte for byte (tests/incremental.rs).
//!
//! It is keyed by
//! - the format version (`FORMAT`) and skillc's version,
//! - a digest of the compiled program's view of the data (the skill
//!   sources, the fields kept, the rules),
//! - the base file: its size, modification and change times, inode and
//!   device (the quick check), and an xxh3-128 digest of its bytes (the
//!   trusted one, taken while the base is read for the snapshot). When the
//!   quick check fails but the size agrees (a copy, a `touch`), the base is
//!   hashed: equal bytes keep the snapshot (its key is refreshed), other
//!   bytes rebuild it. The change time cannot be set back by a user, so an
//!   edit that restores the size and the modification time is still seen.
//!
//! The body carries its own length and xxh3-128 digest, so a truncated or
//! damaged file is refused before it is decoded. Nothing in a file that
//! fails any check is used: the automatic cache is rebuilt, an index named
//! with `--index` is refused with the reason.
//!
//! Besides the snapshot, the index holds the incremental state
//! (`incremental`): what lets a check evaluate only the candidates and the
//! base records they reach, and take the dataset rules from values
//! recorded per base element (`overlay`). A check uses the snapshot only
//! when the rules are not of a form the state can update, or when a
//! dataset rule fails (its explanation reads every record).
//!
//! Format: a preamble (magic, format version, header length), a postcard
//! header (versions, digests, the base's key, and a table of sections, each
//! with its offset, length and xxh3-128 digest), then the sections. The
//! snapshot and the small state are postcard (serde: compact, maintained, a
//! documented wire format, decoding into the same owned columns the loader
//! builds, so the evaluator runs unchanged on them); the large arrays of the
//! state are raw little-endian arrays read in place. The file is
//! memory-mapped (memmap2): a check reads the pages of the state it needs
//! and never the snapshot's, and verifies the digest of every section it
//! reads before using it.

pub mod cli;
pub mod incremental;
pub mod overlay;

use super::columns::Table;
use super::store::Masks;
use super::{load_sized, Compiled, LineReport, Loaded};
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Bumped whenever the layout or meaning of the snapshot or the state
/// changes (2: the state holds each overlay node's tallies).
pub const FORMAT: u32 = 2;
const MAGIC: &[u8; 12] = b"skillc-index";
/// Magic, format version, header length.
const PREAMBLE: usize = MAGIC.len() + 4 + 4;

/// The automatic index of a base: beside it, `BASE.skillc-index`.
pub fn default_path(base: &Path) -> PathBuf {
    let mut name = base.as_os_str().to_owned();
    name.push(".skillc-index");
    PathBuf::from(name)
}

/// What identifies the base file an index was built from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseFile {
    pub size: u64,
    /// Modification and status-change times (ns since the epoch), inode
    /// and device: the quick check.
    pub stamp: Stamp,
    /// xxh3-128 of the bytes: the trusted check.
    pub digest: u128,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    modified: i128,
    changed: i128,
    inode: u64,
    device: u64,
}

fn stamp(meta: &std::fs::Metadata) -> Stamp {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        Stamp {
            modified: ns(meta.mtime(), meta.mtime_nsec()),
            changed: ns(meta.ctime(), meta.ctime_nsec()),
            inode: meta.ino(),
            device: meta.dev(),
        }
    }
    #[cfg(not(unix))]
    {
        let modified = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos() as i128);
        Stamp { modified, changed: 0, inode: 0, device: 0 }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    skillc: String,
    program: u128,
    base: BaseFile,
    /// Non-blank lines of the base.
    base_lines: u64,
    /// (name, offset from the end of the header, length, xxh3-128).
    sections: Vec<(String, u64, u64, u128)>,
}

/// The base as loaded, minus what a check of candidates never reads of it
/// (the schema reasons of base records are not reported).
#[derive(Serialize, Deserialize)]
struct Snapshot {
    table: Table,
    masks: Masks,
    entries: Vec<LineReport>,
    json_errors: Vec<(u32, Box<str>)>,
}

/// Why an index file was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Built from another base, for other skills or by another skillc: the
    /// expected outcome after the base or the skills changed.
    Stale(String),
    /// Not an index, truncated, damaged, or of another format.
    Damaged(String),
}

impl Refusal {
    pub fn message(&self) -> &str {
        match self {
            Refusal::Stale(m) | Refusal::Damaged(m) => m,
        }
    }
}

/// A digest of what the program makes of a base: the skill sources (the
/// schema and rules come from them), the fields the store keeps and the
/// rules checked (`--select`/`--ignore` change both).
pub fn program_digest(c: &Compiled) -> u128 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    let mut part = |bytes: &[u8]| {
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    // The text, not the name: `--skills skills` and `--skills ./skills`
    // make the same program.
    for (_, file) in c.program.db.files() {
        part(file.text.as_bytes());
    }
    for rule in &c.program.rules {
        part(rule.id.as_bytes());
    }
    let retained: Vec<u8> = c.retained.iter().flat_map(|f| f.0.to_le_bytes()).collect();
    part(&retained);
    part(format!("{:?}", c.program.schema.entity(c.entity)).as_bytes());
    h.digest128()
}

/// A reader that hashes what passes through it.
struct Hashing<R> {
    inner: R,
    hasher: xxhash_rust::xxh3::Xxh3,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

fn io_error(path: &Path, e: impl std::fmt::Display) -> String {
    format!("cannot read `{}`: {}", path.display(), e.to_string().to_lowercase())
}

/// xxh3-128 of a file's bytes.
pub fn digest_file(path: &Path) -> Result<u128, String> {
    let file = std::fs::File::open(path).map_err(|e| io_error(path, e))?;
    let mut hashing = Hashing { inner: file, hasher: xxhash_rust::xxh3::Xxh3::new() };
    std::io::copy(&mut hashing, &mut std::io::sink()).map_err(|e| io_error(path, e))?;
    Ok(hashing.hasher.digest128())
}

/// Loads the base from its JSON, as a check without an index does, and
/// what identifies the bytes read (None when the file changed while it was
/// read: then no index may be written from it).
pub fn load_from_json(c: &Compiled, base: &Path) -> Result<(Loaded, Option<BaseFile>), String> {
    let before = std::fs::metadata(base).map_err(|e| io_error(base, e))?;
    let file = super::cli::open_dataset(base)?;
    let mut hashing = Hashing { inner: file, hasher: xxhash_rust::xxh3::Xxh3::new() };
    let loaded = load_sized(c, &mut hashing, None, false, Some(before.len())).map_err(|e| io_error(base, e))?;
    let after = std::fs::metadata(base).map_err(|e| io_error(base, e))?;
    let unchanged = stamp(&before) == stamp(&after) && before.len() == after.len();
    let file = unchanged.then(|| BaseFile { size: after.len(), stamp: stamp(&after), digest: hashing.hasher.digest128() });
    Ok((loaded, file))
}

/// Writes the index of a loaded base to `path`, atomically (a temporary
/// file beside it renamed over it). `base_path` is re-read for where its
/// lines are.
pub fn write(c: &Compiled, path: &Path, loaded: &Loaded, base: &BaseFile, base_path: &Path) -> Result<(), String> {
    let mut timer = super::Timer::new();
    let snapshot = SnapshotRef { table: &loaded.table, masks: &loaded.masks, entries: &loaded.entries, json_errors: &loaded.json_errors };
    let encode = |e: postcard::Error| format!("cannot encode the index: {e}");
    // The snapshot is encoded beside the state's build (one core each).
    let (encoded, built) = rayon::join(
        || postcard::to_stdvec(&snapshot),
        || super::cli::open_dataset(base_path).and_then(|mut file| incremental::build(c, loaded, &mut file)),
    );
    let mut sections: Vec<(String, Vec<u8>)> = vec![("snapshot".into(), encoded.map_err(encode)?)];
    if let Some((state, raw)) = built? {
        timer.phase("index: snapshot encoded, state built");
        sections.push(("state".into(), postcard::to_stdvec(&state).map_err(encode)?));
        sections.extend(raw);
        timer.phase("index: state encoded");
    }
    let mut table = Vec::new();
    let mut offset = 0u64;
    for (name, bytes) in &sections {
        // Each section starts 8-aligned within the body.
        offset = offset.next_multiple_of(8);
        table.push((name.clone(), offset, bytes.len() as u64, xxhash_rust::xxh3::xxh3_128(bytes)));
        offset += bytes.len() as u64;
    }
    let header = Header {
        skillc: env!("CARGO_PKG_VERSION").to_string(),
        program: program_digest(c),
        base: base.clone(),
        base_lines: loaded.entries.len() as u64,
        sections: table,
    };
    let header = postcard::to_stdvec(&header).map_err(encode)?;
    let io = |e: std::io::Error| format!("cannot write `{}`: {}", path.display(), e.to_string().to_lowercase());
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".skillc-index-").tempfile_in(dir).map_err(io)?;
    {
        use std::io::Write;
        let mut out = std::io::BufWriter::new(tmp.as_file_mut());
        out.write_all(MAGIC).map_err(io)?;
        out.write_all(&FORMAT.to_le_bytes()).map_err(io)?;
        out.write_all(&(header.len() as u32).to_le_bytes()).map_err(io)?;
        out.write_all(&header).map_err(io)?;
        let mut at = 0u64;
        for (_, bytes) in &sections {
            let pad = at.next_multiple_of(8) - at;
            out.write_all(&[0u8; 8][..pad as usize]).map_err(io)?;
            out.write_all(bytes).map_err(io)?;
            at += pad + bytes.len() as u64;
        }
        out.flush().map_err(io)?;
    }
    tmp.persist(path).map_err(|e| io(e.error))?;
    timer.phase("index: written");
    Ok(())
}

/// Writes the index of the base at `base` after `--merge` appended
/// `merge.merged` (a line each, the first line `merge.first_line`) to the
/// base `opened` was the index of: the snapshot
/// decoded and the appended records loaded onto it, as a load of the
/// merged file would give them, then the index written from that, so the
/// next check reads an index instead of the JSON. Ok(false) when it was
/// not written (the base moved under the merge: the next check rebuilds).
pub fn after_merge(c: &Compiled, opened: &Opened, path: &Path, base: &Path, merge: &crate::batch::merge::Merge) -> Result<bool, String> {
    let appended = merge.appended();
    let expected = opened.header.base.size + appended.len() as u64 + u64::from(merge.separated);
    let mut timer = super::Timer::new();
    let mut loaded = opened.snapshot(c).map_err(|r| r.message().to_string())?;
    timer.phase("index: snapshot decoded");
    let before = std::fs::metadata(base).map_err(|e| io_error(base, e))?;
    if before.len() != expected {
        return Ok(false);
    }
    let line_numbers: Vec<u32> = (0..merge.merged.len() as u32).map(|i| merge.first_line + i).collect();
    let Some(new) = incremental::load_lines(c, appended, &line_numbers, false) else { return Ok(false) };
    let rows = loaded.table.rows as u32;
    loaded.table.append(&new.table);
    loaded.masks.extend(&new.masks);
    loaded.entries.extend(new.entries.iter().enumerate().map(|(i, e)| LineReport::new(e.line, rows + i as u32)));
    timer.phase("index: merged records loaded onto it");
    let digest = digest_file(base)?;
    let after = std::fs::metadata(base).map_err(|e| io_error(base, e))?;
    // The digest is of the file as merged only if nothing moved it since.
    if stamp(&before) != stamp(&after) || after.len() != expected {
        return Ok(false);
    }
    timer.phase("index: merged base hashed");
    write(c, path, &loaded, &BaseFile { size: after.len(), stamp: stamp(&after), digest }, base)?;
    Ok(true)
}

/// `Snapshot` by reference, for writing without a copy of the columns.
#[derive(Serialize)]
struct SnapshotRef<'a> {
    table: &'a Table,
    masks: &'a Masks,
    entries: &'a [LineReport],
    json_errors: &'a [(u32, Box<str>)],
}

/// An index whose header, key and state sections passed every check.
pub struct Opened {
    map: memmap2::Mmap,
    header: Header,
    /// Where the body starts in `map`.
    body: usize,
    path: PathBuf,
    /// The base's bytes were hashed and found equal although its stamp
    /// moved: the caller may rewrite the index with this key.
    pub refreshed: Option<BaseFile>,
}

impl Opened {
    fn section(&self, name: &str) -> Option<&[u8]> {
        let (_, offset, len, _) = self.header.sections.iter().find(|s| s.0 == name)?;
        self.map.get(self.body + *offset as usize..self.body + (*offset + *len) as usize)
    }

    /// Non-blank lines of the base.
    pub fn base_lines(&self) -> usize {
        self.header.base_lines as usize
    }

    /// The whole base, decoded from the snapshot (its digest checked).
    pub fn snapshot(&self, c: &Compiled) -> Result<Loaded, Refusal> {
        let damaged = |what: &str| Refusal::Damaged(format!("`{}` {what}", self.path.display()));
        let bytes = self.section("snapshot").ok_or_else(|| damaged("is truncated"))?;
        let digest = self.header.sections.iter().find(|s| s.0 == "snapshot").map(|s| s.3);
        if Some(xxhash_rust::xxh3::xxh3_128(bytes)) != digest {
            return Err(damaged("is damaged (its checksum does not match)"));
        }
        let snapshot: Snapshot = postcard::from_bytes(bytes).map_err(|_| damaged("cannot be decoded"))?;
        let loaded = Loaded {
            table: snapshot.table,
            masks: snapshot.masks,
            entries: snapshot.entries,
            json_errors: snapshot.json_errors,
            reasons: Vec::new(),
        };
        if !consistent(c, &loaded) {
            return Err(damaged("does not match the skills' columns"));
        }
        Ok(loaded)
    }

    /// Runs `f` on the index's incremental state; None when it has none
    /// (rules of a form an index cannot update).
    pub fn with_state<R>(&self, f: impl FnOnce(&incremental::View<'_>) -> R) -> Option<R> {
        let state = self.section("state").and_then(|b| postcard::from_bytes::<incremental::State>(b).ok())?;
        let section = |name: &str| self.section(name);
        Some(f(&incremental::View { state, section: &section }))
    }

    /// Checks `candidates` against the base: incrementally when the index
    /// has a state, else (or when that needs the whole base) from the
    /// snapshot. The report is the full check's either way.
    pub fn check(&self, c: &Compiled, base: &Path, candidates: Loaded) -> Result<super::Report, String> {
        let mut timer = super::Timer::new();
        if let Some(state) = self.section("state").and_then(|b| postcard::from_bytes::<incremental::State>(b).ok()) {
            let section = |name: &str| self.section(name);
            let view = incremental::View { state, section: &section };
            let file = super::cli::open_dataset(base)?;
            if let Some(report) = incremental::check(c, &view, &file, candidates.clone()) {
                return Ok(report);
            }
            timer.phase("incremental check gave way to the full base");
        }
        let full = self.snapshot(c).map_err(|r| format!("{}; rebuild it with `skillc index {}`", r.message(), base.display()))?;
        timer.phase("base read from its snapshot");
        Ok(super::check(c, Some(full), candidates))
    }
}

/// Reads the index at `path` for the base at `base`, or why the file
/// cannot be used: every check but the snapshot's digest (taken only if
/// the snapshot is read) passes before `Ok`.
pub fn read(c: &Compiled, path: &Path, base: &Path) -> Result<Opened, Refusal> {
    let damaged = |what: &str| Refusal::Damaged(format!("`{}` {what}", path.display()));
    let unreadable = |e: std::io::Error| damaged(&format!("cannot be read: {}", e.to_string().to_lowercase()));
    let file = std::fs::File::open(path).map_err(unreadable)?;
    // SAFETY: the index is only ever replaced by renaming a new file over
    // it (`write`), never written in place, so the mapped pages do not
    // change under us; a file someone truncates in place could fault, as
    // with any mapped file, but not be misread: every byte used is
    // digest-checked first.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(unreadable)?;
    let bytes = &map[..];
    if bytes.len() < PREAMBLE || &bytes[..MAGIC.len()] != MAGIC {
        return Err(damaged("is not a skillc index"));
    }
    let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("four bytes"));
    let format = word(MAGIC.len());
    if format != FORMAT {
        return Err(damaged(&format!("is of index format {format}; this skillc reads format {FORMAT}")));
    }
    let header_len = word(MAGIC.len() + 4) as usize;
    let Some(header) = bytes.get(PREAMBLE..PREAMBLE + header_len) else { return Err(damaged("is truncated")) };
    let header: Header = postcard::from_bytes(header).map_err(|_| damaged("has a damaged header"))?;
    let body = PREAMBLE + header_len;
    if header.skillc != env!("CARGO_PKG_VERSION") {
        return Err(Refusal::Stale(format!("`{}` was built by skillc {}", path.display(), header.skillc)));
    }
    if header.program != program_digest(c) {
        return Err(Refusal::Stale(format!("`{}` was built for other skills", path.display())));
    }
    let meta = std::fs::metadata(base).map_err(|e| Refusal::Stale(io_error(base, e)))?;
    let mut refreshed = None;
    if meta.len() != header.base.size {
        return Err(Refusal::Stale(format!("`{}` changed since `{}` was built", base.display(), path.display())));
    }
    if stamp(&meta) != header.base.stamp {
        let digest = digest_file(base).map_err(Refusal::Stale)?;
        if digest != header.base.digest {
            return Err(Refusal::Stale(format!("`{}` changed since `{}` was built", base.display(), path.display())));
        }
        refreshed = Some(BaseFile { size: meta.len(), stamp: stamp(&meta), digest });
    }
    let end = header.sections.iter().map(|s| s.1 + s.2).max().unwrap_or(0);
    if (bytes.len() - body) as u64 != end {
        return Err(damaged("is truncated"));
    }
    // Every section but the snapshot is read on each check: verified now.
    for (name, offset, len, digest) in &header.sections {
        if name == "snapshot" {
            continue;
        }
        let section = &bytes[body + *offset as usize..body + (*offset + *len) as usize];
        if xxhash_rust::xxh3::xxh3_128(section) != *digest {
            return Err(damaged("is damaged (its checksum does not match)"));
        }
    }
    let opened = Opened { header, body, path: path.to_path_buf(), refreshed, map };
    Ok(opened)
}

/// The decoded snapshot has the shape the program expects: a column per
/// field, as many masks and records as rows. (The checksum already rules
/// out damage; this guards the evaluator against a digest collision.)
fn consistent(c: &Compiled, loaded: &Loaded) -> bool {
    let records = loaded.entries.iter().filter(|e| e.slot != super::NOT_JSON).count();
    loaded.table.columns.len() == c.plan.table().columns.len() && loaded.masks.len() == loaded.table.rows && records == loaded.table.rows
}

/// How a check uses an index for its base.
#[derive(Clone, Debug)]
pub enum Use<'p> {
    /// The automatic index beside the base: read when it is valid, else
    /// (re)built.
    Automatic,
    /// This index file: read when it is valid, else refused.
    File(&'p Path),
    /// No index: the base's JSON is read (`--no-index`).
    Off,
}

impl Use<'_> {
    /// The index file this use reads for the base at `base`, if any.
    pub fn path(&self, base: &Path) -> Option<PathBuf> {
        match self {
            Use::Automatic => Some(default_path(base)),
            Use::File(path) => Some(path.to_path_buf()),
            Use::Off => None,
        }
    }
}

/// The base of a check: its JSON loaded, or its index opened.
pub enum Base {
    Json(Loaded),
    Indexed(Box<Opened>),
}

impl Base {
    /// Non-blank lines of the base.
    pub fn lines(&self) -> usize {
        match self {
            Base::Json(l) => l.entries.len(),
            Base::Indexed(o) => o.base_lines(),
        }
    }

    /// Checks `candidates` against this base.
    pub fn check(self, c: &Compiled, path: &Path, candidates: Loaded) -> Result<super::Report, String> {
        match self {
            Base::Json(loaded) => Ok(super::check(c, Some(loaded), candidates)),
            Base::Indexed(index) => index.check(c, path, candidates),
        }
    }
}

/// The base of a check, from its index when one can be used. `note`
/// receives what a user should hear about (a damaged automatic index that
/// was rebuilt).
pub fn base_for_check(c: &Compiled, base: &Path, index: Use<'_>, note: &mut dyn FnMut(String)) -> Result<Base, String> {
    let mut timer = super::Timer::new();
    // Only a regular file has a stamp to key an index by.
    let regular = std::fs::metadata(base).is_ok_and(|m| m.is_file());
    match index {
        Use::Off => Ok(Base::Json(load_from_json(c, base)?.0)),
        _ if !regular => Ok(Base::Json(load_from_json(c, base)?.0)),
        Use::File(path) => match read(c, path, base) {
            Ok(found) => {
                timer.phase("base read from its index");
                Ok(Base::Indexed(Box::new(found)))
            }
            Err(refusal) => Err(format!("{}; rebuild it with `skillc index {}`", refusal.message(), base.display())),
        },
        Use::Automatic => {
            let path = default_path(base);
            match read(c, &path, base) {
                Ok(found) => {
                    timer.phase("base read from its index");
                    if let Some(file) = found.refreshed.clone() {
                        // The same bytes under a new stamp: keep the quick
                        // check quick next time. Best effort.
                        if let Ok(loaded) = found.snapshot(c) {
                            let _ = write(c, &path, &loaded, &file, base);
                        }
                    }
                    Ok(Base::Indexed(Box::new(found)))
                }
                Err(refusal) => {
                    if path.exists() {
                        if let Refusal::Damaged(why) = &refusal {
                            note(format!("{why}: rebuilt from `{}`", base.display()));
                        }
                    }
                    let (loaded, file) = load_from_json(c, base)?;
                    // Best effort: a base in a folder this user cannot
                    // write to is checked without a cache.
                    if let Some(file) = file {
                        let _ = write(c, &path, &loaded, &file, base);
                    }
                    Ok(Base::Json(loaded))
                }
            }
        }
    }
}
