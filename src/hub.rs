//! The hub: one registry's parts wired together. It owns the `Store` (slots,
//! clock, counters, outbox), the sampler role behind its lock, and the inbox
//! of close and release requests; it runs the sampler thread's loop, shuts
//! the registry down, and closes and releases tracks for the public API and
//! the C ABI above it. A slot reaches its hub through `Home`, the hub's
//! first field.

use crate::clock::Clock;
use crate::figures::{Board, Figures};
use crate::fork;
use crate::hosted::HostedWords;
use crate::key::TrackKey;
use crate::outbox::Outbox;
use crate::report::TRACKSTATS_FLAG_MERGED;
use crate::sampler::{Grace, Request, Sampler, Sink, Store, NO_GRACE};
use crate::slab::{Reuse, Slab};
use crate::slot::{Home, Slot};
use crate::stats::{Counters, Stats};
use crate::sync::{lock, thread_token, AtomicBool, AtomicU64, Condvar, Mutex, MutexGuard, Ordering::*};
use crate::word::Delta;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Instant;

/// Queued requests beyond which a close or release processes the queue
/// itself when the sampler role is free (`Core::help`).
const HELP_AT: usize = 1024;

/// Close and release requests on their way to the sampler role.
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

#[repr(C)]
pub(crate) struct Core {
    /// First (and `repr(C)`), so a slot's `home()` is the core's address.
    home: Home,
    pub store: Store,
    pub interval_ns: u64,
    pub inbox: Mutex<Inbox>,
    pub inbox_cv: Condvar,
    /// The sampler role: whoever holds this lock takes windows. Taken
    /// through `role`, which records the holder in `role_holder`.
    sampler: Mutex<Sampler>,
    /// The `thread_token` of the thread holding the sampler role, 0 when
    /// none: a call that needs the role from the thread that holds it (a
    /// sink calling back into its own registry) is refused instead of
    /// deadlocking, while calls on other registries go through.
    role_holder: AtomicU64,
    pub closed: AtomicBool,
    /// The fork generation the registry was made in (`fork.rs`): in a
    /// later one, this is a forked child's inert copy.
    fork_generation: u64,
    /// The sampler thread holds a count of the core: set before the thread
    /// starts, cleared just before it drops that count. A child that frees
    /// its inherited copy gives the count back for the thread it lost.
    pub thread_holds_core: AtomicBool,
}

/// The sampler role, held: the sampler lock's guard, with the holder
/// recorded for `Core::role_held_here` until it is dropped.
pub(crate) struct Role<'a> {
    core: &'a Core,
    sampler: MutexGuard<'a, Sampler>,
}

impl Deref for Role<'_> {
    type Target = Sampler;
    fn deref(&self) -> &Sampler {
        &self.sampler
    }
}

impl DerefMut for Role<'_> {
    fn deref_mut(&mut self) -> &mut Sampler {
        &mut self.sampler
    }
}

impl Drop for Role<'_> {
    /// Runs before the guard's own drop: the mark is gone before the lock is.
    fn drop(&mut self) {
        // Relaxed: only the holding thread compares the mark with its own
        // token (`role_held_here`); it reads its own stores in program order,
        // and no other thread's token can equal its own.
        self.core.role_holder.store(0, Relaxed);
    }
}

const _: () = assert!(std::mem::offset_of!(Core, home) == 0);

/// `Home::mark` of every core.
///
/// # Safety
/// `home` is a live core's `home` (a slot's `home()` while the slot is held).
unsafe fn mark(home: *const Home, index: u32) {
    // SAFETY: per the contract.
    unsafe { Core::from_home(home) }.store.slab.mark(index);
}

/// `Home::reject` of every core.
///
/// # Safety
/// As `mark`.
unsafe fn reject(home: *const Home) {
    // SAFETY: per the contract.
    unsafe { Core::from_home(home) }.store.counters.records_rejected.fetch_add(1, Relaxed);
}

/// `Home::stale` of every core.
///
/// # Safety
/// As `mark`.
unsafe fn stale(home: *const Home, d: Delta) {
    // SAFETY: per the contract.
    let c = &unsafe { Core::from_home(home) }.store.counters;
    c.stale_records.fetch_add(d.messages, Relaxed);
    c.stale_bytes.fetch_add(d.bytes, Relaxed);
}

