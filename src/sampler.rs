//! The sampler role: the only code that takes windows out of slots. Whoever
//! holds `Core::sampler` plays it: the registry's thread, or in manual mode
//! the caller of `tick`/`flush`. Because one party does every swap, window
//! bookkeeping (starts, final flags, pending merges) needs no atomics of its
//! own and close/release never block: they queue a request and wake it.

use crate::registry::{Core, Sink};
use crate::report::{Direction, Report, TRACKSTATS_FLAG_FINAL, TRACKSTATS_FLAG_LATE};
use crate::slot::{Seen, Slot, OPEN};
use crate::sync::{lock, Ordering::Relaxed};
use crate::word::Delta;
use std::cell::Cell;

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

thread_local! {
    static IN_SINK: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread is inside a sink callback (re-entrant calls that would
/// need the sampler role are refused instead of deadlocking).
pub(crate) fn in_sink() -> bool {
    IN_SINK.with(|c| c.get())
}

pub(crate) struct Sampler {
    /// End of the last window taken by a pass (Unix ns).
    pub prev_boundary_ns: u64,
    /// Reports made but not yet in the outbox (kept across a caught panic).
    batch: Vec<(u32, Report)>,
    pub sink: Option<Sink>,
    delivery: Vec<Report>,
    /// Test hook: panic in the next pass after this many slots (issue 6).
    #[cfg(feature = "fault-injection")]
    pub panic_after: Option<usize>,
}

impl Sampler {
    pub fn new(start_ns: u64, sink: Option<Sink>) -> Sampler {
        Sampler {
            prev_boundary_ns: start_ns,
            batch: Vec::new(),
            sink,
            delivery: Vec::new(),
            #[cfg(feature = "fault-injection")]
            panic_after: None,
        }
    }

    fn emit(&mut self, i: u32, slot: &Slot, seen: &Seen, d: [Delta; 2], start: u64, end: u64, flags: u32) {
        if d[0].is_zero() && d[1].is_zero() {
            return;
        }
        let key = slot.key();
        for dir in Direction::ALL {
            let x = d[dir.index()];
            if !x.is_zero() {
                self.batch.push((
                    i,
                    Report {
                        key: key.clone(),
                        direction: dir,
                        bytes: x.bytes,
                        messages: x.messages,
                        start_unix_ns: start,
                        end_unix_ns: end,
                        flags,
                        origin: (i, seen.generation()),
                    },
                ));
            }
        }
    }

    /// One window for every live track, ending at `end_ns`.
    pub fn pass(&mut self, core: &Core, end_ns: u64, flags: u32) {
        let prev = self.prev_boundary_ns;
        #[cfg(feature = "fault-injection")]
        let mut fuse = self.panic_after.take();
        core.slab.for_each(|i, slot| {
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
            let start = prev.max(slot.floor_ns.load(Relaxed));
            let late = if seen.finalized() { TRACKSTATS_FLAG_LATE } else { 0 };
            self.emit(i, slot, &seen, d, start, end_ns, flags | late);
        });
        self.prev_boundary_ns = end_ns;
        core.health.ticks.fetch_add(1, Relaxed);
        self.flush_batch(core);
    }

    /// The close flush: everything up to now, flagged final.
    fn finalize(&mut self, core: &Core, i: u32, slot: &Slot) {
        let Some(seen) = slot.observe() else { return };
        if seen.finalized() {
            return;
        }
        let d = slot.take(&seen);
        let now = core.clock.now_unix_ns();
        let start = self.prev_boundary_ns.max(slot.floor_ns.load(Relaxed));
        self.emit(i, slot, &seen, d, start, now, TRACKSTATS_FLAG_FINAL);
        slot.floor_ns.store(now, Relaxed);
        slot.set_finalized();
    }

    pub fn apply(&mut self, core: &Core, req: Request) {
        match req {
            Request::Close(i) => self.finalize(core, i, core.slab.get(i)),
            Request::Release(i) => {
                let slot = core.slab.get(i);
                let Some(seen) = slot.observe() else { return };
                if seen.lifecycle() == OPEN && slot.mark_closed() {
                    core.health.open_tracks.fetch_sub(1, Relaxed);
                }
                self.finalize(core, i, slot);
                // Whatever came between the close flush and now is late.
                if let Some(seen) = slot.observe() {
                    if !slot.is_idle(&seen) {
                        let d = slot.take(&seen);
                        let now = core.clock.now_unix_ns();
                        let start = self.prev_boundary_ns.max(slot.floor_ns.load(Relaxed));
                        self.emit(i, slot, &seen, d, start, now, TRACKSTATS_FLAG_LATE);
                    }
                }
                // The reports hold their own key; the slot can go.
                self.flush_batch(core);
                slot.free();
                core.slab.release(i);
                core.health.live_slots.fetch_sub(1, Relaxed);
            }
        }
    }

    pub fn apply_all(&mut self, core: &Core, reqs: &[Request]) {
        for &r in reqs {
            self.apply(core, r);
        }
        self.flush_batch(core);
    }

    /// Registry close: every track not yet flushed gets its final report.
    pub fn finalize_all(&mut self, core: &Core) {
        let mut live = Vec::new();
        core.slab.for_each(|i, slot| {
            if let Some(seen) = slot.observe() {
                if !seen.finalized() {
                    live.push(i);
                }
            }
        });
        for i in live {
            let slot = core.slab.get(i);
            if slot.mark_closed() {
                core.health.open_tracks.fetch_sub(1, Relaxed);
            }
            self.finalize(core, i, slot);
        }
        self.flush_batch(core);
    }

    /// Moves made reports into the outbox, merging per (track, direction).
    pub fn flush_batch(&mut self, core: &Core) {
        if self.batch.is_empty() {
            return;
        }
        let mut emitted = 0u64;
        let mut merged = 0u64;
        while !self.batch.is_empty() {
            let take = self.batch.len().min(CHUNK);
            let mut ob = lock(&core.outbox);
            for (i, r) in self.batch.drain(..take) {
                emitted += 1;
                if ob.push(core.slab.get(i), r) {
                    merged += 1;
                }
            }
        }
        core.health.reports_emitted.fetch_add(emitted, Relaxed);
        core.health.reports_merged.fetch_add(merged, Relaxed);
        core.outbox_cv.notify_all();
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
