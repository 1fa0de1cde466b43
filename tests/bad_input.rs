//! Bad input through the C ABI, one test per kind: NULL for every pointer
//! argument, bad ids, bad intervals and modes, a zero batch capacity, double
//! close, release before close, free with tracks still open, a sink that
//! blocks for seconds and a sink that calls back into the API. Each gets the
//! result code or the no-op its doc comment in the header promises, leaves
//! out-parameters untouched on failure, and loses nothing already recorded.
//! Tests that could deadlock run under a timeout, so a deadlock fails them
//! instead of hanging the suite.

mod c_abi;

use std::os::raw::{c_char, c_void};
use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering::SeqCst};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};
use trackstats::ffi::*;
use trackstats::{
    TRACKSTATS_FLAG_FINAL, TRACKSTATS_FLAG_LATE, TRACKSTATS_FLAG_MERGED, TRACKSTATS_INTERVAL_MAX_MS,
    TRACKSTATS_INTERVAL_MIN_MS, TRACKSTATS_MAX_ID_BYTES, TRACKSTATS_MAX_RECORD_BYTES, TRACKSTATS_WORD_SPILL_MASK,
};

use trackstats_result as R;

/// A pointer value no call may write over an out-parameter on failure.
const SENTINEL: usize = 0x5e47;

fn registry(mode: u32, interval_ms: u64, sink: trackstats_sink_fn, ctx: *mut c_void) -> *mut trackstats_registry {
    let cfg = trackstats_config { interval_ms, mode, sink, sink_ctx: ctx, ..trackstats_config_default() };
    let mut reg = null_mut();
    assert_eq!(trackstats_registry_new(&cfg, &mut reg), R::Ok);
    assert!(!reg.is_null());
    reg
}

fn manual() -> *mut trackstats_registry {
    registry(TRACKSTATS_MODE_MANUAL, TRACKSTATS_INTERVAL_MAX_MS, None, null_mut())
}

fn open_ids(reg: *mut trackstats_registry, p: &[u8], t: &[u8], c: &[u8]) -> (trackstats_result, *mut trackstats_track) {
    let mut out = SENTINEL as *mut trackstats_track;
    let ptr = |b: &[u8]| if b.is_empty() { null() } else { b.as_ptr() as *const c_char };
    let rc = trackstats_track_open(reg, ptr(p), p.len(), ptr(t), t.len(), ptr(c), c.len(), 7, &mut out);
    (rc, out)
}

use c_abi::open_numbered as open;

fn stats(reg: *mut trackstats_registry) -> trackstats_stats {
    let mut s = trackstats_stats::default();
    assert_eq!(trackstats_registry_stats(reg, &mut s), R::Ok);
    s
}

fn totals(t: *mut trackstats_track) -> [u64; 4] {
    let mut o = trackstats_totals::default();
    assert_eq!(trackstats_track_totals(t, &mut o), R::Ok);
    [o.up_bytes, o.up_messages, o.down_bytes, o.down_messages]
}

/// One report as the tests need it (the strings are only borrowed).
#[derive(Clone, Copy, Debug)]
struct Seen {
    user: u64,
    dir: u32,
    bytes: u64,
    messages: u64,
    flags: u32,
    start: u64,
    end: u64,
}

fn seen(rs: &[trackstats_report]) -> Vec<Seen> {
    rs.iter()
        .map(|r| Seen {
            user: r.user_data,
            dir: r.direction as u32,
            bytes: r.bytes,
            messages: r.messages,
            flags: r.flags,
            start: r.start_unix_ns,
            end: r.end_unix_ns,
        })
        .collect()
}

/// Every pending report.
fn drain(reg: *mut trackstats_registry) -> Vec<Seen> {
    let mut batch = null_mut();
    assert_eq!(trackstats_batch_new(3, &mut batch), R::Ok);
    let mut out = Vec::new();
    loop {
        assert_eq!(trackstats_registry_drain(reg, batch), R::Ok);
        let mut len = 0;
        let rs = trackstats_batch_reports(batch, &mut len);
        if len == 0 {
            break;
        }
        // SAFETY: `len` reports owned by `batch` until its next fill.
        out.extend(seen(unsafe { std::slice::from_raw_parts(rs, len) }));
    }
    trackstats_batch_free(batch);
    out
}

/// Sum of (bytes, messages) reported for `user` in direction `dir`.
fn sum(rs: &[Seen], user: u64, dir: u32) -> (u64, u64) {
    rs.iter().filter(|r| r.user == user && r.dir == dir).fold((0, 0), |a, r| (a.0 + r.bytes, a.1 + r.messages))
}

/// Runs `f` on its own thread and fails the test if it takes longer than
/// `limit`: a deadlock fails instead of hanging. (The stuck thread is left
/// behind; the test process ends with the failure.)
fn within<T: Send + 'static>(limit: Duration, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(v)) => v,
        Ok(Err(p)) => std::panic::resume_unwind(p),
        Err(_) => panic!("{what}: no return within {limit:?} (deadlock?)"),
    }
}

