//! The sampler role: the only code that takes windows out of slots. Whoever
//! holds `Core::sampler` plays it: the registry's thread, or in manual mode
//! the caller of `tick`/`flush`. Because one party does every swap, window
//! bookkeeping (starts, final flags, pending merges) needs no atomics of its
//! own and close/release never block: they queue a request and wake it.

use crate::outbox::Outbox;
use crate::registry::{Core, Sink};
use crate::report::{Direction, Report, TrackKey, TRACKSTATS_FLAG_FINAL, TRACKSTATS_FLAG_LATE};
use crate::seq::SeqStats;
use crate::slot::{Seen, Slot, OPEN};
use crate::sync::{lock, MutexGuard, Ordering::Relaxed};
use crate::word::Delta;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::time::Instant;

/// Work for the sampler that hosts hand over without waiting.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Request {
    /// The track at this slot was closed: report its final window now.
    Close(u32),
    /// Its holder let go: report what came late, then free the slot.
    Release(u32),
}

/// Reports per sink call and per outbox lock hold.
const CHUNK: usize = 4096;

/// The outbox as the sampler fills it: each report goes straight into the
/// queue (a pass over many active tracks is bound by the bytes it stores, so
/// no staging copy), under a lock taken once per `CHUNK` reports. Never held
/// while another lock is taken: callers `unlock` before the slab's.
///
/// One filler serves one pass (or one batch of requests) and merges only
/// into reports queued before its first push: a pass visits each slot once,
/// so nothing it queued itself is a candidate, and while the consumer keeps
/// up there are none at all, which spares the outbox its merge index. (In a
/// batch of requests, bytes that race in between a track's close flush and
/// its late flush give two reports instead of one merged: both exact.)
struct Filler<'a> {
    core: &'a Core,
    held: Option<MutexGuard<'a, Outbox>>,
    /// The outbox's `end()` at the first push.
    horizon: Option<u32>,
    in_hold: usize,
    emitted: u64,
    merged: u64,
}

impl<'a> Filler<'a> {
    fn new(core: &'a Core) -> Filler<'a> {
        Filler { core, held: None, horizon: None, in_hold: 0, emitted: 0, merged: 0 }
    }

    fn push(&mut self, i: u32, r: Report) {
        let ob = self.held.get_or_insert_with(|| lock(&self.core.outbox));
        let horizon = *self.horizon.get_or_insert_with(|| ob.end());
        self.merged += u64::from(ob.push(i, r, horizon));
        self.emitted += 1;
        self.in_hold += 1;
        if self.in_hold >= CHUNK {
            self.unlock();
        }
    }

    /// Lets consumers at what is queued so far.
    fn unlock(&mut self) {
        let Some(ob) = self.held.take() else { return };
        let wake = ob.waiters > 0;
        drop(ob);
        self.in_hold = 0;
        if wake {
            self.core.outbox_cv.notify_all();
        }
    }

    /// Queues the reports of one track's window: one per direction that
    /// moved. `seq` belongs to the up side (packet records are publisher-side).
    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        i: u32,
        slot: &Slot,
        seen: &Seen,
        d: [Delta; 2],
        seq: SeqStats,
        start: u64,
        end: u64,
        flags: u32,
    ) {
        let up = !d[Direction::Up.index()].is_zero() || !seq.is_zero();
        let down = !d[Direction::Down.index()].is_zero();
        if !up && !down {
            return;
        }
        let report = |direction: Direction, key: TrackKey| {
            let x = d[direction.index()];
            let seq = if direction == Direction::Up { seq } else { SeqStats::ZERO };
            Report {
                key,
                direction,
                bytes: x.bytes,
                messages: x.messages,
                start_unix_ns: start,
                end_unix_ns: end,
                flags,
                seq,
                origin: (i, seen.generation()),
            }
        };
        // One count per report and no more: each clone and drop of a key is a
        // locked instruction on the key's own line, a large part of an active
        // track's cost in a pass.
        let key = slot.key();
        match (up, down) {
            (true, true) => {
                self.push(i, report(Direction::Up, key.clone()));
                self.push(i, report(Direction::Down, key));
            }
            (true, false) => self.push(i, report(Direction::Up, key)),
            _ => self.push(i, report(Direction::Down, key)),
        }
    }
}