impl Core {
    pub(crate) fn new(
        interval_ns: u64,
        sink: Option<Sink>,
        reuse: Reuse,
        grace: Grace,
        pending_closed_max: usize,
    ) -> Arc<Core> {
        let clock = Clock::new();
        let start = clock.origin_unix_ns();
        Arc::new_cyclic(|me: &std::sync::Weak<Core>| Core {
            home: Home { mark, reject, stale },
            // The core's address (its first field is `home`), with the whole
            // core's provenance for `from_home`.
            store: Store {
                slab: Slab::new(me.as_ptr().cast::<Home>(), reuse),
                clock,
                counters: Counters::default(),
                outbox: Outbox::new(pending_closed_max),
                board: Board::new(),
                grace_due_ns: AtomicU64::new(NO_GRACE),
            },
            interval_ns,
            inbox: Mutex::new(Inbox { requests: Vec::new(), accepting: true, shutdown: false, sampler_waiting: false }),
            inbox_cv: Condvar::new(),
            sampler: Mutex::new(Sampler::new(start, sink, grace)),
            role_holder: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            fork_generation: fork::generation(),
            thread_holds_core: AtomicBool::new(false),
        })
    }

    /// Whether this is a forked child's copy of a registry its parent made
    /// (see `fork.rs`): inert.
    pub(crate) fn inherited(&self) -> bool {
        fork::generation() != self.fork_generation
    }

    /// In a forked child: whether no parent thread was inside the registry
    /// at the fork (every lock of the core is free), so that its data is
    /// whole and may be dropped.
    pub(crate) fn child_may_free(&self) -> bool {
        self.inbox.try_lock().is_ok()
            && self.sampler.try_lock().is_ok()
            && self.store.outbox.unlocked()
            && self.store.slab.unlocked()
    }

