//! The `skillc` command: parses arguments, calls the library, maps the
//! outcome to an exit status (0 fine, 1 rejections found, 2 usage,
//! compile or I/O error).

use clap::{Parser, Subcommand, ValueEnum};
use skillc::diagnostic::{self, Code, Diagnostic};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "skillc", version, about = "Compile Markdown skill files into a checker and validate datasets with it")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Compile skill files and report every problem (the pre-commit hook)
    Lint {
        /// Skill folders or files (default: ./skills)
        paths: Vec<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// List the compiled rules
    Rules {
        /// Skill folders or files (default: ./skills, else the shipped skills)
        paths: Vec<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Validate a JSON Lines dataset against the skills
    Check(skillc::check::cli::CheckArgs),
    /// Explain a diagnostic code
    Explain {
        /// A code such as `unknown-field`; without one, list every code
        code: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Lint { paths, format } => lint(paths, format),
        Command::Rules { paths, format } => rules(paths, format),
        Command::Check(args) => skillc::check::cli::run(args),
        Command::Explain { code } => explain(code),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn default_paths(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from("skills")]
    } else {
        paths
    }
}

fn print_diagnostics(db: &skillc::source::SourceDb, diags: &[Diagnostic], format: Format) -> Result<(), String> {
    let text = match format {
        Format::Json => diagnostic::render_json(db, diags),
        Format::Text => diagnostic::render_terminal(db, diags, std::io::stderr().is_terminal()),
    };
    let result = match format {
        Format::Json => std::io::stdout().write_all(text.as_bytes()),
        Format::Text => std::io::stderr().write_all(text.as_bytes()),
    };
    result.map_err(|e| e.to_string())
}

fn lint(paths: Vec<PathBuf>, format: Format) -> Result<u8, String> {
    let (program, diags) = skillc::compile_paths(&default_paths(paths));
    print_diagnostics(&program.db, &diags, format)?;
    let errors = diags.iter().filter(|d| d.is_error()).count();
    if format == Format::Text {
        let warnings = diags.len() - errors;
        let files = program.db.files().count();
        eprintln!(
            "{} file{} checked: {errors} error{}, {warnings} warning{}, {} rule{} compiled",
            files,
            if files == 1 { "" } else { "s" },
            if errors == 1 { "" } else { "s" },
            if warnings == 1 { "" } else { "s" },
            program.rules.len(),
            if program.rules.len() == 1 { "" } else { "s" }
        );
    }
    Ok(if errors > 0 { 2 } else { 0 })
}

fn rules(paths: Vec<PathBuf>, format: Format) -> Result<u8, String> {
    let (program, diags) = skillc::check::cli::load_skills(&paths)?;
    if diags.iter().any(Diagnostic::is_error) {
        print_diagnostics(&program.db, &diags, Format::Text)?;
        return Ok(2);
    }
    let out = skillc::report::rules_listing(&program, format == Format::Json);
    std::io::stdout().write_all(out.as_bytes()).map_err(|e| e.to_string())?;
    Ok(0)
}

fn explain(code: Option<String>) -> Result<u8, String> {
    match code {
        None => {
            for c in Code::ALL {
                println!("{:<32} {}", c.as_str(), c.summary());
            }
            Ok(0)
        }
        Some(code) => match Code::from_str(&code) {
            Some(c) => {
                println!("{}: {}", c.as_str(), c.summary());
                Ok(0)
            }
            None => Err(format!("unknown diagnostic code `{code}`; `skillc explain` lists them")),
        },
    }
}
