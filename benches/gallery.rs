//! Criterion: `Gallery::best_match` (int8-narrowed, exact) and the plain f32 full scan over
//! random unit 128-d identities (one vector each).
//! Run with `cargo bench --bench gallery`. `facerec bench --gallery-scaling` covers 1M too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a panic is a failure report

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use facerec::gallery::{Gallery, ModelTag};

/// Deterministic unit vectors (xorshift + Box-Muller), no extra dependency.
fn unit_vectors(n: usize, dim: usize, mut state: u64) -> Vec<Vec<f32>> {
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let v: Vec<f32> = (0..dim)
                .map(|_| ((-2.0 * uniform().ln()).sqrt() * (std::f64::consts::TAU * uniform()).cos()) as f32)
                .collect();
            facerec::embed::normalize(&v)
        })
        .collect()
}

fn best_match(c: &mut Criterion) {
    let dim = 128;
    let tag = ModelTag {
        file: "random".into(),
        sha256: "random".into(),
        dim,
    };
    let query = unit_vectors(1, dim, 7).pop().unwrap_or_default();
    let mut group = c.benchmark_group("best_match");
    for n in [1_000usize, 10_000, 100_000] {
        let mut gallery = Gallery::in_memory();
        gallery.bind_model(&tag).expect("bind");
        let people = unit_vectors(n, dim, n as u64 + 1)
            .into_iter()
            .enumerate()
            .map(|(i, v)| (format!("p{i}"), vec![v]))
            .collect();
        gallery.add_many(people).expect("add_many");
        group.bench_with_input(BenchmarkId::new("index", n), &gallery, |b, g| {
            b.iter(|| g.best_match(&query))
        });
        group.bench_with_input(BenchmarkId::new("full_scan", n), &gallery, |b, g| {
            b.iter(|| g.best_match_full_scan(&query))
        });
    }
    group.finish();
}

criterion_group!(benches, best_match);
criterion_main!(benches);