/// A raw pointer that may cross threads (handles are thread-safe by contract).
struct Send_<T>(*mut T);
impl<T> Clone for Send_<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Send_<T> {}
impl<T> Send_<T> {
    /// The pointer (a method, so closures capture the whole wrapper).
    fn get(self) -> *mut T {
        self.0
    }
}
// SAFETY: only used for registry and track handles, whose functions are
// thread-safe per the header.
unsafe impl<T> Send for Send_<T> {}
unsafe impl<T> Sync for Send_<T> {}

// ---- NULL for every pointer argument ------------------------------------

#[test]
fn null_out_parameters_are_refused() {
    assert_eq!(trackstats_batch_new(4, null_mut()), R::NullArgument);
    assert_eq!(trackstats_registry_new(null(), null_mut()), R::NullArgument);
    let cfg = trackstats_config_default();
    assert_eq!(trackstats_registry_new(&cfg, null_mut()), R::NullArgument);
    let reg = manual();
    let rc = trackstats_track_open(reg, c"PA".as_ptr(), 2, c"TR".as_ptr(), 2, null(), 0, 0, null_mut());
    assert_eq!(rc, R::NullArgument);
    assert_eq!(stats(reg).open_tracks, 0, "a refused open opens nothing");
    assert_eq!(trackstats_registry_stats(reg, null_mut()), R::NullArgument);
    let t = open(reg, 1);
    assert_eq!(trackstats_track_totals(t, null_mut()), R::NullArgument);
    trackstats_track_release(t);
    trackstats_registry_free(reg);
}

#[test]
fn null_registry_is_refused_everywhere() {
    let mut batch = null_mut();
    assert_eq!(trackstats_batch_new(1, &mut batch), R::Ok);
    let mut s = trackstats_stats::default();
    assert_eq!(trackstats_registry_close(null_mut()), R::NullArgument);
    assert_eq!(trackstats_registry_tick(null_mut()), R::NullArgument);
    assert_eq!(trackstats_registry_flush(null_mut()), R::NullArgument);
    assert_eq!(trackstats_registry_stats(null(), &mut s), R::NullArgument);
    assert_eq!(trackstats_registry_drain(null_mut(), batch), R::NullArgument);
    assert_eq!(trackstats_registry_wait(null_mut(), batch, 10), R::NullArgument);
    let (rc, out) = open_ids(null_mut(), b"PA", b"TR", b"");
    assert_eq!((rc, out as usize), (R::NullArgument, SENTINEL));
    trackstats_registry_free(null_mut()); // documented no-op
    trackstats_batch_free(batch);
}

#[test]
fn null_batch_is_refused_or_empty() {
    let reg = manual();
    assert_eq!(trackstats_registry_drain(reg, null_mut()), R::NullArgument);
    assert_eq!(trackstats_registry_wait(reg, null_mut(), 10), R::NullArgument);
    let mut len = 99usize;
    assert!(trackstats_batch_reports(null(), &mut len).is_null());
    assert_eq!(len, 0);
    assert!(trackstats_batch_reports(null(), null_mut()).is_null());
    let mut batch = null_mut();
    assert_eq!(trackstats_batch_new(2, &mut batch), R::Ok);
    let mut len = 99usize;
    trackstats_batch_reports(batch, &mut len);
    assert_eq!(len, 0, "a fresh batch is empty");
    trackstats_batch_free(batch);
    trackstats_batch_free(null_mut()); // documented no-op
    trackstats_registry_free(reg);
}

#[test]
fn null_track_is_a_no_op_everywhere() {
    let reg = manual();
    let t = null_mut();
    trackstats_record_up(t, 100);
    trackstats_record_down(t, 100);
    trackstats_record_up_packet(t, 100, 1, true);
    trackstats_track_slow_path(t, 0, 0);
    trackstats_track_slow_path(t, 0, TRACKSTATS_WORD_SPILL_MASK);
    assert!(trackstats_track_window_words(t).is_null());
    assert!(trackstats_track_packet_words(t).is_null());
    assert_eq!(trackstats_track_close(t), R::Ok);
    assert_eq!(totals(t), [0; 4]);
    trackstats_track_release(t);
    assert_eq!(trackstats_registry_tick(reg), R::Ok);
    assert!(drain(reg).is_empty(), "a NULL track reports nothing");
    assert_eq!(stats(reg).records_rejected, 0);
    trackstats_registry_free(reg);
}

#[test]
fn null_id_pointers_are_refused_unless_empty() {
    let reg = manual();
    let some = b"ID".as_ptr() as *const c_char;
    let mut out = SENTINEL as *mut trackstats_track;
    // A NULL pointer with a length would be read: refused.
    for (p, pl, t, tl, c, cl) in
        [(null(), 2, some, 2, null(), 0), (some, 2, null(), 2, null(), 0), (some, 2, some, 2, null(), 2)]
    {
        assert_eq!(trackstats_track_open(reg, p, pl, t, tl, c, cl, 0, &mut out), R::NullArgument);
    }
    // NULL with length 0 is an empty id: participant and track ids must not be empty.
    assert_eq!(trackstats_track_open(reg, null(), 0, some, 2, null(), 0, 0, &mut out), R::EmptyId);
    assert_eq!(trackstats_track_open(reg, some, 2, null(), 0, null(), 0, 0, &mut out), R::EmptyId);
    assert_eq!(out as usize, SENTINEL, "out untouched on failure");
    assert_eq!(stats(reg).live_slots, 0);
    // An empty country may be NULL.
    assert_eq!(trackstats_track_open(reg, some, 2, some, 2, null(), 0, 0, &mut out), R::Ok);
    trackstats_track_release(out);
    trackstats_registry_free(reg);
}

