//! Invariant 5: closing a track produces its final reports, flagged final,
//! within milliseconds (not at the next tick); only non-zero deltas.

use crate::common::*;
use std::time::{Duration, Instant};
use trackstats::{Direction, TRACKSTATS_INTERVAL_MAX_MS};

const PROMPT: Duration = Duration::from_millis(250);

#[test]
fn close_reports_at_once_even_with_an_hour_long_window() {
    let reg = threaded(TRACKSTATS_INTERVAL_MAX_MS);
    let t = reg.open(key(1)).unwrap();
    t.record_up(500);
    t.record_up(700);
    let start = Instant::now();
    assert!(t.close());
    let mut v = Vec::new();
    let n = reg.wait(&mut v, 16, Duration::from_secs(5)).unwrap();
    let took = start.elapsed();
    assert_eq!(n, 1, "one direction had traffic, so one report: {v:?}");
    assert!(took < PROMPT, "final flush took {took:?}");
    let r = &v[0];
    assert!(r.is_final() && !r.is_late());
    assert_eq!((r.direction, r.bytes, r.messages), (Direction::Up, 1200, 2));
    assert!(!t.close(), "a second close is a no-op");
}

#[test]
fn closing_an_idle_track_reports_nothing() {
    let reg = threaded(TRACKSTATS_INTERVAL_MAX_MS);
    let t = reg.open(key(1)).unwrap();
    t.close();
    let mut v = Vec::new();
    assert_eq!(reg.wait(&mut v, 16, Duration::from_millis(100)).unwrap(), 0);
    drop(t);
    assert_eq!(reg.wait(&mut v, 16, Duration::from_millis(100)).unwrap(), 0);
}

#[test]
fn close_reaches_a_callback_sink_promptly() {
    let (reg, seen) = with_sink(TRACKSTATS_INTERVAL_MAX_MS);
    let t = reg.open(key(1)).unwrap();
    t.record_down(64);
    let start = Instant::now();
    t.close();
    while seen.lock().unwrap().is_empty() {
        assert!(start.elapsed() < PROMPT, "no final report after {:?}", start.elapsed());
        std::thread::sleep(Duration::from_millis(1));
    }
    let r = seen.lock().unwrap()[0].clone();
    assert!(r.is_final());
    assert_eq!((r.direction, r.bytes), (Direction::Down, 64));
}

/// Registry close flushes every open track as final and delivers it.
#[test]
fn registry_close_flushes_every_open_track() {
    let (reg, seen) = with_sink(TRACKSTATS_INTERVAL_MAX_MS);
    let tracks: Vec<_> = (0..10).map(|i| reg.open(key(i)).unwrap()).collect();
    for (i, t) in tracks.iter().enumerate() {
        t.record_up(i as u64 + 1);
    }
    reg.close().unwrap();
    let reports = seen.lock().unwrap().clone();
    assert_eq!(reports.len(), 10);
    assert!(reports.iter().all(|r| r.is_final() && r.bytes == r.key.user_data() + 1));
    assert_eq!(reg.stats().open_tracks, 0);
}

/// Pending reports merge per (track, direction), a close's too: bytes
/// recorded after the close fold into its undrained final report (flagged
/// late and merged as well) rather than making a second one.
#[test]
fn late_bytes_fold_into_a_pending_final_report() {
    let reg = manual();
    let t = reg.open(key(1)).unwrap();
    t.record_up(100);
    assert!(t.close());
    reg.flush().unwrap();
    t.record_up(50);
    drop(t);
    reg.flush().unwrap();
    let r = drain_all(&reg);
    let flags =
        trackstats::TRACKSTATS_FLAG_FINAL | trackstats::TRACKSTATS_FLAG_LATE | trackstats::TRACKSTATS_FLAG_MERGED;
    let got: Vec<_> = r.iter().map(|r| (r.direction, r.bytes, r.messages, r.flags)).collect();
    assert_eq!(got, [(Direction::Up, 150, 2, flags)]);
}
