//! `skillc index BASE`: builds the index of a base ahead of the checks
//! against it (`check NEW --base BASE` then reads it instead of the base's
//! JSON).

use super::{default_path, load_from_json, write, Compiled};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct IndexArgs {
    /// The base dataset (JSON Lines) to index
    pub base: PathBuf,
    /// Skill folders or files (repeatable; default ./skills, else the shipped skills); the checks must use the same
    #[arg(long = "skills", value_name = "PATH")]
    pub skills: Vec<PathBuf>,
    /// Skill folders or files compiled together with the default skills (repeatable)
    #[arg(long = "add-skills", value_name = "PATH")]
    pub add_skills: Vec<PathBuf>,
    /// Write the index here (default: BASE.skillc-index, where `check --base BASE` looks for it; elsewhere, name it with `check --index FILE`)
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Worker threads (default: one per core)
    #[arg(long)]
    pub threads: Option<usize>,
}

pub fn run(args: IndexArgs) -> Result<u8, String> {
    let threads = args.threads.map_or(0, |n| n.max(1));
    rayon::ThreadPoolBuilder::new().num_threads(threads).stack_size(16 << 20).build_global().map_err(|e| e.to_string())?;
    let (program, diags) = crate::check::cli::load_skills(&args.skills, &args.add_skills)?;
    let errors = diags.iter().filter(|d| d.is_error()).count();
    if errors > 0 {
        return Err(format!("the skills do not compile ({errors} error{}); `skillc lint` shows them", if errors == 1 { "" } else { "s" }));
    }
    let compiled = Compiled::new(program)?;
    if !std::fs::metadata(&args.base).is_ok_and(|m| m.is_file()) {
        crate::check::cli::open_dataset(&args.base)?;
        return Err(format!("`{}` is not a regular file: only a file can be indexed", args.base.display()));
    }
    let (loaded, file) = load_from_json(&compiled, &args.base)?;
    let Some(file) = file else {
        return Err(format!("`{}` changed while it was read; index it again", args.base.display()));
    };
    let path = args.output.unwrap_or_else(|| default_path(&args.base));
    write(&compiled, &path, &loaded, &file, &args.base)?;
    eprintln!(
        "indexed `{}` ({} lines, {} records) into `{}`",
        args.base.display(),
        loaded.entries.len(),
        loaded.table.rows,
        path.display()
    );
    Ok(0)
}
