//! The public Rust API of a registry: configuration, errors, and `Registry`
//! itself (open, tick, flush, drain, wait, stats, Prometheus, close). The
//! work happens in the hub (`hub.rs`) and the sampler role (`sampler.rs`).

use crate::figures::Figures;
use crate::hosted::HostedWords;
use crate::hub::{run_sampler, Core};
use crate::key::{KeyError, TrackKey};
use crate::prometheus::{render, PrometheusOptions};
use crate::report::Report;
use crate::sampler::{Grace, Sampler, Sink};
use crate::slab::{Reuse, MAX_SLOTS};
use crate::stats::Stats;
use crate::sync::thread::JoinHandle;
use crate::sync::{lock, thread, Mutex, Ordering::*};
use crate::track::Track;
use crate::word::Delta;
use std::ptr::NonNull;
use std::sync::Arc;
use std::time::Duration;

/// The shortest window a registry accepts, in milliseconds.
pub const TRACKSTATS_INTERVAL_MIN_MS: u64 = 1;
/// The longest window a registry accepts, in milliseconds (one hour).
pub const TRACKSTATS_INTERVAL_MAX_MS: u64 = 3_600_000;
/// The default window, in milliseconds: 5 s, as LiveKit's ticker.
pub const TRACKSTATS_INTERVAL_DEFAULT_MS: u64 = 5_000;

/// `TRACKSTATS_INTERVAL_MIN_MS` as a `Duration`.
pub const MIN_INTERVAL: Duration = Duration::from_millis(TRACKSTATS_INTERVAL_MIN_MS);
/// `TRACKSTATS_INTERVAL_MAX_MS` as a `Duration`.
pub const MAX_INTERVAL: Duration = Duration::from_millis(TRACKSTATS_INTERVAL_MAX_MS);
/// `TRACKSTATS_INTERVAL_DEFAULT_MS` as a `Duration`.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(TRACKSTATS_INTERVAL_DEFAULT_MS);

/// How long a released track's slot waits, by default, before another track
/// may have it (`trackstats_config.quarantine_ms`), in milliseconds.
pub const TRACKSTATS_QUARANTINE_DEFAULT_MS: u32 = 5_000;
/// How many released slots wait in the quarantine at most, by default.
pub const TRACKSTATS_QUARANTINE_DEFAULT_SLOTS: u32 = 4_096;
/// How long a track released after a grace
/// (`trackstats_track_release_after_grace`) keeps its slot by default, in
/// milliseconds: one default window.
pub const TRACKSTATS_GRACE_DEFAULT_MS: u32 = 5_000;
/// How many reports of closed tracks may pend, by default, before more fold
/// into per-country overflow reports (`trackstats_config.pending_closed_max`).
pub const TRACKSTATS_PENDING_CLOSED_DEFAULT: u32 = 65_536;
/// How many tracks may be in their grace at once, by default.
pub const TRACKSTATS_GRACE_DEFAULT_SLOTS: u32 = 4_096;
/// The most tracks one registry holds at once (open, or closed and not yet
/// released): 2^26.
pub const TRACKSTATS_MAX_TRACKS: u32 = 1 << 26;

#[cfg(not(trackstats_loom))]
const _: () = assert!(TRACKSTATS_MAX_TRACKS as usize == MAX_SLOTS);

/// How windows are closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// One background sampler thread on absolute deadlines.
    Thread,
    /// No thread: the caller closes each window with `tick` and delivers
    /// close/release flushes with `flush`.
    Manual,
}

