//! Reports waiting for the consumer, with the lock and condvar around them.
//! A lagging consumer makes a track's next report merge into the one already
//! pending for the same (track, direction), so pending memory is bounded by
//! tracks, not by time.

use crate::report::Report;
use crate::stats::Counters;
use crate::sync::{lock, Condvar, Mutex, MutexGuard, Ordering::Relaxed};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Reports per sink call and per outbox lock hold.
pub(crate) const CHUNK: usize = 4096;

/// The queue between the sampler role and the consumers.
pub(crate) struct Outbox {
    queue: Mutex<Queue>,
    /// Signalled when reports arrive (to `waiters` only) and at `close`.
    cv: Condvar,
}

impl Outbox {
    pub fn new() -> Outbox {
        Outbox { queue: Mutex::new(Queue::default()), cv: Condvar::new() }
    }

    pub fn len(&self) -> usize {
        lock(&self.queue).len()
    }

    /// Moves up to `max` pending reports to `out` without blocking.
    pub fn drain(&self, out: &mut Vec<Report>, max: usize) -> usize {
        lock(&self.queue).drain_into(out, max)
    }

    /// Like `drain`, but waits up to `timeout` for the first report. `Some(0)`
    /// on timeout, None once closed with nothing left.
    pub fn wait(&self, out: &mut Vec<Report>, max: usize, timeout: Duration) -> Option<usize> {
        let deadline = Instant::now() + timeout;
        let mut q = lock(&self.queue);
        loop {
            if !q.is_empty() {
                return Some(q.drain_into(out, max));
            }
            if q.closed {
                return None;
            }
            let now = Instant::now();
            if now >= deadline {
                return Some(0);
            }
            q.waiters += 1;
            q = match self.cv.wait_timeout(q, deadline - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
            q.waiters -= 1;
        }
    }

    /// Marks the outbox closed (the sampler role will push no more) and
    /// wakes every waiter.
    pub fn close(&self) {
        lock(&self.queue).closed = true;
        self.cv.notify_all();
    }

    /// Blocks until `close`.
    pub fn wait_closed(&self) {
        let mut q = lock(&self.queue);
        while !q.closed {
            q.waiters += 1;
            q = match self.cv.wait(q) {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            q.waiters -= 1;
        }
    }

    /// A writer for one pass (or one batch of requests), counting what it
    /// pushes in `counters`.
    pub fn writer<'a>(&'a self, counters: &'a Counters) -> Writer<'a> {
        Writer { outbox: self, counters, held: None, horizon: None, in_hold: 0, emitted: 0, merged: 0 }
    }
}

/// The outbox as the sampler role fills it: each report goes straight into
/// the queue (a pass over many active tracks is bound by the bytes it
/// stores, so no staging copy), under a lock taken once per `CHUNK`
/// reports. Never held while another lock is taken: callers `unlock` before
/// the slab's.
///
/// One writer serves one pass (or one batch of requests) and merges only
/// into reports queued before its first push: a pass visits each slot once,
/// so nothing it queued itself is a candidate, and while the consumer keeps
/// up there are none at all, which spares the queue its merge index. (In a
/// batch of requests, bytes that race in between a track's close flush and
/// its late flush give two reports instead of one merged: both exact.)
pub(crate) struct Writer<'a> {
    outbox: &'a Outbox,
    counters: &'a Counters,
    held: Option<MutexGuard<'a, Queue>>,
    /// The queue's `end()` at the first push.
    horizon: Option<u32>,
    in_hold: usize,
    emitted: u64,
    merged: u64,
}

impl Writer<'_> {
    /// Queues `r`, a report of the slot at index `slot`.
    pub fn push(&mut self, slot: u32, r: Report) {
        let q = self.held.get_or_insert_with(|| lock(&self.outbox.queue));
        let horizon = *self.horizon.get_or_insert_with(|| q.end());
        self.merged += u64::from(q.push(slot, r, horizon));
        self.emitted += 1;
        self.in_hold += 1;
        if self.in_hold >= CHUNK {
            self.unlock();
        }
    }

    /// Lets consumers at what is queued so far.
    pub fn unlock(&mut self) {
        let Some(q) = self.held.take() else { return };
        let wake = q.waiters > 0;
        drop(q);
        self.in_hold = 0;
        if wake {
            self.outbox.cv.notify_all();
        }
    }
}

impl Drop for Writer<'_> {
    /// Also on a panic in the pass: what was queued stays queued.
    fn drop(&mut self) {
        self.unlock();
        self.counters.reports_emitted.fetch_add(self.emitted, Relaxed);
        self.counters.reports_merged.fetch_add(self.merged, Relaxed);
    }
}

