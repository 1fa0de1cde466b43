//! `trackstats_registry`: created by `trackstats_registry_new`, freed by
//! `trackstats_registry_free`. Here also: `trackstats_config_default`,
//! `_close`, `_tick`, `_flush`, `_stats`, `_drain` and `_wait`; tracks open
//! in `track.rs`, the Prometheus exposition is in `prometheus.rs`.

use super::{arg, guard, guard_void, trackstats_batch, trackstats_report, trackstats_result};
use crate::registry::{
    Config, Mode, Registry, TRACKSTATS_GRACE_DEFAULT_MS, TRACKSTATS_GRACE_DEFAULT_SLOTS,
    TRACKSTATS_INTERVAL_DEFAULT_MS, TRACKSTATS_PENDING_CLOSED_DEFAULT, TRACKSTATS_QUARANTINE_DEFAULT_MS,
    TRACKSTATS_QUARANTINE_DEFAULT_SLOTS,
};
use crate::report::Report;
use crate::sampler::Sink;
use crate::stats::Stats;
/// The registry counters' C name, for Rust code calling the C ABI.
pub use crate::stats::Stats as trackstats_stats;
use crate::word::Delta;
use std::os::raw::c_void;
use std::time::Duration;

/// A set of tracks with one sampler. Opaque; owned by the caller of
/// `trackstats_registry_new` until `trackstats_registry_free`.
pub struct trackstats_registry {
    pub(crate) inner: Registry,
}

/// Test-only (feature `fault-injection`, never in the C header): lets Rust
/// tests make the sampler of a registry created through the C ABI panic.
#[cfg(feature = "fault-injection")]
impl trackstats_registry {
    #[doc(hidden)]
    pub fn inject_sampler_panic(&self, after_slots: usize) {
        self.inner.inject_sampler_panic(after_slots)
    }
}

/// A sampler thread closes windows on absolute deadlines.
pub const TRACKSTATS_MODE_THREAD: u32 = 0;
/// No thread: the caller closes windows with `trackstats_registry_tick`.
pub const TRACKSTATS_MODE_MANUAL: u32 = 1;

/// Called with each batch of reports on the sampler thread (in manual mode:
/// on the thread calling tick, flush or close; a `_flush` of a threaded
/// registry may also deliver on its caller's thread). `reports` and every
/// string in them are valid only during the call.
///
/// Re-entrancy is decided per registry: the thread running the sink holds
/// its registry's sampler role, and only calls that need that role are
/// refused. On its own registry a sink may call every function but these:
/// `trackstats_registry_tick` and `_flush` return `REENTRANT_CALL` (tick of a
/// threaded registry: `WRONG_MODE`); `_close` returns `REENTRANT_CALL` in
/// manual mode, and with a sampler thread asks the thread to finish and
/// returns OK at once (the close completes after the sink returns); `_free`
/// must not be called. `_wait` works but finds only what is already queued
/// (nothing new arrives while the sink runs). Records, track open, close,
/// release and totals, `_stats`, `_drain`, `_figures`, `_set_track_series`
/// and `_prometheus` work (the figures and the exposition never wait for the
/// sampler role, and already count the reports the sink is given). A sink
/// called inside another sink (a tick of registry B from registry A's sink)
/// holds both roles: both registries refuse.
///
/// On any other registry every function works as it does anywhere else. The
/// blocking ones (tick, flush, close, free) wait for that registry's role,
/// so two registries whose sinks make such calls on each other can
/// deadlock, as two locks taken in opposite orders do.
#[allow(non_camel_case_types)]
pub type trackstats_sink_fn =
    Option<unsafe extern "C" fn(ctx: *mut c_void, reports: *const trackstats_report, len: usize)>;

