//! Tick jitter and drift over 1000 ticks at a 10 ms interval while recording.
//!
//! A registry with its sampler thread (interval 10 ms) and a callback sink
//! that timestamps each delivery; a recording thread records on 10k tracks
//! without pause, so every window has reports. For each window (told apart
//! by its end), the first delivery's time minus the window's end is the
//! jitter: the sampler's wake-up delay plus the pass over 10k tracks.
//!
//! Delivery times are taken with `Instant` and mapped to Unix ns through one
//! (SystemTime, Instant) pair read just before the registry is made, which is
//! how the registry maps its own deadlines, so both sides share one
//! monotonic clock and no wall-clock step can creep in.
//!
//! Drift over 1000 consecutive windows: the formula
//! `(last window end - first window end) - 999 * 10 ms` is zero by
//! construction (deadlines are `origin + k * interval`) as long as every
//! window is delivered. On a loaded machine a window can go without a
//! delivery (the sampler missed its deadline and merged it into the next, or
//! the recording thread did not run during it, so it had no report), and the
//! formula grows by whole intervals. So the bench reports the phase error of
//! the last window end against the grid (the drift proper, asserted zero)
//! and the skipped windows separately, and checks every window end lies on
//! the grid.
//!
//! Writes `jitter.json`. `cargo test --benches` runs a short smoke version.

mod common;

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use trackstats::{Config, Mode, Registry, Report};

const INTERVAL: Duration = Duration::from_millis(10);
const TRACKS: usize = 10_000;

fn main() {
    let full = common::is_full_run();
    let windows = if full { 1000 } else { 20 };

    // (window end, delivery instant) of the first delivery of each window.
    let seen: Arc<Mutex<Vec<(u64, Instant)>>> = Arc::new(Mutex::new(Vec::with_capacity(windows + 16)));
    let sink_seen = seen.clone();
    let sink = Box::new(move |reports: &[Report]| {
        let now = Instant::now();
        let mut v = sink_seen.lock().expect("sink log");
        for r in reports.iter().filter(|r| !r.is_final() && !r.is_late()) {
            if v.last().map_or(true, |&(end, _)| r.end_unix_ns > end) {
                v.push((r.end_unix_ns, now));
            }
        }
    });
    let unix0 = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_nanos() as u64;
    let inst0 = Instant::now();
    let reg = Registry::new(Config { interval: INTERVAL, mode: Mode::Thread, sink: Some(sink), ..Default::default() })
        .expect("registry");
    let tracks = common::open_tracks(&reg, TRACKS);
    let stop = AtomicBool::new(false);

    std::thread::scope(|s| {
        s.spawn(|| {
            let mut i = 0usize;
            while !stop.load(Relaxed) {
                tracks[i % TRACKS].record_up(1200);
                i += 1;
            }
        });
        // The first window may start before the recorder: skip one, then
        // take `windows` consecutive ones.
        while seen.lock().expect("log").len() < windows + 1 {
            std::thread::sleep(INTERVAL / 2);
        }
        stop.store(true, Relaxed);
    });
    let late_ticks = reg.stats().late_ticks;
    reg.close().expect("close");
    drop(tracks);

    let log: Vec<(u64, Instant)> = seen.lock().expect("log")[1..=windows].to_vec();
    let interval = INTERVAL.as_nanos() as u64;
    let first = log[0].0;
    let last = log[windows - 1].0;
    let span = last - first;
    // Deadlines between the first and last window end; more than
    // `windows - 1` when some window had no delivery: the sampler missed its
    // deadline (the window merged into the next; a registry late tick) or
    // nothing was recorded in it (the recording thread lost its core for a
    // whole window), so it had no report.
    let deadlines = (span + interval / 2) / interval;
    let skipped = deadlines.saturating_sub(windows as u64 - 1);
    // The phase error of the last window end against the grid: zero by
    // construction (ends are origin + k * interval, never "now").
    let drift = span as i128 - (deadlines * interval) as i128;
    // The formula, which also counts skipped windows as drift.
    let drift_formula = span as i128 - (windows as i128 - 1) * interval as i128;
    let off_grid = log.iter().filter(|(end, _)| (end - first) % interval != 0).count();
    let mut jitter: Vec<u64> = log
        .iter()
        .map(|&(end, at)| {
            let delivered = unix0 + at.saturating_duration_since(inst0).as_nanos() as u64;
            delivered.saturating_sub(end)
        })
        .collect();
    jitter.sort_unstable();
    let us = |q: f64| common::quantile(&jitter, q) as f64 / 1000.0;
    let (p50, p99, max) = (us(0.5), us(0.99), *jitter.last().expect("windows") as f64 / 1000.0);
    println!(
        "tick jitter over {windows} windows of {} ms, {TRACKS} tracks recording: p50 {p50:.1} us  p99 {p99:.1} us  max {max:.1} us",
        interval / 1_000_000
    );
    println!(
        "  drift {drift} ns; (last end - first end) - {} x interval = {drift_formula} ns ({skipped} windows without a \
         delivery, registry late ticks {late_ticks}); window ends off the grid {off_grid}",
        windows - 1
    );
    assert_eq!(off_grid, 0, "every window ends on origin + k * interval");
    assert_eq!(drift, 0, "window ends do not drift");
    assert_eq!(drift_formula, (skipped * interval) as i128, "only skipped windows lengthen the span");
    if full {
        let mut j = common::Json::default();
        j.num("windows", windows as f64)
            .num("interval_ms", (interval / 1_000_000) as f64)
            .num("tracks", TRACKS as f64)
            .num("jitter_p50_us", p50)
            .num("jitter_p99_us", p99)
            .num("jitter_max_us", max)
            .num("drift_ns", drift as f64)
            .num("drift_formula_ns", drift_formula as f64)
            .num("skipped_windows", skipped as f64)
            .num("late_ticks", late_ticks as f64)
            .num("off_grid", off_grid as f64);
        j.write("jitter");
    }
}