/// The pending reports, in order.
#[derive(Default)]
pub(crate) struct Queue {
    reports: VecDeque<Report>,
    /// Logical index of `reports[0]`; logical indices wrap at 2^32.
    base: u32,
    /// Per slot index and direction: the logical index of that track's
    /// latest queued report, for the first `indexed` queued reports. An entry
    /// may be stale (that report drained, the index reused, the slot reused
    /// by another track): `push` checks the origin.
    ///
    /// Built lazily, only when a push has something to merge with: a pass
    /// merges only with reports queued before it began, so while the
    /// consumer keeps up (the queue is empty when a pass begins) a pass
    /// never touches this array, whose line per 8 slots, cold after the
    /// consumer's drain, was the largest cost of an active track's report.
    pend: Vec<[u32; 2]>,
    /// How many reports at the front of `reports` are in `pend`.
    indexed: usize,
    /// The registry is closed and nothing more will be pushed by the sampler
    /// thread (late reports from releases may still arrive and be drained).
    closed: bool,
    /// Consumers parked on `cv` (counted under the lock), so the sampler
    /// notifies only when someone waits.
    waiters: usize,
}

impl Queue {
    pub fn len(&self) -> usize {
        self.reports.len()
    }

    pub fn is_empty(&self) -> bool {
        self.reports.is_empty()
    }

    /// The logical index the next queued report gets: a `horizon` for
    /// `push` that takes in everything queued so far.
    pub fn end(&self) -> u32 {
        self.base.wrapping_add(self.reports.len() as u32)
    }

    /// Queues `r` from the slot at index `slot`, merging it into that
    /// track's pending report in the same direction if one was queued before
    /// the logical index `horizon` (an earlier `end()`) and is still here.
    /// Returns true when it merged.
    pub fn push(&mut self, slot: u32, r: Report, horizon: u32) -> bool {
        // Reports before the horizon still queued: the horizon's offset from
        // the front, or none if the consumer has drained past it (horizons
        // never lie ahead of `end()`, so an offset past `len` is a wrap).
        let limit = match horizon.wrapping_sub(self.base) as usize {
            n if n <= self.reports.len() => n,
            _ => 0,
        };
        if limit > 0 {
            self.index_to(limit);
            // No entry: no report of this slot was ever indexed.
            let at = self.pend.get(slot as usize).map_or(u32::MAX, |p| p[r.direction.index()]);
            let off = at.wrapping_sub(self.base) as usize;
            if off < limit {
                let p = &mut self.reports[off];
                // The entry may be stale: merge only into this very track's report.
                if p.origin == r.origin && p.direction == r.direction {
                    p.merge(&r);
                    return true;
                }
            }
        }
        self.reports.push_back(r);
        false
    }

    /// Records the first `limit` queued reports in `pend`, in queue order so
    /// a track's latest report wins.
    fn index_to(&mut self, limit: usize) {
        for off in self.indexed..limit {
            let r = &self.reports[off];
            let (slot, logical) = (r.origin.0 as usize, self.base.wrapping_add(off as u32));
            if slot >= self.pend.len() {
                // Amortized growth, to the highest slot index indexed.
                self.pend.resize(slot + 1, [0; 2]);
            }
            self.pend[slot][r.direction.index()] = logical;
        }
        self.indexed = self.indexed.max(limit);
    }

    /// Moves up to `max` of the oldest reports to `out`.
    pub fn drain_into(&mut self, out: &mut Vec<Report>, max: usize) -> usize {
        let n = max.min(self.reports.len());
        out.extend(self.reports.drain(..n));
        self.base = self.base.wrapping_add(n as u32);
        self.indexed = self.indexed.saturating_sub(n);
        self.shrink();
        n
    }

