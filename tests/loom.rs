//! loom models of the record / tick / close / release / registry-close
//! protocol, run against the real code: `RUSTFLAGS="--cfg trackstats_loom"` swaps every
//! atomic, mutex, condvar and the sampler thread in `src/sync.rs` for loom's,
//! so each model below drives the real `Slot`, `Slab`, sampler role, outbox
//! and (in thread mode) the real `run_sampler` loop, and loom runs it under
//! every interleaving up to the preemption bound.
//!
//! Run: `make test-loom`, or
//! `RUSTFLAGS="--cfg trackstats_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --test loom --target-dir target/loom -- --nocapture`.
//!
//! What every model asserts, after all its threads are joined and every
//! report is drained: per track and direction, reported bytes and messages
//! equal what was recorded (exactly once), every report carries bytes ==
//! size * messages for the one message size its track and direction use
//! (window consistency), and reports are attributed by the key the track
//! was opened with, so a slot reused before its holder released it shows up
//! as bytes under the wrong key.
//!
//! loom explores schedules by the accesses it sees (partial-order
//! reduction), so every value a check depends on while threads still run is
//! a loom atomic or mutex too (the sink probe); the rest is read after the
//! threads are joined.
//!
//! Not modelled: time. Registries use the longest interval, so a threaded
//! registry's sampler never reaches a deadline inside a model and windows
//! are closed by `tick` (manual mode) instead.
#![cfg(trackstats_loom)]

mod c_abi;
mod host_rule;
mod loom_support;
use loom_support::{manual_registry, model, model_with_bound};

use loom::sync::atomic::AtomicBool;
use loom::sync::Mutex;
use loom::thread;
use std::collections::HashMap;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use trackstats::ffi;
use trackstats::{
    Config, Direction, HostedWords, Mode, Registry, Report, TrackKey, MAX_INTERVAL, TRACKSTATS_FLAG_FINAL,
    TRACKSTATS_FLAG_LATE, TRACKSTATS_MAX_INLINE_BYTES, TRACKSTATS_WORD_MESSAGE_ONE, TRACKSTATS_WORD_SPILL_MASK,
};

fn key(user: u64) -> TrackKey {
    TrackKey::new("PA_model", &format!("TR_{user}"), "", user).expect("key")
}

fn drain(reg: &Registry, into: &mut Vec<Report>) {
    while reg.drain(into, 16) > 0 {}
}

/// Reported bytes and messages per (user_data, direction).
#[derive(Default, Debug)]
struct Tally(HashMap<(u64, Direction), (u64, u64)>);

impl Tally {
    fn of(reports: &[Report]) -> Tally {
        let mut t = Tally::default();
        for r in reports {
            let e = t.0.entry((r.key.user_data(), r.direction)).or_default();
            e.0 += r.bytes;
            e.1 += r.messages;
        }
        t
    }

    fn get(&self, user: u64, dir: Direction) -> (u64, u64) {
        self.0.get(&(user, dir)).copied().unwrap_or_default()
    }
}

/// Asserts every report of `user` in `dir` is `size` bytes per message.
fn assert_window_consistent(reports: &[Report], user: u64, dir: Direction, size: u64) {
    for r in reports.iter().filter(|r| r.key.user_data() == user && r.direction == dir) {
        assert_eq!(r.bytes, size * r.messages, "a record's bytes and count split across windows: {r:?}");
    }
}

fn flags_of(reports: &[Report], user: u64, dir: Direction) -> Vec<u32> {
    reports.iter().filter(|r| r.key.user_data() == user && r.direction == dir).map(|r| r.flags).collect()
}

