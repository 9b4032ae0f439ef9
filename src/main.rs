//! The `skillc` command: parses arguments, calls the library, maps the
//! outcome to an exit status (0 fine, 1 rejections found, 2 usage,
//! compile or I/O error).

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
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

/// How `lint` and `test` write diagnostics.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum LintFormat {
    /// Source snippets on standard error
    Text,
    /// JSON Lines on standard output
    Json,
    /// One SARIF 2.1.0 log on standard output
    Sarif,
    /// GitHub Actions workflow commands (annotations) on standard output
    Github,
}

#[derive(Subcommand)]
enum Command {
    /// Compile skill files, run their examples, and report every problem (the pre-commit hook)
    Lint {
        /// Skill folders or files (default: ./skills); a SKILL.md is compiled with its sibling skills
        paths: Vec<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: LintFormat,
        /// Lint these skill folders or files, compiled beside the default skills (./skills, else the shipped ones), which are not reported on (repeatable)
        #[arg(long = "add-skills", value_name = "PATH", conflicts_with = "paths")]
        add_skills: Vec<PathBuf>,
    },
    /// Run the examples of skill files: every ```jsonl example block
    Test {
        /// Skill folders or files (default: ./skills); a SKILL.md is compiled with its sibling skills
        paths: Vec<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: LintFormat,
        /// Test these skill folders or files, compiled beside the default skills (./skills, else the shipped ones), whose examples are not run (repeatable)
        #[arg(long = "add-skills", value_name = "PATH", conflicts_with = "paths")]
        add_skills: Vec<PathBuf>,
    },
    /// List the compiled rules
    Rules {
        /// Skill folders or files (default: ./skills, else the shipped skills)
        paths: Vec<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Skill folders or files compiled together with the skills above (repeatable)
        #[arg(long = "add-skills", value_name = "PATH")]
        add_skills: Vec<PathBuf>,
    },
    /// Validate a JSON Lines dataset against the skills
    Check(Box<skillc::check::cli::CheckArgs>),
    /// Build the index of a base dataset, so `check NEW --base BASE` reads it instead of BASE's JSON
    Index(Box<skillc::check::base_index::cli::IndexArgs>),
    /// Explain a diagnostic code
    Explain {
        /// A code such as `unknown-field`; without one, list every code
        code: Option<String>,
    },
    /// Serve the Language Server Protocol on stdin/stdout (docs/editors.md)
    Lsp,
    /// Scaffold a skill: DIR/NAME/SKILL.md with an entity, one rule and its examples
    Init {
        /// The folder of skills to create it in
        #[arg(default_value = "skills")]
        dir: PathBuf,
        /// The skill's name (its folder): lower-case letters, digits and hyphens
        #[arg(long, default_value = "my-skill")]
        name: String,
        /// The name of the entity it declares
        #[arg(long, default_value = "record")]
        entity: String,
    },
    /// Print a shell completion script: `skillc completions bash > ~/.local/share/bash-completion/completions/skillc`
    Completions {
        /// The shell to complete in
        shell: clap_complete::Shell,
    },
    /// Serve the Model Context Protocol on stdin/stdout, for coding agents (docs/agents.md)
    Mcp,
    /// Make records the skills accept, as JSON Lines (docs/sample.md)
    Sample(Box<skillc::sample::cli::SampleArgs>),
    /// Print the skills compiled to SQL for DuckDB or Spark (docs/sql.md)
    Sql(skillc::sql::cli::SqlArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Lint { paths, format, add_skills } => lint(paths, add_skills, format, false),
        Command::Test { paths, format, add_skills } => lint(paths, add_skills, format, true),
        Command::Rules { paths, format, add_skills } => rules(paths, add_skills, format),
        Command::Check(args) => skillc::check::cli::run(*args),
        Command::Index(args) => skillc::check::base_index::cli::run(*args),
        Command::Explain { code } => explain(code),
        Command::Lsp => skillc::lsp::run_stdio().map(|()| 0),
        Command::Init { dir, name, entity } => init(&dir, &name, &entity),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "skillc", &mut std::io::stdout());
            Ok(0)
        }
        Command::Mcp => skillc::mcp::run_stdio().map(|()| 0),
        Command::Sample(args) => skillc::sample::cli::run(*args),
        Command::Sql(args) => skillc::sql::cli::run(args),
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

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// `lint` and `test`: the same diagnostics; `test` sums up the examples.
fn lint(paths: Vec<PathBuf>, add_skills: Vec<PathBuf>, format: LintFormat, test: bool) -> Result<u8, String> {
    let lint = if add_skills.is_empty() { skillc::lint::lint_paths(&default_paths(paths)) } else { skillc::lint::lint_added(&add_skills) };
    let (db, diags) = (&lint.program.db, &lint.diagnostics);
    let written = match format {
        LintFormat::Text => std::io::stderr().write_all(diagnostic::render_terminal(db, diags, std::io::stderr().is_terminal()).as_bytes()),
        LintFormat::Json => std::io::stdout().write_all(diagnostic::render_json(db, diags).as_bytes()),
        LintFormat::Sarif => std::io::stdout().write_all(diagnostic::render_sarif(db, diags).as_bytes()),
        LintFormat::Github => std::io::stdout().write_all(diagnostic::render_github(db, diags).as_bytes()),
    };
    written.map_err(|e| e.to_string())?;
    let errors = diags.iter().filter(|d| d.is_error()).count();
    if format == LintFormat::Text {
        let warnings = diags.len() - errors;
        let ex = &lint.examples;
        let examples = format!("{} ({})", plural(ex.examples, "example"), plural(ex.lines, "company").replace("companys", "companies"));
        if test {
            let verdict = if errors > 0 && ex.examples == 0 {
                "not run: the skills have errors".to_string()
            } else if ex.failed == 0 {
                "all hold".to_string()
            } else {
                format!("{} failed", plural(ex.failed, "line"))
            };
            eprintln!("{examples} in {}: {verdict}", plural(lint.files, "file"));
        } else {
            let rules = lint.program.rules.len();
            eprintln!(
                "{} checked: {}, {}, {} compiled, {examples} run",
                plural(lint.files, "file"),
                plural(errors, "error"),
                plural(warnings, "warning"),
                plural(rules, "rule")
            );
        }
    }
    Ok(if errors > 0 { 2 } else { 0 })
}

