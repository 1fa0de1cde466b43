//! The hot path: `record_up` against the bare atomic it is built on.
//!
//! Group `record_up` (goal: at most 1.2x the baseline): one thread records
//! into one track through the Rust API and through the C ABI (an indirect
//! call, as a C or C++ host linking the library makes), beside the baseline,
//! a bare `fetch_add` on a `CachePadded<AtomicU64>`, and LiveKit's pattern of
//! four atomic adds per message (window and total, bytes and messages).
//!
//! Group `contention`: threads started together by a barrier, each doing the
//! same number of records, timed from the barrier to the last thread's end.
//! One thread on one track is the baseline for two threads on two tracks
//! opened back to back (adjacent slots: goal no slowdown, i.e. no false
//! sharing); two threads on one track is reported beside the same on a bare
//! padded atomic. The bare cases (one thread, two threads on two adjacent
//! padded atomics, two on one) tell the machine's own cost of running two
//! threads apart from anything trackstats adds.
//!
//! Group `scaling`: the same measurement at 1, 2, 4, ... threads up to the
//! machine's cores (only where it has more than two; `TRACKSTATS_BENCH_THREADS`
//! = `1,4,16` picks the counts). `tracks/N`: N threads on N tracks opened back
//! to back, against `bare_slots/N`, N threads on N adjacent padded atomics
//! (goal: at most 1.1x, nothing shared between tracks at any core count);
//! `sampled/N`: the same tracks in a registry whose sampler thread closes a
//! window every millisecond (5000 times the default rate), so every window's
//! first record marks the segment's shared activity word and every tick swaps
//! the words being recorded; `one_track/N` against `bare_one/N`, N threads on
//! one track and on one atomic (the cost of a contended line, reported).

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use crossbeam_utils::CachePadded;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Barrier;
use std::time::{Duration, Instant};
use trackstats::ffi::{self, trackstats_result, trackstats_track};
use trackstats::{Config, Mode, Registry, Track, TRACKSTATS_WORD_MESSAGE_ONE};

/// A typical RTP packet.
const BYTES: u64 = 1200;

/// LiveKit's `BytesTrackStats` counters: four atomics in one object.
#[derive(Default)]
struct FourCounters {
    window_bytes: AtomicU64,
    window_messages: AtomicU64,
    total_bytes: AtomicU64,
    total_messages: AtomicU64,
}

fn record_up(c: &mut Criterion) {
    let reg = common::manual_registry();
    let track = reg.open(common::key(0)).expect("open");

    // The C ABI handle, from a registry made through the C ABI.
    let mut creg = std::ptr::null_mut();
    let mut config = ffi::trackstats_config_default();
    config.mode = ffi::TRACKSTATS_MODE_MANUAL;
    assert_eq!(ffi::trackstats_registry_new(&config, &mut creg), trackstats_result::Ok);
    let mut ctrack: *mut trackstats_track = std::ptr::null_mut();
    let (p, t) = ("PA_c", "TR_c");
    let rc = ffi::trackstats_track_open(
        creg,
        p.as_ptr().cast(),
        p.len(),
        t.as_ptr().cast(),
        t.len(),
        std::ptr::null(),
        0,
        0,
        &mut ctrack,
    );
    assert_eq!(rc, trackstats_result::Ok);
    // Through a pointer the optimizer cannot see through: a real call, as
    // from C (where the call goes through the PLT of the shared library or a
    // direct call into the static one, never inlined).
    let c_record_up: extern "C" fn(*mut trackstats_track, u64) = black_box(ffi::trackstats_record_up);

    let bare = CachePadded::new(AtomicU64::new(0));
    let four = CachePadded::new(FourCounters::default());

    let mut g = c.benchmark_group("record_up");
    g.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    g.bench_function("bare_fetch_add", |b| {
        // The same increment a record adds, so the baseline does the same work
        // minus trackstats' spill check.
        b.iter(|| bare.fetch_add(black_box(TRACKSTATS_WORD_MESSAGE_ONE | BYTES), Relaxed))
    });
    g.bench_function("rust_api", |b| b.iter(|| track.record_up(black_box(BYTES))));
    g.bench_function("c_abi", |b| b.iter(|| c_record_up(black_box(ctrack), black_box(BYTES))));
    g.bench_function("livekit_four_adds", |b| {
        b.iter(|| {
            let n = black_box(BYTES);
            four.window_bytes.fetch_add(n, Relaxed);
            four.window_messages.fetch_add(1, Relaxed);
            four.total_bytes.fetch_add(n, Relaxed);
            four.total_messages.fetch_add(1, Relaxed);
        })
    });
    g.finish();

    ffi::trackstats_track_release(ctrack);
    ffi::trackstats_registry_free(creg);
}

/// What one bench thread does: `work(thread index, iterations)`.
type Work<'a> = &'a (dyn Fn(usize, u64) + Sync);

