//! Invariant 4: windows follow absolute deadlines (origin + k * interval),
//! whatever the sampler's own work or wake-up latency; reports carry them.

use crate::common::*;
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn windows_sit_on_the_interval_grid() {
    const INTERVAL_MS: u64 = 10;
    let (reg, seen) = with_sink(INTERVAL_MS);
    let t = reg.open(key(1)).unwrap();
    let until = Instant::now() + Duration::from_millis(400);
    while Instant::now() < until {
        t.record_up(100);
        thread::sleep(Duration::from_micros(200));
    }
    // Stop before close so the last regular window is on the grid.
    thread::sleep(Duration::from_millis(3 * INTERVAL_MS));
    let mut reports: Vec<_> = seen.lock().unwrap().iter().filter(|r| !r.is_final()).cloned().collect();
    drop(t);
    drop(reg);
    reports.sort_by_key(|r| r.end_unix_ns);
    assert!(reports.len() >= 20, "only {} windows", reports.len());
    let step = INTERVAL_MS * 1_000_000;
    let first = reports[0].end_unix_ns;
    for pair in reports.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert_eq!((b.end_unix_ns - first) % step, 0, "window end off the grid: {b:?}");
        // A window with no records reports nothing, so a gap is allowed, but
        // every window starts on the grid too, never between two ends.
        assert!(b.start_unix_ns >= a.end_unix_ns, "windows overlap: {a:?} {b:?}");
        assert_eq!((b.start_unix_ns - first) % step, 0, "window start off the grid: {b:?}");
        let span = b.end_unix_ns - b.start_unix_ns;
        assert!(span == step || (b.is_merged() && span % step == 0), "window of {span} ns");
    }
}
