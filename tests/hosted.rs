//! Hosted words (`trackstats_track_open_hosted`): a track whose window words
//! live in the host's memory. The tests play the host with the rule in
//! tests/host_rule and check: exactly-once reporting through the host's
//! words; the let-go (sealed words, final totals, nothing touched after);
//! records after it counted as stale; the grace of
//! `release_after_grace`, bounded in time and in tracks; attached packet
//! words; and the C ABI's checks.

mod host_rule;

use std::ptr::{null, null_mut, NonNull};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::sync::Arc;
use std::time::Duration;
use trackstats::ffi::*;
use trackstats::{
    Config, Delta, Direction, HostedPacketWords, HostedWords, Mode, Registry, Report, Track, TrackKey,
    TRACKSTATS_FLAG_FINAL, TRACKSTATS_FLAG_LATE, TRACKSTATS_HOSTED_LET_GO, TRACKSTATS_HOSTED_WORD_LET_GO,
    TRACKSTATS_PACKET_STARTED, TRACKSTATS_PACKET_WORD_FRAMES, TRACKSTATS_PACKET_WORD_LOST,
    TRACKSTATS_PACKET_WORD_STATE, TRACKSTATS_WORD_MESSAGE_ONE, TRACKSTATS_WORD_SEALED,
};

fn key(id: u64) -> TrackKey {
    TrackKey::new("PA_host", &format!("TR_{id}"), "DE", id).unwrap()
}

fn manual(grace: Duration, grace_slots: usize) -> Registry {
    Registry::new(Config { mode: Mode::Manual, grace, grace_slots, ..Default::default() }).unwrap()
}

fn drain(reg: &Registry) -> Vec<Report> {
    let mut v = Vec::new();
    while reg.drain(&mut v, 1024) > 0 {}
    v
}

/// (bytes, messages) reported for `id` in `dir`.
fn sum(rs: &[Report], id: u64, dir: Direction) -> (u64, u64) {
    rs.iter()
        .filter(|r| r.key.user_data() == id && r.direction == dir)
        .fold((0, 0), |a, r| (a.0 + r.bytes, a.1 + r.messages))
}

/// A block on the heap, as a host allocates one, with its track. Leaked, so
/// that it outlives the registry even when a failing test unwinds (the
/// stress test frees its blocks the way a host does, after the let-go).
fn open(reg: &Registry, id: u64) -> (&'static HostedWords, Track) {
    let w: &'static HostedWords = Box::leak(Box::default());
    // SAFETY: the block is never freed.
    let t = unsafe { reg.open_hosted(key(id), NonNull::from(w)) }.unwrap();
    (w, t)
}

#[test]
fn records_on_host_words_are_reported_once_and_the_block_is_let_go_at_release() {
    let reg = manual(Duration::ZERO, 0);
    let (w, t) = open(&reg, 1);
    let h = t.as_ptr();
    for _ in 0..10 {
        host_rule::record(&reg, h, w, Direction::Up, 100);
    }
    host_rule::record(&reg, h, w, Direction::Down, 7);
    assert_eq!((t.totals().up.bytes, t.totals().down.bytes), (1000, 7), "totals read the host's words");
    reg.tick().unwrap();
    // Past half the message field in one window: the host's slow path
    // spills its word into the library's accumulator.
    let many = (1u64 << 23) + 5;
    for _ in 0..many {
        host_rule::record(&reg, h, w, Direction::Up, 1);
    }
    // Through the library's own calls too: the slot's sealed own word sends
    // them to the accumulator.
    t.record_up(50);
    trackstats_record_down(h, 3);
    t.record_up(trackstats::TRACKSTATS_MAX_INLINE_BYTES + 1);
    reg.tick().unwrap();
    assert!(!w.is_let_go());
    drop(t);
    reg.flush().unwrap();
    assert!(w.is_let_go(), "the release lets go of the block");
    let up = (1000 + many + 50 + trackstats::TRACKSTATS_MAX_INLINE_BYTES + 1, 10 + many + 2);
    let rs = drain(&reg);
    assert_eq!((sum(&rs, 1, Direction::Up), sum(&rs, 1, Direction::Down)), (up, (10, 2)));
    assert_eq!(
        w.final_totals(),
        [Delta { bytes: up.0, messages: up.1 }, Delta { bytes: 10, messages: 2 }],
        "the block's final totals"
    );
    assert_eq!(w.window(Direction::Up).load(Relaxed), TRACKSTATS_WORD_SEALED, "the words are left sealed");
    // After the let-go the host's records are stale: counted, never reported.
    host_rule::record(&reg, null_mut(), w, Direction::Up, 40);
    host_rule::record(&reg, null_mut(), w, Direction::Down, 2);
    let s = reg.stats();
    assert_eq!((s.stale_records, s.stale_bytes), (2, 42));
    reg.tick().unwrap();
    assert!(drain(&reg).is_empty());
    assert_eq!(w.window(Direction::Up).load(Relaxed), TRACKSTATS_WORD_SEALED, "the host put the seal back");
}