/// Records race a tick: every record lands whole in exactly one window.
#[test]
fn record_races_tick() {
    model("record_races_tick", || {
        let reg = manual_registry();
        let track = Arc::new(reg.open(key(1)).expect("open"));
        let writer = track.clone();
        let h = thread::spawn(move || {
            writer.record_up(100);
            writer.record_up(100);
            writer.record_down(7);
        });
        reg.tick().expect("tick");
        h.join().expect("writer");
        let mut reports = Vec::new();
        drain(&reg, &mut reports);
        let totals = track.totals();
        assert_eq!((totals.up.bytes, totals.up.messages, totals.down.bytes), (200, 2, 7), "totals once quiet");
        drop(track); // the last holder: release
        reg.flush().expect("flush");
        drain(&reg, &mut reports);
        let t = Tally::of(&reports);
        assert_eq!(t.get(1, Direction::Up), (200, 2), "up reported exactly once: {reports:?}");
        assert_eq!(t.get(1, Direction::Down), (7, 1), "down reported exactly once: {reports:?}");
        assert_window_consistent(&reports, 1, Direction::Up, 100);
        assert_window_consistent(&reports, 1, Direction::Down, 7);
    });
}

/// A pass visits only tracks marked active. A window's first record, a
/// spill and a wide record each mark the track while a tick runs; the next
/// tick, with no close, reports everything: no amount is left in a word or
/// the accumulator without a mark still to be taken.
#[test]
fn marks_race_tick() {
    model("marks_race_tick", || {
        let reg = manual_registry();
        // Two tracks, so each path's mark is the only one its track gets.
        let words = Arc::new(reg.open(key(1)).expect("open"));
        let wide_track = Arc::new(reg.open(key(2)).expect("open"));
        let (w1, w2) = (words.clone(), wide_track.clone());
        let wide = TRACKSTATS_MAX_INLINE_BYTES + 1;
        let h = thread::spawn(move || {
            w1.record_up(100);
            w1.record_up(100);
            w2.record_down(wide);
        });
        reg.tick().expect("tick");
        h.join().expect("writer");
        reg.tick().expect("the next tick");
        let mut reports = Vec::new();
        drain(&reg, &mut reports);
        let t = Tally::of(&reports);
        assert_eq!(t.get(1, Direction::Up), (200, 2), "words reported by ticks alone: {reports:?}");
        assert_eq!(t.get(2, Direction::Down), (wide, 1), "wide record reported by ticks alone: {reports:?}");
        assert_window_consistent(&reports, 1, Direction::Up, 100);
    });
}

/// A pass leaves a zero word alone (no swap) and takes the other direction
/// of the same track. A record into the quiet direction races that pass:
/// taken by it, or left for the next one with the mark its first record
/// made; never lost, never twice.
#[test]
fn quiet_direction_races_tick() {
    model("quiet_direction_races_tick", || {
        let reg = manual_registry();
        let track = Arc::new(reg.open(key(1)).expect("open"));
        // The up window marks the track, so the first pass visits it.
        track.record_up(100);
        let writer = track.clone();
        let h = thread::spawn(move || {
            writer.record_down(7);
            writer.record_down(7);
        });
        reg.tick().expect("tick");
        h.join().expect("writer");
        reg.tick().expect("the next tick");
        let mut reports = Vec::new();
        drain(&reg, &mut reports);
        let t = Tally::of(&reports);
        assert_eq!(t.get(1, Direction::Up), (100, 1), "up reported exactly once: {reports:?}");
        assert_eq!(t.get(1, Direction::Down), (14, 2), "down reported by ticks alone: {reports:?}");
        assert_window_consistent(&reports, 1, Direction::Down, 7);
    });
}

/// A reader of cumulative totals races the sampler moving a window into its
/// sums (the seqlock in `Slot::take`/`Slot::totals`): the reader's own
/// records are always counted once, never zero or twice.
#[test]
fn totals_race_tick() {
    model("totals_race_tick", || {
        let reg = manual_registry();
        let track = Arc::new(reg.open(key(1)).expect("open"));
        let reader = track.clone();
        let h = thread::spawn(move || {
            reader.record_up(10);
            reader.record_up(10);
            let t = reader.totals();
            assert_eq!((t.up.bytes, t.up.messages), (20, 2), "totals lost or doubled a window");
        });
        reg.tick().expect("tick");
        h.join().expect("reader");
    });
}

