//! Reports waiting for the consumer. A lagging consumer makes a track's next
//! report merge into the one already pending for the same (track, direction),
//! so pending memory is bounded by tracks, not by time.

use crate::report::Report;
use crate::slot::Slot;
use crate::sync::Ordering::Relaxed;
use std::collections::VecDeque;

#[derive(Default)]
pub(crate) struct Outbox {
    queue: VecDeque<Report>,
    /// Logical index of `queue[0]`; logical indices wrap at 2^32.
    base: u32,
    /// The registry is closed and nothing more will be pushed by the sampler
    /// thread (late reports from releases may still arrive and be drained).
    pub closed: bool,
}

impl Outbox {
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Queues `r` from `slot`, merging it into that track's pending report in
    /// the same direction if there is one. Returns true when it merged.
    /// Only the sampler role calls this (it owns `slot.pend`).
    pub fn push(&mut self, slot: &Slot, r: Report) -> bool {
        let pend = &slot.pend[r.direction.index()];
        let off = pend.load(Relaxed).wrapping_sub(self.base) as usize;
        if let Some(p) = self.queue.get_mut(off) {
            // The index may be stale (that report was drained and the index
            // reused): merge only into this very track's report.
            if p.origin == r.origin && p.direction == r.direction {
                p.merge(&r);
                return true;
            }
        }
        pend.store(self.base.wrapping_add(self.queue.len() as u32), Relaxed);
        self.queue.push_back(r);
        false
    }

    /// Moves up to `max` of the oldest reports to `out`.
    pub fn drain_into(&mut self, out: &mut Vec<Report>, max: usize) -> usize {
        let n = max.min(self.queue.len());
        out.extend(self.queue.drain(..n));
        self.base = self.base.wrapping_add(n as u32);
        n
    }
}