fn rules(paths: Vec<PathBuf>, add_skills: Vec<PathBuf>, format: Format) -> Result<u8, String> {
    let (program, diags) = skillc::check::cli::load_skills(&paths, &add_skills)?;
    if diags.iter().any(Diagnostic::is_error) {
        print_diagnostics(&program.db, &diags, Format::Text)?;
        return Ok(2);
    }
    let out = skillc::report::rules_listing(&program, format == Format::Json);
    std::io::stdout().write_all(out.as_bytes()).map_err(|e| e.to_string())?;
    Ok(0)
}

fn init(dir: &std::path::Path, name: &str, entity: &str) -> Result<u8, String> {
    let path = skillc::init::scaffold(dir, name, entity)?;
    let folder = path.parent().unwrap_or(dir).display();
    println!("created `{}`: the entity `{entity}`, the rule `{}` and its examples", path.display(), skillc::init::RULE_ID);
    println!("next: `skillc test {folder}`, then `skillc check DATASET --skills {folder}`");
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
        Some(code) => match Code::named(&code) {
            Some(c) => {
                print!("{}", c.explanation());
                Ok(0)
            }
            None => {
                let hint =
                    diagnostic::did_you_mean(&code, Code::ALL.iter().map(|c| c.as_str())).map_or(String::new(), |h| format!("; {h}"));
                Err(format!("unknown diagnostic code `{code}`{hint}; `skillc explain` lists them"))
            }
        },
    }
}