/// The bindings' slow path (`trackstats_track_slow_path`: marking the track
/// active, moving the window word into the wide accumulator) and a wide
/// record race a tick, through the C ABI as Go and C++ reach them.
#[test]
fn spill_races_tick() {
    model("spill_races_tick", || {
        let reg = c_abi::registry(ffi::TRACKSTATS_MODE_MANUAL, trackstats::TRACKSTATS_INTERVAL_MAX_MS);
        let track = c_abi::open(reg, "PA", "TR", "", 1);
        // Raw pointers are not Send; the handle is thread-safe by contract.
        let handle = track as usize;
        let wide = TRACKSTATS_MAX_INLINE_BYTES + 1;
        let h = thread::spawn(move || {
            let t = handle as *mut ffi::trackstats_track;
            // One record of half the byte field, put straight on the word
            // (under loom the window words are loom atomics, at the address
            // the C ABI gives), so the next record spills.
            up_word(t).fetch_add(TRACKSTATS_WORD_MESSAGE_ONE | HALF, std::sync::atomic::Ordering::Relaxed);
            ffi::trackstats_record_up(t, 10);
            ffi::trackstats_track_slow_path(t, 0, TRACKSTATS_WORD_SPILL_MASK); // a stray call: harmless
            ffi::trackstats_record_up(t, wide);
        });
        assert_eq!(ffi::trackstats_registry_tick(reg), ffi::trackstats_result::Ok);
        h.join().expect("writer");
        ffi::trackstats_track_release(track);
        assert_eq!(ffi::trackstats_registry_flush(reg), ffi::trackstats_result::Ok);
        let mut batch = std::ptr::null_mut();
        assert_eq!(ffi::trackstats_batch_new(8, &mut batch), ffi::trackstats_result::Ok);
        let (mut bytes, mut messages) = (0u64, 0u64);
        loop {
            assert_eq!(ffi::trackstats_registry_drain(reg, batch), ffi::trackstats_result::Ok);
            let mut len = 0usize;
            let rs = ffi::trackstats_batch_reports(batch, &mut len);
            if len == 0 {
                break;
            }
            // SAFETY: `rs` points to `len` reports owned by `batch`, valid
            // until the next drain into it.
            for r in unsafe { std::slice::from_raw_parts(rs, len) } {
                assert_eq!(r.direction, Direction::Up);
                bytes += r.bytes;
                messages += r.messages;
            }
        }
        assert_eq!((bytes, messages), (HALF + 10 + wide, 3), "spilled and wide records reported exactly once");
        ffi::trackstats_batch_free(batch);
        ffi::trackstats_registry_free(reg);
    });
}

/// A close and its final flush race records on a second thread and a tick
/// on a third: each record is in a window, the final report or a later
/// (late) one, never lost or doubled.
#[test]
fn close_races_records_and_tick() {
    model("close_races_records_and_tick", || {
        let reg = Arc::new(manual_registry());
        let track = Arc::new(reg.open(key(1)).expect("open"));
        let writer = track.clone();
        let w = thread::spawn(move || {
            writer.record_up(10);
            writer.record_up(10);
        });
        let (closer, r) = (track.clone(), reg.clone());
        let c = thread::spawn(move || {
            assert!(closer.close(), "first close");
            r.flush().expect("flush");
        });
        reg.tick().expect("tick");
        w.join().expect("writer");
        c.join().expect("closer");
        assert!(!track.close(), "second close is a no-op");
        drop(track);
        reg.flush().expect("flush");
        let mut reports = Vec::new();
        drain(&reg, &mut reports);
        assert_eq!(Tally::of(&reports).get(1, Direction::Up), (20, 2), "{reports:?}");
        assert_window_consistent(&reports, 1, Direction::Up, 10);
        assert_eq!(reg.stats().live_slots, 0);
    });
}

