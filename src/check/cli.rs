//! `skillc check`: arguments, inputs, outputs. Thin: the work is in
//! [`crate::check`] and [`crate::report`].

use super::{check, load, load_sized, Compiled, Loaded, Verdict};
use crate::diagnostic::{self, Diagnostic};
use crate::ir::Program;
use std::fs::File;
use std::io::{BufRead, BufWriter, IsTerminal, Read, Seek, Write};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// The JSON Lines dataset (`-` for standard input)
    pub dataset: PathBuf,
    /// Skill folders or files (repeatable; default ./skills, else the shipped skills)
    #[arg(long = "skills", value_name = "PATH")]
    pub skills: Vec<PathBuf>,
    /// Output format: text for people, json for programs (JSON Lines)
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
    /// Copy accepted (and flagged) lines to this file
    #[arg(long, value_name = "FILE")]
    pub accepted: Option<PathBuf>,
    /// Copy rejected lines to this file
    #[arg(long, value_name = "FILE")]
    pub rejected: Option<PathBuf>,
    /// An existing dataset the candidates are checked against (only candidates are reported)
    #[arg(long, value_name = "DATASET")]
    pub base: Option<PathBuf>,
    /// Show at most this many findings per rule in text output
    #[arg(long, default_value_t = 20)]
    pub max_per_rule: usize,
    /// Worker threads (default: one per core)
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    Text,
    Json,
}

/// Compiles the skills a command should use: the given paths; else
/// `./skills` when it exists; else the shipped skills built into skillc.
pub fn load_skills(paths: &[PathBuf]) -> Result<(Program, Vec<Diagnostic>), String> {
    if !paths.is_empty() {
        return Ok(crate::compile_paths(paths));
    }
    let local = PathBuf::from("skills");
    if local.is_dir() {
        return Ok(crate::compile_paths(&[local]));
    }
    Ok(crate::compile_sources(&crate::embedded::skills()))
}

pub(crate) fn file_size(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().filter(|m| m.is_file()).map(|m| m.len())
}

pub(crate) fn open_dataset(path: &Path) -> Result<File, String> {
    if path.is_dir() {
        return Err(format!("`{}` is a directory, not a dataset", path.display()));
    }
    File::open(path).map_err(|e| format!("cannot read `{}`: {}", path.display(), e.to_string().to_lowercase()))
}

