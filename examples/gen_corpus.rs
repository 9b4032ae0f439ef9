//! Writes a synthetic company dataset (JSONL) in the reference format.
//!
//! cargo run --release --example gen_corpus -- --companies N --seed S --violations RATE [--out FILE]
//!
//! Without --out the corpus goes to stdout. Same arguments, same bytes.

#[path = "../tests/support/gen.rs"]
mod gen;

use std::io::{BufWriter, Write};
use std::process::ExitCode;

const USAGE: &str = "usage: gen_corpus --companies N [--seed S] [--violations RATE] [--out FILE]\n\
     defaults: --seed 1 --violations 0.05; output to stdout without --out";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("gen_corpus: {msg}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let mut companies: Option<usize> = None;
    let mut seed: u64 = 1;
    let mut violations: f64 = 0.05;
    let mut out: Option<String> = None;

    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            return Ok(());
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--companies" => companies = Some(value.parse().map_err(|e| format!("--companies {value}: {e}"))?),
            "--seed" => seed = value.parse().map_err(|e| format!("--seed {value}: {e}"))?,
            "--violations" => {
                violations = value.parse().map_err(|e| format!("--violations {value}: {e}"))?;
                if !(0.0..=1.0).contains(&violations) {
                    return Err(format!("--violations {value}: must be between 0 and 1"));
                }
            }
            "--out" => out = Some(value),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let companies = companies.ok_or("--companies is required")?;
    let cfg = gen::GenConfig { companies, seed, violations };

    let result = match &out {
        Some(path) => {
            let file = std::fs::File::create(path).map_err(|e| format!("{path}: {e}"))?;
            let mut w = BufWriter::with_capacity(1 << 20, file);
            gen::generate(&cfg, &mut w).and_then(|_| w.flush())
        }
        None => {
            let stdout = std::io::stdout();
            let mut w = BufWriter::with_capacity(1 << 20, stdout.lock());
            gen::generate(&cfg, &mut w).and_then(|_| w.flush())
        }
    };
    match result {
        Ok(()) => Ok(()),
        // A closed pipe (`| head`) is not an error worth reporting.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("write failed: {e}")),
    }
}