/// One thread opens, records, closes, records late and releases a track
/// while another opens a second track, possibly into the freed slot: a slot
/// is reused only after its holder released it, so no byte is attributed to
/// the wrong key, and each track's close produces a final report.
#[test]
fn release_then_reuse() {
    model("release_then_reuse", || {
        let reg = Arc::new(manual_registry());
        let r1 = reg.clone();
        let h = thread::spawn(move || {
            let t1 = r1.open(key(1)).expect("open 1");
            t1.record_up(5);
            t1.close();
            t1.record_up(5); // late: after close, before release
            drop(t1);
        });
        reg.flush().expect("flush");
        let t2 = reg.open(key(2)).expect("open 2");
        t2.record_up(4);
        drop(t2);
        h.join().expect("owner of track 1");
        reg.flush().expect("flush");
        let mut reports = Vec::new();
        drain(&reg, &mut reports);
        let t = Tally::of(&reports);
        assert_eq!(t.get(1, Direction::Up), (10, 2), "track 1: {reports:?}");
        assert_eq!(t.get(2, Direction::Up), (4, 1), "track 2: {reports:?}");
        for user in [1, 2] {
            let flags = flags_of(&reports, user, Direction::Up);
            assert!(
                flags.iter().any(|f| f & TRACKSTATS_FLAG_FINAL != 0),
                "track {user} has no final report: {reports:?}"
            );
        }
        let stats = reg.stats();
        assert_eq!((stats.open_tracks, stats.live_slots), (0, 0), "every slot went back");
    });
}

/// The registry closes while a track is being released on another thread and
/// another is still open: queued requests are processed by the close or by
/// their submitter, never dropped, and records after the close come back
/// (late) when the track is released.
#[test]
fn registry_close_races_release() {
    model("registry_close_races_release", || {
        let reg = manual_registry();
        let kept = reg.open(key(1)).expect("open 1");
        let released = reg.open(key(2)).expect("open 2");
        kept.record_up(3);
        let h = thread::spawn(move || {
            released.record_up(10);
            drop(released);
        });
        reg.close().expect("close");
        kept.record_up(3); // after the registry closed: late, reported at release
        h.join().expect("releaser");
        drop(kept);
        let mut reports = Vec::new();
        drain(&reg, &mut reports);
        let t = Tally::of(&reports);
        assert_eq!(t.get(1, Direction::Up), (6, 2), "{reports:?}");
        assert_eq!(t.get(2, Direction::Up), (10, 1), "{reports:?}");
        let late = flags_of(&reports, 1, Direction::Up);
        assert!(late.iter().any(|f| f & TRACKSTATS_FLAG_LATE != 0), "bytes after close are flagged late: {reports:?}");
        assert_eq!(reg.stats().live_slots, 0, "every slot went back");
    });
}

/// Collects sink calls; `finished` is set once the registry's close (or
/// free) returned, after which the sink must never be called.
struct SinkProbe {
    reports: Mutex<Vec<Report>>,
    finished: AtomicBool,
    called_after_finish: AtomicBool,
}

impl SinkProbe {
    fn new() -> Arc<SinkProbe> {
        Arc::new(SinkProbe {
            reports: Mutex::new(Vec::new()),
            finished: AtomicBool::new(false),
            called_after_finish: AtomicBool::new(false),
        })
    }

    /// A registry with the longest interval whose sink is this probe.
    fn registry(self: &Arc<Self>, mode: Mode) -> Registry {
        Registry::new(Config { interval: MAX_INTERVAL, mode, sink: Some(self.sink()), ..Default::default() })
            .expect("registry")
    }

    fn sink(self: &Arc<Self>) -> trackstats::Sink {
        let probe = self.clone();
        Box::new(move |rs: &[Report]| {
            if probe.finished.load(SeqCst) {
                probe.called_after_finish.store(true, SeqCst);
            }
            probe.reports.lock().unwrap().extend_from_slice(rs);
        })
    }
}

/// Two threads close the registry at once: neither returns before the sink
/// has made its last call, so a host may free the sink's context after
/// either returns.
#[test]
fn concurrent_registry_closes() {
    model("concurrent_registry_closes", || {
        let probe = SinkProbe::new();
        let reg = Arc::new(probe.registry(Mode::Manual));
        let track = reg.open(key(1)).expect("open");
        track.record_up(8);
        let (r2, p2) = (reg.clone(), probe.clone());
        let h = thread::spawn(move || {
            r2.close().expect("close on thread");
            p2.finished.store(true, SeqCst);
        });
        reg.close().expect("close on main");
        probe.finished.store(true, SeqCst);
        h.join().expect("closer");
        assert!(!probe.called_after_finish.load(SeqCst), "the sink was called after a close returned");
        assert_eq!(Tally::of(&probe.reports.lock().unwrap()).get(1, Direction::Up), (8, 1));
        drop(track);
    });
}

