//! Reports waiting for the consumer. A lagging consumer makes a track's next
//! report merge into the one already pending for the same (track, direction),
//! so pending memory is bounded by tracks, not by time.

use crate::report::Report;
use std::collections::VecDeque;

#[derive(Default)]
pub(crate) struct Outbox {
    queue: VecDeque<Report>,
    /// Logical index of `queue[0]`; logical indices wrap at 2^32.
    base: u32,
    /// Per slot index and direction: the logical index of that track's
    /// pending report. It may be stale (that report drained, the index
    /// reused, the slot reused by another track): `push` checks the origin.
    /// Kept here rather than in the slot, whose 128 bytes are full, so the
    /// slot had room for its sequence-block pointer; the pass visits slots in
    /// index order, so this array is read sequentially.
    pend: Vec<[u32; 2]>,
    /// The registry is closed and nothing more will be pushed by the sampler
    /// thread (late reports from releases may still arrive and be drained).
    pub closed: bool,
    /// Consumers parked on `outbox_cv` (counted under the lock), so the
    /// sampler notifies only when someone waits.
    pub waiters: usize,
}

impl Outbox {
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Queues `r` from the slot at index `slot`, merging it into that
    /// track's pending report in the same direction if there is one. Returns
    /// true when it merged.
    pub fn push(&mut self, slot: u32, r: Report) -> bool {
        let i = slot as usize;
        if i >= self.pend.len() {
            // Amortized growth (to the highest slot index that reported).
            self.pend.resize(i + 1, [0; 2]);
        }
        let pend = &mut self.pend[i][r.direction.index()];
        let off = pend.wrapping_sub(self.base) as usize;
        if let Some(p) = self.queue.get_mut(off) {
            // The index may be stale (that report was drained and the index
            // reused): merge only into this very track's report.
            if p.origin == r.origin && p.direction == r.direction {
                p.merge(&r);
                return true;
            }
        }
        *pend = self.base.wrapping_add(self.queue.len() as u32);
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