/// Registry settings. Start from `trackstats_config_default()`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct trackstats_config {
    /// Window length in milliseconds, `TRACKSTATS_INTERVAL_MIN_MS ..=
    /// TRACKSTATS_INTERVAL_MAX_MS`; default `TRACKSTATS_INTERVAL_DEFAULT_MS`.
    pub interval_ms: u64,
    /// `TRACKSTATS_MODE_THREAD` (default) or `TRACKSTATS_MODE_MANUAL`.
    pub mode: u32,
    /// NULL (default): reports queue for `trackstats_registry_drain`/`_wait`.
    pub sink: trackstats_sink_fn,
    /// Passed to `sink`; must stay valid until `trackstats_registry_close`
    /// (or `_free`) returns, after which the sink is never called again.
    pub sink_ctx: *mut c_void,
    /// A released track's slot waits this many milliseconds before another
    /// track may have it (its window words sealed meanwhile: a record through
    /// the stale handle is counted in `stale_records`, not given to anyone)...
    /// Default `TRACKSTATS_QUARANTINE_DEFAULT_MS`.
    pub quarantine_ms: u32,
    /// ...unless more than this many slots released after it wait too: the
    /// oldest leaves early. Slots leave the quarantine in release order.
    /// Default `TRACKSTATS_QUARANTINE_DEFAULT_SLOTS`; 0 (with a zero
    /// `quarantine_ms`): reused at once.
    pub quarantine_slots: u32,
    /// The most tracks held at once (open, or closed and not yet released);
    /// `trackstats_track_open` beyond it returns `TOO_MANY_TRACKS`. 0
    /// (default): `TRACKSTATS_MAX_TRACKS`.
    pub max_tracks: u32,
    /// `TRACKSTATS_CONFIG_*` bits; 0 by default. Unknown bits:
    /// `INVALID_ARGUMENT`.
    pub flags: u32,
    /// A track released with `trackstats_track_release_after_grace` keeps
    /// its slot (and a hosted track its host's words) this many milliseconds
    /// after the sampler processes the release, its records reported LATE;
    /// then the release takes effect... Default `TRACKSTATS_GRACE_DEFAULT_MS`.
    pub grace_ms: u32,
    /// ...unless more than this many tracks are in their grace: the oldest
    /// ends early. Default `TRACKSTATS_GRACE_DEFAULT_SLOTS`.
    pub grace_slots: u32,
    /// At most this many reports of closed tracks (final or late) pend for
    /// the consumer; beyond, they fold into one overflow report per country
    /// and direction (`TRACKSTATS_FLAG_OVERFLOW`), counted in
    /// `reports_overflowed`: a consumer that never drains holds bounded
    /// memory, and every byte is still reported. Default
    /// `TRACKSTATS_PENDING_CLOSED_DEFAULT`.
    pub pending_closed_max: u32,
}

/// Debug: never reuse a released slot. Every record through a stale handle
/// is caught by the sealed words and counted in `stale_records`; memory grows
/// with every track ever opened.
pub const TRACKSTATS_CONFIG_NEVER_REUSE: u32 = 1;

/// The defaults: `TRACKSTATS_INTERVAL_DEFAULT_MS` windows, a sampler
/// thread, reports queued for drain, the default quarantine, no limit on
/// tracks but `TRACKSTATS_MAX_TRACKS`, no flags. Thread-safe.
#[no_mangle]
pub extern "C" fn trackstats_config_default() -> trackstats_config {
    trackstats_config {
        interval_ms: TRACKSTATS_INTERVAL_DEFAULT_MS,
        mode: TRACKSTATS_MODE_THREAD,
        sink: None,
        sink_ctx: std::ptr::null_mut(),
        quarantine_ms: TRACKSTATS_QUARANTINE_DEFAULT_MS,
        quarantine_slots: TRACKSTATS_QUARANTINE_DEFAULT_SLOTS,
        max_tracks: 0,
        flags: 0,
        grace_ms: TRACKSTATS_GRACE_DEFAULT_MS,
        grace_slots: TRACKSTATS_GRACE_DEFAULT_SLOTS,
        pending_closed_max: TRACKSTATS_PENDING_CLOSED_DEFAULT,
    }
}

/// A C sink: the host's function, its context, and a reusable view buffer.
struct CSink {
    f: unsafe extern "C" fn(*mut c_void, *const trackstats_report, usize),
    ctx: *mut c_void,
    view: Vec<trackstats_report>,
}

// SAFETY: the header makes the host responsible for `sink_ctx` being usable
// from the sampler thread; trackstats only passes it back. `view` holds
// pointers into reports that are only alive during one call.
unsafe impl Send for CSink {}

impl CSink {
    fn call(&mut self, reports: &[Report]) {
        self.view.clear();
        self.view.extend(reports.iter().map(trackstats_report::from));
        // SAFETY: `f` is the host's sink; `view` and the strings it points to
        // (owned by `reports`) live until after it returns.
        unsafe { (self.f)(self.ctx, self.view.as_ptr(), self.view.len()) }
    }
}