/// The registry is freed while another thread records on and then releases
/// one of its tracks: the handle stays valid, what was recorded before the
/// free reaches the sink exactly once, and the sink is never called after
/// the free returned.
fn free_races_release(name: &'static str, mode: Mode) {
    model(name, move || {
        let probe = SinkProbe::new();
        let reg = probe.registry(mode);
        let track = reg.open(key(1)).expect("open");
        track.record_up(10);
        let mut before_free = 10;
        if mode == Mode::Manual {
            // Closed and flushed before, so the bytes after are late.
            track.close();
            reg.flush().expect("flush");
            track.record_up(10); // late, before the free
            before_free += 10;
        }
        let h = thread::spawn(move || {
            track.record_up(10);
            if mode == Mode::Manual {
                let t = track.totals();
                assert_eq!((t.up.bytes, t.up.messages), (30, 3), "the handle works after any free");
            }
            drop(track);
        });
        drop(reg);
        probe.finished.store(true, SeqCst);
        h.join().expect("releaser");
        assert!(!probe.called_after_finish.load(SeqCst), "the sink was called after the registry was freed");
        let reports = probe.reports.lock().unwrap();
        let (bytes, messages) = Tally::of(&reports).get(1, Direction::Up);
        // Bytes recorded before the free reach the sink; the other thread's
        // may come after it (no consumer is left for those).
        assert!((bytes == before_free || bytes == before_free + 10) && bytes == 10 * messages, "{reports:?}");
    });
}

/// Manual mode: the track was closed (and late bytes recorded) before the free.
#[test]
fn registry_free_races_release() {
    free_races_release("registry_free_races_release", Mode::Manual);
}

/// With a real sampler thread: freeing the registry joins it while another
/// thread releases its track.
#[test]
fn thread_mode_free_races_release() {
    free_races_release("thread_mode_free_races_release", Mode::Thread);
}

/// The sink of a threaded registry closes the registry from inside a call
/// (on the sampler thread) while the host also closes it: the sink's close
/// returns at once, the host's returns once the thread has finished, and
/// nothing deadlocks (loom fails a model in which every thread is blocked).
#[test]
fn close_from_sink_races_host_close() {
    model("close_from_sink_races_host_close", || {
        let probe = SinkProbe::new();
        let weak: Arc<std::sync::OnceLock<std::sync::Weak<Registry>>> = Arc::default();
        let (p, w) = (probe.clone(), weak.clone());
        let sink: trackstats::Sink = Box::new(move |rs: &[Report]| {
            if p.finished.load(SeqCst) {
                p.called_after_finish.store(true, SeqCst);
            }
            p.reports.lock().unwrap().extend_from_slice(rs);
            if let Some(reg) = w.get().and_then(|w| w.upgrade()) {
                assert_eq!(reg.close(), Ok(()), "close from inside the sink");
            }
        });
        let reg = Arc::new(
            Registry::new(Config {
                interval: MAX_INTERVAL,
                mode: Mode::Thread,
                sink: Some(sink),
                ..Default::default()
            })
            .expect("registry"),
        );
        weak.set(Arc::downgrade(&reg)).expect("set once");
        let t1 = reg.open(key(1)).expect("open 1");
        let t2 = reg.open(key(2)).expect("open 2");
        t1.record_up(5);
        t2.record_up(7);
        t1.close(); // wakes the thread: its sink call closes the registry
        reg.close().expect("host close");
        probe.finished.store(true, SeqCst);
        assert!(!probe.called_after_finish.load(SeqCst), "the sink was called after the host's close returned");
        let mut reports = probe.reports.lock().unwrap().clone();
        drop((t1, t2));
        drain(&reg, &mut reports);
        let t = Tally::of(&reports);
        assert_eq!((t.get(1, Direction::Up), t.get(2, Direction::Up)), ((5, 1), (7, 1)), "{reports:?}");
    });
}

