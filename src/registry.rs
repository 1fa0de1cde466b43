//! The registry (tracks, one sampler thread, the report sink) and the Rust API.

use crate::clock::Clock;
use crate::outbox::Outbox;
use crate::prometheus::{render, PromOptions, Snapshot};
use crate::report::{Direction, KeyError, Report, TrackKey};
use crate::sampler::{in_sink, Request, Sampler};
use crate::slab::Slab;
use crate::slot::Slot;
use crate::sync::thread::JoinHandle;
use crate::sync::{lock, thread, AtomicBool, AtomicU64, Condvar, Mutex, Ordering::*};
use crate::word::Delta;
use std::ptr::NonNull;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A report sink called on the sampler thread (or, in manual mode, the
/// thread that ticks) with each batch of reports.
pub type Sink = Box<dyn FnMut(&[Report]) + Send>;

/// The shortest and longest window a registry accepts.
pub const MIN_INTERVAL: Duration = Duration::from_millis(1);
pub const MAX_INTERVAL: Duration = Duration::from_secs(3600);
/// The default window, as LiveKit's ticker.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

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
}

impl Default for Config {
    fn default() -> Self {
        Config { interval: DEFAULT_INTERVAL, mode: Mode::Thread, sink: None }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The registry is closed.
    Closed,
    InvalidInterval,
    Key(KeyError),
    /// Every slot index is in use.
    TooManyTracks,
    ThreadSpawn,
    /// `tick` on a threaded registry.
    WrongMode,
    /// A call from inside the sink that needs the sampler role the sink's
    /// caller holds.
    Reentrant,
}

impl From<KeyError> for Error {
    fn from(e: KeyError) -> Self {
        Error::Key(e)
    }
}

/// Registry counters, as `trackstats_registry_stats` reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Opened and not yet closed.
    pub open_tracks: u64,
    /// Slots held: open tracks plus closed ones not yet released.
    pub live_slots: u64,
    pub reports_emitted: u64,
    /// Reports folded into a pending one because the consumer lagged.
    pub reports_merged: u64,
    pub reports_pending: u64,
    pub ticks: u64,
    /// Deadlines the sampler missed (their windows merged into the next).
    pub late_ticks: u64,
    pub records_rejected: u64,
    pub sampler_panics: u64,
    pub sink_panics: u64,
}

#[derive(Default)]
pub(crate) struct Health {
    pub open_tracks: AtomicU64,
    pub live_slots: AtomicU64,
    pub reports_emitted: AtomicU64,
    pub reports_merged: AtomicU64,
    pub ticks: AtomicU64,
    pub late_ticks: AtomicU64,
    pub records_rejected: AtomicU64,
    pub sampler_panics: AtomicU64,
    pub sink_panics: AtomicU64,
    /// Time spent in window passes, in total and in the latest one.
    pub tick_ns_total: AtomicU64,
    pub last_tick_ns: AtomicU64,
}

pub(crate) struct Inbox {
    pub requests: Vec<Request>,
    /// Someone (the thread, or in manual mode the ticker) will process
    /// queued requests. Once false, submitters process their own.
    pub accepting: bool,
    pub shutdown: bool,
    /// The sampler thread is parked on `inbox_cv` (set and cleared under the
    /// lock), so `submit` makes the futex call only when someone sleeps:
    /// churn would otherwise pay a system call per close and per release.
    pub sampler_waiting: bool,
}

pub(crate) struct Core {
    pub slab: Slab,
    pub clock: Clock,
    pub interval_ns: u64,
    pub mode: Mode,
    pub health: Health,
    pub inbox: Mutex<Inbox>,
    pub inbox_cv: Condvar,
    pub outbox: Mutex<Outbox>,
    pub outbox_cv: Condvar,
    pub sampler: Mutex<Sampler>,
    pub closed: AtomicBool,
}

impl Core {
    /// Hands a request to the sampler role without waiting for it, or, once
    /// nobody will process the queue (registry closed), processes it here.
    pub(crate) fn submit(&self, req: Request) {
        let mut inbox = lock(&self.inbox);
        if inbox.accepting {
            inbox.requests.push(req);
            let wake = inbox.sampler_waiting;
            drop(inbox);
            if wake {
                self.inbox_cv.notify_one();
            }
            return;
        }
        drop(inbox);
        let mut s = lock(&self.sampler);
        s.apply_all(self, &[req]);
    }

