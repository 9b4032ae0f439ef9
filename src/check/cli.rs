//! `skillc check`: arguments, inputs, outputs. Thin: the work is in
//! [`crate::check`] and [`crate::report`].

use super::{check, load_with_progress, Compiled, Loaded, Verdict};
use crate::diagnostic::{self, Diagnostic};
use crate::ir::Program;
use crate::report::Warning;
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
    /// Skill folders or files compiled together with the default skills (repeatable; --skills replaces them)
    #[arg(long = "add-skills", value_name = "PATH")]
    pub add_skills: Vec<PathBuf>,
    /// Output format: text for people, json for programs (JSON Lines)
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
    /// Copy accepted (and flagged) lines to this file (`-` for standard output)
    #[arg(long, value_name = "FILE")]
    pub accepted: Option<PathBuf>,
    /// Copy rejected lines to this file (`-` for standard output)
    #[arg(long, value_name = "FILE")]
    pub rejected: Option<PathBuf>,
    /// An existing dataset the candidates are checked against (only candidates are reported)
    #[arg(long, value_name = "DATASET")]
    pub base: Option<PathBuf>,
    /// Read the base from this index file (`skillc index BASE -o FILE`); refused when it does not match the base or the skills
    #[arg(long, value_name = "FILE", requires = "base", conflicts_with = "no_index")]
    pub index: Option<PathBuf>,
    /// Read the base's JSON, neither reading nor writing its automatic index (BASE.skillc-index)
    #[arg(long, requires = "base")]
    pub no_index: bool,
    /// Show at most this many findings per rule in text output
    #[arg(long, default_value_t = 20)]
    pub max_per_rule: usize,
    /// Worker threads (default: one per core)
    #[arg(long)]
    pub threads: Option<usize>,
    /// Check only these rules: rule ids or skill names, comma-separated (repeatable)
    #[arg(long, value_name = "RULES", value_delimiter = ',')]
    pub select: Vec<String>,
    /// Do not check these rules: rule ids or skill names, comma-separated (repeatable)
    #[arg(long, value_name = "RULES", value_delimiter = ',')]
    pub ignore: Vec<String>,
    /// What makes the exit status 1, comma-separated; a rejected line always does
    #[arg(long, value_enum, value_name = "WHEN", value_delimiter = ',', default_value = "reject")]
    pub fail_on: Vec<FailOn>,
    /// Write the report to this file instead of standard output (`-` for standard output)
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Only the findings: no summary and no warnings (JSON: the lines are unchanged, no warnings on standard error)
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Append the accepted and flagged candidates to the --base dataset, atomically, holding back any that would make a record fail (docs/loop.md)
    #[arg(long, requires = "base")]
    pub merge: bool,
    /// Add the batch's scores to the report: first-try acceptance, coverage of the classes the skills ask for, near-duplicates (docs/loop.md)
    #[arg(long)]
    pub scores: bool,
    /// Append this run's scores as one JSON line to FILE (implies --scores in the line, not in the report)
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// Where the rules run: skillc itself, or the compiled SQL on DuckDB or Spark (docs/sql.md)
    #[arg(long, value_enum, default_value = "native")]
    pub engine: Engine,
    /// The Spark master the plan is submitted to (--engine spark)
    #[arg(long, value_name = "URL", default_value = "local[*]")]
    pub spark_master: String,
    /// Partitions of the records on the engine (default: the engine's)
    #[arg(long, value_name = "N")]
    pub partitions: Option<u32>,
}

/// Where `check` runs the rules.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Native,
    Duckdb,
    Spark,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    Text,
    Json,
}

/// What makes `check` exit with status 1.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOn {
    /// A line is rejected (always on)
    Reject,
    /// A line is rejected or flagged, or a dataset rule has a finding
    Flag,
    /// The dataset, or the base, holds no records
    Empty,
}