#[test]
fn a_release_after_grace_reports_late_until_the_grace_ends_by_count_or_by_time() {
    // One track in its grace at most, each for an hour.
    let reg = manual(Duration::from_secs(3600), 1);
    let (w1, t1) = open(&reg, 1);
    let h1 = t1.as_ptr();
    host_rule::record(&reg, h1, w1, Direction::Up, 10);
    t1.release_after_grace();
    reg.flush().unwrap();
    assert_eq!(reg.stats().slots_in_grace, 1);
    let mut rs = drain(&reg);
    host_rule::record(&reg, h1, w1, Direction::Up, 20); // in the grace
    reg.tick().unwrap();
    rs.extend(drain(&reg));
    let flags: Vec<(u64, u32)> = rs.iter().map(|r| (r.bytes, r.flags)).collect();
    assert_eq!(flags, [(10, TRACKSTATS_FLAG_FINAL), (20, TRACKSTATS_FLAG_LATE)]);
    assert!(!w1.is_let_go(), "held for the grace");
    host_rule::record(&reg, h1, w1, Direction::Up, 30); // still in the grace
                                                        // A second track in its grace pushes the first one out.
    let (w2, t2) = open(&reg, 2);
    t2.release_after_grace();
    reg.flush().unwrap();
    assert!(w1.is_let_go() && !w2.is_let_go());
    host_rule::record(&reg, h1, w1, Direction::Up, 40); // after: stale
    assert_eq!(sum(&drain(&reg), 1, Direction::Up), (30, 1), "the last late bytes, at the grace's end");
    assert_eq!(reg.stats().stale_bytes, 40);
    drop(reg); // the close ends every grace
    assert!(w2.is_let_go());
    // By time: a zero grace ends at the sampler's next activity.
    let reg = manual(Duration::ZERO, 100);
    let (w3, t3) = open(&reg, 3);
    t3.release_after_grace();
    reg.flush().unwrap();
    assert!(!w3.is_let_go(), "the grace began with this flush");
    reg.flush().unwrap();
    assert!(w3.is_let_go());
}

#[test]
fn a_release_after_grace_of_a_library_track_reports_late_then_counts_stale() {
    let reg = manual(Duration::from_secs(3600), 1);
    let t = reg.open(key(1)).unwrap();
    let h = t.as_ptr();
    t.record_up(5);
    t.release_after_grace();
    reg.flush().unwrap();
    trackstats_record_up(h, 6); // in the grace: late
    let (_w, t2) = open(&reg, 2);
    t2.release_after_grace();
    reg.flush().unwrap(); // ends the first grace: its slot is sealed
    trackstats_record_up(h, 7);
    let rs = drain(&reg);
    assert_eq!(sum(&rs, 1, Direction::Up), (11, 2), "{rs:?}");
    assert_eq!((reg.stats().stale_records, reg.stats().stale_bytes), (1, 7));
}