/// Creates a registry. `config` may be NULL for the defaults. On success
/// writes a new registry to `*out`, owned by the caller (free it with
/// `trackstats_registry_free`). Thread-safe.
///
/// Returns `OK`; `NULL_ARGUMENT` for a NULL `out`; `INVALID_ARGUMENT` for an
/// unknown mode or unknown `flags` bits; `INVALID_INTERVAL` for an interval
/// outside `TRACKSTATS_INTERVAL_MIN_MS ..= TRACKSTATS_INTERVAL_MAX_MS`;
/// `THREAD_SPAWN_FAILED` when the sampler thread cannot be started; `PANIC`
/// for a bug in trackstats (caught). Checked in that order.
#[no_mangle]
pub extern "C" fn trackstats_registry_new(
    config: *const trackstats_config,
    out: *mut *mut trackstats_registry,
) -> trackstats_result {
    guard(|| {
        let out = arg!(mut out);
        // SAFETY: NULL or a valid config for the duration of the call.
        let c = unsafe { config.as_ref() }.copied().unwrap_or_else(|| trackstats_config_default());
        let mode = match c.mode {
            TRACKSTATS_MODE_THREAD => Mode::Thread,
            TRACKSTATS_MODE_MANUAL => Mode::Manual,
            _ => return trackstats_result::InvalidArgument,
        };
        if c.flags & !TRACKSTATS_CONFIG_NEVER_REUSE != 0 {
            return trackstats_result::InvalidArgument;
        }
        let cfg = Config {
            interval: Duration::from_millis(c.interval_ms),
            mode,
            sink: c.sink.map(|f| {
                let mut sink = CSink { f, ctx: c.sink_ctx, view: Vec::new() };
                Box::new(move |r: &[Report]| sink.call(r)) as Sink
            }),
            quarantine: Duration::from_millis(c.quarantine_ms.into()),
            quarantine_slots: c.quarantine_slots as usize,
            never_reuse: c.flags & TRACKSTATS_CONFIG_NEVER_REUSE != 0,
            max_tracks: c.max_tracks as usize,
            grace: Duration::from_millis(c.grace_ms.into()),
            grace_slots: c.grace_slots as usize,
            pending_closed_max: c.pending_closed_max as usize,
        };
        match Registry::new(cfg) {
            Ok(inner) => {
                *out = Box::into_raw(Box::new(trackstats_registry { inner }));
                trackstats_result::Ok
            }
            Err(e) => e.into(),
        }
    })
}

/// Final-flushes every open track (and what tracks closed earlier recorded
/// since, flagged late), delivers the reports, and stops the sampler; after
/// it returns the sink is never called again. Pending reports
/// stay drainable until `_free`. Tracks stay valid: records after this are
/// reported as late when the track is released. Idempotent: a call racing
/// the first returns once the first has finished. From inside this
/// registry's own sink: with a sampler thread, returns at once and the thread
/// finishes the close after the sink returns; in manual mode,
/// `REENTRANT_CALL`. Thread-safe.
///
/// Returns `OK` (also for a registry already closed); `NULL_ARGUMENT` for a
/// NULL registry; `REENTRANT_CALL` from inside a manual registry's own sink;
/// `FORKED` for a registry inherited from a parent process; `PANIC` for a bug
/// in trackstats (caught).
#[no_mangle]
pub extern "C" fn trackstats_registry_close(registry: *mut trackstats_registry) -> trackstats_result {
    guard(|| match arg!(registry).inner.close() {
        Ok(()) => trackstats_result::Ok,
        Err(e) => e.into(),
    })
}

/// Closes (as `_close`) and frees the registry. NULL is a no-op. Open tracks
/// keep their memory alive until each is released, so a track handle never
/// dangles. Must not race any other call on this registry handle, except the
/// calls a threaded registry's sink makes on the sampler thread: free waits
/// for that thread to finish (as `_close` does).
///
/// fork(): a registry made before a fork is inert in the child. Its sampler
/// thread does not exist there, and a lock a parent thread held at the fork
/// stays held, so every call on it but this one returns `FORKED`, as does
/// `trackstats_track_close` of its tracks; records and totals work on the
/// child's copy of the memory and are never reported. This free (and the
/// release of its tracks) prints nothing and waits for nothing: it releases
/// the registry's memory when no parent thread was inside the registry at
/// the fork, and otherwise leaves it to the child's exit. Registries made in
/// the child work as anywhere.
#[no_mangle]
pub extern "C" fn trackstats_registry_free(registry: *mut trackstats_registry) {
    guard_void(|| {
        if !registry.is_null() {
            // SAFETY: a pointer from `trackstats_registry_new`, freed once.
            drop(unsafe { Box::from_raw(registry) });
        }
    })
}

/// Manual mode: ends the current window of every track now, processes
/// closes and releases, and delivers to the sink. Thread-safe (serialized).
///
/// Returns `OK`; `NULL_ARGUMENT` for a NULL registry; `FORKED` for a
/// registry inherited from a parent process; `WRONG_MODE` for a registry
/// with a sampler thread; `REENTRANT_CALL` from inside this registry's own
/// sink; `REGISTRY_CLOSED` once it is closed; `PANIC` for a bug in
/// trackstats (caught; what the pass had done stays done). Checked in that
/// order.
#[no_mangle]
pub extern "C" fn trackstats_registry_tick(registry: *mut trackstats_registry) -> trackstats_result {
    guard(|| match arg!(registry).inner.tick() {
        Ok(()) => trackstats_result::Ok,
        Err(e) => e.into(),
    })
}

