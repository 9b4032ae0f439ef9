//! `skillc sql`: the plan of the skills printed as one SQL script, or as
//! the runner's JSON steps.

use super::dialect::DialectName;
use crate::diagnostic::{self, Diagnostic};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct SqlArgs {
    /// The SQL dialect to write
    #[arg(long, value_enum, default_value = "duckdb")]
    pub dialect: DialectName,
    /// Skill folders or files (repeatable; default ./skills, else the shipped skills)
    #[arg(long = "skills", value_name = "PATH")]
    pub skills: Vec<PathBuf>,
    /// Skill folders or files compiled together with the default skills (repeatable)
    #[arg(long = "add-skills", value_name = "PATH")]
    pub add_skills: Vec<PathBuf>,
    /// Print the runner's steps as JSON instead of a SQL script
    #[arg(long)]
    pub plan: bool,
}

pub fn run(args: SqlArgs) -> Result<u8, String> {
    let (program, diags) = crate::check::cli::load_skills(&args.skills, &args.add_skills)?;
    let errors: Vec<Diagnostic> = diags.into_iter().filter(Diagnostic::is_error).collect();
    if !errors.is_empty() {
        eprint!("{}", diagnostic::render_terminal(&program.db, &errors, std::io::stderr().is_terminal()));
        return Err(format!("the skills do not compile ({} error{})", errors.len(), if errors.len() == 1 { "" } else { "s" }));
    }
    match super::compile(&program, args.dialect, crate::check::utc_year()) {
        Ok(plan) => {
            if args.plan {
                println!("{}", serde_json::to_string_pretty(&super::plan_json(&plan)).unwrap_or_default());
            } else {
                print!("{}", super::script(&plan, args.dialect));
            }
            Ok(0)
        }
        Err(diags) => {
            eprint!("{}", diagnostic::render_terminal(&program.db, &diags, std::io::stderr().is_terminal()));
            Err(format!(
                "{} rule construct{} cannot be written in the {} dialect",
                diags.len(),
                if diags.len() == 1 { "" } else { "s" },
                args.dialect.as_str()
            ))
        }
    }
}