#[test]
fn registry_close_ends_graces_and_later_releases_let_go_at_once() {
    let reg = manual(Duration::from_secs(3600), 100);
    let (w1, t1) = open(&reg, 1);
    let (w2, t2) = open(&reg, 2);
    host_rule::record(&reg, t1.as_ptr(), w1, Direction::Up, 1);
    t1.release_after_grace();
    reg.close().unwrap();
    assert!(w1.is_let_go(), "the close ended the grace");
    assert!(!w2.is_let_go(), "an open track keeps its block");
    host_rule::record(&reg, t2.as_ptr(), w2, Direction::Down, 2); // after the close: late
    t2.release_after_grace();
    assert!(w2.is_let_go(), "no sampler is left to hold a grace");
    let rs = drain(&reg);
    assert_eq!((sum(&rs, 1, Direction::Up), sum(&rs, 2, Direction::Down)), ((1, 1), (2, 1)));
}

#[test]
fn attached_packet_words_are_the_host_s_and_let_go_with_the_window_words() {
    let reg = manual(Duration::ZERO, 0);
    let (w, t) = open(&reg, 1);
    let p: &'static HostedPacketWords = Box::leak(Box::default());
    // SAFETY: never freed.
    assert!(unsafe { t.attach_packet_words(NonNull::from(p)) });
    // SAFETY: as above.
    assert!(!unsafe { t.attach_packet_words(NonNull::from(p)) }, "one block per track");
    // The host's packet rule, inline: packets 1, 2 and 5 (3 and 4 lost),
    // 5 ending a frame; the stores before the window word's Release add.
    let word = |k| p.packet_word(k);
    word(TRACKSTATS_PACKET_WORD_STATE).store(TRACKSTATS_PACKET_STARTED | 1, Relaxed);
    w.window(Direction::Up).fetch_add(TRACKSTATS_WORD_MESSAGE_ONE | 10, Release);
    trackstats_track_slow_path(t.as_ptr(), 0, 0); // the window's first record
    word(TRACKSTATS_PACKET_WORD_STATE).store(TRACKSTATS_PACKET_STARTED | 2, Relaxed);
    w.window(Direction::Up).fetch_add(TRACKSTATS_WORD_MESSAGE_ONE | 10, Release);
    word(TRACKSTATS_PACKET_WORD_LOST).store(2, Relaxed);
    word(TRACKSTATS_PACKET_WORD_STATE).store(TRACKSTATS_PACKET_STARTED | 5, Relaxed);
    word(TRACKSTATS_PACKET_WORD_FRAMES).store(1, Relaxed);
    w.window(Direction::Up).fetch_add(TRACKSTATS_WORD_MESSAGE_ONE | 10, Release);
    // And one through the library, on the same words.
    t.record_up_packet(10, 6, true);
    reg.tick().unwrap();
    let rs = drain(&reg);
    assert_eq!(rs.len(), 1);
    assert_eq!((rs[0].bytes, rs[0].messages, rs[0].seq.lost, rs[0].seq.frames), (40, 4, 2, 2));
    assert_eq!(word(TRACKSTATS_PACKET_WORD_STATE).load(Relaxed), TRACKSTATS_PACKET_STARTED | 6);
    drop(t);
    reg.flush().unwrap();
    assert!(w.is_let_go());
    // A library track takes no packet block.
    let lib = reg.open(key(2)).unwrap();
    let p2 = Box::<HostedPacketWords>::default();
    // SAFETY: not attached (refused), so never used.
    assert!(!unsafe { lib.attach_packet_words(NonNull::from(&*p2)) });
}