/// Compiles the skills a command should use: the given `paths`; else
/// `./skills` when it exists; else the shipped skills built into skillc.
/// The skills at `add` are compiled together with whichever of those is used
/// (`--add-skills`: a user's skill beside the shipped ones).
pub fn load_skills(paths: &[PathBuf], add: &[PathBuf]) -> Result<(Program, Vec<Diagnostic>), String> {
    let with_added = |base: &[PathBuf]| -> Vec<PathBuf> { base.iter().chain(add).cloned().collect() };
    if !paths.is_empty() {
        return Ok(crate::compile_paths(&with_added(paths)));
    }
    let local = PathBuf::from("skills");
    if local.is_dir() {
        return Ok(crate::compile_paths(&with_added(&[local])));
    }
    Ok(crate::compile_mixed(&crate::embedded::skills(), add))
}

pub(crate) fn file_size(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().filter(|m| m.is_file()).map(|m| m.len())
}

/// An I/O error as the messages show it: lower case, and without the name
/// of the temporary file that tempfile appends (`… at path "/d/.tmpk4eHfT"`:
/// the user gave another path).
fn io_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    text.split(" at path ").next().unwrap_or(&text).to_lowercase()
}

pub(crate) fn open_dataset(path: &Path) -> Result<File, String> {
    if path.is_dir() {
        return Err(format!("`{}` is a directory, not a dataset", path.display()));
    }
    File::open(path).map_err(|e| format!("cannot read `{}`: {}", path.display(), io_text(&e)))
}

/// `-` as an output file: standard output.
fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// At most one of `--output`, `--accepted`, `--rejected` is standard output.
fn check_outputs(args: &CheckArgs) -> Result<(), String> {
    let to_stdout: Vec<String> = [("--output", &args.output), ("--accepted", &args.accepted), ("--rejected", &args.rejected)]
        .into_iter()
        .filter(|(_, path)| path.as_deref().is_some_and(is_stdout))
        .map(|(flag, _)| format!("`{flag} -`"))
        .collect();
    if to_stdout.len() > 1 {
        let (all, but) = if to_stdout.len() == 2 { ("both", "one of them") } else { ("all", "all but one of them") };
        return Err(format!("{} would {all} write to standard output; give {but} a file", to_stdout.join(" and ")));
    }
    Ok(())
}

/// The names `--select` and `--ignore` accept besides rule ids and skill
/// names: the input checks every line goes through.
const INPUT_CHECKS: [&str; 2] = ["json", "schema"];

/// Keeps the rules `--select` names (every rule when it names none), less
/// those `--ignore` names; a name is a rule id or a skill name. `json` and
/// `schema` are the input checks: always run (no rule can evaluate a line
/// that is not an object, nor the rules that read it a field of the wrong
/// type, and such a line must still be accounted for), so they may be
/// selected but not ignored. The kept rules are renumbered, so the
/// examples (which name rules by number, and which `check` never runs) are
/// dropped.
fn select_rules(program: &mut Program, select: &[String], ignore: &[String]) -> Result<(), String> {
    if select.is_empty() && ignore.is_empty() {
        return Ok(());
    }
    for (flag, names) in [("--select", select), ("--ignore", ignore)] {
        for name in names {
            if INPUT_CHECKS.contains(&name.as_str()) {
                if flag == "--ignore" {
                    return Err(format!("`{name}` cannot be ignored: it is an input check, and a line that fails it is never accepted"));
                }
                continue;
            }
            if !program.rules.iter().any(|r| r.id == *name || r.skill == *name) {
                let known = program.rules.iter().flat_map(|r| [r.id.as_str(), r.skill.as_str()]).chain(INPUT_CHECKS);
                let help = diagnostic::did_you_mean(name, known).unwrap_or_else(|| "`skillc rules` lists them".into());
                return Err(format!("unknown rule or skill `{name}` in `{flag}`; {help}"));
            }
        }
    }
    let named = |r: &crate::ir::Rule, names: &[String]| names.iter().any(|n| *n == r.id || *n == r.skill);
    program.rules.retain(|r| (select.is_empty() || named(r, select)) && !named(r, ignore));
    program.examples.clear();
    Ok(())
}

/// A dataset (or base) with no record: a warning, or with `--fail-on
/// empty` an error.
fn empty_input(name: &str, base: bool) -> Warning {
    let message = if base {
        format!("the base {name} holds no records: the candidates were checked alone")
    } else {
        format!("{name} holds no records: nothing was checked")
    };
    Warning { kind: "empty", message }
}

