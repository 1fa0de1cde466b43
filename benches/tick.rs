//! Sampler tick cost per open track, idle and active, at 10k, 100k and 1M
//! open tracks (goals: at most 5 ns per idle track, 50 ns per active track).
//!
//! A manual-mode registry, ticked by the bench with `Registry::tick`. The
//! timed part is exactly one `tick`: the pass over every slot, and for active
//! tracks the window swaps, report creation (key clone, flags, window bounds)
//! and the push of every report into the outbox. Recording one message per
//! track before the tick and draining and dropping the reports after it are
//! outside the timed part (a consumer pays for those on its own thread).
//! `active` records up only (one report per track), `active_both` up and
//! down (two reports per track, the usual case for a subscribed track),
//! `active_behind` as `active_both` with the previous tick's reports still
//! undrained, so that every report merges into a pending one.
//!
//! Baselines in the same group, over the same number of 128-byte padded
//! words in one array: `bare_scan` loads each word (the floor for visiting a
//! track), `bare_swap` swaps each non-zero word with 0 (the floor for taking
//! a window). Criterion's throughput is set to the track count, and the
//! report divides the per-tick median by it.

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput};
use crossbeam_utils::CachePadded;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};
use trackstats::Report;

const BYTES: u64 = 1200;

fn sizes() -> Vec<usize> {
    if common::is_full_run() {
        vec![10_000, 100_000, 1_000_000]
    } else {
        // `cargo test --benches`: one small size keeps the smoke run quick.
        vec![10_000]
    }
}

fn tick(c: &mut Criterion) {
    let mut g = c.benchmark_group("tick");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    for n in sizes() {
        let reg = common::manual_registry();
        let tracks = common::open_tracks(&reg, n);
        let words: Vec<CachePadded<AtomicU64>> = (0..n).map(|_| CachePadded::new(AtomicU64::new(0))).collect();
        let mut out: Vec<Report> = Vec::with_capacity(2 * n);
        g.throughput(Throughput::Elements(n as u64));

        g.bench_with_input(BenchmarkId::new("bare_scan", n), &n, |b, _| {
            b.iter(|| {
                let mut sum = 0u64;
                for w in &words {
                    sum = sum.wrapping_add(w.load(Relaxed));
                }
                black_box(sum)
            })
        });
        g.bench_with_input(BenchmarkId::new("idle", n), &n, |b, _| b.iter(|| reg.tick().expect("tick")));

        g.bench_with_input(BenchmarkId::new("bare_swap", n), &n, |b, _| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    for w in &words {
                        w.fetch_add(TRACKSTATS_INCREMENT, Relaxed);
                    }
                    let start = Instant::now();
                    let mut sum = 0u64;
                    for w in &words {
                        if w.load(Relaxed) != 0 {
                            sum = sum.wrapping_add(w.swap(0, Relaxed));
                        }
                    }
                    black_box(sum);
                    total += start.elapsed();
                }
                total
            })
        });
        // `active`: one message up per track, as a publisher's track with no
        // subscriber; `active_both`: one up and one down, two reports a track.
        for (name, both) in [("active", false), ("active_both", true)] {
            g.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        for t in &tracks {
                            t.record_up(BYTES);
                            if both {
                                t.record_down(BYTES);
                            }
                        }
                        let start = Instant::now();
                        reg.tick().expect("tick");
                        total += start.elapsed();
                        let got = reg.drain(&mut out, usize::MAX);
                        assert_eq!(got, if both { 2 * n } else { n }, "one report per active track and direction");
                        out.clear();
                    }
                    total
                })
            });
        }
        // `active_behind`: as `active_both`, but the consumer has not yet
        // drained the previous tick's reports, so every report merges into
        // a pending one (the lagging-consumer path, with its merge index).
        g.bench_with_input(BenchmarkId::new("active_behind", n), &n, |b, _| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let record_both = || {
                    for t in &tracks {
                        t.record_up(BYTES);
                        t.record_down(BYTES);
                    }
                };
                for _ in 0..iters {
                    record_both();
                    reg.tick().expect("tick"); // queued, and left there
                    record_both();
                    let start = Instant::now();
                    reg.tick().expect("tick");
                    total += start.elapsed();
                    assert_eq!(reg.drain(&mut out, usize::MAX), 2 * n, "one report per track and direction");
                    assert!(out.iter().all(Report::is_merged), "every report merged into a pending one");
                    out.clear();
                }
                total
            })
        });
    }
    g.finish();
}

const TRACKSTATS_INCREMENT: u64 = trackstats::TRACKSTATS_WORD_MESSAGE_ONE | BYTES;

criterion_group!(benches, tick);
criterion_main!(benches);