    /// Gives back the memory of a backlog once the consumer has caught up:
    /// the queue keeps at most four times what it holds (and `CHUNK`), the
    /// merge index nothing while nothing is queued.
    fn shrink(&mut self) {
        let keep = (4 * self.reports.len()).max(CHUNK);
        if self.reports.capacity() > 2 * keep {
            self.reports.shrink_to(keep);
        }
        if self.reports.is_empty() && self.pend.capacity() > CHUNK {
            self.pend = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::TrackKey;
    use crate::report::{Direction, TRACKSTATS_FLAG_MERGED};
    use crate::seq::SeqStats;

    fn report(slot: u32, generation: u32, direction: Direction, bytes: u64) -> Report {
        Report {
            key: TrackKey::new("p", "t", "", u64::from(slot)).unwrap(),
            direction,
            bytes,
            messages: 1,
            start_unix_ns: 0,
            end_unix_ns: 0,
            flags: 0,
            seq: SeqStats::ZERO,
            origin: (slot, generation),
        }
    }

    /// What `push` must do, the slow way: find the track's latest queued
    /// report in that direction before the horizon; merge iff same origin.
    #[derive(Default)]
    struct Model {
        queue: Vec<(u32, u32, Direction, u64, bool)>,
        base: u32,
    }

    impl Model {
        fn push(&mut self, slot: u32, generation: u32, dir: Direction, bytes: u64, horizon: u32) -> bool {
            // A horizon behind the front (drained past) leaves nothing.
            let ahead = horizon.wrapping_sub(self.base) as usize;
            let limit = if ahead > self.queue.len() { 0 } else { ahead };
            let latest = self.queue[..limit].iter_mut().rev().find(|e| e.0 == slot && e.2 == dir);
            if let Some(e) = latest.filter(|e| e.1 == generation) {
                e.3 += bytes;
                e.4 = true;
                return true;
            }
            self.queue.push((slot, generation, dir, bytes, false));
            false
        }
    }

    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    #[test]
    fn a_pass_merges_only_into_what_was_queued_before_it() {
        let mut ob = Queue::default();
        let horizon = ob.end();
        assert!(!ob.push(3, report(3, 1, Direction::Up, 10), horizon));
        // Same pass (same horizon): queued, not merged.
        assert!(!ob.push(3, report(3, 1, Direction::Down, 20), horizon));
        let horizon = ob.end();
        assert!(ob.push(3, report(3, 1, Direction::Up, 1), horizon), "the next pass merges");
        assert!(!ob.push(3, report(3, 2, Direction::Down, 5), horizon), "another life of the slot");
        let before_it = ob.end() - 1;
        let mut out = Vec::new();
        ob.drain_into(&mut out, 1);
        let horizon = ob.end();
        assert!(!ob.push(3, report(3, 1, Direction::Up, 1), horizon), "its report was drained");
        assert!(ob.push(3, report(3, 2, Direction::Down, 5), horizon));
        // Only before the horizon: not into the report at it, though the
        // index (built to `end()` by the push above) reaches past it...
        assert!(!ob.push(3, report(3, 2, Direction::Down, 6), before_it));
        // ...and nothing once the front has passed the horizon.
        ob.drain_into(&mut out, 2);
        assert!(!ob.push(3, report(3, 2, Direction::Down, 7), before_it));
        out.clear();
        ob.drain_into(&mut out, usize::MAX);
        let got: Vec<_> = out.iter().map(|r| (r.origin, r.direction, r.bytes, r.is_merged())).collect();
        assert_eq!(
            got,
            [
                ((3, 1), Direction::Up, 1, false),
                ((3, 2), Direction::Down, 6, false),
                ((3, 2), Direction::Down, 7, false),
            ]
        );
    }

    /// Random passes, request pushes, partial drains and slot reuse, against
    /// the model; the logical indices start near the wrap.
    #[test]
    fn the_lazy_index_merges_as_a_full_scan_would() {
        for seed in 1..=20u64 {
            let mut rng = Rng(seed * 0x9E37_79B9_7F4A_7C15);
            let start = u32::MAX - 50;
            let mut ob = Queue { base: start, ..Queue::default() };
            let mut model = Model { base: start, ..Model::default() };
            let mut generation = [1u32; 16];
            let mut out = Vec::new();
            for _ in 0..2000 {
                match rng.below(10) {
                    // A pass over a few slots, one horizon for all its pushes.
                    0..=4 => {
                        let horizon = ob.end();
                        let first = rng.below(16) as u32;
                        for slot in first..(first + rng.below(6) as u32).min(16) {
                            for dir in Direction::ALL {
                                if rng.below(3) > 0 {
                                    let (g, b) = (generation[slot as usize], rng.below(1000));
                                    let merged = ob.push(slot, report(slot, g, dir, b), horizon);
                                    assert_eq!(merged, model.push(slot, g, dir, b, horizon), "seed {seed}");
                                }
                            }
                        }
                    }
                    // A close: merges into anything queued.
                    5 | 6 => {
                        let slot = rng.below(16) as u32;
                        let (g, b, dir) =
                            (generation[slot as usize], rng.below(1000), Direction::ALL[rng.below(2) as usize]);
                        let horizon = ob.end();
                        assert_eq!(
                            ob.push(slot, report(slot, g, dir, b), horizon),
                            model.push(slot, g, dir, b, horizon)
                        );
                    }
                    // A release: the slot's next track is another life.
                    7 => generation[rng.below(16) as usize] += 1,
                    _ => {
                        let n = rng.below(8) as usize;
                        out.clear();
                        let took = ob.drain_into(&mut out, n);
                        let k = took.min(model.queue.len());
                        assert_eq!(took, k);
                        let want: Vec<_> = model.queue.drain(..k).collect();
                        model.base = model.base.wrapping_add(k as u32);
                        let got: Vec<_> = out
                            .iter()
                            .map(|r| {
                                (r.origin.0, r.origin.1, r.direction, r.bytes, r.flags & TRACKSTATS_FLAG_MERGED != 0)
                            })
                            .collect();
                        assert_eq!(got, want, "seed {seed}");
                    }
                }
                assert_eq!(ob.len(), model.queue.len());
            }
        }
    }
}
