//! Randomized operation sequences over the C ABI, from several threads at
//! once: open, record (through `trackstats_record_*` and through the window
//! word rule the Go and C++ bindings use), close, release, tick, flush,
//! drain, totals and stats, then the registry's close and free, with tracks
//! left open across the free.
//!
//! After every sequence: per track and direction, the reported bytes and
//! messages equal what was recorded (exactly once); every report's bytes are
//! its track's one message size times its messages (window consistency) and
//! its key matches its `user_data`; `trackstats_track_totals` matched the
//! recording thread's own count at every read; every call returned the code
//! its contract gives. A failing case is shrunk by proptest and printed with
//! the seed that reproduces it (`TRACKSTATS_SEED=<seed>`); a case that stops
//! making progress for a minute (a deadlock) aborts the run with the case
//! printed. `TRACKSTATS_SEQUENCES` sets the number of cases (default 2000).

mod c_abi;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use std::collections::HashMap;
use std::os::raw::c_void;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use trackstats::ffi::{self, trackstats_registry, trackstats_report, trackstats_result, trackstats_track};
use trackstats::{
    Direction, TRACKSTATS_MAX_INLINE_BYTES, TRACKSTATS_MAX_RECORD_BYTES, TRACKSTATS_WORD_MESSAGE_ONE,
    TRACKSTATS_WORD_SPILL_MASK,
};

/// Message sizes a track may use (one per direction, chosen at open): empty,
/// tiny, an RTP packet, the largest inline record, and wide records that
/// skip the window word.
const SIZES: [u64; 7] =
    [0, 1, 1200, 65_536, TRACKSTATS_MAX_INLINE_BYTES, TRACKSTATS_MAX_INLINE_BYTES + 1, 5 * 1024 * 1024 * 1024];
/// Track handles each thread juggles.
const LOCAL_SLOTS: u8 = 4;
/// Inline records in one burst: with the largest inline size, enough to
/// carry the window word's byte field past half and take the spill path.
const BURST: u32 = 40_000;
const DEFAULT_CASES: u32 = 2000;
/// Sequence steps a default run must reach.
const MIN_STEPS: u64 = 100_000;

#[derive(Clone, Copy, Debug)]
enum Op {
    /// Opens a track in this thread's `slot` (a no-op if one is there), with
    /// message sizes `SIZES[up]` and `SIZES[down]`.
    Open {
        slot: u8,
        up: u8,
        down: u8,
    },
    /// `times` records through `trackstats_record_up`/`_down`; on an empty
    /// slot, through a NULL track (the relay case: counts nothing).
    Record {
        slot: u8,
        down: bool,
        times: u8,
    },
    /// `times` records through the window word rule of the header.
    RecordInline {
        slot: u8,
        down: bool,
        times: u8,
    },
    /// `BURST` inline records in a row.
    Burst {
        slot: u8,
        down: bool,
    },
    /// One record over `TRACKSTATS_MAX_RECORD_BYTES`: rejected, counted.
    RecordHuge {
        slot: u8,
    },
    /// `times` records on a track every thread shares.
    RecordShared {
        idx: u8,
        down: bool,
        times: u8,
    },
    Close {
        slot: u8,
    },
    CloseShared {
        idx: u8,
    },
    Release {
        slot: u8,
    },
    Totals {
        slot: u8,
    },
    Tick,
    Flush,
    Drain,
    Stats,
    /// Sleeps half a millisecond, so sampler windows (1 to 3 ms) close
    /// in the middle of a sequence.
    Pause,
}

#[derive(Clone, Copy, Debug)]
enum End {
    /// Close the registry, drain, release every track, drain, free.
    CloseThenRelease,
    /// Close, drain, free with tracks still open, then record on them and
    /// release them.
    FreeWithTracksOpen,
}