pub fn run(args: CheckArgs) -> Result<u8, String> {
    // Workers parse lines: 16 MiB stacks, because a line nested to the JSON
    // parser's depth limit overflowed rayon's default 2 MiB in a debug build
    // (tests/hostile_data.rs `deep_nesting_is_a_json_rejection`).
    let threads = args.threads.map_or(0, |n| n.max(1)); // 0: one per core
    rayon::ThreadPoolBuilder::new().num_threads(threads).stack_size(16 << 20).build_global().map_err(|e| e.to_string())?;
    let (program, diags) = load_skills(&args.skills)?;
    if diags.iter().any(Diagnostic::is_error) {
        let errors: Vec<Diagnostic> = diags.into_iter().filter(Diagnostic::is_error).collect();
        eprint!("{}", diagnostic::render_terminal(&program.db, &errors, std::io::stderr().is_terminal()));
        return Err(format!("the skills do not compile ({} error{})", errors.len(), if errors.len() == 1 { "" } else { "s" }));
    }
    let compiled = Compiled::new(program)?;

    let base = match &args.base {
        Some(path) => Some(
            load_sized(&compiled, open_dataset(path)?, None, false, file_size(path))
                .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?,
        ),
        None => None,
    };
    let splitting = args.accepted.is_some() || args.rejected.is_some();
    // Standard input, and any dataset that is not a regular file (a named
    // pipe, a shell's `<(…)`), is spilled to a temporary file so the split
    // can re-read it: re-opening a pipe found it drained, and the split
    // files got blank lines (tests/hostile_data.rs
    // `a_named_pipe_as_the_dataset_is_split_completely`).
    let stdin = args.dataset.as_os_str() == "-";
    let (candidates, mut reread): (Loaded, Option<File>) = if stdin || file_size(&args.dataset).is_none() {
        let mut spill = if splitting { Some(tempfile::tempfile().map_err(|e| e.to_string())?) } else { None };
        let (input, name): (Box<dyn Read + Send>, String) = if stdin {
            (Box::new(std::io::stdin()), "standard input".into())
        } else {
            (Box::new(open_dataset(&args.dataset)?), format!("`{}`", args.dataset.display()))
        };
        let loaded = load(&compiled, input, spill.as_mut().map(|f| f as &mut (dyn Write + Send)), true)
            .map_err(|e| format!("cannot read {name}: {e}"))?;
        if let Some(f) = spill.as_mut() {
            f.rewind().map_err(|e| e.to_string())?;
        }
        (loaded, spill)
    } else {
        let file = open_dataset(&args.dataset)?;
        let loaded = load_sized(&compiled, file, None, true, file_size(&args.dataset))
            .map_err(|e| format!("cannot read `{}`: {e}", args.dataset.display()))?;
        (loaded, if splitting { Some(open_dataset(&args.dataset)?) } else { None })
    };

    let report = check(&compiled, base, candidates);

    let mut timer = super::Timer::new();
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let written = match args.format {
        OutputFormat::Json => crate::report::write_json(&compiled, &report, &mut out),
        OutputFormat::Text => {
            let text = crate::report::render_text(&compiled, &report, args.max_per_rule, std::io::stdout().is_terminal());
            out.write_all(text.as_bytes())
        }
    };
    match written.and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => return Err(format!("cannot write the report: {e}")),
        Ok(()) => {}
    }
    timer.phase("report written");

    if let Some(input) = reread.as_mut() {
        split(input, &report, args.accepted.as_deref(), args.rejected.as_deref())?;
        timer.phase("accepted and rejected lines split");
    }
    Ok(if report.summary.rejected > 0 { 1 } else { 0 })
}

/// Writes a file atomically: to a temporary file beside it, renamed into
/// place only when complete.
struct AtomicFile {
    file: BufWriter<tempfile::NamedTempFile>,
    path: PathBuf,
}

impl AtomicFile {
    fn create(path: &Path) -> Result<AtomicFile, String> {
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let file = tempfile::NamedTempFile::new_in(dir).map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
        Ok(AtomicFile { file: BufWriter::new(file), path: path.to_path_buf() })
    }
    fn commit(self) -> Result<(), String> {
        let path = self.path;
        let file = self.file.into_inner().map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
        file.persist(&path).map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
        Ok(())
    }
}

/// Copies each non-blank line, byte for byte, to the accepted or the
/// rejected file (flagged lines are accepted).
fn split(input: &mut File, report: &super::Report, accepted: Option<&Path>, rejected: Option<&Path>) -> Result<(), String> {
    let mut accepted = accepted.map(AtomicFile::create).transpose()?;
    let mut rejected = rejected.map(AtomicFile::create).transpose()?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, input);
    let mut buf = Vec::new();
    let mut reports = report.lines.iter().peekable();
    // The input again, line by line as the loader cut it (to each `\n`):
    // a line with a report is copied whole, blank lines are skipped.
    let mut line_no: u32 = 0;
    while reports.peek().is_some() {
        buf.clear();
        if reader.read_until(b'\n', &mut buf).map_err(|e| e.to_string())? == 0 {
            break;
        }
        line_no += 1;
        let Some(line) = reports.next_if(|l| l.line == line_no) else { continue };
        // The byte-order mark is not part of the first line.
        let text = if line_no == 1 { buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&buf) } else { &buf[..] };
        let target = if report.verdict(line) == Verdict::Rejected { rejected.as_mut() } else { accepted.as_mut() };
        if let Some(t) = target {
            let written = t.file.write_all(text).and_then(|()| if text.last() == Some(&b'\n') { Ok(()) } else { t.file.write_all(b"\n") });
            written.map_err(|e| format!("cannot write `{}`: {e}", t.path.display()))?;
        }
    }
    if let Some(a) = accepted {
        a.commit()?;
    }
    if let Some(r) = rejected {
        r.commit()?;
    }
    Ok(())
}