pub struct Config {
    pub interval: Duration,
    pub mode: Mode,
    /// None: reports wait in the queue for `drain`/`wait`.
    pub sink: Option<Sink>,
    /// A released track's slot (its words sealed) waits this long before
    /// another track may have it, so that a stale handle used shortly after
    /// its release is caught and counted in `Stats::stale_records` instead of
    /// counting into another track...
    pub quarantine: Duration,
    /// ...unless more than this many slots released after it wait too (so a
    /// fast churn does not hold memory: the oldest leaves early). Slots leave
    /// in release order. 0 with a zero `quarantine`: reused at once.
    pub quarantine_slots: usize,
    /// Debug: never reuse a slot. Every record through a stale handle is
    /// caught and counted, but memory grows with every track ever opened.
    pub never_reuse: bool,
    /// The most tracks held at once (open, or closed and not yet released;
    /// slots in quarantine do not count); `open` beyond it fails with
    /// `TooManyTracks`. 0: `TRACKSTATS_MAX_TRACKS`.
    pub max_tracks: usize,
    /// A track released with `Track::release_after_grace` keeps its slot
    /// this long after the release is processed, its records reported late;
    /// then the release takes effect (words sealed, hosted words let go)...
    pub grace: Duration,
    /// ...unless more than this many tracks are in their grace: the oldest
    /// ends early. Graces end in the order they began.
    pub grace_slots: usize,
    /// At most this many reports of closed tracks (final or late) pend for
    /// the consumer; beyond, they fold into one overflow report per country
    /// and direction (`TRACKSTATS_FLAG_OVERFLOW`), so a consumer that never
    /// drains holds bounded memory and every byte is still reported.
    pub pending_closed_max: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            interval: DEFAULT_INTERVAL,
            mode: Mode::Thread,
            sink: None,
            quarantine: Duration::from_millis(TRACKSTATS_QUARANTINE_DEFAULT_MS.into()),
            quarantine_slots: TRACKSTATS_QUARANTINE_DEFAULT_SLOTS as usize,
            never_reuse: false,
            max_tracks: 0,
            grace: Duration::from_millis(TRACKSTATS_GRACE_DEFAULT_MS.into()),
            grace_slots: TRACKSTATS_GRACE_DEFAULT_SLOTS as usize,
            pending_closed_max: TRACKSTATS_PENDING_CLOSED_DEFAULT as usize,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The registry is closed.
    Closed,
    InvalidInterval,
    Key(KeyError),
    /// The registry holds `Config::max_tracks` tracks (or every slot index
    /// is in use).
    TooManyTracks,
    ThreadSpawn,
    /// `tick` on a threaded registry.
    WrongMode,
    /// A call from inside this registry's own sink that needs the sampler
    /// role the sink's caller holds.
    Reentrant,
    /// A forked child's copy of a registry its parent made: inert (see
    /// `Registry::inherited`).
    Forked,
}

impl From<KeyError> for Error {
    fn from(e: KeyError) -> Self {
        Error::Key(e)
    }
}