/// A track opens into a fresh segment of the slab (the model's first segment
/// holds two slots) while a tick walks the slab: the sampler sees a slot
/// either free or fully published (key, floor, core), never half.
#[test]
fn open_races_tick() {
    model("open_races_tick", || {
        let reg = Arc::new(manual_registry());
        let first = [reg.open(key(1)).expect("open 1"), reg.open(key(2)).expect("open 2")];
        first[1].record_up(2);
        let r = reg.clone();
        let h = thread::spawn(move || {
            let t = r.open(key(3)).expect("open 3");
            t.record_up(3);
            t
        });
        reg.tick().expect("tick");
        let third = h.join().expect("opener");
        drop(first);
        drop(third);
        reg.flush().expect("flush");
        let mut reports = Vec::new();
        drain(&reg, &mut reports);
        let t = Tally::of(&reports);
        assert_eq!((t.get(2, Direction::Up), t.get(3, Direction::Up)), ((2, 1), (3, 1)), "{reports:?}");
        assert_eq!(reg.stats().live_slots, 0);
    });
}

/// A registry with a real sampler thread (loom's): a close and a release are
/// queued for it while a flush on the host thread also processes requests,
/// and the released slot is reused at once. Requests must be processed in
/// the order they were queued, or the first track's close is applied to the
/// second track living in the same slot (its bytes then come out late and
/// without a final report).
#[test]
fn thread_mode_requests_stay_in_order() {
    model("thread_mode_requests_stay_in_order", || {
        let reg =
            Registry::new(Config { interval: MAX_INTERVAL, mode: Mode::Thread, ..loom_support::reusing_at_once() })
                .expect("registry");
        let t1 = reg.open(key(1)).expect("open 1");
        t1.close();
        drop(t1);
        reg.flush().expect("flush");
        let t2 = reg.open(key(2)).expect("open 2");
        t2.record_up(4);
        t2.close();
        t2.record_down(6);
        drop(t2);
        reg.close().expect("close");
        let mut reports = Vec::new();
        drain(&reg, &mut reports);
        let t = Tally::of(&reports);
        assert_eq!(t.get(2, Direction::Up), (4, 1), "{reports:?}");
        assert_eq!(t.get(2, Direction::Down), (6, 1), "{reports:?}");
        // Recorded before its close: in the final report, never late.
        for f in flags_of(&reports, 2, Direction::Up) {
            assert!(f & TRACKSTATS_FLAG_FINAL != 0 && f & TRACKSTATS_FLAG_LATE == 0, "{reports:?}");
        }
    });
}

/// Half the byte field of a window word: a word holding it spills on the
/// next record.
const HALF: u64 = 1 << (trackstats::TRACKSTATS_WORD_BYTES_BITS - 1);

fn track_ptr(handle: usize) -> *mut ffi::trackstats_track {
    handle as *mut ffi::trackstats_track
}

/// The up window word of a C handle. Under loom the slot's words are loom
/// atomics, and `trackstats_track_window_words` gives their address.
fn up_word<'a>(t: *mut ffi::trackstats_track) -> &'a loom::sync::atomic::AtomicU64 {
    // SAFETY: the address of the live slot's first word, a loom `AtomicU64`.
    unsafe { &*(ffi::trackstats_track_window_words(t) as *const loom::sync::atomic::AtomicU64) }
}

/// A manual registry with the longest quarantine and room for one slot in
/// it (a released slot waits), and the given grace.
fn quarantined(grace: std::time::Duration, grace_slots: usize) -> Registry {
    Registry::new(Config {
        interval: MAX_INTERVAL,
        mode: Mode::Manual,
        quarantine: MAX_INTERVAL,
        quarantine_slots: 1,
        grace,
        grace_slots,
        ..Default::default()
    })
    .expect("registry")
}