/// A sampler thread ends a grace when it is due, not at its next window: with
/// hour-long windows, a release after a 50 ms grace lets go of its block
/// within a second (also with a flush on the host's thread racing the thread
/// for the release request).
#[test]
fn a_sampler_thread_ends_a_grace_on_time_whatever_the_interval() {
    let reg = Registry::new(Config {
        interval: trackstats::MAX_INTERVAL,
        grace: Duration::from_millis(50),
        ..Default::default()
    })
    .unwrap();
    for via_flush in [false, true] {
        let (w, t) = open(&reg, 70 + via_flush as u64);
        t.release_after_grace();
        if via_flush {
            reg.flush().unwrap(); // may take the request before the thread does
        }
        let began = std::time::Instant::now();
        while !w.is_let_go() {
            assert!(
                began.elapsed() < Duration::from_secs(5),
                "not let go {:?} after a 50 ms grace (via flush: {via_flush})",
                began.elapsed()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(reg.stats().slots_in_grace, 0);
    }
}

/// A host reading a hosted track's totals while its release takes effect
/// (the Go binding's `Track.Totals`): it asks the library while the let-go
/// mark is unset, and reads the block once it is set. Every answer is the
/// track's whole count: the library never shows an emptied slot to a read
/// that still finds the mark unset.
#[test]
fn totals_racing_the_let_go_never_read_an_emptied_slot() {
    let reg = Arc::new(Registry::new(Config { interval: Duration::from_millis(1), ..Default::default() }).unwrap());
    let mut zeros = 0u64;
    for round in 0..3000u64 {
        let (w, t) = open(&reg, 1000 + round);
        let h = t.as_ptr();
        host_rule::record(&reg, h, w, Direction::Up, 100);
        reg.tick().ok(); // a threaded registry: refused, the sampler ticks
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let stop = stop.clone();
            let h = h as usize;
            let w = w as *const HostedWords as usize;
            std::thread::spawn(move || {
                // SAFETY: the block is leaked (never freed); `h` is used only
                // while the let-go mark is unset, when the slot is still the
                // track's.
                let w = unsafe { &*(w as *const HostedWords) };
                let mut zeros = 0u64;
                while !stop.load(Relaxed) {
                    let mut out = trackstats_totals::default();
                    trackstats_track_totals(h as *const trackstats_track, &mut out);
                    let bytes = if w.is_let_go() { w.final_totals()[0].bytes } else { out.up_bytes };
                    if bytes != 100 {
                        zeros += 1;
                    }
                    if w.is_let_go() {
                        break;
                    }
                }
                zeros
            })
        };
        drop(t); // the release, processed by the sampler thread
        while !w.is_let_go() {
            std::hint::spin_loop();
        }
        stop.store(true, Relaxed);
        zeros += reader.join().unwrap();
    }
    assert_eq!(zeros, 0, "totals read as an emptied slot before the let-go mark");
}

/// Writers record through the host rule on hosted tracks while the host
/// releases them after a grace, from a threaded registry with 1 ms windows
/// and a tiny grace; they keep recording after the let-go. Per track,
/// reported plus stale equals recorded, and the host frees each block as
/// soon as its writers saw it let go.
#[test]
fn writers_racing_a_release_after_grace_lose_nothing() {
    const TRACKS: u64 = 8;
    let reg = Arc::new(
        Registry::new(Config {
            interval: Duration::from_millis(1),
            grace: Duration::from_millis(2),
            grace_slots: 3,
            ..Default::default()
        })
        .unwrap(),
    );
    let mut reports = Vec::new();
    let mut recorded = Vec::new();
    for round in 0..20u64 {
        // Blocks the host frees itself, once let go and its writers done.
        let tracks: Vec<(*mut HostedWords, Track)> = (0..TRACKS)
            .map(|i| {
                let w = Box::into_raw(Box::<HostedWords>::default());
                // SAFETY: freed below only after the let-go was seen.
                let t = unsafe { reg.open_hosted(key(round * TRACKS + i), NonNull::new(w).unwrap()) }.unwrap();
                (w, t)
            })
            .collect();
        let done = Arc::new(AtomicBool::new(false));
        let counts: Vec<Arc<AtomicU64>> = (0..TRACKS).map(|_| Arc::new(AtomicU64::new(0))).collect();
        let mut writers = Vec::new();
        for (i, (w, t)) in tracks.iter().enumerate() {
            let (reg, done, count) = (reg.clone(), done.clone(), counts[i].clone());
            let (w, h) = (*w as usize, t.as_ptr() as usize);
            writers.push(std::thread::spawn(move || {
                // SAFETY: the block lives until this thread is joined.
                let w = unsafe { &*(w as *const HostedWords) };
                let mut n = 0u64;
                // Until the block is let go, and a little after.
                let mut after = 0;
                while !done.load(Relaxed) || after < 100 {
                    let bytes = 1 + (n % 7) * 100;
                    host_rule::record(&reg, h as *mut trackstats_track, w, Direction::Up, bytes);
                    count.fetch_add(bytes, Relaxed);
                    n += 1;
                    if w.is_let_go() {
                        after += 1;
                    }
                    if done.load(Relaxed) && !w.is_let_go() {
                        std::thread::yield_now();
                    }
                }
            }));
        }
        std::thread::sleep(Duration::from_millis(3));
        let mut blocks = Vec::new();
        for (w, t) in tracks {
            t.release_after_grace();
            blocks.push(w);
        }
        done.store(true, Relaxed);
        for h in writers {
            h.join().unwrap();
        }
        for &w in &blocks {
            // SAFETY: the block is alive (not yet freed).
            assert!(unsafe { &*w }.is_let_go());
        }
        for w in blocks {
            // SAFETY: from `Box::into_raw`, let go, its writers joined.
            drop(unsafe { Box::from_raw(w) });
        }
        for (i, c) in counts.iter().enumerate() {
            recorded.push((round * TRACKS + i as u64, c.load(Relaxed)));
        }
        reports.extend(drain(&reg));
    }
    reg.flush().unwrap();
    reports.extend(drain(&reg));
    let rs = reports;
    let stale = reg.stats().stale_bytes;
    let reported: u64 = rs.iter().map(|r| r.bytes).sum();
    let total: u64 = recorded.iter().map(|r| r.1).sum();
    assert_eq!(reported + stale, total, "reported {reported} + stale {stale} != recorded {total}");
    for (id, bytes) in &recorded {
        let (got, _) = sum(&rs, *id, Direction::Up);
        assert!(got <= *bytes, "track {id}: reported {got} > recorded {bytes}");
    }
    assert!(stale > 0, "no record came after a let-go: the test did not race");
}

#[test]
fn the_c_abi_checks_hosted_blocks() {
    let mut cfg = trackstats_config_default();
    cfg.mode = TRACKSTATS_MODE_MANUAL;
    let mut reg = null_mut();
    assert_eq!(trackstats_registry_new(&cfg, &mut reg), trackstats_result::Ok);
    let open = |words: *mut u64, out: &mut *mut trackstats_track| {
        trackstats_track_open_hosted(reg, c"PA".as_ptr(), 2, c"TR".as_ptr(), 2, null(), 0, 1, words, out)
    };
    let mut block = [0u64; 17];
    let mut t = null_mut();
    assert_eq!(open(null_mut(), &mut t), trackstats_result::NullArgument);
    let misaligned = (block.as_mut_ptr() as usize + 4) as *mut u64;
    assert_eq!(open(misaligned, &mut t), trackstats_result::InvalidArgument);
    assert!(t.is_null(), "out written on failure");
    block[0] = 99; // reset by the open
    assert_eq!(open(block.as_mut_ptr(), &mut t), trackstats_result::Ok);
    assert_eq!(block[0], 0);
    let mut packets = [0u64; 17];
    assert_eq!(trackstats_track_attach_packet_words(t, null_mut()), trackstats_result::NullArgument);
    let skewed = (packets.as_mut_ptr() as usize + 1) as *mut u64;
    assert_eq!(trackstats_track_attach_packet_words(t, skewed), trackstats_result::InvalidArgument);
    assert_eq!(trackstats_track_attach_packet_words(null_mut(), packets.as_mut_ptr()), trackstats_result::Ok);
    assert_eq!(trackstats_track_attach_packet_words(t, packets.as_mut_ptr()), trackstats_result::Ok);
    assert_eq!(trackstats_track_attach_packet_words(t, packets.as_mut_ptr()), trackstats_result::InvalidArgument);
    trackstats_track_release_after_grace(null_mut());
    trackstats_track_release(t);
    assert_eq!(trackstats_registry_flush(reg), trackstats_result::Ok);
    assert_eq!(block[TRACKSTATS_HOSTED_WORD_LET_GO as usize], TRACKSTATS_HOSTED_LET_GO);
    assert_eq!(trackstats_registry_count_stale(null_mut(), 1, 1), trackstats_result::NullArgument);
    assert_eq!(trackstats_registry_count_stale(reg, 5, 1), trackstats_result::Ok);
    let mut st = trackstats_stats::default();
    assert_eq!(trackstats_registry_stats(reg, &mut st), trackstats_result::Ok);
    assert_eq!((st.stale_records, st.stale_bytes), (1, 5));
    trackstats_registry_free(reg);
}
