//! Compiling the shipped skills (issue target: well under 20 ms), and
//! the rule analysis that `lint` runs on them (well under a second).
//! cargo bench --bench compile

use criterion::{criterion_group, criterion_main, Criterion};

fn compile_shipped_skills(c: &mut Criterion) {
    let sources = skillc::embedded::skills();
    c.bench_function("compile shipped skills", |b| {
        b.iter(|| {
            let (program, diags) = skillc::compile_sources(&sources);
            assert!(diags.iter().all(|d| !d.is_error()));
            program.rules.len()
        })
    });
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/skills/ownership-consolidation/SKILL.md")).unwrap();
    c.bench_function("parse one rule expression", |b| {
        b.iter(|| skillc::syntax::parse_expr_text("consolidated_revenue >= sum(c in subsidiaries where c.stake > 0.5: c.standalone_revenue) - (intercompany_eliminations ?? 0)").is_ok())
    });
    c.bench_function("read one skill file (frontmatter + markdown)", |b| {
        b.iter(|| skillc::compile_sources(&[("SKILL.md".to_string(), text.clone())]).1.len())
    });
}

/// The rule analysis of `skillc lint` (docs/analysis.md) on the shipped
/// skills: every question it asks, each record confirmed by the checker.
fn analyse_shipped_skills(c: &mut Criterion) {
    let (program, _) = skillc::compile_sources(&skillc::embedded::skills());
    c.bench_function("analyse shipped skills (rule analysis)", |b| {
        b.iter(|| {
            let analysis = skillc::analysis::analyse(&program);
            assert!(analysis.diagnostics.is_empty());
            analysis.decided.len()
        })
    });
}

criterion_group!(benches, compile_shipped_skills, analyse_shipped_skills);
criterion_main!(benches);