#[derive(Clone, Debug)]
struct Scenario {
    manual: bool,
    /// Reports through a C callback instead of drain.
    sink: bool,
    interval_ms: u64,
    batch_capacity: usize,
    /// Size indices (up, down) of the tracks all threads share.
    shared: Vec<(u8, u8)>,
    threads: Vec<Vec<Op>>,
    end: End,
}

fn op() -> impl Strategy<Value = Op> {
    let slot = 0..LOCAL_SLOTS;
    let size = 0..SIZES.len() as u8;
    let times = 1u8..=32;
    prop_oneof![
        3 => (slot.clone(), size.clone(), size).prop_map(|(slot, up, down)| Op::Open { slot, up, down }),
        6 => (slot.clone(), any::<bool>(), times.clone()).prop_map(|(slot, down, times)| Op::Record { slot, down, times }),
        4 => (slot.clone(), any::<bool>(), times.clone())
            .prop_map(|(slot, down, times)| Op::RecordInline { slot, down, times }),
        1 => (slot.clone(), any::<bool>()).prop_map(|(slot, down)| Op::Burst { slot, down }),
        1 => slot.clone().prop_map(|slot| Op::RecordHuge { slot }),
        3 => (0u8..3, any::<bool>(), times).prop_map(|(idx, down, times)| Op::RecordShared { idx, down, times }),
        2 => slot.clone().prop_map(|slot| Op::Close { slot }),
        1 => (0u8..3).prop_map(|idx| Op::CloseShared { idx }),
        2 => slot.clone().prop_map(|slot| Op::Release { slot }),
        1 => slot.prop_map(|slot| Op::Totals { slot }),
        1 => Just(Op::Tick),
        1 => Just(Op::Flush),
        2 => Just(Op::Drain),
        1 => Just(Op::Stats),
        1 => Just(Op::Pause),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let size = 0..SIZES.len() as u8;
    (
        any::<bool>(),
        any::<bool>(),
        1u64..=3,
        prop_oneof![Just(1usize), 2usize..=8, Just(4096usize)],
        vec((size.clone(), size), 1..=3),
        vec(vec(op(), 0..=64), 2..=4),
        prop_oneof![Just(End::CloseThenRelease), Just(End::FreeWithTracksOpen)],
    )
        .prop_map(|(manual, sink, interval_ms, batch_capacity, shared, threads, end)| Scenario {
            manual,
            sink,
            interval_ms,
            batch_capacity,
            shared,
            threads,
            end,
        })
}

/// Bytes and messages per direction.
type Counts = [(u64, u64); 2];

fn add(c: &mut Counts, dir: usize, bytes: u64, messages: u64) {
    c[dir].0 += bytes;
    c[dir].1 += messages;
}

/// One run's shared state. The registry pointer is shared by contract: every
/// registry function but `_free` is thread-safe.
struct Ctx {
    /// Set once after `_new` (the sink's context pointer is taken before).
    registry: AtomicPtr<trackstats_registry>,
    sc: Scenario,
    next_user: AtomicU64,
    /// Message sizes per user_data, registered before the track is opened.
    sizes: Mutex<HashMap<u64, [u64; 2]>>,
    reported: Mutex<HashMap<u64, Counts>>,
    reports: AtomicU64,
    rejected: AtomicU64,
    calls: AtomicU64,
    /// First report that broke a rule, found on a sink or drain.
    bad_report: Mutex<Option<String>>,
}

impl Ctx {
    fn reg(&self) -> *mut trackstats_registry {
        self.registry.load(Relaxed)
    }

    fn call(&self, n: u64) {
        self.calls.fetch_add(n, Relaxed);
    }

    fn account(&self, rs: &[trackstats_report]) {
        let sizes = self.sizes.lock().unwrap();
        let mut reported = self.reported.lock().unwrap();
        for r in rs {
            self.reports.fetch_add(1, Relaxed);
            let d = r.direction as usize;
            let size = sizes.get(&r.user_data).map(|s| s[d]);
            // SAFETY: the report's strings are valid for `len` bytes while
            // the batch (or the sink call) holds them, i.e. during this call.
            let track_id = unsafe { std::slice::from_raw_parts(r.track_id as *const u8, r.track_id_len) };
            let problem = match size {
                None => Some("unknown user_data".to_string()),
                Some(s) if r.bytes != s * r.messages => Some(format!("bytes != {s} * messages")),
                Some(_) if track_id != format!("TR_{}", r.user_data).as_bytes() => {
                    Some(format!("key {:?} does not match user_data", String::from_utf8_lossy(track_id)))
                }
                Some(_) if r.end_unix_ns < r.start_unix_ns || r.flags & !7 != 0 => {
                    Some("bad window or flags".to_string())
                }
                Some(_) => None,
            };
            if let Some(p) = problem {
                self.bad_report.lock().unwrap().get_or_insert(format!("{p}: {r:?}"));
            }
            add(reported.entry(r.user_data).or_default(), d, r.bytes, r.messages);
        }
    }

    /// Drains until the outbox is empty.
    fn drain_all(&self, batch: *mut ffi::trackstats_batch) -> Result<(), String> {
        loop {
            let rc = ffi::trackstats_registry_drain(self.reg(), batch);
            self.call(1);
            if rc != trackstats_result::Ok {
                return Err(format!("drain returned {rc:?}"));
            }
            let mut len = 0usize;
            let rs = ffi::trackstats_batch_reports(batch, &mut len);
            if len == 0 {
                return Ok(());
            }
            // SAFETY: `len` reports owned by `batch` until its next fill.
            self.account(unsafe { std::slice::from_raw_parts(rs, len) });
        }
    }
}

unsafe extern "C" fn sink(ctx: *mut c_void, reports: *const trackstats_report, len: usize) {
    // SAFETY: `ctx` is the `Ctx` this run passed as `sink_ctx`, alive until
    // the registry's close returns; `reports` holds `len` reports for the call.
    let (ctx, rs) = unsafe { (&*(ctx as *const Ctx), std::slice::from_raw_parts(reports, len)) };
    ctx.account(rs);
}

/// A track handle a thread holds, with what that thread recorded on it.
struct Held {
    ptr: *mut trackstats_track,
    user: u64,
    sizes: [u64; 2],
    recorded: Counts,
}

// SAFETY: every track function but `_release` is thread-safe by contract;
// a `Held` is released only by its one owner (shared ones by the main thread
// after the others are joined), and other threads only read its fields.
unsafe impl Send for Held {}
unsafe impl Sync for Held {}

fn open(ctx: &Ctx, participant: &str, sizes: [u64; 2]) -> Result<Held, String> {
    let user = ctx.next_user.fetch_add(1, Relaxed);
    ctx.sizes.lock().unwrap().insert(user, sizes);
    let track_id = format!("TR_{user}");
    let country = if user % 2 == 0 { "DE" } else { "" };
    let (rc, ptr) = c_abi::try_open(ctx.reg(), participant, &track_id, country, user);
    ctx.call(1);
    if rc != trackstats_result::Ok || ptr.is_null() {
        return Err(format!("open returned {rc:?}"));
    }
    Ok(Held { ptr, user, sizes, recorded: Counts::default() })
}

/// `n` records of `size` on `dir`, through the record functions.
fn record(ctx: &Ctx, t: *mut trackstats_track, dir: usize, size: u64, n: u32) {
    for _ in 0..n {
        if dir == 0 {
            ffi::trackstats_record_up(t, size);
        } else {
            ffi::trackstats_record_down(t, size);
        }
    }
    ctx.call(n.into());
}

/// `n` records of `size` on `dir` through the header's window word rule.
fn record_inline(ctx: &Ctx, t: *mut trackstats_track, dir: usize, size: u64, n: u32) {
    if size > TRACKSTATS_MAX_INLINE_BYTES {
        return record(ctx, t, dir, size, n);
    }
    let words = ffi::trackstats_track_window_words(t);
    ctx.call(1);
    // SAFETY: the handle is live until its release, so its two window words
    // are valid 8-byte-aligned atomics (the header's rule).
    let word = unsafe { AtomicU64::from_ptr(words.add(dir)) };
    for _ in 0..n {
        let old = word.fetch_add(TRACKSTATS_WORD_MESSAGE_ONE | size, Relaxed);
        if old == 0 || old & TRACKSTATS_WORD_SPILL_MASK != 0 {
            ffi::trackstats_track_slow_path(t, dir as u32, old);
            ctx.call(1);
        }
    }
    ctx.call(n.into());
}

fn expect(what: &str, rc: trackstats_result, want: trackstats_result) -> Result<(), String> {
    if rc == want {
        Ok(())
    } else {
        Err(format!("{what} returned {rc:?}, expected {want:?}"))
    }
}

/// A thread's outcome: its tracks still held, and what it recorded on every
/// track it released (and on the shared ones).
type ThreadOutcome = Result<(Vec<Held>, HashMap<u64, Counts>), String>;

/// Runs one thread's ops. Returns its tracks still held and what it
/// recorded on every track it released (and on the shared ones).
fn run_thread(ctx: &Ctx, tid: usize, ops: &[Op], shared: &[Held]) -> ThreadOutcome {
    let participant = format!("PA_{tid}");
    let mut slots: [Option<Held>; LOCAL_SLOTS as usize] = Default::default();
    let mut done: HashMap<u64, Counts> = HashMap::new();
    let mut batch = std::ptr::null_mut();
    expect("batch_new", ffi::trackstats_batch_new(ctx.sc.batch_capacity, &mut batch), trackstats_result::Ok)?;
    let null = std::ptr::null_mut();
    for op in ops {
        match *op {
            Op::Open { slot, up, down } => {
                if slots[slot as usize].is_none() {
                    slots[slot as usize] = Some(open(ctx, &participant, [SIZES[up as usize], SIZES[down as usize]])?);
                }
            }
            Op::Record { slot, down, times } | Op::RecordInline { slot, down, times } => {
                let d = down as usize;
                let inline = matches!(op, Op::RecordInline { .. });
                match slots[slot as usize].as_mut() {
                    Some(h) => {
                        if inline {
                            record_inline(ctx, h.ptr, d, h.sizes[d], times.into());
                        } else {
                            record(ctx, h.ptr, d, h.sizes[d], times.into());
                        }
                        add(&mut h.recorded, d, h.sizes[d] * u64::from(times), times.into());
                    }
                    None => record(ctx, null, d, 1200, times.into()),
                }
            }
            Op::Burst { slot, down } => {
                if let Some(h) = slots[slot as usize].as_mut() {
                    let d = down as usize;
                    record_inline(ctx, h.ptr, d, h.sizes[d], BURST);
                    add(&mut h.recorded, d, h.sizes[d] * u64::from(BURST), BURST.into());
                }
            }
            Op::RecordHuge { slot } => {
                let p = slots[slot as usize].as_ref().map_or(null, |h| h.ptr);
                ffi::trackstats_record_up(p, TRACKSTATS_MAX_RECORD_BYTES + 1);
                ctx.call(1);
                if !p.is_null() {
                    ctx.rejected.fetch_add(1, Relaxed);
                }
            }
            Op::RecordShared { idx, down, times } => {
                let h = &shared[idx as usize % shared.len()];
                let d = down as usize;
                record(ctx, h.ptr, d, h.sizes[d], times.into());
                add(done.entry(h.user).or_default(), d, h.sizes[d] * u64::from(times), times.into());
            }
            Op::Close { slot } => {
                let p = slots[slot as usize].as_ref().map_or(null, |h| h.ptr);
                ctx.call(1);
                expect("track_close", ffi::trackstats_track_close(p), trackstats_result::Ok)?;
            }
            Op::CloseShared { idx } => {
                ctx.call(1);
                let p = shared[idx as usize % shared.len()].ptr;
                expect("track_close", ffi::trackstats_track_close(p), trackstats_result::Ok)?;
            }
            Op::Release { slot } => {
                let h = slots[slot as usize].take();
                ffi::trackstats_track_release(h.as_ref().map_or(null, |h| h.ptr));
                ctx.call(1);
                if let Some(h) = h {
                    done.insert(h.user, h.recorded);
                }
            }
            Op::Totals { slot } => {
                let h = slots[slot as usize].as_ref();
                let mut t = ffi::trackstats_totals::default();
                ctx.call(1);
                expect(
                    "totals",
                    ffi::trackstats_track_totals(h.map_or(null, |h| h.ptr), &mut t),
                    trackstats_result::Ok,
                )?;
                let want = h.map(|h| h.recorded).unwrap_or_default();
                let got = [(t.up_bytes, t.up_messages), (t.down_bytes, t.down_messages)];
                if got != want {
                    return Err(format!("totals {got:?} != recorded {want:?}"));
                }
            }
            Op::Tick => {
                ctx.call(1);
                let want = if ctx.sc.manual { trackstats_result::Ok } else { trackstats_result::WrongMode };
                expect("tick", ffi::trackstats_registry_tick(ctx.reg()), want)?;
            }
            Op::Flush => {
                ctx.call(1);
                expect("flush", ffi::trackstats_registry_flush(ctx.reg()), trackstats_result::Ok)?;
            }
            Op::Drain => ctx.drain_all(batch)?,
            Op::Pause => std::thread::sleep(Duration::from_micros(500)),
            Op::Stats => {
                let mut s = ffi::trackstats_stats::default();
                ctx.call(1);
                expect("stats", ffi::trackstats_registry_stats(ctx.reg(), &mut s), trackstats_result::Ok)?;
                // The counters are read one by one, so only what no race can
                // change is checked here; the end of the run checks the rest.
                if s.sampler_panics != 0 || s.sink_panics != 0 {
                    return Err(format!("panics: sampler {}, sink {}", s.sampler_panics, s.sink_panics));
                }
            }
        }
    }
    ffi::trackstats_batch_free(batch);
    Ok((slots.into_iter().flatten().collect(), done))
}

/// Figures for the whole run.
static SEQUENCES: AtomicU64 = AtomicU64::new(0);
static STEPS: AtomicU64 = AtomicU64::new(0);
static CALLS: AtomicU64 = AtomicU64::new(0);
static REPORTS: AtomicU64 = AtomicU64::new(0);
static MESSAGES: AtomicU64 = AtomicU64::new(0);
/// Bumped at every case start and end, watched for a deadlock.
static PROGRESS: AtomicU64 = AtomicU64::new(0);

fn run_scenario(sc: &Scenario) -> Result<(), String> {
    let mut cfg = ffi::trackstats_config_default();
    cfg.interval_ms = sc.interval_ms;
    cfg.mode = if sc.manual { ffi::TRACKSTATS_MODE_MANUAL } else { ffi::TRACKSTATS_MODE_THREAD };
    let ctx = Ctx {
        registry: AtomicPtr::new(std::ptr::null_mut()),
        sc: sc.clone(),
        next_user: AtomicU64::new(1),
        sizes: Mutex::default(),
        reported: Mutex::default(),
        reports: AtomicU64::new(0),
        rejected: AtomicU64::new(0),
        calls: AtomicU64::new(0),
        bad_report: Mutex::default(),
    };
    // The sink's context must outlive the registry's close: `ctx` lives on
    // this frame until after `_free` below.
    let ctx_ptr = &ctx as *const Ctx as *mut c_void;
    if sc.sink {
        cfg.sink = Some(sink);
        cfg.sink_ctx = ctx_ptr;
    }
    let mut reg = std::ptr::null_mut();
    expect("registry_new", ffi::trackstats_registry_new(&cfg, &mut reg), trackstats_result::Ok)?;
    ctx.registry.store(reg, Relaxed);
    let ctx = &ctx;

    let shared: Vec<Held> = sc
        .shared
        .iter()
        .map(|&(u, d)| open(ctx, "PA_shared", [SIZES[u as usize], SIZES[d as usize]]))
        .collect::<Result<_, _>>()?;
    let outcome: Vec<ThreadOutcome> = std::thread::scope(|s| {
        let handles: Vec<_> = sc
            .threads
            .iter()
            .enumerate()
            .map(|(tid, ops)| {
                let shared = &shared;
                s.spawn(move || run_thread(ctx, tid, ops, shared))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("a thread panicked".into()))).collect()
    });
    let mut recorded: HashMap<u64, Counts> = HashMap::new();
    let mut held: Vec<Held> = Vec::new();
    for r in outcome {
        let (h, done) = r?;
        held.extend(h);
        for (user, c) in done {
            let e = recorded.entry(user).or_default();
            add(e, 0, c[0].0, c[0].1);
            add(e, 1, c[1].0, c[1].1);
        }
    }
    // Shared tracks: every thread's records were merged above.
    held.extend(shared.into_iter().map(|mut h| {
        h.recorded = recorded.remove(&h.user).unwrap_or_default();
        h
    }));

    let mut batch = std::ptr::null_mut();
    expect("batch_new", ffi::trackstats_batch_new(64, &mut batch), trackstats_result::Ok)?;
    expect("registry_close", ffi::trackstats_registry_close(reg), trackstats_result::Ok)?;
    ctx.drain_all(batch)?;
    let mut after_free = Vec::new();
    match sc.end {
        End::CloseThenRelease => {
            for h in held {
                ffi::trackstats_track_release(h.ptr);
                recorded.insert(h.user, h.recorded);
            }
            ctx.drain_all(batch)?;
            let mut s = ffi::trackstats_stats::default();
            expect("stats", ffi::trackstats_registry_stats(reg, &mut s), trackstats_result::Ok)?;
            if (s.open_tracks, s.live_slots) != (0, 0) {
                return Err(format!("after every release: {} open, {} live", s.open_tracks, s.live_slots));
            }
            if s.records_rejected != ctx.rejected.load(Relaxed) {
                return Err(format!("{} rejected, {} huge records", s.records_rejected, ctx.rejected.load(Relaxed)));
            }
        }
        End::FreeWithTracksOpen => {
            for h in &held {
                recorded.insert(h.user, h.recorded);
            }
            after_free = held;
        }
    }
    ffi::trackstats_batch_free(batch);
    ffi::trackstats_registry_free(reg);
    // Tracks outlive their registry: they still record, total and release.
    for mut h in after_free {
        record(ctx, h.ptr, 0, h.sizes[0], 3);
        add(&mut h.recorded, 0, 3 * h.sizes[0], 3);
        let mut t = ffi::trackstats_totals::default();
        expect("totals after free", ffi::trackstats_track_totals(h.ptr, &mut t), trackstats_result::Ok)?;
        let got = [(t.up_bytes, t.up_messages), (t.down_bytes, t.down_messages)];
        if got != h.recorded {
            return Err(format!("totals after free {got:?} != recorded {:?}", h.recorded));
        }
        ffi::trackstats_track_release(h.ptr);
    }

    if let Some(bad) = ctx.bad_report.lock().unwrap().take() {
        return Err(bad);
    }
    let reported = ctx.reported.lock().unwrap();
    let mut users: Vec<u64> = recorded.keys().chain(reported.keys()).copied().collect();
    users.sort_unstable();
    users.dedup();
    for user in users {
        let (want, got) =
            (recorded.get(&user).copied().unwrap_or_default(), reported.get(&user).copied().unwrap_or_default());
        if want != got {
            return Err(format!("track {user}: recorded {want:?}, reported {got:?} ([up, down] as (bytes, messages))"));
        }
        MESSAGES.fetch_add(want[0].1 + want[1].1, Relaxed);
    }
    CALLS.fetch_add(ctx.calls.load(Relaxed), Relaxed);
    REPORTS.fetch_add(ctx.reports.load(Relaxed), Relaxed);
    Ok(())
}

fn seed() -> u64 {
    match std::env::var("TRACKSTATS_SEED") {
        Ok(s) => s.parse().expect("TRACKSTATS_SEED must be a u64"),
        Err(_) => std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64),
    }
}