/// Processes pending closes and releases now and delivers to the sink,
/// without ending a window. A sampler thread does this by itself within
/// milliseconds; manual registries call it for a prompt final flush.
/// Thread-safe (serialized).
///
/// Returns `OK`; `NULL_ARGUMENT` for a NULL registry; `FORKED` for a
/// registry inherited from a parent process; `REENTRANT_CALL` from inside
/// this registry's own sink; `REGISTRY_CLOSED` once it is closed (the close
/// processed everything); `PANIC` for a bug in trackstats (caught). Checked
/// in that order.
#[no_mangle]
pub extern "C" fn trackstats_registry_flush(registry: *mut trackstats_registry) -> trackstats_result {
    guard(|| match arg!(registry).inner.flush() {
        Ok(()) => trackstats_result::Ok,
        Err(e) => e.into(),
    })
}

/// Writes the registry's counters to `*out`. Thread-safe. Also after
/// `trackstats_registry_close`.
///
/// Returns `OK`; `NULL_ARGUMENT` for a NULL registry or `out`; `FORKED` for
/// a registry inherited from a parent process; `PANIC` for a bug in
/// trackstats (caught).
#[no_mangle]
pub extern "C" fn trackstats_registry_stats(
    registry: *const trackstats_registry,
    out: *mut Stats,
) -> trackstats_result {
    guard(|| {
        let r = arg!(registry);
        let out = arg!(mut out);
        if r.inner.inherited() {
            return trackstats_result::Forked;
        }
        *out = r.inner.stats();
        trackstats_result::Ok
    })
}

/// Moves up to the batch's capacity of pending reports into `batch`,
/// replacing what it held, without blocking (the batch may end up empty).
/// Also after `trackstats_registry_close`, until everything is taken.
/// Thread-safe; give each consumer thread its own batch.
///
/// Returns `OK`; `NULL_ARGUMENT` for a NULL registry or batch; `FORKED` for a
/// registry inherited from a parent process (the batch unchanged); `PANIC`
/// for a bug in trackstats (caught).
#[no_mangle]
pub extern "C" fn trackstats_registry_drain(
    registry: *mut trackstats_registry,
    batch: *mut trackstats_batch,
) -> trackstats_result {
    guard(|| {
        let r = arg!(registry);
        let b = arg!(mut batch);
        if r.inner.inherited() {
            return trackstats_result::Forked;
        }
        b.fill(|reports, cap| {
            r.inner.drain(reports, cap);
        });
        trackstats_result::Ok
    })
}

/// As `_drain`, but waits up to `timeout_ms` for the first report.
/// Thread-safe; give each consumer thread its own batch.
///
/// Returns `OK` (with an empty batch on timeout); `NULL_ARGUMENT` for a NULL
/// registry or batch; `FORKED` for a registry inherited from a parent
/// process (the batch unchanged); `REGISTRY_CLOSED` (the batch empty) once
/// the registry is closed and everything it flushed has been drained;
/// `PANIC` for a bug in trackstats (caught).
#[no_mangle]
pub extern "C" fn trackstats_registry_wait(
    registry: *mut trackstats_registry,
    batch: *mut trackstats_batch,
    timeout_ms: u32,
) -> trackstats_result {
    guard(|| {
        let r = arg!(registry);
        let b = arg!(mut batch);
        if r.inner.inherited() {
            return trackstats_result::Forked;
        }
        let mut res = trackstats_result::Ok;
        b.fill(|reports, cap| {
            if let Err(e) = r.inner.wait(reports, cap, Duration::from_millis(timeout_ms.into())) {
                res = e.into();
            }
        });
        res
    })
}

/// Counts records a host made on a hosted track after the library let go
/// of its words (see `trackstats_track_open_hosted`): `messages` records of
/// `bytes` in all, which the host took off a sealed window word (for a word
/// value `v` its swap back to `TRACKSTATS_WORD_SEALED` returned, `d = v -
/// TRACKSTATS_WORD_SEALED`: `bytes = d & TRACKSTATS_WORD_BYTES_MASK`,
/// `messages = d >> TRACKSTATS_WORD_BYTES_BITS`) or made beside the words
/// (a record larger than `TRACKSTATS_MAX_INLINE_BYTES`). They are added to
/// `stale_records` and `stale_bytes`, never reported.
///
/// Also after `trackstats_registry_close`. Thread-safe.
///
/// Returns `OK`; `NULL_ARGUMENT` for a NULL registry; `FORKED` for a
/// registry inherited from a parent process; `PANIC` for a bug in trackstats
/// (caught).
#[no_mangle]
pub extern "C" fn trackstats_registry_count_stale(
    registry: *mut trackstats_registry,
    bytes: u64,
    messages: u64,
) -> trackstats_result {
    guard(|| {
        let r = arg!(registry);
        if r.inner.inherited() {
            return trackstats_result::Forked;
        }
        r.inner.count_stale(Delta { bytes, messages });
        trackstats_result::Ok
    })
}