    /// Takes the sampler role, waiting for the current holder.
    pub(crate) fn role(&self) -> Role<'_> {
        let sampler = lock(&self.sampler);
        // Relaxed: see `Role::drop`.
        self.role_holder.store(thread_token(), Relaxed);
        Role { core: self, sampler }
    }

    /// The sampler role if nobody holds it, without waiting.
    fn try_role(&self) -> Option<Role<'_>> {
        let sampler = match self.sampler.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        // Relaxed: see `Role::drop`.
        self.role_holder.store(thread_token(), Relaxed);
        Some(Role { core: self, sampler })
    }

    /// Whether the calling thread holds this registry's sampler role: it is
    /// inside this registry's sink (or a pass), so a call that needs the
    /// role would wait for itself.
    pub(crate) fn role_held_here(&self) -> bool {
        // Relaxed: see `Role::drop`.
        self.role_holder.load(Relaxed) == thread_token()
    }

    /// The core a slot's `home()` points to.
    ///
    /// # Safety
    /// `home` is non-null, came from `Core::open` (so it is a core's
    /// address, with the core's provenance), and the core is alive for `'a`.
    unsafe fn from_home<'a>(home: *const Home) -> &'a Core {
        // SAFETY: per the contract; `home` is the first field of a
        // `repr(C)` `Core`, so its address is the core's.
        unsafe { &*home.cast::<Core>() }
    }

    /// The live core of a held slot.
    pub(crate) fn of(slot: &Slot) -> &Core {
        // SAFETY: a slot's home is the core whose slab holds it (`new`), kept
        // alive by the count the slot's holder has (`open`).
        unsafe { Core::from_home(slot.home()) }
    }

    /// Takes a free slot and makes it live for `key`, its window words the
    /// slot's own or, for a hosted track, `host`'s. The slot holds one strong
    /// count of the core, given back by `release_track`. None when the
    /// registry holds as many tracks as it may.
    pub(crate) fn open(self: &Arc<Core>, key: TrackKey, host: Option<&HostedWords>) -> Option<&Slot> {
        let st = &self.store;
        let now = st.clock.now_unix_ns();
        let (i, stale_found) = st.slab.alloc(now)?;
        if !stale_found.is_zero() {
            // SAFETY: our own home.
            unsafe { stale(&self.home, stale_found) };
        }
        let slot = st.slab.get(i);
        st.counters.open_tracks.fetch_add(1, Relaxed);
        st.counters.live_slots.fetch_add(1, Relaxed);
        // The track's strong reference to the core, given back through the
        // slot's home (the same address) in `release_track`.
        let _ = Arc::into_raw(self.clone());
        match host {
            None => slot.publish(key, now),
            Some(h) => slot.publish_hosted(key, now, h),
        }
        Some(slot)
    }

    /// Closes the track in a held slot (shared by `Track::close` and the C
    /// ABI). False if it was closed already.
    pub(crate) fn close_track(slot: &Slot) -> bool {
        let core = Core::of(slot);
        if core.inherited() || !slot.mark_closed() {
            return false;
        }
        core.store.counters.open_tracks.fetch_sub(1, Relaxed);
        core.submit(Request::Close(core.store.slab.index_of(slot)));
        true
    }

    /// Releases a track handle: queues the slot's last flush (after a grace
    /// period with `grace`, see `sampler::Grace`) and gives back the
    /// handle's reference to the core.
    ///
    /// # Safety
    /// `p` is a live track handle (from `Track::into_raw` or a `Track`), and
    /// it is not used again by anyone after this call (but for records, and
    /// the slow path and totals of a hosted track, in a grace: see the header).
    pub(crate) unsafe fn release_track(p: *const Slot, grace: bool) {
        // SAFETY: the caller guarantees `p` is live.
        let slot = unsafe { &*p };
        let home = slot.home();
        // SAFETY: `home` is the slot's core (`new`), and this handle's count
        // keeps it alive until the decrement below.
        let core = unsafe { Core::from_home(home) };
        if core.inherited() {
            // A forked child: nobody processes requests. The handle's count
            // goes back only if the core may be dropped (see `fork.rs`).
            if core.child_may_free() {
                // SAFETY: as below.
                unsafe { Arc::decrement_strong_count(home.cast::<Core>()) };
            }
            return;
        }
        // A release closes the track at once, as `close_track` does: open
        // tracks drop now, not when the sampler gets to the request.
        if slot.mark_closed() {
            core.store.counters.open_tracks.fetch_sub(1, Relaxed);
        }
        let i = core.store.slab.index_of(slot);
        core.submit(if grace { Request::ReleaseAfterGrace(i) } else { Request::Release(i) });
        // SAFETY: `open` gave this handle one strong count via `Arc::into_raw`
        // (`home` is that pointer); this gives it back exactly once. A queued
        // request is processed by the sampler thread or the registry's
        // close, both holding their own reference.
        unsafe { Arc::decrement_strong_count(home.cast::<Core>()) };
    }

    /// Hands a request to the sampler role without waiting for it, or, once
    /// nobody will process the queue (registry closed), processes it here.
    /// A submitter that finds `HELP_AT` requests queued processes them itself
    /// if the role is free (see `help`).
    fn submit(&self, req: Request) {
        let mut inbox = lock(&self.inbox);
        if inbox.accepting {
            inbox.requests.push(req);
            let (wake, backlog) = (inbox.sampler_waiting, inbox.requests.len());
            drop(inbox);
            if wake {
                self.inbox_cv.notify_one();
            }
            if backlog >= HELP_AT {
                self.help();
            }
            return;
        }
        drop(inbox);
        // No sampler is left to end a grace: the release takes effect now.
        let req = match req {
            Request::ReleaseAfterGrace(i) => Request::Release(i),
            r => r,
        };
        let mut s = self.role();
        s.apply_all(&self.store, &[req]);
    }

    /// Processes the queued requests on the calling thread if the sampler
    /// role is free, without delivering (the sampler or the next flush does).
    /// A sampler thread that gets no core (a host churning tracks on every
    /// one) would otherwise let released slots, and the reports of their
    /// tracks, pile up for as long as the churn goes on. Never waits.
    fn help(&self) {
        let Some(mut s) = self.try_role() else { return };
        let reqs = self.take_requests();
        s.apply_all(&self.store, &reqs);
        drop(s);
        self.wake_for_graces();
    }

    /// After requests were applied off the sampler thread (`help`, `flush`):
    /// a grace they began may end before the deadline the thread sleeps
    /// towards, so it wakes to sleep again towards the earlier one.
    pub(crate) fn wake_for_graces(&self) {
        if lock(&self.inbox).sampler_waiting {
            self.inbox_cv.notify_one();
        }
    }

    /// The requests queued so far, for the holder of the sampler role.
    pub(crate) fn take_requests(&self) -> Vec<Request> {
        std::mem::take(&mut lock(&self.inbox).requests)
    }

    /// Sampler role, holding `s`: processes queued requests until none are
    /// left, then stops accepting and drops the sink (never called again).
    pub(crate) fn shut_down(&self, s: &mut Sampler) {
        loop {
            let reqs = self.take_requests();
            s.apply_all(&self.store, &reqs);
            s.report_final_all(&self.store);
            s.deliver(&self.store);
            let mut inbox = lock(&self.inbox);
            if inbox.requests.is_empty() {
                inbox.accepting = false;
                break;
            }
        }
        s.sink = None;
        self.store.outbox.close();
    }

    /// What a host recorded on a hosted track after the library let go.
    pub(crate) fn count_stale(&self, records: Delta) {
        // SAFETY: our own home.
        unsafe { stale(&self.home, records) }
    }

    /// The health counters, read without waiting for the sampler role.
    /// The one definition of `Registry::stats` and of the health in
    /// `figures`.
    pub(crate) fn stats(&self) -> Stats {
        let st = &self.store;
        let g = &st.slab.gauges;
        Stats {
            reports_pending: st.outbox.len() as u64,
            // Relaxed: statistics (see `slab::Gauges`).
            slots_quarantined: g.quarantined.load(Relaxed),
            segments_resident: g.segments.load(Relaxed),
            segments_returned: g.segments_returned.load(Relaxed),
            ..st.counters.snapshot()
        }
    }

    /// The latest published figures with `stats`, the health counters as
    /// the caller read them: never waits for the sampler role, a pass or a
    /// sink (`figures.rs`).
    pub(crate) fn figures(&self, stats: Stats) -> Figures {
        let c = &self.store.counters;
        Figures::new(
            self.store.board.load(),
            stats,
            self.store.clock.origin_unix_ns(),
            c.tick_ns_total.load(Relaxed),
            c.last_tick_ns.load(Relaxed),
        )
    }
}