impl Drop for Filler<'_> {
    /// Also on a panic in the pass: what was queued stays queued.
    fn drop(&mut self) {
        self.unlock();
        let h = &self.core.health;
        h.reports_emitted.fetch_add(self.emitted, Relaxed);
        h.reports_merged.fetch_add(self.merged, Relaxed);
    }
}

#[cfg(not(loom))]
thread_local! {
    static IN_SINK: Cell<bool> = const { Cell::new(false) };
}

// loom's threads share one OS thread: its thread-local is per model thread
// (and takes a plain expression, not `const { .. }`).
#[cfg(loom)]
loom::thread_local! {
    static IN_SINK: Cell<bool> = Cell::new(false);
}

/// Whether this thread is inside a sink callback (re-entrant calls that would
/// need the sampler role are refused instead of deadlocking).
pub(crate) fn in_sink() -> bool {
    IN_SINK.with(|c| c.get())
}

pub(crate) struct Sampler {
    /// End of the last window taken by a pass (Unix ns).
    pub prev_boundary_ns: u64,
    pub sink: Option<Sink>,
    delivery: Vec<Report>,
    /// Cumulative [up, down] of released tracks by country, so cumulative
    /// exposition (Prometheus) never goes backwards when a track goes away.
    pub retired: BTreeMap<Box<str>, [Delta; 2]>,
    /// Test hook: panic in the next pass after this many marked slots (issue 6).
    #[cfg(feature = "fault-injection")]
    pub panic_after: Option<usize>,
}

impl Sampler {
    pub fn new(start_ns: u64, sink: Option<Sink>) -> Sampler {
        Sampler {
            prev_boundary_ns: start_ns,
            sink,
            delivery: Vec::new(),
            retired: BTreeMap::new(),
            #[cfg(feature = "fault-injection")]
            panic_after: None,
        }
    }

    /// One window for every live track, ending at `end_ns`.
    pub fn pass(&mut self, core: &Core, end_ns: u64, flags: u32) {
        let began = Instant::now();
        let prev = self.prev_boundary_ns;
        #[cfg(feature = "fault-injection")]
        let mut fuse = self.panic_after.take();
        let mut q = Filler::new(core);
        // Only marked slots: a track whose words are untouched since the last
        // pass (and that spilled nothing) has no bit, and nothing to take.
        core.slab.take_active(|i, slot| {
            #[cfg(feature = "fault-injection")]
            if let Some(n) = fuse.as_mut() {
                if *n == 0 {
                    panic!("injected sampler fault");
                }
                *n -= 1;
            }
            let Some(seen) = slot.observe() else { return };
            if slot.is_idle(&seen) {
                return;
            }
            let d = slot.take(&seen);
            let seq = slot.take_seq();
            // A track opened (or flushed) after `end_ns` but before this pass
            // ran has its floor past the window's end: its bytes belong to
            // this window, which for it is empty in time, not reversed.
            let start = prev.max(slot.floor().load(Relaxed)).min(end_ns);
            let late = if seen.finalized() { TRACKSTATS_FLAG_LATE } else { 0 };
            q.emit(i, slot, &seen, d, seq, start, end_ns, flags | late);
        });
        drop(q);
        // A pass with fewer marked slots than the fuse leaves it for the next.
        #[cfg(feature = "fault-injection")]
        {
            self.panic_after = fuse;
        }
        self.prev_boundary_ns = end_ns;
        let took = began.elapsed().as_nanos() as u64;
        core.health.tick_ns_total.fetch_add(took, Relaxed);
        core.health.last_tick_ns.store(took, Relaxed);
        core.health.ticks.fetch_add(1, Relaxed);
    }