    /// Blocks until `shut_down` has finished (the sink is gone for good).
    fn wait_shut_down(&self) {
        let mut ob = lock(&self.outbox);
        while !ob.closed {
            ob.waiters += 1;
            ob = match self.outbox_cv.wait(ob) {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            ob.waiters -= 1;
        }
    }

    fn take_requests(&self) -> Vec<Request> {
        std::mem::take(&mut lock(&self.inbox).requests)
    }

    /// Sampler role, holding `s`: processes queued requests until none are
    /// left, then stops accepting and drops the sink (never called again).
    fn shut_down(&self, s: &mut Sampler) {
        loop {
            let reqs = self.take_requests();
            s.apply_all(self, &reqs);
            s.finalize_all(self);
            s.deliver(self);
            let mut inbox = lock(&self.inbox);
            if inbox.requests.is_empty() {
                inbox.accepting = false;
                break;
            }
        }
        s.sink = None;
        lock(&self.outbox).closed = true;
        self.outbox_cv.notify_all();
    }

    fn stats(&self) -> Stats {
        let h = &self.health;
        Stats {
            open_tracks: h.open_tracks.load(Relaxed),
            live_slots: h.live_slots.load(Relaxed),
            reports_emitted: h.reports_emitted.load(Relaxed),
            reports_merged: h.reports_merged.load(Relaxed),
            reports_pending: lock(&self.outbox).len() as u64,
            ticks: h.ticks.load(Relaxed),
            late_ticks: h.late_ticks.load(Relaxed),
            records_rejected: h.records_rejected.load(Relaxed),
            sampler_panics: h.sampler_panics.load(Relaxed),
            sink_panics: h.sink_panics.load(Relaxed),
        }
    }
}

/// The sampler thread: windows on absolute deadlines `origin + k * interval`;
/// between them it sleeps, waking early only for close/release requests.
fn run_sampler(core: Arc<Core>) {
    let mut next = 1u64; // index of the next deadline
    loop {
        let shutdown = {
            let mut inbox = lock(&core.inbox);
            loop {
                if inbox.shutdown || !inbox.requests.is_empty() {
                    break;
                }
                let deadline = core.clock.instant_after_origin(next * core.interval_ns);
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                inbox.sampler_waiting = true;
                inbox = match core.inbox_cv.wait_timeout(inbox, deadline - now) {
                    Ok((g, _)) => g,
                    Err(p) => p.into_inner().0,
                };
                inbox.sampler_waiting = false;
            }
            inbox.shutdown
        };
        let mut s = lock(&core.sampler);
        // Taken only while holding the sampler role: a `flush` on another
        // thread also takes requests, and two holders must apply them in the
        // order they were queued (a close applied after its slot's release
        // would hit the next track in that slot).
        let reqs = core.take_requests();
        let step = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            s.apply_all(&core, &reqs);
            let k = core.clock.elapsed_ns(Instant::now()) / core.interval_ns;
            if k >= next {
                // Missed deadlines fold into this window: one report spanning
                // all of them, flagged merged, and counted.
                let missed = k - next;
                core.health.late_ticks.fetch_add(missed, Relaxed);
                let flags = if missed > 0 { crate::report::TRACKSTATS_FLAG_MERGED } else { 0 };
                s.pass(&core, core.clock.origin_unix_ns() + k * core.interval_ns, flags);
                next = k + 1;
            }
            if shutdown {
                core.shut_down(&mut s);
            } else {
                s.deliver(&core);
            }
        }));
        if step.is_err() {
            core.health.sampler_panics.fetch_add(1, Relaxed);
            if shutdown {
                // Never leave the registry half closed.
                core.shut_down(&mut s);
            }
        }
        if shutdown {
            return;
        }
    }
}

