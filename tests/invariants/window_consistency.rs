//! Invariant 2: a record's bytes and its message count land in the same
//! window. Recording only messages of size S, every report has
//! bytes == S * messages, on the fast path, the spill path and the wide path.

use crate::common::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use trackstats::{Report, TRACKSTATS_MAX_INLINE_BYTES};

fn assert_consistent(reports: &[Report], s: u64) {
    assert!(!reports.is_empty());
    for r in reports {
        assert_eq!(r.bytes, s * r.messages, "a window split a record: {r:?}");
    }
}

/// Two writers on shared tracks, 1 ms ticks, closes racing the records.
#[test]
fn every_report_is_a_multiple_of_the_message_size() {
    const S: u64 = 1200;
    let (reg, seen) = with_sink(1);
    let tracks: Vec<_> = (0..4).map(|i| Arc::new(reg.open(key(i)).unwrap())).collect();
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let tracks = tracks.clone();
            thread::spawn(move || {
                for i in 0..1_500_000u64 {
                    let t = &tracks[((i + w) % 4) as usize];
                    if i % 2 == 0 {
                        t.record_up(S)
                    } else {
                        t.record_down(S)
                    }
                    if i == 700_000 && w == 0 {
                        tracks[0].close();
                    }
                }
            })
        })
        .collect();
    writers.into_iter().for_each(|w| w.join().unwrap());
    drop(tracks);
    drop(reg);
    let reports = seen.lock().unwrap().clone();
    assert_consistent(&reports, S);
    assert_eq!(ledger_of(&reports).messages(), 3_000_000);
}

/// More than 2^23 messages in one window forces the spill path (the message
/// field is 24 bits wide) while a ticker takes windows concurrently.
#[test]
fn spilled_windows_stay_consistent() {
    const S: u64 = 3;
    const PER_WRITER: u64 = 10_000_000;
    let reg = Arc::new(manual());
    let t = Arc::new(reg.open(key(1)).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    // Tick whenever the open window holds 9M messages (> 2^23, so the word
    // must have spilled), racing the writers.
    let ticker = {
        let (reg, t, stop) = (reg.clone(), t.clone(), stop.clone());
        thread::spawn(move || {
            let (mut at_last_tick, mut reports) = (0, Vec::new());
            while !stop.load(Ordering::Relaxed) {
                let now = t.totals().up.messages;
                if now - at_last_tick >= 9_000_000 {
                    reg.tick().unwrap();
                    reports.extend(drain_all(&reg)); // drained, so windows don't merge
                    at_last_tick = now;
                }
                thread::yield_now();
            }
            reports
        })
    };
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let t = t.clone();
            thread::spawn(move || (0..PER_WRITER).for_each(|_| t.record_up(S)))
        })
        .collect();
    writers.into_iter().for_each(|w| w.join().unwrap());
    stop.store(true, Ordering::Relaxed);
    let mut reports = ticker.join().unwrap();
    reg.tick().unwrap();
    reports.extend(drain_all(&reg));
    assert_consistent(&reports, S);
    let total: u64 = reports.iter().map(|r| r.messages).sum();
    assert_eq!(total, 2 * PER_WRITER);
    let biggest = reports.iter().map(|r| r.messages).max().unwrap();
    assert!(biggest > 1 << 23, "a window went through the spill accumulator ({biggest} messages)");
    assert!(reports.len() >= 2, "ticks raced the writers");
}

/// Records above the inline limit go straight to the wide accumulator.
#[test]
fn wide_records_stay_consistent() {
    const S: u64 = TRACKSTATS_MAX_INLINE_BYTES + 12345;
    let reg = manual();
    let t = reg.open(key(1)).unwrap();
    for i in 0..1000 {
        t.record_down(S);
        t.record_down(S);
        if i % 100 == 0 {
            reg.tick().unwrap();
        }
    }
    reg.tick().unwrap();
    let reports = drain_all(&reg);
    assert_consistent(&reports, S);
    assert_eq!(ledger_of(&reports).messages(), 2000);
}