#[test]
fn null_config_means_the_defaults() {
    let mut reg = null_mut();
    assert_eq!(trackstats_registry_new(null(), &mut reg), R::Ok);
    assert_eq!(trackstats_registry_tick(reg), R::WrongMode, "the default is a sampler thread");
    trackstats_registry_free(reg);
}

#[test]
fn every_result_code_has_a_name_and_unknown_codes_are_safe() {
    let name = |c: u32| {
        let p = trackstats_result_str(c);
        assert!(!p.is_null());
        // SAFETY: documented as a static NUL-terminated string.
        unsafe { std::ffi::CStr::from_ptr(p) }.to_str().expect("utf-8").to_owned()
    };
    let unknown = name(u32::MAX);
    for c in 0..=14 {
        assert_ne!(name(c), unknown, "code {c} is named");
    }
    assert_eq!(name(15), unknown);
    assert!(!trackstats_version().is_null());
}

// ---- ids ----------------------------------------------------------------

#[test]
fn empty_ids_are_refused() {
    let reg = manual();
    for (p, t) in [(&b""[..], &b"TR"[..]), (b"PA", b""), (b"", b"")] {
        let (rc, out) = open_ids(reg, p, t, b"DE");
        assert_eq!((rc, out as usize), (R::EmptyId, SENTINEL));
    }
    assert_eq!(stats(reg).live_slots, 0, "nothing opened");
    trackstats_registry_free(reg);
}

#[test]
fn invalid_utf8_ids_are_refused() {
    let reg = manual();
    let bad: &[u8] = &[b'P', 0xff, 0xfe];
    let cut: &[u8] = "né".as_bytes().split_at(2).0; // a code point cut in half
    for ids in [[bad, b"TR", b""], [b"PA", bad, b""], [b"PA", b"TR", bad], [cut, b"TR", b""]] {
        let (rc, out) = open_ids(reg, ids[0], ids[1], ids[2]);
        assert_eq!((rc, out as usize), (R::InvalidUtf8, SENTINEL), "{ids:?}");
    }
    assert_eq!(stats(reg).live_slots, 0);
    trackstats_registry_free(reg);
}

#[test]
fn ids_longer_than_the_maximum_are_refused() {
    let reg = manual();
    let max = vec![b'x'; TRACKSTATS_MAX_ID_BYTES];
    let over = vec![b'x'; TRACKSTATS_MAX_ID_BYTES + 1];
    for ids in [[&over[..], b"TR", b""], [b"PA", &over[..], b""], [b"PA", b"TR", &over[..]]] {
        let (rc, out) = open_ids(reg, ids[0], ids[1], ids[2]);
        assert_eq!((rc, out as usize), (R::IdTooLong, SENTINEL));
    }
    let (rc, t) = open_ids(reg, &max, &max, &max);
    assert_eq!(rc, R::Ok, "exactly the maximum is fine");
    trackstats_track_release(t);
    trackstats_registry_free(reg);
}

// ---- registry settings --------------------------------------------------

#[test]
fn zero_and_absurd_intervals_are_refused() {
    for interval_ms in [0, TRACKSTATS_INTERVAL_MAX_MS + 1, u64::MAX] {
        for mode in [TRACKSTATS_MODE_THREAD, TRACKSTATS_MODE_MANUAL] {
            let cfg = trackstats_config { interval_ms, mode, ..trackstats_config_default() };
            let mut out = SENTINEL as *mut trackstats_registry;
            assert_eq!(trackstats_registry_new(&cfg, &mut out), R::InvalidInterval, "{interval_ms} ms");
            assert_eq!(out as usize, SENTINEL);
        }
    }
    for interval_ms in [TRACKSTATS_INTERVAL_MIN_MS, TRACKSTATS_INTERVAL_MAX_MS] {
        trackstats_registry_free(registry(TRACKSTATS_MODE_THREAD, interval_ms, None, null_mut()));
    }
}

#[test]
fn unknown_modes_are_refused() {
    for mode in [2, 3, u32::MAX] {
        let cfg = trackstats_config { interval_ms: 1000, mode, ..trackstats_config_default() };
        let mut out = SENTINEL as *mut trackstats_registry;
        assert_eq!(trackstats_registry_new(&cfg, &mut out), R::InvalidArgument, "mode {mode}");
        assert_eq!(out as usize, SENTINEL);
    }
}