/// A set of tracks with one sampler. Dropping it closes it.
pub struct Registry {
    core: Arc<Core>,
    mode: Mode,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Registry {
    pub fn new(config: Config) -> Result<Registry, Error> {
        if !(MIN_INTERVAL..=MAX_INTERVAL).contains(&config.interval) {
            return Err(Error::InvalidInterval);
        }
        let reuse = Reuse {
            quarantine_ns: config.quarantine.as_nanos().min(u64::MAX as u128) as u64,
            quarantine_slots: config.quarantine_slots,
            never: config.never_reuse,
            max_live: match config.max_tracks {
                0 => MAX_SLOTS,
                n => n.min(MAX_SLOTS),
            },
        };
        let grace = Grace { ns: config.grace.as_nanos().min(u64::MAX as u128) as u64, slots: config.grace_slots };
        let core = Core::new(config.interval.as_nanos() as u64, config.sink, reuse, grace, config.pending_closed_max);
        let thread = match config.mode {
            Mode::Manual => None,
            Mode::Thread => {
                #[cfg(feature = "fault-injection")]
                if FAIL_NEXT_SPAWN.with(|f| f.replace(false)) {
                    return Err(Error::ThreadSpawn);
                }
                let c = core.clone();
                // Relaxed: see `Core::thread_holds_core`.
                core.thread_holds_core.store(true, Relaxed);
                let h = thread::Builder::new()
                    .name("trackstats-sampler".into())
                    .spawn(move || run_sampler(c))
                    .map_err(|_| Error::ThreadSpawn)?;
                Some(h)
            }
        };
        Ok(Registry { core, mode: config.mode, thread: Mutex::new(thread) })
    }

    pub fn interval(&self) -> Duration {
        Duration::from_nanos(self.core.interval_ns)
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Opens a track. Fails with `Closed` after `close`.
    pub fn open(&self, key: TrackKey) -> Result<Track, Error> {
        self.open_with(key, None)
    }

    /// Opens a hosted track: its window words are `words`, in the caller's
    /// memory, reset here (see `HostedWords` and the header's
    /// `trackstats_track_open_hosted`). Records go through the window-word
    /// rule on `words.window(dir)`; `Track::record_up` also works, through
    /// the slow path.
    ///
    /// # Safety
    /// `words` stays valid, and is touched only as the header allows, until
    /// `words.is_let_go()` returns true (after the track's release) and no
    /// call naming the track is in progress.
    pub unsafe fn open_hosted(&self, key: TrackKey, words: NonNull<HostedWords>) -> Result<Track, Error> {
        // SAFETY: valid for the track's life, per the contract.
        self.open_with(key, Some(unsafe { words.as_ref() }))
    }

    fn open_with(&self, key: TrackKey, host: Option<&HostedWords>) -> Result<Track, Error> {
        self.not_inherited()?;
        // Acquire: pairs with the Release swap in `close`.
        if self.core.closed.load(Acquire) {
            return Err(Error::Closed);
        }
        let slot = self.core.open(key, host).ok_or(Error::TooManyTracks)?;
        Ok(Track::new(slot))
    }

    /// Counts records a host made on a hosted track after the library let
    /// go of its words (see `trackstats_registry_count_stale`): added to
    /// `Stats::stale_records` and `stale_bytes`, never reported.
    pub fn count_stale(&self, records: Delta) {
        self.core.count_stale(records)
    }

    /// Manual mode: ends the current window for every track now and delivers.
    pub fn tick(&self) -> Result<(), Error> {
        self.not_inherited()?;
        if self.mode != Mode::Manual {
            return Err(Error::WrongMode);
        }
        self.with_sampler(|core, s| {
            let reqs = core.take_requests();
            s.apply_all(&core.store, &reqs);
            s.pass(&core.store, core.store.clock.now_unix_ns(), 0);
            s.deliver(&core.store);
        })
    }

    /// Processes pending closes and releases now (the sampler thread does this
    /// by itself within milliseconds) and delivers to the sink.
    pub fn flush(&self) -> Result<(), Error> {
        self.with_sampler(|core, s| {
            let reqs = core.take_requests();
            s.apply_all(&core.store, &reqs);
            s.deliver(&core.store);
        })?;
        self.core.wake_for_graces();
        Ok(())
    }

    fn with_sampler(&self, f: impl FnOnce(&Core, &mut Sampler)) -> Result<(), Error> {
        self.not_inherited()?;
        if self.core.role_held_here() {
            return Err(Error::Reentrant);
        }
        if self.core.closed.load(Acquire) {
            return Err(Error::Closed);
        }
        let mut s = self.core.role();
        // A panic in the sampler role (a bug) is counted as the thread's are,
        // then goes on to the caller (the C ABI returns PANIC). Reports it
        // made are already queued; marks it had not visited are put back.
        if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&self.core, &mut s))) {
            self.core.store.counters.sampler_panics.fetch_add(1, Relaxed);
            std::panic::resume_unwind(p);
        }
        Ok(())
    }

    /// Moves up to `max` pending reports to `out` without blocking.
    /// (In a forked child's inherited copy: nothing, see `inherited`.)
    pub fn drain(&self, out: &mut Vec<Report>, max: usize) -> usize {
        if self.inherited() {
            return 0;
        }
        self.core.store.outbox.drain(out, max)
    }

    /// Like `drain`, but waits up to `timeout` for the first report. Returns
    /// `Ok(0)` on timeout and `Err(Closed)` once the registry is closed and
    /// everything it flushed has been taken.
    pub fn wait(&self, out: &mut Vec<Report>, max: usize, timeout: Duration) -> Result<usize, Error> {
        self.not_inherited()?;
        self.core.store.outbox.wait(out, max, timeout).ok_or(Error::Closed)
    }

    /// The health counters. Never waits for the sampler or a sink. (In a
    /// forked child's inherited copy: the counters as they were copied,
    /// without the gauges that need a lock.)
    pub fn stats(&self) -> Stats {
        if self.inherited() {
            return self.core.store.counters.snapshot();
        }
        self.core.stats()
    }

    /// The registry's cumulative figures: the latest the sampler published
    /// (after each pass and each batch of closes and releases), with the
    /// health counters as they stand (as `stats`). Never waits for the
    /// sampler, a pass or a sink; works from inside the sink and after
    /// `close`. See `Figures` for what they include. (In a forked child's
    /// inherited copy: the figures as they were copied, never updated.)
    pub fn figures(&self) -> Figures {
        self.core.figures(self.stats())
    }

    /// Keeps per-track figures (`Figures::tracks`): from the next pass on,
    /// each (track, direction) that moves gets a series of its own while
    /// fewer than `max_series` are admitted, and the overflow otherwise,
    /// once, until the track is released. Changing the limit applies to
    /// series admitted afterwards. Idempotent; a no-op after `close` (and in
    /// a forked child's inherited copy).
    pub fn set_track_series(&self, max_series: u32) {
        self.core.store.board.set_track_series(max_series)
    }

    /// Whether this is a forked child's copy of a registry its parent made:
    /// inert. Its sampler thread is gone, and any lock a parent thread held at
    /// the fork stays held, so open, tick, flush, wait, prometheus and close
    /// fail with `Forked` (drain finds nothing, a track's close does nothing);
    /// records and totals work on the child's copy of the memory and are
    /// never reported; dropping it (and releasing its tracks) releases its
    /// memory when no parent thread was inside it at the fork, and leaves it
    /// to the process's exit otherwise. Nothing is printed or waited for.
    pub fn inherited(&self) -> bool {
        self.core.inherited()
    }

    fn not_inherited(&self) -> Result<(), Error> {
        if self.inherited() {
            return Err(Error::Forked);
        }
        Ok(())
    }

    /// The registry in the Prometheus text exposition format (see
    /// `prometheus.rs`), rendered from `figures`: never waits for the
    /// sampler, a pass or a sink, works from inside the sink. `per_track`
    /// calls `set_track_series` with the options' limit. `Forked` in a
    /// forked child's inherited copy.
    pub fn prometheus(&self, options: &PrometheusOptions) -> Result<String, Error> {
        self.not_inherited()?;
        if options.per_track {
            self.set_track_series(options.max_track_series);
        }
        Ok(render(&self.figures(), options))
    }

    /// Final-flushes every track, delivers, and stops the sampler. After it
    /// returns the sink is never called again; pending reports stay drainable
    /// and `wait` returns `Closed` once they are taken. Idempotent: a call
    /// racing the first returns once the first has finished. From inside this
    /// registry's own sink it fails with `Reentrant` in manual mode; with a
    /// sampler thread it asks the thread to finish and returns at once (the
    /// thread closes once the sink returns). From inside another registry's
    /// sink it works as anywhere else.
    pub fn close(&self) -> Result<(), Error> {
        self.not_inherited()?;
        let core = &self.core;
        let inside = core.role_held_here();
        if self.mode == Mode::Manual && inside {
            return Err(Error::Reentrant);
        }
        // Release: pairs with the Acquire load in `open`.
        if core.closed.swap(true, AcqRel) {
            // Another call got here first and may still be closing: wait for
            // it, so that "the sink is never called again" holds after every
            // close returns. Not from inside this registry's sink, where this
            // thread holds the role the close needs.
            if !inside {
                core.store.outbox.wait_closed();
            }
            return Ok(());
        }
        match self.mode {
            Mode::Manual => {
                let mut s = core.role();
                core.shut_down(&mut s);
            }
            Mode::Thread => {
                lock(&core.inbox).shutdown = true;
                core.inbox_cv.notify_one();
                let handle = lock(&self.thread).take();
                if let Some(h) = handle {
                    if inside {
                        // From inside the sink (on the sampler thread, or on
                        // a host thread in `flush`): the thread finishes the
                        // close once the sink returns; joining would wait for
                        // this very call. Dropping the handle detaches it; a
                        // later close or free waits for it through the outbox.
                        return Ok(());
                    }
                    if h.join().is_err() {
                        // The thread died outside its own panic guard: let
                        // the waiters above go rather than hang.
                        core.store.outbox.close();
                    }
                }
            }
        }
        Ok(())
    }

    #[cfg(feature = "fault-injection")]
    #[doc(hidden)]
    pub fn inject_sampler_panic(&self, after_slots: usize) {
        self.core.role().panic_after = Some(after_slots);
    }
}

