//! The `sample` command: arguments, the skills, JSON Lines on standard
//! output, and the exit status (0 all records made, 1 fewer than asked,
//! 2 usage or compile error).

use super::{Failure, Options};
use crate::diagnostic::{self, Diagnostic};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct SampleArgs {
    /// Records to make
    #[arg(short = 'n', long = "count", default_value_t = 10)]
    pub count: usize,
    /// Seed of the random stream: the same seed gives the same records
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Only records satisfying this expression in the rule language, such as `industry == "Bank"`
    #[arg(long = "where", value_name = "EXPR")]
    pub where_expr: Option<String>,
    /// Small ownership groups along the entity's relation to itself, parent first, that pass the cross-entity rules too
    #[arg(long)]
    pub groups: bool,
    /// Skill folders or files (repeatable; default ./skills, else the shipped skills)
    #[arg(long = "skills", value_name = "PATH")]
    pub skills: Vec<PathBuf>,
    /// The entity to sample (default: the one the rules are about)
    #[arg(long, value_name = "NAME")]
    pub entity: Option<String>,
}

pub fn run(args: SampleArgs) -> Result<u8, String> {
    let (program, diags) = crate::check::cli::load_skills(&args.skills, &[])?;
    if diags.iter().any(Diagnostic::is_error) {
        let errors: Vec<Diagnostic> = diags.into_iter().filter(Diagnostic::is_error).collect();
        eprint!("{}", diagnostic::render_terminal(&program.db, &errors, std::io::stderr().is_terminal()));
        return Err(format!("the skills do not compile ({} error{})", errors.len(), if errors.len() == 1 { "" } else { "s" }));
    }
    let opts = Options {
        count: args.count,
        seed: args.seed,
        where_expr: args.where_expr,
        groups: args.groups,
        entity: args.entity,
        seeds: Vec::new(),
    };
    let result = super::prepare(program, &opts).and_then(|c| super::sample(&c, &opts));
    let write = |lines: &[String]| -> Result<(), String> {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        for line in lines {
            writeln!(out, "{line}").map_err(|e| e.to_string())?;
        }
        out.flush().map_err(|e| e.to_string())
    };
    match result {
        Ok(lines) => {
            write(&lines)?;
            Ok(0)
        }
        Err(Failure::Where { db, diagnostics }) => {
            eprint!("{}", diagnostic::render_terminal(&db, &diagnostics, std::io::stderr().is_terminal()));
            Err("the `--where` expression does not compile".into())
        }
        Err(Failure::Short { lines, wanted, blocked }) => {
            write(&lines)?;
            let rules: Vec<String> = blocked.iter().take(8).map(|(id, n)| format!("{id} ({n})")).collect();
            let why = if rules.is_empty() { String::new() } else { format!("; the rest were blocked by {}", rules.join(", ")) };
            eprintln!("error: made {} of {wanted} record{} within the budget{why}", lines.len(), if wanted == 1 { "" } else { "s" });
            Ok(1)
        }
        Err(Failure::Other(message)) => Err(message),
    }
}
