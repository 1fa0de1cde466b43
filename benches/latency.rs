//! Record latency under load (goal: p99.9 at most 1 us): the hot path stays
//! lock-free in practice while the sampler ticks 1M tracks without pause and
//! another thread opens, closes and releases tracks without pause.
//!
//! Threads: a ticker (`Registry::tick` on a manual registry of 1M open tracks,
//! then drain, in a loop; requests from the churner are processed inside
//! those ticks), a churner (open, record, close, release in a loop), and the
//! measuring thread, which times single records one by one on 1024 tracks
//! spread over the slab (so the sampler's swaps hit lines being recorded).
//!
//! Clock: on x86_64 each record sits between `lfence; rdtsc; lfence` and
//! `rdtscp; lfence` (the fences keep the record inside the stamps), with the
//! TSC rate calibrated against `Instant` over 200 ms; the median cost of an
//! empty stamp pair is measured first and subtracted. Elsewhere `Instant`
//! around each single record (coarser: its own cost is tens of ns).
//! Baseline: the same measurement, interleaved in blocks of 4096, of a bare
//! `fetch_add` on 1024 padded atomics spread over a 1M-entry array exactly as
//! the hot tracks are spread over the slab, so both see the same load and
//! the same memory layout; what differs is that the sampler and the churn
//! touch the tracks' lines and not the baseline's.
//!
//! The machine has 2 cores and this runs 3 busy threads, so the measuring
//! thread is sometimes preempted: those samples are milliseconds, counted in
//! the max and in `over_1us`, and are the scheduler's, not the library's.
//!
//! Writes `latency.json` for the report. `cargo test --benches` runs a short
//! smoke version (10k tracks, 0.2 s).

mod common;

use crossbeam_utils::CachePadded;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};
use trackstats::TRACKSTATS_WORD_MESSAGE_ONE;

const BYTES: u64 = 1200;
const HOT: usize = 1024;
const BLOCK: usize = 4096;

#[cfg(target_arch = "x86_64")]
mod clock {
    use core::arch::x86_64::{__rdtscp, _mm_lfence, _rdtsc};

    #[inline(always)]
    pub fn begin() -> u64 {
        // SAFETY: lfence and rdtsc exist on every x86_64 CPU and touch no memory.
        unsafe {
            _mm_lfence();
            let t = _rdtsc();
            _mm_lfence();
            t
        }
    }

    #[inline(always)]
    pub fn end() -> u64 {
        let mut aux = 0u32;
        // SAFETY: rdtscp writes only `aux`, a local; lfence touches no memory.
        unsafe {
            let t = __rdtscp(&mut aux);
            _mm_lfence();
            t
        }
    }

    /// Ticks per nanosecond, against the monotonic clock.
    pub fn ticks_per_ns() -> f64 {
        let (i0, t0) = (std::time::Instant::now(), begin());
        std::thread::sleep(std::time::Duration::from_millis(200));
        let (i1, t1) = (std::time::Instant::now(), end());
        (t1 - t0) as f64 / (i1 - i0).as_nanos() as f64
    }

    pub const METHOD: &str = "rdtsc (lfence-fenced, rdtscp at the end), calibrated against Instant";
}

#[cfg(not(target_arch = "x86_64"))]
mod clock {
    use std::sync::OnceLock;
    use std::time::Instant;

    fn origin() -> Instant {
        static O: OnceLock<Instant> = OnceLock::new();
        *O.get_or_init(Instant::now)
    }
    #[inline(always)]
    pub fn begin() -> u64 {
        origin().elapsed().as_nanos() as u64
    }
    #[inline(always)]
    pub fn end() -> u64 {
        begin()
    }
    pub fn ticks_per_ns() -> f64 {
        1.0
    }
    pub const METHOD: &str = "Instant around each single record";
}

struct Summary {
    samples: usize,
    p50: f64,
    p99: f64,
    p999: f64,
    max: f64,
    over_1us: usize,
}

fn summarize(mut ticks: Vec<u64>, overhead: u64, per_ns: f64) -> Summary {
    for t in ticks.iter_mut() {
        *t = t.saturating_sub(overhead);
    }
    ticks.sort_unstable();
    let ns = |t: u64| t as f64 / per_ns;
    Summary {
        samples: ticks.len(),
        p50: ns(common::quantile(&ticks, 0.50)),
        p99: ns(common::quantile(&ticks, 0.99)),
        p999: ns(common::quantile(&ticks, 0.999)),
        max: ns(*ticks.last().expect("samples")),
        over_1us: ticks.iter().filter(|&&t| ns(t) > 1000.0).count(),
    }
}

