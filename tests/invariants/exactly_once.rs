//! Invariant 1: over any run, reported bytes and messages per track and
//! direction equal what was recorded, with records racing samples, closes,
//! releases and registry shutdown.

use crate::common::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;
use trackstats::{Direction, Error, Track, TRACKSTATS_MAX_INLINE_BYTES};

const WRITERS: u64 = 2;
const RECORDS_PER_WRITER: u64 = 6_000_000;
const RECORDS_PER_CHURN_TRACK: u64 = 20_000;

/// Each writer keeps one long-lived track and churns short ones: every churn
/// track goes to a closer thread that closes it while the writer is still
/// recording on it (so records race the close), and is released by whichever
/// of the two drops it last (so the release races the sampler's passes). A
/// 1 ms interval makes ticks race everything. Midway the registry itself is
/// closed while the writers keep recording: those bytes are late and are
/// reported when the tracks are released.
#[test]
fn every_byte_is_reported_once_with_records_racing_close_release_ticks_and_shutdown() {
    let reg = Arc::new(threaded(1));
    let next_id = Arc::new(AtomicU64::new(1000));
    let (to_closer, closer_rx) = mpsc::channel::<Arc<Track>>();
    let closer = thread::spawn(move || {
        for t in closer_rx {
            t.close();
        }
    });
    let consumer = {
        let reg = reg.clone();
        thread::spawn(move || {
            let mut got = Ledger::default();
            let mut v = Vec::new();
            loop {
                v.clear();
                match reg.wait(&mut v, 4096, Duration::from_millis(20)) {
                    Ok(_) => v.iter().for_each(|r| got.add_report(r)),
                    Err(Error::Closed) => return got,
                    Err(e) => panic!("wait: {e:?}"),
                }
            }
        })
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let reg = reg.clone();
            let next_id = next_id.clone();
            let to_closer = to_closer.clone();
            thread::spawn(move || {
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (w + 1));
                let mut truth = Ledger::default();
                let long_id = w;
                let long = reg.open(key(long_id)).unwrap();
                let mut done = 0u64;
                while done < RECORDS_PER_WRITER {
                    let id = next_id.fetch_add(1, Ordering::Relaxed);
                    let churn = match reg.open(key(id)) {
                        Ok(t) => Some(Arc::new(t)),
                        Err(Error::Closed) => None,
                        Err(e) => panic!("open: {e:?}"),
                    };
                    let (track, tid) = match &churn {
                        Some(t) => (&**t, id),
                        None => (&long, long_id),
                    };
                    let (mut up, mut down) = ((0u64, 0u64), (0u64, 0u64));
                    for i in 0..RECORDS_PER_CHURN_TRACK {
                        if i == RECORDS_PER_CHURN_TRACK / 4 {
                            if let Some(t) = &churn {
                                to_closer.send(t.clone()).unwrap();
                            }
                        }
                        let n = rng.message_size();
                        if i % 3 == 0 {
                            track.record_down(n);
                            down = (down.0 + n, down.1 + 1);
                        } else {
                            track.record_up(n);
                            up = (up.0 + n, up.1 + 1);
                        }
                    }
                    let e = truth.0.entry((tid, Direction::Up)).or_default();
                    *e = (e.0 + up.0, e.1 + up.1);
                    let e = truth.0.entry((tid, Direction::Down)).or_default();
                    *e = (e.0 + down.0, e.1 + down.1);
                    done += RECORDS_PER_CHURN_TRACK;
                    // The writer's hold ends here; the closer may still hold it.
                    drop(churn);
                    // Close the registry midway, while the other writer records.
                    let midway = RECORDS_PER_WRITER / 2..RECORDS_PER_WRITER / 2 + RECORDS_PER_CHURN_TRACK;
                    if w == 0 && midway.contains(&done) {
                        reg.close().unwrap();
                    }
                }
                drop(long);
                truth
            })
        })
        .collect();
    drop(to_closer);
    let mut recorded = Ledger::default();
    for w in writers {
        recorded.merge(&w.join().unwrap());
    }
    closer.join().unwrap();
    let mut reported = consumer.join().unwrap();
    // Releases after the registry closed were flushed inline; take them too.
    reported.merge(&ledger_of(&drain_all(&reg)));
    assert!(recorded.messages() >= 10_000_000, "the stress covers at least 10^7 records");
    reported.assert_equals(&recorded);
    let s = reg.stats();
    assert_eq!(s.live_slots, 0, "every slot was released");
    assert!(s.ticks > 10, "ticks raced the records ({} ticks)", s.ticks);
}