/// A writer records through a handle while its track is released (the
/// release's sealing take) and a new track opens: each of the writer's
/// records is reported for its own track (before the seal) or counted stale
/// (after), never both or neither, and never lands in the new track.
#[test]
fn stale_records_race_the_seal() {
    model("stale_records_race_the_seal", || {
        let reg = Arc::new(quarantined(MAX_INTERVAL, 0));
        let old = reg.open(key(1)).expect("open");
        let handle = old.as_ptr() as usize;
        let h = thread::spawn(move || {
            let t = handle as *mut ffi::trackstats_track;
            ffi::trackstats_record_up(t, 10);
            ffi::trackstats_record_up(t, 10);
        });
        drop(old);
        reg.flush().expect("flush");
        let new = reg.open(key(2)).expect("open");
        new.record_up(7);
        h.join().expect("writer");
        drop(new);
        reg.flush().expect("flush");
        let mut reports = Vec::new();
        drain(&reg, &mut reports);
        let t = Tally::of(&reports);
        let stats = reg.stats();
        assert_eq!(t.get(2, Direction::Up), (7, 1), "the new track got stale bytes: {reports:?}");
        let (bytes, messages) = t.get(1, Direction::Up);
        assert_eq!(
            (bytes + stats.stale_bytes, messages + stats.stale_records),
            (20, 2),
            "reported {reports:?} + stale {stats:?}"
        );
    });
}

/// A record whose spill (its word at half a field) races the release's
/// sealing take: moved into the accumulator before the seal (reported) or
/// found sealed after (stale); a sealed word is never unsealed.
#[test]
fn spill_races_the_seal() {
    model("spill_races_the_seal", || {
        let reg = Arc::new(quarantined(MAX_INTERVAL, 0));
        let track = reg.open(key(1)).expect("open");
        let handle = track.as_ptr() as usize;
        up_word(track.as_ptr()).fetch_add(TRACKSTATS_WORD_MESSAGE_ONE | HALF, std::sync::atomic::Ordering::Relaxed);
        let h = thread::spawn(move || {
            ffi::trackstats_record_up(handle as *mut ffi::trackstats_track, 10);
        });
        drop(track);
        reg.flush().expect("flush");
        h.join().expect("writer");
        let mut reports = Vec::new();
        drain(&reg, &mut reports);
        let (bytes, messages) = Tally::of(&reports).get(1, Direction::Up);
        let stats = reg.stats();
        assert_eq!(
            (bytes + stats.stale_bytes, messages + stats.stale_records),
            (HALF + 10, 2),
            "{reports:?} {stats:?}"
        );
    });
}

/// A host records on its hosted words (the header's rule, tests/host_rule)
/// while the track is released: every record is reported or counted stale,
/// and once the host sees the let-go mark every access the library made to
/// the block happened before (loom checks the host's plain reads of the
/// words against the library's swaps: a let-go store weaker than Release, or
/// a library access after it, is a causality violation).
#[test]
fn hosted_words_are_let_go_last() {
    model("hosted_words_are_let_go_last", || {
        let reg = Arc::new(quarantined(MAX_INTERVAL, 0));
        let block: &'static HostedWords = Box::leak(Box::default());
        // SAFETY: never freed (leaked per model run).
        let track = unsafe { reg.open_hosted(key(1), std::ptr::NonNull::from(block)) }.expect("open");
        let handle = track.as_ptr() as usize;
        let host = reg.clone();
        let h = thread::spawn(move || {
            let t = handle as *mut ffi::trackstats_track;
            host_rule::record(&host, t, block, Direction::Up, 10);
            host_rule::record(&host, t, block, Direction::Up, 10);
            if block.is_let_go() {
                // The block is the host's alone: plain reads, as a free would be.
                // SAFETY: no other thread accesses the block after the let-go.
                let w = unsafe { block.window(Direction::Up).unsync_load() };
                assert!(trackstats::TRACKSTATS_WORD_SEALED <= w, "a let-go word is sealed");
            }
        });
        drop(track);
        reg.flush().expect("flush");
        h.join().expect("host");
        assert!(block.is_let_go());
        let mut reports = Vec::new();
        drain(&reg, &mut reports);
        let (bytes, messages) = Tally::of(&reports).get(1, Direction::Up);
        let stats = reg.stats();
        assert_eq!((bytes + stats.stale_bytes, messages + stats.stale_records), (20, 2), "{reports:?} {stats:?}");
        let totals = block.final_totals()[0];
        assert_eq!((totals.bytes, totals.messages), (bytes, messages), "the block's totals are what was reported");
    });
}

