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
    /// How many reports at the front of `queue` are in `pend`.
    indexed: usize,
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

    /// The logical index the next queued report gets: a `horizon` for
    /// `push` that takes in everything queued so far.
    pub fn end(&self) -> u32 {
        self.base.wrapping_add(self.queue.len() as u32)
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
            n if n <= self.queue.len() => n,
            _ => 0,
        };
        if limit > 0 {
            self.index_to(limit);
            // No entry: no report of this slot was ever indexed.
            let at = self.pend.get(slot as usize).map_or(u32::MAX, |p| p[r.direction.index()]);
            let off = at.wrapping_sub(self.base) as usize;
            if off < limit {
                let p = &mut self.queue[off];
                // The entry may be stale: merge only into this very track's report.
                if p.origin == r.origin && p.direction == r.direction {
                    p.merge(&r);
                    return true;
                }
            }
        }
        self.queue.push_back(r);
        false
    }

    /// Records the first `limit` queued reports in `pend`, in queue order so
    /// a track's latest report wins.
    fn index_to(&mut self, limit: usize) {
        for off in self.indexed..limit {
            let r = &self.queue[off];
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
        let n = max.min(self.queue.len());
        out.extend(self.queue.drain(..n));
        self.base = self.base.wrapping_add(n as u32);
        self.indexed = self.indexed.saturating_sub(n);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Direction, TrackKey, TRACKSTATS_FLAG_MERGED};
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
        let mut ob = Outbox::default();
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
            let mut ob = Outbox { base: start, ..Outbox::default() };
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
