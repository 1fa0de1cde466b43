//! Invariant 7: a slow or stuck consumer never hurts the hot path; pending
//! reports of one (track, direction) merge instead of growing or dropping.

use crate::common::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use trackstats::{Config, Direction, Mode, Registry, Report, Sink, TrackKey, TRACKSTATS_FLAG_OVERFLOW};

const TRACKS: u64 = 8;

#[test]
fn an_undrained_queue_stays_bounded_by_tracks_and_loses_nothing() {
    let reg = Arc::new(threaded(2));
    let tracks: Vec<_> = (0..TRACKS).map(|i| reg.open(key(i)).unwrap()).collect();
    let mut truth = Ledger::default();
    let mut rng = Rng(3);
    let until = Instant::now() + Duration::from_millis(300);
    let mut max_pending = 0;
    while Instant::now() < until {
        for (i, t) in tracks.iter().enumerate() {
            let n = rng.message_size();
            if n % 2 == 0 {
                t.record_up(n);
                truth.add(i as u64, trackstats::Direction::Up, n);
            } else {
                t.record_down(n);
                truth.add(i as u64, trackstats::Direction::Down, n);
            }
        }
        max_pending = max_pending.max(reg.stats().reports_pending);
        thread::sleep(Duration::from_micros(100));
    }
    assert!(max_pending <= 2 * TRACKS, "{max_pending} reports pending for {TRACKS} tracks");
    let s = reg.stats();
    assert!(s.ticks > 50 && s.reports_merged > 0, "{s:?}");
    drop(tracks);
    reg.close().unwrap();
    let reports = drain_all(&reg);
    assert!(reports.iter().any(|r| r.is_merged()));
    ledger_of(&reports).assert_equals(&truth);
}

/// A sink stuck for 300 ms: windows pile up in the counters (the sampler
/// thread is the one stuck), then arrive as one merged report, exactly.
#[test]
fn a_stuck_sink_delays_reports_but_never_loses_them() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let stuck_once = Arc::new(AtomicBool::new(true));
    let (s, once) = (seen.clone(), stuck_once.clone());
    let sink: Sink = Box::new(move |rs: &[Report]| {
        if once.swap(false, Ordering::Relaxed) {
            thread::sleep(Duration::from_millis(300));
        }
        s.lock().unwrap().extend_from_slice(rs);
    });
    let reg = Registry::new(Config {
        interval: Duration::from_millis(5),
        mode: Mode::Thread,
        sink: Some(sink),
        ..Default::default()
    })
    .unwrap();
    let t = reg.open(key(1)).unwrap();
    let mut truth = Ledger::default();
    let until = Instant::now() + Duration::from_millis(400);
    while Instant::now() < until {
        t.record_up(100);
        truth.add(1, trackstats::Direction::Up, 100);
        thread::sleep(Duration::from_micros(50));
    }
    drop(t);
    let stats = reg.stats();
    drop(reg);
    let reports = seen.lock().unwrap().clone();
    assert!(stats.late_ticks > 0, "the stuck sink made the sampler miss deadlines: {stats:?}");
    assert!(reports.iter().any(|r| r.is_merged() && r.end_unix_ns - r.start_unix_ns > 5_000_000));
    ledger_of(&reports).assert_equals(&truth);
}