pub fn run(args: CheckArgs) -> Result<u8, String> {
    check_outputs(&args)?;
    // Every output is opened before the work, so a missing directory is
    // reported at once; each is written to a temporary file renamed into
    // place at the end, so a run that fails leaves nothing behind.
    let accepted = args.accepted.as_deref().map(Sink::open).transpose()?;
    let rejected = args.rejected.as_deref().map(Sink::open).transpose()?;
    let split_to_stdout = [&accepted, &rejected].iter().any(|s| matches!(s, Some(Sink::Stream(..))));
    let out = match args.output.as_deref() {
        Some(path) if !is_stdout(path) => Sink::open(path)?,
        // The split owns standard output: the report goes to standard error.
        _ if split_to_stdout => Sink::stderr(),
        _ => Sink::stdout(),
    };

    // Workers parse lines: 16 MiB stacks, because a line nested to the JSON
    // parser's depth limit overflowed rayon's default 2 MiB in a debug build
    // (tests/hostile_data.rs `deep_nesting_is_a_json_rejection`).
    let threads = args.threads.map_or(0, |n| n.max(1)); // 0: one per core
    rayon::ThreadPoolBuilder::new().num_threads(threads).stack_size(16 << 20).build_global().map_err(|e| e.to_string())?;
    let (mut program, diags) = load_skills(&args.skills, &args.add_skills)?;
    if diags.iter().any(Diagnostic::is_error) {
        let errors: Vec<Diagnostic> = diags.into_iter().filter(Diagnostic::is_error).collect();
        eprint!("{}", diagnostic::render_terminal(&program.db, &errors, std::io::stderr().is_terminal()));
        return Err(format!("the skills do not compile ({} error{})", errors.len(), if errors.len() == 1 { "" } else { "s" }));
    }
    select_rules(&mut program, &args.select, &args.ignore)?;
    let compiled = Compiled::new(program)?;
    if args.engine != Engine::Native {
        return run_on_engine(args, compiled, accepted, rejected, out);
    }

    let mut warnings = Vec::new();
    let base = match &args.base {
        Some(path) => {
            let index = index_use(&args);
            let quiet = args.quiet;
            let loaded = super::base_index::base_for_check(&compiled, path, index, &mut |note| {
                if !quiet {
                    eprintln!("note: {note}");
                }
            })?;
            if loaded.lines() == 0 {
                warnings.push(empty_input(&format!("`{}`", path.display()), true));
            }
            Some(loaded)
        }
        None => None,
    };
    let splitting = accepted.is_some() || rejected.is_some();
    // The candidates are read again for the split, the merge and the
    // near-duplicate score.
    let scoring = args.scores || args.history.is_some();
    let stdin = args.dataset.as_os_str() == "-";
    let rereading = splitting
        || args.merge
        || (scoring && compiled.program.schema.entity(compiled.entity).fingerprint.is_some())
        // Standard input's digest is taken of its spill.
        || (stdin && args.history.is_some());
    // Standard input, and any dataset that is not a regular file (a named
    // pipe, a shell's `<(…)`), is spilled to a temporary file so the split
    // can re-read it: re-opening a pipe found it drained, and the split
    // files got blank lines (tests/hostile_data.rs
    // `a_named_pipe_as_the_dataset_is_split_completely`).
    let name = if stdin { "standard input".to_string() } else { format!("`{}`", args.dataset.display()) };
    // A bar on a terminal once the check has run for a second (src/check/progress.rs).
    let mut progress = super::progress::Progress::on_stderr(args.quiet, if stdin { None } else { file_size(&args.dataset) });
    let (candidates, reread): (Loaded, Option<File>) = if stdin || file_size(&args.dataset).is_none() {
        let mut spill = if rereading { Some(tempfile::tempfile().map_err(|e| e.to_string())?) } else { None };
        let input: Box<dyn Read + Send> = if stdin { Box::new(std::io::stdin()) } else { Box::new(open_dataset(&args.dataset)?) };
        let loaded = load_with_progress(&compiled, input, spill.as_mut().map(|f| f as &mut (dyn Write + Send)), true, None, &progress)
            .map_err(|e| format!("cannot read {name}: {e}"))?;
        if let Some(f) = spill.as_mut() {
            f.rewind().map_err(|e| e.to_string())?;
        }
        (loaded, spill)
    } else {
        let file = open_dataset(&args.dataset)?;
        let loaded = load_with_progress(&compiled, file, None, true, file_size(&args.dataset), &progress)
            .map_err(|e| format!("cannot read {name}: {e}"))?;
        (loaded, if rereading { Some(open_dataset(&args.dataset)?) } else { None })
    };

    let report = match (base, &args.base) {
        (Some(base), Some(path)) => base.check(&compiled, path, candidates)?,
        _ => check(&compiled, None, candidates),
    };
    // Cleared before anything else is written to the terminal.
    progress.finish();
    report_done(args, compiled, accepted, rejected, out, warnings, reread, report, name, stdin, splitting, scoring)
}