#[test]
fn batch_capacity_zero_is_refused_and_huge_is_fine() {
    let mut out = SENTINEL as *mut trackstats_batch;
    assert_eq!(trackstats_batch_new(0, &mut out), R::InvalidCapacity);
    assert_eq!(out as usize, SENTINEL);
    let mut huge = null_mut();
    assert_eq!(trackstats_batch_new(usize::MAX, &mut huge), R::Ok, "preallocates a bounded amount");
    let reg = manual();
    let t = open(reg, 1);
    trackstats_record_up(t, 10);
    assert_eq!(trackstats_registry_tick(reg), R::Ok);
    assert_eq!(trackstats_registry_drain(reg, huge), R::Ok);
    let mut len = 0;
    trackstats_batch_reports(huge, &mut len);
    assert_eq!(len, 1);
    trackstats_batch_free(huge);
    trackstats_track_release(t);
    trackstats_registry_free(reg);
}

#[test]
fn unknown_slow_path_direction_and_oversized_records_change_nothing() {
    let reg = manual();
    let t = open(reg, 1);
    trackstats_record_up(t, 5);
    for d in [2, 3, u32::MAX] {
        for old in [0, 5, TRACKSTATS_WORD_SPILL_MASK] {
            trackstats_track_slow_path(t, d, old);
        }
    }
    trackstats_record_up(t, TRACKSTATS_MAX_RECORD_BYTES + 1);
    trackstats_record_down(t, u64::MAX); // a negative length cast to unsigned
    assert_eq!(stats(reg).records_rejected, 2);
    assert_eq!(totals(t), [5, 1, 0, 0]);
    trackstats_track_release(t);
    assert_eq!(trackstats_registry_flush(reg), R::Ok);
    let rs = drain(reg);
    assert_eq!((sum(&rs, 1, 0), sum(&rs, 1, 1)), ((5, 1), (0, 0)));
    trackstats_registry_free(reg);
}

#[test]
fn calls_on_a_closed_registry_get_registry_closed() {
    let reg = manual();
    assert_eq!(trackstats_registry_close(reg), R::Ok);
    assert_eq!(trackstats_registry_close(reg), R::Ok, "idempotent");
    let (rc, out) = open_ids(reg, b"PA", b"TR", b"");
    assert_eq!((rc, out as usize), (R::RegistryClosed, SENTINEL));
    assert_eq!(trackstats_registry_tick(reg), R::RegistryClosed);
    assert_eq!(trackstats_registry_flush(reg), R::RegistryClosed);
    let mut batch = null_mut();
    assert_eq!(trackstats_batch_new(1, &mut batch), R::Ok);
    assert_eq!(trackstats_registry_wait(reg, batch, 1000), R::RegistryClosed, "nothing left to drain");
    assert_eq!(trackstats_registry_wait(null_mut(), batch, 0), R::NullArgument);
    trackstats_batch_free(batch);
    trackstats_registry_free(reg);
}

// ---- track lifecycle misuse ---------------------------------------------

#[test]
fn double_close_is_a_no_op() {
    let reg = manual();
    let t = open(reg, 1);
    trackstats_record_up(t, 100);
    assert_eq!(trackstats_track_close(t), R::Ok);
    assert_eq!(trackstats_track_close(t), R::Ok);
    assert_eq!(trackstats_registry_flush(reg), R::Ok);
    let mut rs = drain(reg); // drained at once, so later reports do not merge into it
    assert_eq!(trackstats_track_close(t), R::Ok, "also after the close flush");
    trackstats_record_up(t, 50); // late
    assert_eq!(trackstats_registry_flush(reg), R::Ok);
    trackstats_track_release(t);
    assert_eq!(trackstats_registry_flush(reg), R::Ok);
    rs.extend(drain(reg));
    assert_eq!(sum(&rs, 1, 0), (150, 2));
    let finals = rs.iter().filter(|r| r.flags & TRACKSTATS_FLAG_FINAL != 0).count();
    assert_eq!(finals, 1, "one final report, not one per close: {rs:?}");
    assert!(rs.iter().any(|r| r.flags == TRACKSTATS_FLAG_LATE && r.bytes == 50), "{rs:?}");
    assert_eq!(stats(reg).open_tracks, 0);
    trackstats_registry_free(reg);
}

#[test]
fn release_before_close_closes_first() {
    let reg = manual();
    let t = open(reg, 1);
    trackstats_record_up(t, 10);
    trackstats_record_down(t, 20);
    trackstats_track_release(t);
    assert_eq!(trackstats_registry_flush(reg), R::Ok);
    let rs = drain(reg);
    assert_eq!((sum(&rs, 1, 0), sum(&rs, 1, 1)), ((10, 1), (20, 1)));
    assert!(rs.iter().all(|r| r.flags & TRACKSTATS_FLAG_FINAL != 0), "the release's close flush is final: {rs:?}");
    let s = stats(reg);
    assert_eq!((s.open_tracks, s.live_slots), (0, 0));
    trackstats_registry_free(reg);
}

/// Collects what a C sink receives.
#[derive(Default)]
struct Collector {
    reports: Mutex<Vec<Seen>>,
    /// Set by the test once `_free` (or `_close`) returned.
    finished: AtomicBool,
    called_after_finish: AtomicBool,
    calls: AtomicU32,
    registry: AtomicPtr<trackstats_registry>,
    /// A track the sink itself records on and releases.
    track: AtomicPtr<trackstats_track>,
}