#[cfg(feature = "fault-injection")]
thread_local! {
    static FAIL_NEXT_SPAWN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Test hook (feature `fault-injection`): the next sampler thread this
/// thread starts fails to start, as when the system has no thread to give.
#[cfg(feature = "fault-injection")]
#[doc(hidden)]
pub fn fail_next_thread_spawn() {
    FAIL_NEXT_SPAWN.with(|f| f.set(true));
}

impl Drop for Registry {
    fn drop(&mut self) {
        if self.inherited() {
            self.drop_inherited();
            return;
        }
        let _ = self.close();
    }
}

impl Registry {
    /// A forked child drops its inherited copy (see `inherited`): no thread
    /// to join (a join would fail and panic), no lock to wait for. The core
    /// is dropped with the last count only if no parent thread was inside
    /// it at the fork; the count its vanished sampler thread held is given
    /// back for it.
    fn drop_inherited(&mut self) {
        let Ok(mut handle) = self.thread.try_lock() else {
            std::mem::forget(self.core.clone());
            return;
        };
        // No pthread call on a thread that does not exist here.
        let had_thread = handle.take().map(std::mem::forget).is_some();
        drop(handle);
        if !self.core.child_may_free() {
            // Never dropped: its data may be half updated.
            std::mem::forget(self.core.clone());
            return;
        }
        // Relaxed: read in a copy of memory taken at one instant (the fork).
        if had_thread && self.core.thread_holds_core.load(Relaxed) {
            // SAFETY: the count the sampler thread held (its `Arc` clone),
            // which it will never give back in this process; this core's
            // own count (`self.core`) keeps it alive through this call.
            unsafe { Arc::decrement_strong_count(Arc::as_ptr(&self.core)) };
        }
    }
}