/// How the check reads the index of its base (`--index`, `--no-index`).
fn index_use(args: &CheckArgs) -> super::base_index::Use<'_> {
    match (&args.index, args.no_index) {
        (Some(file), _) => super::base_index::Use::File(file),
        (None, true) => super::base_index::Use::Off,
        (None, false) => super::base_index::Use::Automatic,
    }
}

/// `check --engine duckdb|spark`: the report from the engine, then the
/// same outputs as the native engine's.
fn run_on_engine(args: CheckArgs, compiled: Compiled, accepted: Option<Sink>, rejected: Option<Sink>, out: Sink) -> Result<u8, String> {
    let unsupported =
        [("--base", args.base.is_some()), ("--merge", args.merge), ("--scores", args.scores), ("--history", args.history.is_some())];
    if let Some((flag, _)) = unsupported.iter().find(|(_, used)| *used) {
        return Err(format!("`{flag}` works with the native engine only; leave out `--engine`"));
    }
    if args.dataset.as_os_str() == "-" || file_size(&args.dataset).is_none() {
        open_dataset(&args.dataset)?;
        return Err(format!("`--engine` reads a dataset file, not `{}`: write it to a file first", args.dataset.display()));
    }
    let engine = match args.engine {
        Engine::Spark => crate::sql::dialect::DialectName::Spark,
        _ => crate::sql::dialect::DialectName::Duckdb,
    };
    let options = crate::sql::engine::Options { engine, master: args.spark_master.clone(), partitions: args.partitions };
    let report = crate::sql::engine::check_file(&compiled, &args.dataset, &options)?;
    let splitting = accepted.is_some() || rejected.is_some();
    let reread = if splitting { Some(open_dataset(&args.dataset)?) } else { None };
    let name = format!("`{}`", args.dataset.display());
    report_done(args, compiled, accepted, rejected, out, Vec::new(), reread, report, name, false, splitting, false)
}