/// Aborts the process, printing the case, if no case starts or ends for a
/// minute: a deadlock must fail the run, not hang it.
fn watchdog(current: Arc<Mutex<String>>, done: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        let mut last = (PROGRESS.load(SeqCst), Instant::now());
        while !done.load(SeqCst) {
            std::thread::sleep(Duration::from_millis(200));
            let p = PROGRESS.load(SeqCst);
            if p != last.0 {
                last = (p, Instant::now());
            } else if last.1.elapsed() > Duration::from_secs(60) {
                eprintln!("abi_sequences: no progress for 60 s (deadlock?) in case:\n{}", current.lock().unwrap());
                std::process::abort();
            }
        }
    });
}

#[test]
fn randomized_abi_sequences_keep_every_byte_exactly_once() {
    let cases = std::env::var("TRACKSTATS_SEQUENCES").ok().and_then(|s| s.parse().ok()).unwrap_or(DEFAULT_CASES);
    let seed = seed();
    println!("abi_sequences: seed {seed} (rerun with TRACKSTATS_SEED={seed}), {cases} sequences");
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config { cases, failure_persistence: None, max_shrink_iters: 2048, ..Config::default() };
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes));
    let current = Arc::new(Mutex::new(String::new()));
    let done = Arc::new(AtomicBool::new(false));
    watchdog(current.clone(), done.clone());
    let started = Instant::now();
    let result = runner.run(&scenario(), |sc| {
        *current.lock().unwrap() = format!("{sc:#?}");
        PROGRESS.fetch_add(1, SeqCst);
        SEQUENCES.fetch_add(1, Relaxed);
        STEPS.fetch_add(sc.threads.iter().map(|t| t.len() as u64).sum(), Relaxed);
        let r = run_scenario(&sc);
        PROGRESS.fetch_add(1, SeqCst);
        r.map_err(TestCaseError::fail)
    });
    done.store(true, SeqCst);
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, sc)) => {
            panic!("abi_sequences failed (seed {seed}; rerun with TRACKSTATS_SEED={seed}): {why}\nminimal sequence:\n{sc:#?}")
        }
        Err(e) => panic!("abi_sequences aborted (seed {seed}): {e}"),
    }
    let steps = STEPS.load(Relaxed);
    println!(
        "abi_sequences: {} sequences (including shrinking), {} steps, {} C ABI calls, {} messages and {} reports \
         checked exactly once, in {:.1} s",
        SEQUENCES.load(Relaxed),
        steps,
        CALLS.load(Relaxed),
        MESSAGES.load(Relaxed),
        REPORTS.load(Relaxed),
        started.elapsed().as_secs_f64()
    );
    assert!(
        steps >= MIN_STEPS || cases < DEFAULT_CASES,
        "only {steps} steps: fewer than the {MIN_STEPS} a run promises"
    );
}

/// The directions used above are the ABI's: 0 up, 1 down.
#[test]
fn direction_indices_match_the_abi() {
    assert_eq!(Direction::Up as u32, 0);
    assert_eq!(Direction::Down as u32, 1);
}