/// A set of tracks with one sampler. Dropping it closes it.
pub struct Registry {
    core: Arc<Core>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Registry {
    pub fn new(config: Config) -> Result<Registry, Error> {
        if !(MIN_INTERVAL..=MAX_INTERVAL).contains(&config.interval) {
            return Err(Error::InvalidInterval);
        }
        let clock = Clock::new();
        let start = clock.origin_unix_ns();
        let core = Arc::new(Core {
            slab: Slab::new(),
            clock,
            interval_ns: config.interval.as_nanos() as u64,
            mode: config.mode,
            health: Health::default(),
            inbox: Mutex::new(Inbox { requests: Vec::new(), accepting: true, shutdown: false, sampler_waiting: false }),
            inbox_cv: Condvar::new(),
            outbox: Mutex::new(Outbox::default()),
            outbox_cv: Condvar::new(),
            sampler: Mutex::new(Sampler::new(start, config.sink)),
            closed: AtomicBool::new(false),
        });
        let thread = match config.mode {
            Mode::Manual => None,
            Mode::Thread => {
                let c = core.clone();
                let h = thread::Builder::new()
                    .name("trackstats-sampler".into())
                    .spawn(move || run_sampler(c))
                    .map_err(|_| Error::ThreadSpawn)?;
                Some(h)
            }
        };
        Ok(Registry { core, thread: Mutex::new(thread) })
    }

    pub fn interval(&self) -> Duration {
        Duration::from_nanos(self.core.interval_ns)
    }

    pub fn mode(&self) -> Mode {
        self.core.mode
    }

    /// Opens a track. Fails with `Closed` after `close`.
    pub fn open(&self, key: TrackKey) -> Result<Track, Error> {
        // Acquire: pairs with the Release swap in `close`.
        if self.core.closed.load(Acquire) {
            return Err(Error::Closed);
        }
        let i = self.core.slab.alloc().ok_or(Error::TooManyTracks)?;
        let slot = self.core.slab.get(i);
        self.core.health.open_tracks.fetch_add(1, Relaxed);
        self.core.health.live_slots.fetch_add(1, Relaxed);
        // The track's strong reference to the core, given back in `release`.
        let core = Arc::into_raw(self.core.clone());
        slot.publish(core, key, self.core.clock.now_unix_ns());
        Ok(Track { slot: NonNull::from(slot) })
    }

    /// Manual mode: ends the current window for every track now and delivers.
    pub fn tick(&self) -> Result<(), Error> {
        if self.core.mode != Mode::Manual {
            return Err(Error::WrongMode);
        }
        self.with_sampler(|core, s| {
            let reqs = core.take_requests();
            s.apply_all(core, &reqs);
            s.pass(core, core.clock.now_unix_ns(), 0);
            s.deliver(core);
        })
    }

    /// Processes pending closes and releases now (the sampler thread does this
    /// by itself within milliseconds) and delivers to the sink.
    pub fn flush(&self) -> Result<(), Error> {
        self.with_sampler(|core, s| {
            let reqs = core.take_requests();
            s.apply_all(core, &reqs);
            s.deliver(core);
        })
    }

    fn with_sampler(&self, f: impl FnOnce(&Core, &mut Sampler)) -> Result<(), Error> {
        if in_sink() {
            return Err(Error::Reentrant);
        }
        if self.core.closed.load(Acquire) {
            return Err(Error::Closed);
        }
        let mut s = lock(&self.core.sampler);
        // A panic in the sampler role (a bug) is counted as the thread's are,
        // then goes on to the caller (the C ABI returns PANIC). Reports it
        // made are already queued; marks it had not visited are put back.
        if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&self.core, &mut s))) {
            self.core.health.sampler_panics.fetch_add(1, Relaxed);
            std::panic::resume_unwind(p);
        }
        Ok(())
    }

    /// Moves up to `max` pending reports to `out` without blocking.
    pub fn drain(&self, out: &mut Vec<Report>, max: usize) -> usize {
        lock(&self.core.outbox).drain_into(out, max)
    }

    /// Like `drain`, but waits up to `timeout` for the first report. Returns
    /// `Ok(0)` on timeout and `Err(Closed)` once the registry is closed and
    /// everything it flushed has been taken.
    pub fn wait(&self, out: &mut Vec<Report>, max: usize, timeout: Duration) -> Result<usize, Error> {
        let deadline = Instant::now() + timeout;
        let mut ob = lock(&self.core.outbox);
        loop {
            if !ob.is_empty() {
                return Ok(ob.drain_into(out, max));
            }
            if ob.closed {
                return Err(Error::Closed);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(0);
            }
            ob.waiters += 1;
            ob = match self.core.outbox_cv.wait_timeout(ob, deadline - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
            ob.waiters -= 1;
        }
    }

    pub fn stats(&self) -> Stats {
        self.core.stats()
    }

    /// The registry in the Prometheus text exposition format (see
    /// `prometheus.rs`): cumulative bytes and messages by direction and
    /// country, optional per-track series, and health. Taken under the
    /// sampler role, so a track moving from live to released is counted once.
    /// `Reentrant` from inside the sink.
    pub fn prometheus(&self, options: &PromOptions) -> Result<String, Error> {
        if in_sink() {
            return Err(Error::Reentrant);
        }
        let core = &self.core;
        let mut snap = Snapshot::default();
        {
            let s = lock(&core.sampler);
            for (country, d) in &s.retired {
                for dir in Direction::ALL {
                    snap.add(country, dir, d[dir.index()]);
                }
            }
            core.slab.for_each(|_, slot| {
                if slot.observe().is_none() {
                    return;
                }
                let key = slot.key();
                let t = slot.totals();
                for dir in Direction::ALL {
                    snap.add(key.country(), dir, t[dir.index()]);
                }
                if options.per_track {
                    snap.tracks.push((key, t));
                }
            });
        }
        snap.stats = core.stats();
        snap.tick_seconds_sum = core.health.tick_ns_total.load(Relaxed) as f64 / 1e9;
        snap.last_tick_seconds = core.health.last_tick_ns.load(Relaxed) as f64 / 1e9;
        Ok(render(&snap, options))
    }

    /// Final-flushes every track, delivers, and stops the sampler. After it
    /// returns the sink is never called again; pending reports stay drainable
    /// and `wait` returns `Closed` once they are taken. Idempotent: a call
    /// racing the first returns once the first has finished. From inside the
    /// sink of a manual registry it fails with `Reentrant`; from the sampler
    /// thread's sink it asks the thread to finish and returns at once.
    pub fn close(&self) -> Result<(), Error> {
        let core = &self.core;
        if core.mode == Mode::Manual && in_sink() {
            return Err(Error::Reentrant);
        }
        // Release: pairs with the Acquire load in `open`.
        if core.closed.swap(true, AcqRel) {
            // Another call got here first and may still be closing: wait for
            // it, so that "the sink is never called again" holds after every
            // close returns. Not from inside a sink, where this thread may be
            // the one that has to finish the close.
            if !in_sink() {
                core.wait_shut_down();
            }
            return Ok(());
        }
        match core.mode {
            Mode::Manual => {
                let mut s = lock(&core.sampler);
                core.shut_down(&mut s);
            }
            Mode::Thread => {
                lock(&core.inbox).shutdown = true;
                core.inbox_cv.notify_one();
                let handle = lock(&self.thread).take();
                if let Some(h) = handle {
                    if h.thread().id() == thread::current().id() {
                        // Called from the sink: the thread finishes after it returns.
                        return Ok(());
                    }
                    if h.join().is_err() {
                        // The thread died outside its own panic guard: let
                        // the waiters above go rather than hang.
                        lock(&core.outbox).closed = true;
                        core.outbox_cv.notify_all();
                    }
                }
            }
        }
        Ok(())
    }

    #[cfg(feature = "fault-injection")]
    #[doc(hidden)]
    pub fn inject_sampler_panic(&self, after_slots: usize) {
        lock(&self.core.sampler).panic_after = Some(after_slots);
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// Cumulative bytes and messages of one track, as LiveKit's `GetTrafficTotals`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub up: Delta,
    pub down: Delta,
    /// The up side's sequence counts from packet records (zero without them).
    pub seq: crate::seq::SeqStats,
}

/// The stats handle of one track. Recording is `&self` and lock-free, so share
/// it between threads by reference or `Arc`. Dropping it releases the slot
/// (closing first if needed).
pub struct Track {
    slot: NonNull<Slot>,
}

// SAFETY: a Track is a pointer to a slot whose every field is atomic; the
// slot stays allocated while the Track's core reference lives.
unsafe impl Send for Track {}
unsafe impl Sync for Track {}

impl Track {
    #[inline]
    fn slot(&self) -> &Slot {
        // SAFETY: the slot lives as long as its segment, freed only with the
        // core, which this Track keeps alive.
        unsafe { self.slot.as_ref() }
    }

    /// One message of `bytes` received from the publisher (UPSTREAM).
    #[inline]
    pub fn record_up(&self, bytes: u64) {
        self.slot().record(Direction::Up, bytes)
    }

    /// One message of `bytes` sent to a subscriber (DOWNSTREAM).
    #[inline]
    pub fn record_down(&self, bytes: u64) {
        self.slot().record(Direction::Down, bytes)
    }

    #[inline]
    pub fn record(&self, dir: Direction, bytes: u64) {
        self.slot().record(dir, bytes)
    }

    /// One data-track packet of `bytes` with sequence number `seq` received
    /// from the publisher: `record_up(bytes)` plus packet loss, out-of-order,
    /// duplicate and frame counts (see `SeqStats`). Exact with one writer per
    /// track at a time; lock-free. The first call on a track allocates its
    /// 128-byte sequence block once.
    #[inline]
    pub fn record_up_packet(&self, bytes: u64, seq: u16, end_of_frame: bool) {
        self.slot().record_packet(bytes, seq, end_of_frame)
    }

    /// Closes the track: its final reports are produced within milliseconds
    /// (threaded) or at the next `flush`/`tick` (manual). Bytes recorded later
    /// are still reported, flagged late. A second close is a no-op (false).
    pub fn close(&self) -> bool {
        close_slot(self.slot())
    }

    /// Cumulative totals: all reported windows plus the open one.
    pub fn totals(&self) -> Totals {
        let t = self.slot().totals();
        Totals { up: t[0], down: t[1], seq: self.slot().seq_totals() }
    }

    /// This track's C handle, borrowed: valid while the Track lives. Lets a
    /// Rust host hand the track to C code that records or reads totals.
    pub fn as_ptr(&self) -> *mut crate::ffi::trackstats_track {
        self.slot.as_ptr().cast()
    }

    /// The C handle: the slot's address. Ownership moves to the pointer.
    pub(crate) fn into_raw(self) -> *const Slot {
        let p = self.slot.as_ptr() as *const Slot;
        std::mem::forget(self);
        p
    }
}

impl Drop for Track {
    fn drop(&mut self) {
        // SAFETY: this Track owns the handle and is being dropped.
        unsafe { release_slot(self.slot.as_ptr()) }
    }
}

/// Close on a raw handle (shared by `Track::close` and the C ABI).
pub(crate) fn close_slot(slot: &Slot) -> bool {
    if !slot.mark_closed() {
        return false;
    }
    let core = slot.core().expect("a live slot names its core");
    core.health.open_tracks.fetch_sub(1, Relaxed);
    core.submit(Request::Close(core.slab.index_of(slot)));
    true
}

/// Release on a raw handle: queues the slot's last flush and gives back the
/// handle's reference to the core.
///
/// # Safety
/// `p` is a live track handle (from `Track::into_raw` or a `Track`), and it is
/// not used again by anyone after this call.
pub(crate) unsafe fn release_slot(p: *const Slot) {
    // SAFETY: the caller guarantees `p` is live.
    let slot = unsafe { &*p };
    let Some(core) = slot.core() else { return };
    core.submit(Request::Release(core.slab.index_of(slot)));
    // SAFETY: `open` gave this handle one strong count via `Arc::into_raw`;
    // this gives it back exactly once. A queued request is processed by the
    // sampler thread or the registry's close, both holding their own reference.
    unsafe { Arc::decrement_strong_count(core as *const Core) };
}