/// Everything after the report: the merge, scores, the report written,
/// the split, the history line, the exit status.
#[allow(clippy::too_many_arguments)]
fn report_done(
    args: CheckArgs,
    compiled: Compiled,
    mut accepted: Option<Sink>,
    mut rejected: Option<Sink>,
    mut out: Sink,
    mut warnings: Vec<Warning>,
    mut reread: Option<File>,
    report: super::Report,
    name: String,
    stdin: bool,
    splitting: bool,
    scoring: bool,
) -> Result<u8, String> {
    if report.summary.read == 0 {
        warnings.push(empty_input(&name, false));
    }

    let mut timer = super::Timer::new();
    let merge = match (args.merge, args.base.as_deref(), reread.as_mut()) {
        (true, Some(base), Some(input)) => {
            let kept = crate::batch::merge::kept_lines(&compiled, input, &report)?;
            input.rewind().map_err(|e| e.to_string())?;
            // The index the check used (or wrote) makes each of the
            // merge's checks one of what the candidates reach.
            let index = index_use(&args).path(base).and_then(|p| Some((super::base_index::read(&compiled, &p, base).ok()?, p)));
            let plan = crate::batch::merge::plan(&compiled, base, kept, index.as_ref().map(|(opened, _)| opened))?;
            timer.phase(&format!("merge planned ({} checks, {} from the index)", plan.checks, plan.from_index));
            crate::batch::merge::write(base, &plan.merged)?;
            timer.phase("candidates appended to the base");
            // The index follows the base, so the next check reads it
            // instead of the JSON. Best effort: a stale index is rebuilt.
            if let (Some((index, path)), false) = (&index, plan.merged.is_empty()) {
                let _ = super::base_index::after_merge(&compiled, index, path, base, &plan);
                timer.phase("index of the merged base written");
            }
            Some(plan)
        }
        _ => None,
    };
    let scores = if scoring {
        let duplicates = match reread.as_mut() {
            Some(input) => {
                let d = crate::batch::scores::duplicates(&compiled, args.base.as_deref(), input)?;
                input.rewind().map_err(|e| e.to_string())?;
                d
            }
            None => None,
        };
        Some(crate::batch::scores::scores(&compiled, &report, duplicates.as_ref()))
    } else {
        None
    };
    let merge_line: Vec<serde_json::Value> = merge.iter().map(|m| m.to_json(args.base.as_deref().unwrap_or(Path::new("")))).collect();
    let written = match args.format {
        OutputFormat::Json => {
            let trailer =
                crate::report::Trailer { warnings: &warnings, lines: &merge_line, scores: scores.as_ref().filter(|_| args.scores) };
            crate::report::write_json_with(&compiled, &report, &trailer, &mut out)
        }
        OutputFormat::Text => {
            let color = out.is_terminal();
            let mut text = crate::report::render_findings(&compiled, &report, args.max_per_rule, color);
            if !args.quiet {
                text.push_str(&crate::report::render_summary(&report, color));
                if let (Some(m), Some(base)) = (&merge, args.base.as_deref()) {
                    text.push_str(&m.to_text(base));
                }
                if let Some(s) = scores.as_ref().filter(|_| args.scores) {
                    text.push_str(&crate::batch::scores::to_text(s));
                }
            }
            out.write_all(text.as_bytes())
        }
    };
    written.and_then(|()| out.flush()).map_err(|e| out.write_error(&e))?;
    timer.phase("report written");

    // An empty input is an error under `--fail-on empty` (shown even with
    // `--quiet`), a warning otherwise.
    let fail_on = |when: FailOn| args.fail_on.contains(&when);
    for w in &warnings {
        if fail_on(FailOn::Empty) {
            eprintln!("error: {} (--fail-on empty)", w.message);
        } else if !args.quiet {
            eprintln!("warning: {} (`--fail-on empty` makes this an error)", w.message);
        }
    }

    if let (Some(input), true) = (reread.as_mut(), splitting) {
        split(input, &report, accepted.as_mut(), rejected.as_mut())?;
        timer.phase("accepted and rejected lines split");
    }
    if let (Some(history), Some(scores)) = (&args.history, &scores) {
        let digest_of = |path: &Path| -> Result<String, String> {
            crate::batch::history::digest(open_dataset(path)?).map_err(|e| format!("cannot read `{}`: {e}", path.display()))
        };
        // Standard input was spilled: its digest is the spill's.
        let input_digest = match (stdin, reread.as_mut()) {
            (true, Some(spill)) => {
                spill.rewind().map_err(|e| e.to_string())?;
                crate::batch::history::digest(&*spill).map_err(|e| e.to_string())?
            }
            (true, None) => String::new(),
            (false, _) => digest_of(&args.dataset)?,
        };
        // After a merge the base's digest is of the dataset as merged.
        let base = match args.base.as_deref() {
            Some(b) => Some((b.display().to_string(), digest_of(b)?)),
            None => None,
        };
        let line = crate::batch::history::entry(
            &args.dataset.display().to_string(),
            &input_digest,
            base.as_ref().map(|(p, d)| (p.as_str(), d.as_str())),
            &crate::batch::history::skills_digest(&compiled.program.db),
            scores,
        );
        crate::batch::history::append(history, &line)?;
    }
    for sink in [Some(out), accepted, rejected].into_iter().flatten() {
        sink.finish()?;
    }
    let s = &report.summary;
    let failed = s.rejected > 0
        || (fail_on(FailOn::Flag) && (s.flagged > 0 || !report.dataset.is_empty()))
        || (fail_on(FailOn::Empty) && !warnings.is_empty());
    Ok(u8::from(failed))
}