/// Passes of more reports than one outbox lock hold (4096) while a consumer
/// takes small bites and now and then falls behind: it drains between a
/// pass's chunks (past the pass's merge horizon) and reports merge into ones
/// it has not taken yet. Nothing is lost or counted twice, and the queue
/// stays within one report per track and direction.
#[test]
fn a_consumer_biting_into_long_passes_gets_everything_once() {
    const MANY: u64 = 6_000;
    let reg = Arc::new(threaded(1));
    let tracks: Vec<_> = (0..MANY).map(|i| reg.open(key(i)).unwrap()).collect();
    let consumer = {
        let reg = reg.clone();
        thread::spawn(move || {
            let (mut got, mut v, mut rng, mut max_pending) = (Ledger::default(), Vec::new(), Rng(11), 0);
            loop {
                v.clear();
                match reg.wait(&mut v, 97, Duration::from_millis(20)) {
                    Ok(_) => v.iter().for_each(|r| got.add_report(r)),
                    Err(trackstats::Error::Closed) => return (got, max_pending),
                    Err(e) => panic!("wait: {e:?}"),
                }
                max_pending = max_pending.max(reg.stats().reports_pending);
                if rng.next() % 64 == 0 {
                    thread::sleep(Duration::from_millis(3));
                }
            }
        })
    };
    let mut truth = Ledger::default();
    let mut rng = Rng(5);
    let until = Instant::now() + Duration::from_millis(400);
    while Instant::now() < until {
        for (i, t) in tracks.iter().enumerate() {
            let n = rng.message_size();
            let dir = if rng.next() % 2 == 0 { trackstats::Direction::Up } else { trackstats::Direction::Down };
            match dir {
                trackstats::Direction::Up => t.record_up(n),
                trackstats::Direction::Down => t.record_down(n),
            }
            truth.add(i as u64, dir, n);
        }
    }
    drop(tracks);
    reg.close().unwrap();
    let (got, max_pending) = consumer.join().unwrap();
    let s = reg.stats();
    assert!(s.reports_merged > 0 && s.reports_emitted > 4 * 4096, "{s:?}");
    assert!(max_pending <= 2 * MANY, "{max_pending} reports pending for {MANY} tracks");
    got.assert_equals(&truth);
}

/// A consumer that never drains while tracks come and go (issue 15, item
/// 2): 200,000 tracks opened, recorded, closed and released on a threaded
/// registry, nobody taking a report. Reports of closed tracks pend up to
/// `pending_closed_max`; the rest fold into per-country overflow reports, so
/// pending reports stay under the bound all along, and when the consumer at
/// last drains, every byte and message is there, per country.
#[test]
fn a_consumer_that_never_drains_holds_bounded_reports_and_loses_nothing() {
    const CAP: usize = 1000;
    let reg =
        Registry::new(Config { interval: Duration::from_millis(10), pending_closed_max: CAP, ..Default::default() })
            .unwrap();
    let countries = ["DE", "US", "BR", ""];
    let mut truth: HashMap<(&str, Direction), (u64, u64)> = HashMap::new();
    let mut add = |c, d, n| {
        let e = truth.entry((c, d)).or_default();
        e.0 += n;
        e.1 += 1;
    };
    let bound = |s: &trackstats::Stats| CAP as u64 + 2 * s.live_slots + 2 * 257;
    let mut max_pending = 0;
    for i in 0..200_000u64 {
        let country = countries[(i % 4) as usize];
        let t = reg.open(TrackKey::new("PA", &format!("TR_{i}"), country, i).unwrap()).unwrap();
        let n = 1 + i % 1500;
        t.record_up(n);
        add(country, Direction::Up, n);
        if i % 3 == 0 {
            t.record_down(n);
            add(country, Direction::Down, n);
        }
        drop(t);
        if i % 10_000 == 0 {
            reg.flush().unwrap();
            let s = reg.stats();
            assert!(s.reports_pending <= bound(&s), "pending {} over the bound: {s:?}", s.reports_pending);
            max_pending = max_pending.max(s.reports_pending);
        }
    }
    reg.flush().unwrap();
    let s = reg.stats();
    assert_eq!(s.live_slots, 0);
    assert!(s.reports_pending <= bound(&s), "{s:?}");
    assert!(s.reports_overflowed > 150_000, "the tracks beyond the bound overflowed: {s:?}");
    let reports = drain_all(&reg);
    let mut got: HashMap<(&str, Direction), (u64, u64)> = HashMap::new();
    for r in &reports {
        let c = countries.iter().find(|c| **c == r.key.country()).expect("a country of ours");
        let e = got.entry((c, r.direction)).or_default();
        e.0 += r.bytes;
        e.1 += r.messages;
    }
    assert_eq!(got, truth, "reported per country and direction != recorded");
    let overflow = reports.iter().filter(|r| r.flags & TRACKSTATS_FLAG_OVERFLOW != 0).count();
    assert!((1..=2 * countries.len()).contains(&overflow), "{overflow} overflow reports");
    println!("never drained: at most {max_pending} reports pending, {} folded into {overflow}", s.reports_overflowed);
}