unsafe extern "C" fn collect(ctx: *mut c_void, reports: *const trackstats_report, len: usize) {
    // SAFETY: `ctx` is a `Collector` that outlives the registry's close;
    // `reports` holds `len` reports during this call.
    let (c, rs) = unsafe { (&*(ctx as *const Collector), std::slice::from_raw_parts(reports, len)) };
    if c.finished.load(SeqCst) {
        c.called_after_finish.store(true, SeqCst);
    }
    c.calls.fetch_add(1, SeqCst);
    c.reports.lock().unwrap().extend(seen(rs));
}

fn ctx_of(c: &Collector) -> *mut c_void {
    c as *const Collector as *mut c_void
}

#[test]
fn free_with_tracks_still_open_keeps_them_working() {
    // Owned, not leaked: this test also runs under valgrind (make test-valgrind).
    let c = Box::<Collector>::default();
    let reg = registry(TRACKSTATS_MODE_MANUAL, TRACKSTATS_INTERVAL_MAX_MS, Some(collect), ctx_of(&c));
    let (open_track, closed_track) = (open(reg, 1), open(reg, 2));
    trackstats_record_up(open_track, 100);
    trackstats_record_up(closed_track, 10);
    assert_eq!(trackstats_track_close(closed_track), R::Ok);
    assert_eq!(trackstats_registry_flush(reg), R::Ok);
    trackstats_record_up(closed_track, 5); // late, recorded before the free
    trackstats_registry_free(reg);
    c.finished.store(true, SeqCst);
    // Everything recorded before the free reached the sink before it returned.
    let rs = c.reports.lock().unwrap().clone();
    assert_eq!(sum(&rs, 1, 0), (100, 1), "{rs:?}");
    assert_eq!(sum(&rs, 2, 0), (15, 2), "late bytes of a closed track are not lost by the free: {rs:?}");
    // The handles outlive the registry: they record, total and release.
    trackstats_record_up(open_track, 7);
    trackstats_record_down(closed_track, 3);
    assert_eq!(totals(open_track), [107, 2, 0, 0]);
    assert_eq!(totals(closed_track), [15, 2, 3, 1]);
    assert_eq!(trackstats_track_close(open_track), R::Ok);
    trackstats_track_release(open_track);
    trackstats_track_release(closed_track);
    assert!(!c.called_after_finish.load(SeqCst), "the sink was called after the free returned");
}

// ---- sinks that block or call back --------------------------------------

/// Sink state for the blocking test: the first call sleeps `BLOCK`.
struct Blocking {
    inner: Collector,
    block: Mutex<Option<(Instant, Instant)>>,
}

const BLOCK: Duration = Duration::from_secs(2);

unsafe extern "C" fn block_once(ctx: *mut c_void, reports: *const trackstats_report, len: usize) {
    // SAFETY: `ctx` is a `Blocking` that outlives the registry's close.
    let b = unsafe { &*(ctx as *const Blocking) };
    // SAFETY: as in `collect`.
    unsafe { collect(&b.inner as *const Collector as *mut c_void, reports, len) };
    if b.inner.calls.load(SeqCst) == 1 {
        let start = Instant::now();
        std::thread::sleep(BLOCK);
        *b.block.lock().unwrap() = Some((start, Instant::now()));
    }
}

#[test]
fn a_sink_blocking_for_seconds_slows_nothing_and_loses_nothing() {
    let b: &'static Blocking = Box::leak(Box::new(Blocking { inner: Collector::default(), block: Mutex::new(None) }));
    let reg = registry(TRACKSTATS_MODE_THREAD, 10, Some(block_once), b as *const Blocking as *mut c_void);
    let tracks = [Send_(open(reg, 1)), Send_(open(reg, 2))];
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    // A recording thread: chunks of records, each chunk's end time noted.
    let recorder = std::thread::spawn(move || {
        let tracks = tracks;
        let mut chunks = Vec::new();
        let mut n = 0u64;
        while !stop2.load(SeqCst) {
            for _ in 0..4096 {
                trackstats_record_up(tracks[(n & 1) as usize].get(), 1200);
                n += 1;
            }
            chunks.push((Instant::now(), n));
        }
        (chunks, n)
    });
    // Wait for the sink's block to end, then record as long again unblocked.
    let deadline = Instant::now() + BLOCK * 5;
    let (start, end) = loop {
        if let Some(w) = *b.block.lock().unwrap() {
            break w;
        }
        assert!(Instant::now() < deadline, "the sink was never called");
        std::thread::sleep(Duration::from_millis(20));
    };
    std::thread::sleep(BLOCK / 2);
    stop.store(true, SeqCst);
    let (chunks, total) = recorder.join().expect("recorder");
    let count_in = |from: Instant, to: Instant| {
        let c: Vec<u64> = chunks.iter().filter(|(t, _)| *t >= from && *t <= to).map(|c| c.1).collect();
        c.last().unwrap_or(&0) - c.first().unwrap_or(&0)
    };
    let during = count_in(start, end) as f64 / (end - start).as_secs_f64();
    let after = count_in(end, end + BLOCK / 2) as f64 / (BLOCK / 2).as_secs_f64();
    println!("records/s while the sink blocked: {during:.0}; after: {after:.0}; ratio {:.2}", during / after);
    // A blocked hot path would be near 0; the margin absorbs a noisy machine.
    assert!(during > 0.1 * after, "the hot path slowed while the sink blocked: {during:.0}/s vs {after:.0}/s");

    for t in tracks {
        assert_eq!(trackstats_track_close(t.0), R::Ok);
    }
    assert_eq!(trackstats_registry_close(reg), R::Ok);
    let mut rs = b.inner.reports.lock().unwrap().clone();
    rs.extend(drain(reg));
    let got = sum(&rs, 1, 0).1 + sum(&rs, 2, 0).1;
    assert_eq!(got, total, "every record reported once");
    assert_eq!(sum(&rs, 1, 0).0 + sum(&rs, 2, 0).0, total * 1200);
    let s = stats(reg);
    assert!(s.late_ticks > 0, "the blocked sampler missed deadlines");
    assert!(
        rs.iter().any(|r| r.flags & TRACKSTATS_FLAG_MERGED != 0 && r.end - r.start >= BLOCK.as_nanos() as u64 / 2),
        "missed windows merged into one report spanning the block"
    );
    for t in tracks {
        trackstats_track_release(t.0);
    }
    trackstats_registry_free(reg);
}