/// Runs `work(thread, iters)` on `threads` threads released together by a
/// barrier; the time is from the first thread's start to the last one's end,
/// each taken by the bench thread itself (spawning is not timed).
fn run_threads(threads: usize, iters: u64, work: Work) -> Duration {
    let barrier = Barrier::new(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    work(i, iters);
                    (start, Instant::now())
                })
            })
            .collect();
        let spans: Vec<(Instant, Instant)> = handles.into_iter().map(|h| h.join().expect("bench thread")).collect();
        let start = spans.iter().map(|s| s.0).min().expect("a thread");
        let end = spans.iter().map(|s| s.1).max().expect("a thread");
        end - start
    })
}

fn records(track: &Track, iters: u64) {
    for _ in 0..iters {
        track.record_up(black_box(BYTES));
    }
}

fn bare_adds(a: &AtomicU64, iters: u64) {
    for _ in 0..iters {
        a.fetch_add(black_box(TRACKSTATS_WORD_MESSAGE_ONE | BYTES), Relaxed);
    }
}

fn contention(c: &mut Criterion) {
    let reg = common::manual_registry();
    // Opened back to back: adjacent 128-byte slots of the slab.
    let tracks = [reg.open(common::key(0)).expect("open"), reg.open(common::key(1)).expect("open")];
    let bare = [CachePadded::new(AtomicU64::new(0)), CachePadded::new(AtomicU64::new(0))];

    let mut g = c.benchmark_group("contention");
    g.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2)).sample_size(50);
    let cases: [(&str, usize, Work); 6] = [
        ("one_thread_one_track", 1, &|_, n| records(&tracks[0], n)),
        ("two_threads_two_tracks", 2, &|i, n| records(&tracks[i], n)),
        ("two_threads_one_track", 2, &|_, n| records(&tracks[0], n)),
        ("bare_one_thread", 1, &|_, n| bare_adds(&bare[0], n)),
        ("bare_two_threads_two_slots", 2, &|i, n| bare_adds(&bare[i], n)),
        ("bare_two_threads_one_slot", 2, &|_, n| bare_adds(&bare[0], n)),
    ];
    for (name, threads, work) in cases {
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter_custom(|iters| run_threads(threads, iters, work))
        });
    }
    g.finish();
}

/// The thread counts of the `scaling` group: `TRACKSTATS_BENCH_THREADS`
/// (comma-separated), else 1, 2, 4, ... and the core count itself, or none
/// on two cores or fewer (the `contention` group covers those). Without
/// `--bench` (a test run of the bench binary) 1 and 2, so the code runs.
fn thread_counts() -> Vec<usize> {
    if let Ok(list) = std::env::var("TRACKSTATS_BENCH_THREADS") {
        return list.split(',').map(|n| n.trim().parse().expect("TRACKSTATS_BENCH_THREADS: numbers")).collect();
    }
    if !common::is_full_run() {
        return vec![1, 2];
    }
    let cores = num_cores();
    if cores <= 2 {
        return Vec::new();
    }
    let mut counts: Vec<usize> = std::iter::successors(Some(1), |n| Some(n * 2)).take_while(|&n| n <= cores).collect();
    if counts.last() != Some(&cores) {
        counts.push(cores);
    }
    counts
}

fn scaling(c: &mut Criterion) {
    let counts = thread_counts();
    let Some(&most) = counts.iter().max() else {
        println!("scaling: {} cores, skipped (the contention group covers two)", num_cores());
        return;
    };
    let reg = common::manual_registry();
    let tracks = common::open_tracks(&reg, most);
    let bare: Vec<CachePadded<AtomicU64>> = (0..most).map(|_| CachePadded::new(AtomicU64::new(0))).collect();

    let mut g = c.benchmark_group("scaling");
    g.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2)).sample_size(30);
    for &n in &counts {
        let cases: [(&str, Work); 4] = [
            ("tracks", &|i, k| records(&tracks[i], k)),
            ("bare_slots", &|i, k| bare_adds(&bare[i], k)),
            ("one_track", &|_, k| records(&tracks[0], k)),
            ("bare_one", &|_, k| bare_adds(&bare[0], k)),
        ];
        for (name, work) in cases {
            g.bench_function(BenchmarkId::new(name, n), |b| b.iter_custom(|iters| run_threads(n, iters, work)));
        }
    }
    // Its sampler thread lives only for these cases, so it takes no core
    // from the others. The sink discards: its cost is not what this measures.
    let sampled_reg = Registry::new(Config {
        interval: Duration::from_millis(1),
        mode: Mode::Thread,
        sink: Some(Box::new(|reports| {
            black_box(reports);
        })),
        ..Default::default()
    })
    .expect("sampled registry");
    let sampled = common::open_tracks(&sampled_reg, most);
    for &n in &counts {
        g.bench_function(BenchmarkId::new("sampled", n), |b| {
            b.iter_custom(|iters| run_threads(n, iters, &|i, k| records(&sampled[i], k)))
        });
    }
    g.finish();
    drop(sampled);
    sampled_reg.close().expect("close the sampled registry");
}

fn num_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

criterion_group!(benches, record_up, contention, scaling);
criterion_main!(benches);