/// A host reading a hosted track's totals while its release takes effect,
/// as the Go binding's `Track.Totals` does: the library's totals while the
/// let-go mark is unset, the block's final totals once it is set. Every
/// answer is the whole count: a read that finds the slot's sums reset also
/// finds the mark set when it checks again. Bound 1: the race needs one
/// preemption (the releasing thread stopped between the reset and the mark,
/// or none at all for a reset seen without the mark), and the flush's whole
/// path against a seqlock read takes 7.2 million interleavings at bound 3
/// (7 minutes).
#[test]
fn host_totals_race_the_let_go() {
    model_with_bound("host_totals_race_the_let_go", Some(1), || {
        let reg = Arc::new(quarantined(MAX_INTERVAL, 0));
        let block: &'static HostedWords = Box::leak(Box::default());
        // SAFETY: never freed (leaked per model run).
        let track = unsafe { reg.open_hosted(key(1), std::ptr::NonNull::from(block)) }.expect("open");
        host_rule::record(&reg, track.as_ptr(), block, Direction::Up, 10);
        let handle = track.as_ptr() as usize;
        drop(track); // the release, queued: the flush below processes it
        let h = thread::spawn(move || {
            let mut out = ffi::trackstats_totals::default();
            ffi::trackstats_track_totals(track_ptr(handle), &mut out);
            let bytes = if block.is_let_go() { block.final_totals()[0].bytes } else { out.up_bytes };
            assert_eq!(bytes, 10, "a totals read before the let-go mark found the slot emptied");
        });
        reg.flush().expect("flush");
        h.join().expect("host");
        assert!(block.is_let_go());
    });
}

/// A release after a grace: the host records in the grace, and while it
/// ends (a zero grace ends at the sampler's next activity): records in the
/// grace are reported late, the ones after counted stale, none lost.
#[test]
fn grace_ends_under_host_records() {
    model("grace_ends_under_host_records", || {
        let reg = Arc::new(quarantined(std::time::Duration::ZERO, 1));
        let block: &'static HostedWords = Box::leak(Box::default());
        // SAFETY: never freed (leaked per model run).
        let track = unsafe { reg.open_hosted(key(1), std::ptr::NonNull::from(block)) }.expect("open");
        let handle = track.as_ptr() as usize;
        host_rule::record(&reg, track.as_ptr(), block, Direction::Down, 5);
        track.release_after_grace();
        reg.flush().expect("flush"); // the close flush; the grace begins
        let mut reports = Vec::new();
        drain(&reg, &mut reports); // the final report, apart from the late ones
        host_rule::record(&reg, track_ptr(handle), block, Direction::Down, 20); // in the grace
        let host = reg.clone();
        let h = thread::spawn(move || {
            let t = handle as *mut ffi::trackstats_track;
            host_rule::record(&host, t, block, Direction::Down, 10);
        });
        reg.flush().expect("flush"); // the grace ends
        h.join().expect("host");
        assert!(block.is_let_go());
        drain(&reg, &mut reports);
        let (bytes, messages) = Tally::of(&reports).get(1, Direction::Down);
        let stats = reg.stats();
        assert_eq!((bytes + stats.stale_bytes, messages + stats.stale_records), (35, 3), "{reports:?} {stats:?}");
        let late: u64 = reports.iter().filter(|r| r.flags & TRACKSTATS_FLAG_LATE != 0).map(|r| r.bytes).sum();
        assert!(late == 20 || late == 30, "the record in the grace is reported late: {reports:?}");
    });
}