fn main() {
    let full = common::is_full_run();
    let (n, run_for, cap) = if full {
        (1_000_000, Duration::from_secs(4), 8_000_000)
    } else {
        (10_000, Duration::from_millis(200), 200_000)
    };

    let per_ns = clock::ticks_per_ns();
    // The cost of the stamps themselves, with nothing between them.
    let mut empty: Vec<u64> = (0..100_000)
        .map(|_| {
            let t0 = clock::begin();
            let t1 = clock::end();
            t1.wrapping_sub(t0)
        })
        .collect();
    empty.sort_unstable();
    let overhead = common::quantile(&empty, 0.5);

    let reg = common::manual_registry();
    let tracks = common::open_tracks(&reg, n);
    let hot: Vec<&trackstats::Track> = (0..HOT).map(|i| &tracks[i * (n / HOT)]).collect();
    // The baseline's atomics are spread the same way (one every n / HOT of n
    // padded words, so each on its own page), so layout costs such as TLB
    // misses hit both alike; only the sampler and the churn touch the tracks.
    let spread: Vec<CachePadded<AtomicU64>> = (0..n).map(|_| CachePadded::new(AtomicU64::new(0))).collect();
    let bare: Vec<&AtomicU64> = (0..HOT).map(|i| &*spread[i * (n / HOT)]).collect();
    let stop = AtomicBool::new(false);
    let ticks = AtomicU64::new(0);
    let churns = AtomicU64::new(0);

    let mut rec: Vec<u64> = Vec::with_capacity(cap);
    let mut base: Vec<u64> = Vec::with_capacity(cap);
    let elapsed = std::thread::scope(|s| {
        s.spawn(|| {
            let mut out = Vec::new();
            while !stop.load(Relaxed) {
                reg.tick().expect("tick");
                reg.drain(&mut out, usize::MAX);
                out.clear();
                ticks.fetch_add(1, Relaxed);
            }
        });
        s.spawn(|| {
            let mut i = 0usize;
            while !stop.load(Relaxed) {
                let t = reg.open(common::key(n + (i & 0xffff))).expect("open");
                t.record_up(BYTES);
                t.close();
                drop(t);
                i += 1;
                churns.fetch_add(1, Relaxed);
            }
        });
        // Let the ticker and churner get going first.
        while ticks.load(Relaxed) < 2 || churns.load(Relaxed) < 100 {
            std::thread::yield_now();
        }
        let start = Instant::now();
        let mut k = 0usize;
        while start.elapsed() < run_for && rec.len() + BLOCK <= cap {
            for _ in 0..BLOCK {
                let t = hot[k % HOT];
                k += 1;
                let t0 = clock::begin();
                t.record_up(black_box(BYTES));
                let t1 = clock::end();
                rec.push(t1.wrapping_sub(t0));
            }
            for _ in 0..BLOCK {
                let a = bare[k % HOT];
                k += 1;
                let t0 = clock::begin();
                a.fetch_add(black_box(TRACKSTATS_WORD_MESSAGE_ONE | BYTES), Relaxed);
                let t1 = clock::end();
                base.push(t1.wrapping_sub(t0));
            }
        }
        let elapsed = start.elapsed();
        stop.store(true, Relaxed);
        elapsed
    });

    let (ticks, churns) = (ticks.load(Relaxed), churns.load(Relaxed));
    let r = summarize(rec, overhead, per_ns);
    let b = summarize(base, overhead, per_ns);
    println!(
        "record latency under load ({n} tracks, {ticks} ticks, {churns} churns in {:.1} s; {}):",
        elapsed.as_secs_f64(),
        clock::METHOD
    );
    println!("  stamp overhead subtracted: {:.1} ns; TSC {:.3} GHz", overhead as f64 / per_ns, per_ns);
    for (name, x) in [("record_up", &r), ("bare fetch_add", &b)] {
        println!(
            "  {name:>15}: p50 {:.1} ns  p99 {:.1} ns  p99.9 {:.1} ns  max {:.0} ns  >1us {} of {}",
            x.p50, x.p99, x.p999, x.max, x.over_1us, x.samples
        );
    }
    assert!(ticks >= 2 && churns > 0, "the load threads ran");
    if !full {
        return;
    }
    let mut j = common::Json::default();
    j.str("method", clock::METHOD)
        .num("tracks", n as f64)
        .num("hot_tracks", HOT as f64)
        .num("seconds", elapsed.as_secs_f64())
        .num("ticks", ticks as f64)
        .num("churns", churns as f64)
        .num("tsc_ghz", per_ns)
        .num("stamp_overhead_ns", overhead as f64 / per_ns);
    for (p, x) in [("record", &r), ("bare", &b)] {
        j.num(&format!("{p}_samples"), x.samples as f64)
            .num(&format!("{p}_p50_ns"), x.p50)
            .num(&format!("{p}_p99_ns"), x.p99)
            .num(&format!("{p}_p999_ns"), x.p999)
            .num(&format!("{p}_max_ns"), x.max)
            .num(&format!("{p}_over_1us"), x.over_1us as f64);
    }
    j.write("latency");
}
