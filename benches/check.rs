//! The checker's hot paths on generated companies: reading and checking
//! lines (with the record-local rules), and the whole check with the
//! cross-entity and dataset rules.
//! cargo bench --bench check

#[path = "../tests/support/gen.rs"]
mod gen;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use skillc::check::{self, Compiled};

fn input(companies: usize) -> Vec<u8> {
    let mut out = Vec::new();
    gen::generate(&gen::GenConfig { companies, seed: 3, violations: 0.05 }, &mut out).unwrap();
    out
}

fn checker(c: &mut Criterion) {
    let (program, diags) = skillc::compile_sources(&skillc::embedded::skills());
    assert!(diags.iter().all(|d| !d.is_error()));
    let compiled = Compiled::new(program).unwrap();
    let data = input(20_000);
    let mut group = c.benchmark_group("check 20k companies");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.sample_size(20);
    group.bench_function("load: parse + record-local rules", |b| {
        b.iter(|| check::load(&compiled, &data[..], None, true).unwrap().entries.len())
    });
    group.bench_function("load, then cross-entity and dataset rules", |b| {
        b.iter(|| {
            let loaded = check::load(&compiled, &data[..], None, true).unwrap();
            check::check(&compiled, None, loaded).summary.rejected
        })
    });
    group.finish();
}

criterion_group!(benches, checker);
criterion_main!(benches);