    /// The close flush: everything up to now, flagged final.
    fn finalize(&self, q: &mut Filler, i: u32, slot: &Slot) {
        let Some(seen) = slot.observe() else { return };
        if seen.finalized() {
            return;
        }
        self.flush_to_now(q, i, slot, &seen, TRACKSTATS_FLAG_FINAL);
        slot.set_finalized();
    }

    /// Whatever a finalized track recorded since its close flush, flagged late.
    fn take_late(&self, q: &mut Filler, i: u32, slot: &Slot) {
        let Some(seen) = slot.observe() else { return };
        if slot.is_idle(&seen) {
            return;
        }
        self.flush_to_now(q, i, slot, &seen, TRACKSTATS_FLAG_LATE);
    }

    /// Takes the slot's windows into one report ending now, and moves its
    /// floor there, so a later report of this track starts where this ended.
    fn flush_to_now(&self, q: &mut Filler, i: u32, slot: &Slot, seen: &Seen, flags: u32) {
        let d = slot.take(seen);
        let seq = slot.take_seq();
        let now = q.core.clock.now_unix_ns();
        let floor = slot.floor();
        let start = self.prev_boundary_ns.max(floor.load(Relaxed));
        q.emit(i, slot, seen, d, seq, start, now, flags);
        floor.store(now, Relaxed);
    }

    fn apply(&mut self, q: &mut Filler, req: Request) {
        let core = q.core;
        match req {
            Request::Close(i) => self.finalize(q, i, core.slab.get(i)),
            Request::Release(i) => {
                let slot = core.slab.get(i);
                let Some(seen) = slot.observe() else { return };
                if seen.lifecycle() == OPEN && slot.mark_closed() {
                    core.health.open_tracks.fetch_sub(1, Relaxed);
                }
                self.finalize(q, i, slot);
                self.take_late(q, i, slot);
                // The reports hold their own key; the slot can go, its sums
                // kept by country. The outbox is let go before the slab's lock.
                q.unlock();
                self.retire(slot);
                slot.free();
                core.slab.release(i);
                core.health.live_slots.fetch_sub(1, Relaxed);
            }
        }
    }

    fn retire(&mut self, slot: &Slot) {
        let t = slot.totals();
        let key = slot.key();
        let sums = match self.retired.get_mut(key.country()) {
            Some(s) => s,
            None => self.retired.entry(key.country().into()).or_default(),
        };
        for dir in Direction::ALL {
            sums[dir.index()] = sums[dir.index()].add(t[dir.index()]);
        }
    }

    pub fn apply_all(&mut self, core: &Core, reqs: &[Request]) {
        let mut q = Filler::new(core);
        for &r in reqs {
            self.apply(&mut q, r);
        }
    }

    /// Registry close: every track not yet flushed gets its final report,
    /// and tracks closed earlier report what they recorded since (late), so
    /// everything recorded before the close is queued when it returns, even
    /// if the host then frees the registry before releasing its tracks.
    pub fn finalize_all(&mut self, core: &Core) {
        let mut live = Vec::new();
        core.slab.for_each(|i, slot| {
            if slot.observe().is_some() {
                live.push(i);
            }
        });
        let mut q = Filler::new(core);
        for i in live {
            let slot = core.slab.get(i);
            if slot.mark_closed() {
                core.health.open_tracks.fetch_sub(1, Relaxed);
            }
            self.finalize(&mut q, i, slot);
            self.take_late(&mut q, i, slot);
        }
    }

    /// Hands pending reports to the callback sink, if there is one.
    pub fn deliver(&mut self, core: &Core) {
        let Some(sink) = self.sink.as_mut() else { return };
        loop {
            self.delivery.clear();
            if lock(&core.outbox).drain_into(&mut self.delivery, CHUNK) == 0 {
                return;
            }
            IN_SINK.with(|c| c.set(true));
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink(&self.delivery)));
            IN_SINK.with(|c| c.set(false));
            if r.is_err() {
                core.health.sink_panics.fetch_add(1, Relaxed);
            }
        }
    }
}