/// A standard stream that reads a closed reader (`skillc check … | head`)
/// as the end of the output rather than an error.
struct Stream {
    out: Box<dyn Write>,
    closed: bool,
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        match self.out.write(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(buf.len())
            }
            result => result,
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self.out.flush() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            result => result,
        }
    }
}

/// Where the report or a split goes: a file, written atomically, or a
/// standard stream (with its name for messages, and whether a terminal
/// reads it).
enum Sink {
    File(AtomicFile),
    Stream(BufWriter<Stream>, &'static str, bool),
}

impl Sink {
    /// The file at `path`, or standard output for `-`.
    fn open(path: &Path) -> Result<Sink, String> {
        if is_stdout(path) {
            return Ok(Sink::stdout());
        }
        AtomicFile::create(path).map(Sink::File)
    }
    fn stdout() -> Sink {
        let terminal = std::io::stdout().is_terminal();
        Sink::Stream(BufWriter::new(Stream { out: Box::new(std::io::stdout()), closed: false }), "standard output", terminal)
    }
    fn stderr() -> Sink {
        let terminal = std::io::stderr().is_terminal();
        Sink::Stream(BufWriter::new(Stream { out: Box::new(std::io::stderr()), closed: false }), "standard error", terminal)
    }
    fn is_terminal(&self) -> bool {
        matches!(self, Sink::Stream(_, _, true))
    }
    fn write_error(&self, e: &std::io::Error) -> String {
        match self {
            Sink::File(f) => format!("cannot write `{}`: {}", f.path.display(), io_text(e)),
            Sink::Stream(_, name, _) => format!("cannot write to {name}: {}", io_text(e)),
        }
    }
    /// Flushes a stream; renames a file into place.
    fn finish(self) -> Result<(), String> {
        match self {
            Sink::File(f) => f.commit(),
            Sink::Stream(mut out, name, _) => out.flush().map_err(|e| format!("cannot write to {name}: {}", io_text(&e))),
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::File(f) => f.file.write(buf),
            Sink::Stream(out, _, _) => out.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::File(f) => f.file.flush(),
            Sink::Stream(out, _, _) => out.flush(),
        }
    }
}

/// Writes a file atomically: to a temporary file beside it, renamed into
/// place only when complete. A new file gets the mode any program's new
/// file gets (0666 less the umask: the temporary file is opened with 0666,
/// which open(2) masks); a file replaced keeps its mode, as a shell's `>`
/// would keep it.
struct AtomicFile {
    file: BufWriter<tempfile::NamedTempFile>,
    path: PathBuf,
}

impl AtomicFile {
    fn create(path: &Path) -> Result<AtomicFile, String> {
        let error = |e: std::io::Error| format!("cannot write `{}`: {}", path.display(), io_text(&e));
        if path.is_dir() {
            return Err(format!("`{}` is a directory, not a file", path.display()));
        }
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let mut builder = tempfile::Builder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
        let file = builder.tempfile_in(dir).map_err(error)?;
        if let Ok(existing) = std::fs::metadata(path) {
            file.as_file().set_permissions(existing.permissions()).map_err(error)?;
        }
        Ok(AtomicFile { file: BufWriter::new(file), path: path.to_path_buf() })
    }
    fn commit(self) -> Result<(), String> {
        let path = self.path;
        let error = |e: std::io::Error| format!("cannot write `{}`: {}", path.display(), io_text(&e));
        let file = self.file.into_inner().map_err(|e| error(e.into_error()))?;
        file.persist(&path).map_err(|e| error(e.error))?;
        Ok(())
    }
}

/// Copies each non-blank line, byte for byte, to the accepted or the
/// rejected output (flagged lines are accepted).
fn split(input: &mut File, report: &super::Report, mut accepted: Option<&mut Sink>, mut rejected: Option<&mut Sink>) -> Result<(), String> {
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
        let target = if report.verdict(line) == Verdict::Rejected { rejected.as_deref_mut() } else { accepted.as_deref_mut() };
        if let Some(t) = target {
            let written = t.write_all(text).and_then(|()| if text.last() == Some(&b'\n') { Ok(()) } else { t.write_all(b"\n") });
            written.map_err(|e| t.write_error(&e))?;
        }
    }
    Ok(())
}
