//! Open plus close churn with 10k, 100k and 1M tracks open (goal: at most
//! 1 us per open + close + release, flat as the count grows).
//!
//! A manual-mode registry holding `n` open tracks. One iteration opens one
//! more track (copying its ids, as every host must), closes it and releases
//! it. Close and release only queue requests; the sampler role processes
//! them (final flush, slot free) when the bench calls `flush`, every
//! `FLUSH_EVERY` iterations, and that share of the work is inside the timing
//! too, so the figure is the whole cost of a track's life, not the host's
//! half of it.
//!
//! Each churned track records one message, so its close makes a real final
//! report (drained and dropped outside the timing).
//!
//! Baseline in the same group: `key_only`, making and dropping the same
//! `TrackKey` (formatting and copying three ids, one allocation for the
//! key), the floor any design that copies ids at open pays.

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a sampler thread would get to the queued requests, in churns.
const FLUSH_EVERY: u64 = 256;

fn sizes() -> Vec<usize> {
    if common::is_full_run() {
        vec![10_000, 100_000, 1_000_000]
    } else {
        vec![10_000]
    }
}

fn churn(c: &mut Criterion) {
    let mut g = c.benchmark_group("churn");
    g.warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(2)).sample_size(30);
    // Ids beyond the open tracks' range, so the churned keys are new strings.
    let base = 2_000_000;
    g.bench_function("key_only", |b| {
        let mut i = 0usize;
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(Arc::new(common::key(base + (i & 0xffff))))
        })
    });
    for n in sizes() {
        let reg = common::manual_registry();
        let tracks = common::open_tracks(&reg, n);
        reg.flush().expect("flush");
        g.bench_with_input(BenchmarkId::new("open_close_release", n), &n, |b, _| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for i in 0..iters {
                    let t = reg.open(common::key(base + (i as usize & 0xffff))).expect("open");
                    t.record_up(black_box(1200));
                    t.close();
                    drop(t);
                    if (i + 1) % FLUSH_EVERY == 0 {
                        reg.flush().expect("flush");
                    }
                }
                reg.flush().expect("flush");
                let elapsed = start.elapsed();
                // Final reports of churned tracks are the consumer's; not timed.
                let mut out = Vec::new();
                reg.drain(&mut out, usize::MAX);
                elapsed
            })
        });
        assert_eq!(reg.stats().open_tracks, n as u64, "churn leaves the open tracks as they were");
        drop(tracks);
    }
    g.finish();
}

criterion_group!(benches, churn);
criterion_main!(benches);