/// The same sums hold for the cumulative totals a host reads while recording.
#[test]
fn totals_equal_reports_plus_open_window() {
    let reg = manual();
    let t = reg.open(key(1)).unwrap();
    let mut truth = Ledger::default();
    let mut rng = Rng(7);
    for round in 0..50 {
        for _ in 0..1000 {
            let n = rng.message_size();
            t.record_up(n);
            truth.add(1, Direction::Up, n);
        }
        if round % 7 == 0 {
            reg.tick().unwrap();
        }
        let tot = t.totals();
        let up = truth.0[&(1, Direction::Up)];
        assert_eq!((tot.up.bytes, tot.up.messages), up);
        assert_eq!(tot.down.messages, 0);
    }
}

/// The sampler's pass visits only tracks marked active (a window's first
/// record, a spill, a wide record). Here nothing ever closes: every byte must
/// reach a report through ticks alone, with writers hitting thousands of
/// tracks sparsely (most idle in most windows, over several slab segments)
/// while a ticker thread ends windows underneath them. A lost mark leaves a
/// window in its word and fails the sums.
#[test]
fn ticks_alone_report_every_window_of_sparsely_active_tracks() {
    const TRACKS: u64 = 5000;
    const RECORDS: u64 = 2_000_000;
    let reg = Arc::new(manual());
    let tracks: Arc<Vec<Track>> = Arc::new((0..TRACKS).map(|id| reg.open(key(id)).unwrap()).collect());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ticker = {
        let (reg, stop) = (reg.clone(), stop.clone());
        thread::spawn(move || {
            let mut got = Ledger::default();
            let mut ticks = 0u64;
            while !stop.load(Ordering::Relaxed) {
                reg.tick().unwrap();
                ticks += 1;
                got.merge(&ledger_of(&drain_all(&reg)));
            }
            (got, ticks)
        })
    };
    let writers: Vec<_> = (0..2u64)
        .map(|w| {
            let tracks = tracks.clone();
            thread::spawn(move || {
                let mut rng = Rng(0xA5A5_5A5A ^ (w + 1));
                let mut truth = Ledger::default();
                for k in 0..RECORDS {
                    // Bursts on a few tracks at a time, then a jump elsewhere.
                    let id = (rng.next() % 16 + (k / 4096) * 97 * (w + 1)) % TRACKS;
                    let dir = if rng.next() % 3 == 0 { Direction::Down } else { Direction::Up };
                    let n = match rng.next() % 100_000 {
                        0 => TRACKSTATS_MAX_INLINE_BYTES + 1 + rng.next() % 1000, // wide: the accumulator
                        _ => rng.message_size(),
                    };
                    tracks[id as usize].record(dir, n);
                    truth.add(id, dir, n);
                }
                truth
            })
        })
        .collect();
    let mut recorded = Ledger::default();
    for w in writers {
        recorded.merge(&w.join().unwrap());
    }
    stop.store(true, Ordering::Relaxed);
    let (mut reported, ticks) = ticker.join().unwrap();
    // One window after the last record: nothing may be left in a word.
    reg.tick().unwrap();
    reported.merge(&ledger_of(&drain_all(&reg)));
    assert!(ticks > 20, "ticks raced the records ({ticks} ticks)");
    reported.assert_equals(&recorded);
    assert_eq!(reg.stats().open_tracks, TRACKS, "no track was closed");
}

/// The accumulator paths mark the track too: a window holding nothing but a
/// wide record, or nothing but a spilled word, is reported by the next tick.
#[test]
fn a_window_held_only_by_the_accumulator_is_reported_by_the_next_tick() {
    let reg = manual();
    let t = reg.open(key(1)).unwrap();
    let wide = TRACKSTATS_MAX_INLINE_BYTES + 1;
    t.record_up(wide);
    reg.tick().unwrap();
    assert_eq!(ledger_of(&drain_all(&reg)).0[&(1, Direction::Up)], (wide, 1), "a lone wide record");

    // The bindings' rule: the window's first record (old == 0) marks the
    // track, a spill moves its word to the accumulator; one report.
    let words = trackstats::ffi::trackstats_track_window_words(t.as_ptr());
    // SAFETY: the track is live; its window words are two aligned u64s.
    let up = unsafe { std::sync::atomic::AtomicU64::from_ptr(words) };
    let old = up.fetch_add(trackstats::TRACKSTATS_WORD_MESSAGE_ONE | 7, Ordering::Relaxed);
    trackstats::ffi::trackstats_track_slow_path(t.as_ptr(), 0, old);
    trackstats::ffi::trackstats_track_slow_path(t.as_ptr(), 0, trackstats::TRACKSTATS_WORD_SPILL_MASK);
    reg.tick().unwrap();
    assert_eq!(ledger_of(&drain_all(&reg)).0[&(1, Direction::Up)], (7, 1), "a moved word");
}