/// What the re-entrant sink saw from each call it made.
#[derive(Default)]
struct Reentrant {
    inner: Collector,
    codes: Mutex<Vec<(&'static str, trackstats_result)>>,
    /// Bytes the sink recorded on tracks it opened, per user_data.
    recorded: Mutex<Vec<(u64, u64)>>,
    /// Close the registry from inside the (first) call.
    close_inside: bool,
    /// The first call began / made all its calls.
    started: AtomicBool,
    done: AtomicBool,
}

unsafe extern "C" fn call_back(ctx: *mut c_void, reports: *const trackstats_report, len: usize) {
    // SAFETY: `ctx` is a `Reentrant` that outlives the registry's close.
    let r = unsafe { &*(ctx as *const Reentrant) };
    // SAFETY: as in `collect`.
    unsafe { collect(&r.inner as *const Collector as *mut c_void, reports, len) };
    if r.started.swap(true, SeqCst) {
        return;
    }
    let reg = r.inner.registry.load(SeqCst);
    let mut codes = r.codes.lock().unwrap();
    codes.push(("tick", trackstats_registry_tick(reg)));
    codes.push(("flush", trackstats_registry_flush(reg)));
    let mut s = trackstats_stats::default();
    codes.push(("stats", trackstats_registry_stats(reg, &mut s)));
    let mut batch = null_mut();
    codes.push(("batch_new", trackstats_batch_new(8, &mut batch)));
    codes.push(("drain", trackstats_registry_drain(reg, batch)));
    trackstats_batch_free(batch);
    // The figures and the exposition need no sampler role.
    codes.push(("set_track_series", trackstats_registry_set_track_series(reg, 4)));
    let (mut f, mut view) = (null_mut(), null());
    codes.push(("figures", trackstats_registry_figures(reg, &mut f, &mut view)));
    trackstats_figures_free(f);
    codes.push(("prometheus", prometheus_code(reg)));
    // Open, record, close and release a track from inside the sink.
    let mut t = null_mut();
    codes.push(("open", trackstats_track_open(reg, c"PA".as_ptr(), 2, c"TR_99".as_ptr(), 5, null(), 0, 99, &mut t)));
    trackstats_record_up(t, 33);
    r.recorded.lock().unwrap().push((99, 33));
    codes.push(("track_close", trackstats_track_close(t)));
    trackstats_track_release(t);
    if r.close_inside {
        codes.push(("registry_close", trackstats_registry_close(reg)));
    }
    r.done.store(true, SeqCst);
}

fn reentrant(close_inside: bool) -> &'static Reentrant {
    Box::leak(Box::new(Reentrant { close_inside, ..Reentrant::default() }))
}

#[test]
fn a_manual_sink_calling_back_gets_reentrant_or_works() {
    let r = reentrant(true);
    let codes = within(Duration::from_secs(20), "manual registry with a re-entrant sink", move || {
        let reg = registry(
            TRACKSTATS_MODE_MANUAL,
            TRACKSTATS_INTERVAL_MAX_MS,
            Some(call_back),
            r as *const Reentrant as *mut c_void,
        );
        r.inner.registry.store(reg, SeqCst);
        let t = open(reg, 1);
        trackstats_record_up(t, 10);
        assert_eq!(trackstats_registry_tick(reg), R::Ok, "delivers to the sink, which calls back");
        // What the sink queued (its track's close and release) comes next.
        assert_eq!(trackstats_registry_tick(reg), R::Ok);
        trackstats_track_release(t);
        trackstats_registry_free(reg);
        r.inner.finished.store(true, SeqCst);
        r.codes.lock().unwrap().clone()
    });
    let want = [
        ("tick", R::ReentrantCall),
        ("flush", R::ReentrantCall),
        ("stats", R::Ok),
        ("batch_new", R::Ok),
        ("drain", R::Ok),
        ("set_track_series", R::Ok),
        ("figures", R::Ok),
        ("prometheus", R::Ok),
        ("open", R::Ok),
        ("track_close", R::Ok),
        ("registry_close", R::ReentrantCall),
    ];
    assert_eq!(codes, want);
    let rs = r.inner.reports.lock().unwrap().clone();
    assert_eq!(sum(&rs, 1, 0), (10, 1), "{rs:?}");
    assert_eq!(sum(&rs, 99, 0), (33, 1), "the sink's own track is reported: {rs:?}");
    assert!(!r.inner.called_after_finish.load(SeqCst));
}

