//! Growth of the front ends on large inputs (issue #18): a minified template, a chain of
//! variables and many builders, each at two sizes. Linear code takes about twice as long for
//! twice the input; the quadratic code this replaced took four times as long (and minutes at the
//! full sizes). Runs through `rpack::fuzzing`, the crate's door for fuzzers and benchmarks.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::time::Duration;

/// A minified (one-line) template of about `bytes` bytes: variables and a long array.
fn minified(bytes: usize) -> String {
    let n = bytes / 12;
    let vars: Vec<String> = (0..n / 4).map(|i| format!("\"v{i}\":\"x\"")).collect();
    let items = vec!["123456"; n / 2].join(",");
    format!(
        "{{\"variables\":{{{}}},\"builders\":[{{\"type\":\"null\",\"communicator\":\"none\"}}],\"x\":[{items}]}}",
        vars.join(",")
    )
}

/// `n` variables where each refers to the one before, listed last-first (each value stays
/// short, so the time measured is resolution, not copying ever longer strings).
fn chain(n: usize) -> String {
    let mut v: Vec<String> = (1..n)
        .map(|i| format!("\"c{i}\":\"{{{{user `c{}`}}}}\"", i - 1))
        .collect();
    v.push("\"c0\":\"x\"".into());
    v.reverse();
    format!(
        "{{\"variables\":{{{}}},\"builders\":[{{\"type\":\"null\",\"communicator\":\"none\"}}]}}",
        v.join(",")
    )
}

/// `n` null builders with distinct names.
fn builders(n: usize) -> String {
    let b: Vec<String> = (0..n)
        .map(|i| format!("{{\"type\":\"null\",\"name\":\"b{i}\",\"communicator\":\"none\"}}"))
        .collect();
    format!("{{\"builders\":[{}]}}", b.join(","))
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("hostile");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for mib in [1usize, 2] {
        let src = minified(mib << 20);
        g.throughput(Throughput::Bytes(src.len() as u64));
        g.bench_with_input(
            BenchmarkId::new("parse minified template MiB", mib),
            &src,
            |b, s| b.iter(|| rpack::fuzzing::json(s.as_bytes())),
        );
    }
    for n in [5_000usize, 10_000] {
        let src = chain(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(
            BenchmarkId::new("resolve variable chain", n),
            &src,
            |b, s| b.iter(|| rpack::fuzzing::variables(s.as_bytes())),
        );
    }
    for n in [10_000usize, 20_000] {
        let src = builders(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("validate builders", n), &src, |b, s| {
            b.iter(|| rpack::fuzzing::decode(s.as_bytes()));
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