/// The sampler thread: windows on absolute deadlines `origin + k * interval`;
/// between them it sleeps, waking early only for close/release requests.
pub(crate) fn run_sampler(core: Arc<Core>) {
    let clock = &core.store.clock;
    let mut next = 1u64; // index of the next deadline
    loop {
        let shutdown = {
            let mut inbox = lock(&core.inbox);
            loop {
                if inbox.shutdown || !inbox.requests.is_empty() {
                    break;
                }
                let deadline = clock.instant_after_origin(next * core.interval_ns);
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                // A grace that ends before the window does wakes the thread
                // at its end, so a release after a grace takes effect on
                // time whatever the interval (Relaxed: a hint, see the field).
                let grace_due = core.store.grace_due_ns.load(Relaxed);
                let deadline = if grace_due == NO_GRACE {
                    deadline
                } else {
                    let due = clock.instant_after_origin(grace_due.saturating_sub(clock.origin_unix_ns()));
                    if now >= due {
                        break;
                    }
                    deadline.min(due)
                };
                inbox.sampler_waiting = true;
                inbox = match core.inbox_cv.wait_timeout(inbox, deadline - now) {
                    Ok((g, _)) => g,
                    Err(p) => p.into_inner().0,
                };
                inbox.sampler_waiting = false;
            }
            inbox.shutdown
        };
        let mut s = core.role();
        // Taken only while holding the sampler role: a `flush` on another
        // thread also takes requests, and two holders must apply them in the
        // order they were queued (a close applied after its slot's release
        // would hit the next track in that slot).
        let reqs = core.take_requests();
        let step = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            s.apply_all(&core.store, &reqs);
            let k = clock.elapsed_ns(Instant::now()) / core.interval_ns;
            if k >= next {
                // Missed deadlines fold into this window: one report spanning
                // all of them, flagged merged, and counted.
                let missed = k - next;
                core.store.counters.late_ticks.fetch_add(missed, Relaxed);
                let flags = if missed > 0 { TRACKSTATS_FLAG_MERGED } else { 0 };
                s.pass(&core.store, clock.origin_unix_ns() + k * core.interval_ns, flags);
                next = k + 1;
            }
            if shutdown {
                core.shut_down(&mut s);
            } else {
                s.deliver(&core.store);
            }
        }));
        if step.is_err() {
            core.store.counters.sampler_panics.fetch_add(1, Relaxed);
            if shutdown {
                // Never leave the registry half closed.
                core.shut_down(&mut s);
            }
        }
        if shutdown {
            // Relaxed: only a forked child reads it, in a copy of this
            // memory taken at one instant.
            core.thread_holds_core.store(false, Relaxed);
            return;
        }
    }
}