#[test]
fn a_threaded_sink_calling_back_and_closing_never_deadlocks() {
    let r = reentrant(true);
    let codes = within(Duration::from_secs(20), "threaded registry whose sink closes it", move || {
        let reg = registry(TRACKSTATS_MODE_THREAD, 5, Some(call_back), r as *const Reentrant as *mut c_void);
        r.inner.registry.store(reg, SeqCst);
        let tracks = [open(reg, 1), open(reg, 2)];
        trackstats_record_up(tracks[0], 10);
        trackstats_record_up(tracks[1], 20);
        // The first sink call closes the registry from the sampler thread.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !r.done.load(SeqCst) {
            assert!(Instant::now() < deadline, "the sink was never called");
            std::thread::sleep(Duration::from_millis(1));
        }
        // Free races the thread finishing that close: it must wait for it.
        trackstats_registry_free(reg);
        r.inner.finished.store(true, SeqCst);
        for t in tracks {
            trackstats_track_release(t);
        }
        r.codes.lock().unwrap().clone()
    });
    let want = [
        ("tick", R::WrongMode),
        ("flush", R::ReentrantCall),
        ("stats", R::Ok),
        ("batch_new", R::Ok),
        ("drain", R::Ok),
        ("set_track_series", R::Ok),
        ("figures", R::Ok),
        ("prometheus", R::Ok),
        ("open", R::Ok),
        ("track_close", R::Ok),
        ("registry_close", R::Ok),
    ];
    assert_eq!(codes, want);
    let rs = r.inner.reports.lock().unwrap().clone();
    assert_eq!((sum(&rs, 1, 0), sum(&rs, 2, 0)), ((10, 1), (20, 1)), "{rs:?}");
    assert_eq!(sum(&rs, 99, 0), (33, 1), "the sink's own track is final-flushed by the close: {rs:?}");
    assert!(!r.inner.called_after_finish.load(SeqCst), "the sink was called after the free returned");
}

