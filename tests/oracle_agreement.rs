//! The engine against the reference oracle: on generated datasets with
//! violations of every reference rule, the verdict and the set of rule ids
//! of every line, and the dataset-level findings, must be identical.

#[path = "support/gen.rs"]
mod gen;
#[path = "support/oracle.rs"]
mod oracle;

use skillc::check::{self, Compiled, ReasonRule, Verdict};
use std::collections::BTreeSet;
use std::path::PathBuf;

fn compiled() -> Compiled {
    let (program, diags) = skillc::compile_paths(&[PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/skills"))]);
    assert!(diags.iter().all(|d| !d.is_error()), "shipped skills compile");
    Compiled::new(program).expect("compiles")
}

/// Per line (line, verdict, rule ids), and the dataset findings' rule ids.
type Outcome = (Vec<(u32, Verdict, BTreeSet<String>)>, BTreeSet<String>);

fn engine(c: &Compiled, input: &[u8]) -> Outcome {
    let loaded = check::load(c, input, None, true).expect("in memory");
    let report = check::check(c, None, loaded);
    let lines = report
        .lines
        .iter()
        .map(|l| (l.line, report.verdict(l), report.reasons(l).iter().map(|r| check::reason_id(c, &r.rule)).collect()))
        .collect();
    let dataset = report.dataset.iter().map(|d| c.program.rules[d.rule].id.clone()).collect();
    let _ = ReasonRule::Json;
    (lines, dataset)
}

fn agree(c: &Compiled, input: &[u8], what: &str) -> BTreeSet<String> {
    let expected = oracle::oracle(input, check::utc_year());
    let (lines, dataset) = engine(c, input);
    assert_eq!(lines.len(), expected.lines.len(), "{what}: one result per non-blank line");
    let mut fired = BTreeSet::new();
    let mut mismatches = Vec::new();
    for ((line, verdict, rules), want) in lines.iter().zip(&expected.lines) {
        assert_eq!(*line as usize, want.line, "{what}: line numbers");
        let want_verdict = match want.verdict {
            oracle::Verdict::Accepted => Verdict::Accepted,
            oracle::Verdict::Flagged => Verdict::Flagged,
            oracle::Verdict::Rejected => Verdict::Rejected,
        };
        if *verdict != want_verdict || *rules != want.rules {
            mismatches.push(format!("line {line}: engine {verdict:?} {rules:?}, oracle {:?} {:?}", want.verdict, want.rules));
        }
        fired.extend(rules.iter().cloned());
    }
    assert!(
        mismatches.is_empty(),
        "{what}: {} lines differ, first ones:\n{}",
        mismatches.len(),
        mismatches[..mismatches.len().min(10)].join("\n")
    );
    assert_eq!(dataset, expected.dataset_rules, "{what}: dataset findings");
    fired.extend(dataset);
    fired
}

fn generated(companies: usize, seed: u64, violations: f64) -> Vec<u8> {
    let mut out = Vec::new();
    gen::generate(&gen::GenConfig { companies, seed, violations }, &mut out).expect("in memory");
    out
}

#[test]
fn every_reference_rule_fires_and_every_verdict_matches_the_oracle() {
    let c = compiled();
    let mut fired = BTreeSet::new();
    for seed in 1..=4 {
        let input = generated(5_000, seed, 0.2);
        fired.extend(agree(&c, &input, &format!("seed {seed}, 20% violations")));
    }
    let all: BTreeSet<String> = oracle::ALL_RULE_IDS.iter().map(|s| s.to_string()).collect();
    let missing: Vec<_> = all.difference(&fired).collect();
    assert!(missing.is_empty(), "rules that never fired: {missing:?}");
}

#[test]
fn clean_and_lightly_broken_datasets_match_the_oracle() {
    let c = compiled();
    for (seed, rate) in [(7, 0.0), (8, 0.05), (9, 0.5), (10, 1.0)] {
        let input = generated(3_000, seed, rate);
        agree(&c, &input, &format!("seed {seed}, violations {rate}"));
    }
}

#[test]
fn output_is_identical_whatever_the_thread_count() {
    let c = compiled();
    let input = generated(4_000, 11, 0.2);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let report = check::check(&c, None, check::load(&c, &input[..], None, true).unwrap());
            let mut out = Vec::new();
            skillc::report::write_json(&c, &report, &mut out).unwrap();
            out
        })
    };
    let one = run(1);
    assert!(one.len() > 10_000);
    assert_eq!(one, run(4));
    assert_eq!(one, run(2));
}