/// Sink for the concurrent-close test: the first call releases a track (so
/// the close has another round to deliver) and sleeps, so a second close
/// arrives while the first is still delivering.
unsafe extern "C" fn slow_releasing(ctx: *mut c_void, reports: *const trackstats_report, len: usize) {
    // SAFETY: `ctx` is a `Collector` that outlives the registry's close.
    let c = unsafe { &*(ctx as *const Collector) };
    // SAFETY: as in `collect`.
    unsafe { collect(ctx, reports, len) };
    if c.calls.load(SeqCst) == 1 {
        let t = c.track.swap(null_mut(), SeqCst);
        trackstats_record_up(t, 5); // late: its release reports it in a second call
        trackstats_track_release(t);
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn a_second_close_returns_only_after_the_first_finished() {
    let c: &'static Collector = Box::leak(Box::default());
    within(Duration::from_secs(20), "two closes at once", move || {
        let reg = Send_(registry(TRACKSTATS_MODE_MANUAL, TRACKSTATS_INTERVAL_MAX_MS, Some(slow_releasing), ctx_of(c)));
        let (t1, t2) = (open(reg.0, 1), open(reg.0, 2));
        trackstats_record_up(t1, 1);
        trackstats_record_up(t2, 2);
        c.track.store(t2, SeqCst);
        let first = std::thread::spawn(move || assert_eq!(trackstats_registry_close(reg.get()), R::Ok));
        while c.calls.load(SeqCst) == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(trackstats_registry_close(reg.0), R::Ok);
        c.finished.store(true, SeqCst);
        first.join().expect("first close");
        trackstats_track_release(t1);
        trackstats_registry_free(reg.0);
    });
    assert!(!c.called_after_finish.load(SeqCst), "the sink was called after a close returned");
    let rs = c.reports.lock().unwrap().clone();
    assert_eq!((sum(&rs, 1, 0), sum(&rs, 2, 0)), ((1, 1), (7, 2)), "{rs:?}");
    assert!(c.calls.load(SeqCst) >= 2, "the late report came in a later sink call");
}

/// Registries a sink reaches from inside a call: its own (`own`), a manual
/// one and a threaded one without sinks, and a manual one (`nested`) whose
/// sink calls back into `own` and into itself.
#[derive(Default)]
struct Cross {
    own: AtomicPtr<trackstats_registry>,
    manual: AtomicPtr<trackstats_registry>,
    threaded: AtomicPtr<trackstats_registry>,
    nested: AtomicPtr<trackstats_registry>,
    codes: Mutex<Vec<(&'static str, trackstats_result)>>,
    /// What the sink drained from the manual registry it ticked.
    drained: Mutex<Vec<Seen>>,
    started: AtomicBool,
}

fn prometheus_code(reg: *mut trackstats_registry) -> trackstats_result {
    let mut text = null_mut();
    let rc = trackstats_registry_prometheus(reg, null(), &mut text, null_mut());
    trackstats_string_free(text);
    rc
}

/// The sink of `Cross::own`: on its first call, every call that needs a
/// registry's sampler role, on its own registry and on the others.
unsafe extern "C" fn cross_call(ctx: *mut c_void, _: *const trackstats_report, _: usize) {
    // SAFETY: `ctx` is a `Cross` that outlives every registry in it.
    let x = unsafe { &*(ctx as *const Cross) };
    if x.started.swap(true, SeqCst) {
        return;
    }
    let (own, manual, threaded, nested) =
        (x.own.load(SeqCst), x.manual.load(SeqCst), x.threaded.load(SeqCst), x.nested.load(SeqCst));
    let mut codes = vec![
        ("own tick", trackstats_registry_tick(own)),
        ("own flush", trackstats_registry_flush(own)),
        ("own prometheus", prometheus_code(own)),
        ("own close", trackstats_registry_close(own)),
    ];
    // Another manual registry: a whole track life, ticked and drained here.
    let t = open(manual, 5);
    trackstats_record_up(t, 50);
    codes.push(("manual tick", trackstats_registry_tick(manual)));
    codes.push(("manual track_close", trackstats_track_close(t)));
    trackstats_track_release(t);
    codes.push(("manual flush", trackstats_registry_flush(manual)));
    codes.push(("manual prometheus", prometheus_code(manual)));
    x.drained.lock().unwrap().extend(drain(manual));
    codes.push(("manual close", trackstats_registry_close(manual)));
    // A threaded registry: flush, exposition, and a close that joins its thread.
    codes.push(("threaded flush", trackstats_registry_flush(threaded)));
    codes.push(("threaded prometheus", prometheus_code(threaded)));
    codes.push(("threaded close", trackstats_registry_close(threaded)));
    *x.codes.lock().unwrap() = codes;
    // Nested: `nested`'s sink runs on this thread, inside this sink.
    let n = open(nested, 6);
    trackstats_record_up(n, 60);
    let rc = trackstats_registry_tick(nested);
    x.codes.lock().unwrap().push(("nested tick", rc));
    trackstats_track_release(n);
}

/// The sink of `Cross::nested`, called from inside `cross_call`: this thread
/// holds both registries' roles, so both refuse.
unsafe extern "C" fn nested_call(ctx: *mut c_void, _: *const trackstats_report, _: usize) {
    // SAFETY: as in `cross_call`.
    let x = unsafe { &*(ctx as *const Cross) };
    let (own, nested) = (x.own.load(SeqCst), x.nested.load(SeqCst));
    let mut codes = x.codes.lock().unwrap();
    codes.push(("nested sink: outer tick", trackstats_registry_tick(own)));
    codes.push(("nested sink: own flush", trackstats_registry_flush(nested)));
}

/// Re-entrancy is decided per registry: from inside a sink, calls that need
/// the sampler role of a registry whose role this thread holds (its own, and
/// the outer one of a nested sink) return `REENTRANT_CALL`; the same calls on
/// any other registry, manual or threaded, work. The exposition needs no
/// role (it reads the published figures): it works on every one.
#[test]
fn a_sink_may_call_other_registries_but_not_its_own_role() {
    let x: &'static Cross = Box::leak(Box::default());
    within(Duration::from_secs(20), "sinks calling other registries", move || {
        let ctx = x as *const Cross as *mut c_void;
        x.own.store(registry(TRACKSTATS_MODE_MANUAL, 3_600_000, Some(cross_call), ctx), SeqCst);
        x.manual.store(manual(), SeqCst);
        x.threaded.store(registry(TRACKSTATS_MODE_THREAD, 3_600_000, None, null_mut()), SeqCst);
        x.nested.store(registry(TRACKSTATS_MODE_MANUAL, 3_600_000, Some(nested_call), ctx), SeqCst);
        let own = x.own.load(SeqCst);
        let t = open(own, 1);
        trackstats_record_up(t, 10);
        assert_eq!(trackstats_registry_tick(own), R::Ok, "delivers to the sink, which calls out");
        trackstats_track_release(t);
        for r in [&x.own, &x.manual, &x.threaded, &x.nested] {
            trackstats_registry_free(r.load(SeqCst));
        }
    });
    let want = [
        ("own tick", R::ReentrantCall),
        ("own flush", R::ReentrantCall),
        ("own prometheus", R::Ok),
        ("own close", R::ReentrantCall),
        ("manual tick", R::Ok),
        ("manual track_close", R::Ok),
        ("manual flush", R::Ok),
        ("manual prometheus", R::Ok),
        ("manual close", R::Ok),
        ("threaded flush", R::Ok),
        ("threaded prometheus", R::Ok),
        ("threaded close", R::Ok),
        ("nested sink: outer tick", R::ReentrantCall),
        ("nested sink: own flush", R::ReentrantCall),
        ("nested tick", R::Ok),
    ];
    assert_eq!(*x.codes.lock().unwrap(), want);
    let rs = x.drained.lock().unwrap().clone();
    assert_eq!(sum(&rs, 5, 0), (50, 1), "the manual registry ticked from the sink reported: {rs:?}");
}
