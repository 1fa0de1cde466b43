//! Reports waiting for the consumer, with the lock and condvar around them.
//! A lagging consumer makes a track's next report merge into the one already
//! pending for the same (track, direction), so pending memory is bounded by
//! tracks, not by time.
//!
//! Closed tracks are bounded too. A pending report is a closed track's once
//! it holds the track's final or late bytes, or once the track is released
//! (its last regular report); up to `pending_closed_max` of those pend, and
//! past it they fold into one overflow report per country and direction
//! (`TRACKSTATS_FLAG_OVERFLOW`, ids `TRACKSTATS_OVERFLOW_ID`), so every byte
//! is still reported, counted in `reports_overflowed`. One already queued
//! leaves a tombstone, swept out at the next writer's start once they are
//! many. A consumer that never drains then holds at most one regular report
//! per live track and direction (later ones merge into it), so at most
//! `2 * live tracks + pending_closed_max + 2 * (OVERFLOW_COUNTRIES + 1)`
//! reports in all, and at most as many tombstones.

use crate::key::TrackKey;
use crate::report::{
    Report, TRACKSTATS_FLAG_FINAL, TRACKSTATS_FLAG_LATE, TRACKSTATS_FLAG_OVERFLOW, TRACKSTATS_OVERFLOW_ID,
};
use crate::stats::Counters;
use crate::sync::{lock, Condvar, Mutex, MutexGuard, Ordering::Relaxed};
use std::collections::HashMap;
use std::collections::VecDeque;
use std::hash::{BuildHasherDefault, Hasher};
use std::time::{Duration, Instant};

/// Reports per sink call and per outbox lock hold.
pub(crate) const CHUNK: usize = 4096;

/// The most countries with an overflow report of their own; the rest fold
/// into one whose country is `TRACKSTATS_OVERFLOW_ID`.
pub(crate) const OVERFLOW_COUNTRIES: usize = 256;

/// The queue between the sampler role and the consumers.
pub(crate) struct Outbox {
    queue: Mutex<Queue>,
    /// Signalled when reports arrive (to `waiters` only) and at `close`.
    cv: Condvar,
}

impl Outbox {
    /// An outbox letting at most `closed_max` reports of closed tracks pend.
    pub fn new(closed_max: usize) -> Outbox {
        Outbox { queue: Mutex::new(Queue { closed_max, ..Queue::default() }), cv: Condvar::new() }
    }

    pub fn len(&self) -> usize {
        lock(&self.queue).len()
    }

    /// Whether nobody holds the queue's lock (a forked child's check).
    pub fn unlocked(&self) -> bool {
        self.queue.try_lock().is_ok()
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
        Writer { outbox: self, counters, held: None, horizon: None, in_hold: 0, emitted: 0, merged: 0, overflowed: 0 }
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
    overflowed: u64,
}

impl Writer<'_> {
    /// Queues `r`, a report of the slot at index `slot`.
    pub fn push(&mut self, slot: u32, r: Report) {
        let q = self.held.get_or_insert_with(|| lock(&self.outbox.queue));
        // At the first push: after sweeping tombstones (see `horizon`).
        let horizon = *self.horizon.get_or_insert_with(|| {
            q.sweep();
            q.end()
        });
        match q.push(slot, r, horizon) {
            Pushed::Queued => {}
            Pushed::Merged => self.merged += 1,
            Pushed::Overflowed => self.overflowed += 1,
            Pushed::MergedOverflowed => {
                self.merged += 1;
                self.overflowed += 1;
            }
        }
        self.emitted += 1;
        self.in_hold += 1;
        if self.in_hold >= CHUNK {
            self.unlock();
        }
    }

    /// The queue, locked, and this writer's horizon (set at its first use,
    /// after sweeping tombstones: none moves while the writer lives).
    fn horizon(&mut self) -> u32 {
        let q = self.held.get_or_insert_with(|| lock(&self.outbox.queue));
        *self.horizon.get_or_insert_with(|| {
            q.sweep();
            q.end()
        })
    }

    /// The track of origin `origin` at slot `slot` is released: its pending
    /// reports belong to a closed track from now on.
    pub fn retire(&mut self, slot: u32, origin: (u32, u32)) {
        self.horizon();
        let q = self.held.as_mut().expect("locked by `horizon`");
        self.overflowed += q.retire(slot, origin);
    }

    /// Reports pushed so far (merged and folded ones included).
    pub fn emitted(&self) -> u64 {
        self.emitted
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
        self.counters.reports_overflowed.fetch_add(self.overflowed, Relaxed);
    }
}

/// What became of a pushed report.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    Queued,
    /// Into a pending report of its own track and direction.
    Merged,
    /// Into its country's overflow report (see the module).
    Overflowed,
    /// Merged, which made its track's pending report a closed track's one
    /// too many: that went into the overflow.
    MergedOverflowed,
}

/// A place in the queue: a report, or (None) the tombstone of one that went
/// into the overflow after it was queued. The size of a report: a pass
/// over many active tracks is bound by the bytes it stores.
type Entry = Option<Report>;

/// In a queued report's flags, never given out: the report is counted in
/// `closed_pending` (see `is_closed`).
const COUNTED_CLOSED: u32 = 1 << 31;

/// FNV-1a for the overflow map: a fold hashes a short country id per report
/// of a closed track beyond the bound, and SipHash's resistance to chosen
/// keys buys nothing for a map of at most `OVERFLOW_COUNTRIES + 1` keys.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Whether a report belongs to a closed track (its final flush or later).
fn is_closed(r: &Report) -> bool {
    r.flags & (TRACKSTATS_FLAG_FINAL | TRACKSTATS_FLAG_LATE) != 0
}

/// The pending reports, in order.
#[derive(Default)]
pub(crate) struct Queue {
    reports: VecDeque<Entry>,
    /// Entries of `reports` that are tombstones.
    tombstones: usize,
    /// The most entries held since the queue last emptied, and between the
    /// two emptyings before (see `shrink`).
    peak: usize,
    prev_peak: usize,
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
    /// Queued reports of closed tracks, and how many may be.
    closed_pending: usize,
    closed_max: usize,
    /// Overflow reports by country, up and down; drained before `reports`.
    overflow: HashMap<Box<str>, [Option<Report>; 2], BuildHasherDefault<Fnv>>,
    overflow_len: usize,
}

impl Queue {
    pub fn len(&self) -> usize {
        self.reports.len() - self.tombstones + self.overflow_len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The logical index the next queued report gets: a `horizon` for
    /// `push` that takes in everything queued so far.
    pub fn end(&self) -> u32 {
        self.base.wrapping_add(self.reports.len() as u32)
    }

    /// Queues `r` from the slot at index `slot`, merging it into that
    /// track's pending report in the same direction if one was queued before
    /// the logical index `horizon` (an earlier `end()`) and is still here.
    /// A closed track's report that would be queued beyond `closed_max`
    /// folds into its country's overflow report instead.
    #[inline]
    pub fn push(&mut self, slot: u32, r: Report, horizon: u32) -> Pushed {
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
                // The entry may be stale: merge only into this very track's report.
                let e = self.reports[off].as_mut().filter(|p| p.origin == r.origin && p.direction == r.direction);
                if let Some(p) = e {
                    let counted = p.flags & COUNTED_CLOSED != 0;
                    p.merge(&r);
                    if !counted && is_closed(&r) && self.close_entry(off) {
                        return Pushed::MergedOverflowed;
                    }
                    return Pushed::Merged;
                }
            }
        }
        if is_closed(&r) {
            return self.push_closed(r);
        }
        // Straight into the queue: a pass's common case, and the store its
        // cost is mostly made of (so no copy on the way).
        self.reports.push_back(Some(r));
        Pushed::Queued
    }

    /// A closed track's report that merges into nothing: queued and
    /// counted, or, beyond `closed_max`, folded into the overflow.
    #[cold]
    fn push_closed(&mut self, r: Report) -> Pushed {
        if self.closed_pending >= self.closed_max {
            self.fold_into_overflow(r);
            return Pushed::Overflowed;
        }
        self.closed_pending += 1;
        self.reports.push_back(Some(Report { flags: r.flags | COUNTED_CLOSED, ..r }));
        Pushed::Queued
    }

    /// The queued entry at `off` becomes a closed track's: counted, or,
    /// beyond `closed_max`, moved into the overflow (true).
    #[cold]
    fn close_entry(&mut self, off: usize) -> bool {
        if self.closed_pending < self.closed_max {
            self.reports[off].as_mut().expect("a live entry").flags |= COUNTED_CLOSED;
            self.closed_pending += 1;
            return false;
        }
        let mut r = self.reports[off].take().expect("a live entry");
        r.flags &= !COUNTED_CLOSED;
        self.tombstones += 1;
        self.fold_into_overflow(r);
        true
    }

    /// The track of `origin` at slot `slot` was released: its queued regular
    /// reports are a closed track's now. Returns how many went into the
    /// overflow.
    fn retire(&mut self, slot: u32, origin: (u32, u32)) -> u64 {
        let len = self.reports.len();
        self.index_to(len);
        let Some(&at) = self.pend.get(slot as usize) else { return 0 };
        let mut moved = 0;
        for logical in at {
            let off = logical.wrapping_sub(self.base) as usize;
            if off >= len {
                continue;
            }
            let e = &self.reports[off];
            if e.as_ref().is_some_and(|r| r.origin == origin && r.flags & COUNTED_CLOSED == 0) {
                moved += u64::from(self.close_entry(off));
            }
        }
        moved
    }

    /// Drops the tombstones once they are many (at most every other entry
    /// and `CHUNK`), then rebuilds the merge index from scratch. Only
    /// between writers: a writer's horizon is a position in the queue.
    fn sweep(&mut self) {
        if self.tombstones > CHUNK && 2 * self.tombstones > self.reports.len() {
            self.reports.retain(Option::is_some);
            self.tombstones = 0;
            self.indexed = 0;
        }
    }

    /// Adds `r` to its country's overflow report in its direction.
    #[cold]
    fn fold_into_overflow(&mut self, r: Report) {
        let country = match r.key.country() {
            c if self.overflow.contains_key(c) || self.overflow.len() < OVERFLOW_COUNTRIES => c,
            _ => TRACKSTATS_OVERFLOW_ID,
        };
        if !self.overflow.contains_key(country) {
            self.overflow.insert(country.into(), [None, None]);
        }
        let slot = &mut self.overflow.get_mut(country).expect("inserted above")[r.direction.index()];
        match slot {
            Some(o) => o.fold(&r),
            None => {
                let key = TrackKey::new(TRACKSTATS_OVERFLOW_ID, TRACKSTATS_OVERFLOW_ID, country, 0)
                    .expect("the overflow ids and a country id are valid");
                *slot = Some(Report {
                    key,
                    flags: r.flags | TRACKSTATS_FLAG_OVERFLOW,
                    // Never matched by a merge: overflow reports are not in
                    // `reports`, which the merge index covers.
                    origin: (u32::MAX, 0),
                    ..r
                });
                self.overflow_len += 1;
            }
        }
    }

    /// Records the first `limit` queued reports in `pend`, in queue order so
    /// a track's latest report wins.
    fn index_to(&mut self, limit: usize) {
        for off in self.indexed..limit {
            let Some(r) = &self.reports[off] else { continue };
            let (slot, logical) = (r.origin.0 as usize, self.base.wrapping_add(off as u32));
            if slot >= self.pend.len() {
                // Amortized growth, to the highest slot index indexed.
                self.pend.resize(slot + 1, [0; 2]);
            }
            self.pend[slot][r.direction.index()] = logical;
        }
        self.indexed = self.indexed.max(limit);
    }

    /// Moves up to `max` reports to `out`: overflow reports first, then the
    /// oldest queued.
    pub fn drain_into(&mut self, out: &mut Vec<Report>, max: usize) -> usize {
        let mut taken = 0;
        if self.overflow_len > 0 {
            for pair in self.overflow.values_mut() {
                for r in pair.iter_mut() {
                    if taken < max {
                        if let Some(r) = r.take() {
                            out.push(r);
                            taken += 1;
                        }
                    }
                }
            }
            self.overflow_len -= taken;
            self.overflow.retain(|_, pair| pair.iter().any(Option::is_some));
        }
        // The queue only grows between drains: its length now is the most
        // it held since the last one (see `shrink`).
        self.peak = self.peak.max(self.reports.len());
        let mut popped = 0;
        while taken < max {
            let Some(e) = self.reports.pop_front() else { break };
            popped += 1;
            match e {
                Some(mut r) => {
                    if r.flags & COUNTED_CLOSED != 0 {
                        self.closed_pending -= 1;
                        r.flags &= !COUNTED_CLOSED;
                    }
                    out.push(r);
                    taken += 1;
                }
                None => self.tombstones -= 1,
            }
        }
        self.base = self.base.wrapping_add(popped as u32);
        self.indexed = self.indexed.saturating_sub(popped);
        self.shrink();
        taken
    }

    /// Gives back the memory of a backlog once the consumer has caught up.
    /// Each time the queue empties, it keeps room for what it held at most
    /// between the two emptyings before (at least `CHUNK`): a steady load (a
    /// pass's reports, drained after each pass) keeps its buffer, while a
    /// one-time backlog's goes back as soon as it is drained.
    fn shrink(&mut self) {
        if !self.reports.is_empty() {
            return;
        }
        let keep = self.prev_peak.max(CHUNK);
        if self.reports.capacity() > 2 * keep {
            self.reports.shrink_to(keep);
        }
        self.prev_peak = self.peak;
        self.peak = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::TrackKey;
    use crate::report::{Direction, TRACKSTATS_FLAG_MERGED};
    use crate::seq::SeqStats;

    /// Pushes, and says whether it merged.
    fn push_merged(q: &mut Queue, slot: u32, r: Report, horizon: u32) -> bool {
        q.push(slot, r, horizon) == Pushed::Merged
    }

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
        assert!(!push_merged(&mut ob, 3, report(3, 1, Direction::Up, 10), horizon));
        // Same pass (same horizon): queued, not merged.
        assert!(!push_merged(&mut ob, 3, report(3, 1, Direction::Down, 20), horizon));
        let horizon = ob.end();
        assert!(push_merged(&mut ob, 3, report(3, 1, Direction::Up, 1), horizon), "the next pass merges");
        assert!(!push_merged(&mut ob, 3, report(3, 2, Direction::Down, 5), horizon), "another life of the slot");
        let before_it = ob.end() - 1;
        let mut out = Vec::new();
        ob.drain_into(&mut out, 1);
        let horizon = ob.end();
        assert!(!push_merged(&mut ob, 3, report(3, 1, Direction::Up, 1), horizon), "its report was drained");
        assert!(push_merged(&mut ob, 3, report(3, 2, Direction::Down, 5), horizon));
        // Only before the horizon: not into the report at it, though the
        // index (built to `end()` by the push above) reaches past it...
        assert!(!push_merged(&mut ob, 3, report(3, 2, Direction::Down, 6), before_it));
        // ...and nothing once the front has passed the horizon.
        ob.drain_into(&mut out, 2);
        assert!(!push_merged(&mut ob, 3, report(3, 2, Direction::Down, 7), before_it));
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
                                    let merged = push_merged(&mut ob, slot, report(slot, g, dir, b), horizon);
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
                            push_merged(&mut ob, slot, report(slot, g, dir, b), horizon),
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

    fn closed(slot: u32, country: &str, direction: Direction, bytes: u64) -> Report {
        Report {
            key: TrackKey::new("p", "t", country, u64::from(slot)).unwrap(),
            flags: TRACKSTATS_FLAG_FINAL,
            start_unix_ns: u64::from(slot),
            end_unix_ns: u64::from(slot) + 1,
            ..report(slot, 1, direction, bytes)
        }
    }

    #[test]
    fn closed_reports_beyond_the_bound_fold_into_their_country_s_overflow() {
        let mut q = Queue { closed_max: 2, ..Queue::default() };
        let h = q.end();
        assert_eq!(q.push(0, report(0, 1, Direction::Up, 1), h), Pushed::Queued, "open tracks do not count");
        assert_eq!(q.push(1, closed(1, "DE", Direction::Up, 10), h), Pushed::Queued);
        assert_eq!(q.push(2, closed(2, "DE", Direction::Up, 20), h), Pushed::Queued);
        for (slot, country, dir, bytes) in
            [(3, "DE", Direction::Up, 30), (4, "DE", Direction::Up, 40), (5, "US", Direction::Down, 50)]
        {
            assert_eq!(q.push(slot, closed(slot, country, dir, bytes), h), Pushed::Overflowed);
        }
        // The close of the open track merges into its pending report, which
        // is then a closed track's one too many: into the overflow, leaving a
        // tombstone.
        let h = q.end();
        let fin = Report { flags: TRACKSTATS_FLAG_FINAL, ..report(0, 1, Direction::Up, 5) };
        assert_eq!(q.push(0, fin, h), Pushed::MergedOverflowed);
        assert_eq!((q.closed_pending, q.tombstones, q.len()), (2, 1, 2 + 3));
        let mut out = Vec::new();
        assert_eq!(q.drain_into(&mut out, 3), 3, "the overflow reports come first");
        let mut overflow: Vec<_> = out
            .iter()
            .map(|r| (r.key.track_id(), r.key.country(), r.direction, r.bytes, r.messages, r.start_unix_ns, r.flags))
            .collect();
        overflow.sort_by_key(|o| o.1);
        let f = TRACKSTATS_FLAG_FINAL | TRACKSTATS_FLAG_OVERFLOW;
        let m = TRACKSTATS_FLAG_MERGED;
        assert_eq!(
            overflow,
            [
                (TRACKSTATS_OVERFLOW_ID, "", Direction::Up, 6, 2, 0, f | m),
                (TRACKSTATS_OVERFLOW_ID, "DE", Direction::Up, 70, 2, 3, f | m),
                (TRACKSTATS_OVERFLOW_ID, "US", Direction::Down, 50, 1, 5, f),
            ]
        );
        out.clear();
        assert_eq!(q.drain_into(&mut out, 10), 2);
        assert_eq!((q.closed_pending, q.tombstones, q.len()), (0, 0, 0));
        // Drained: closed reports queue again, one per track.
        let h = q.end();
        assert_eq!(q.push(6, closed(6, "DE", Direction::Up, 1), h), Pushed::Queued);
    }

    #[test]
    fn a_released_track_s_pending_reports_count_as_closed_and_tombstones_are_swept() {
        let mut q = Queue { closed_max: 1, ..Queue::default() };
        let n = 2 * CHUNK as u32 + 10;
        let h = q.end();
        for slot in 0..n {
            assert_eq!(q.push(slot, report(slot, 1, Direction::Up, 1), h), Pushed::Queued);
        }
        // Released: the first fits the bound, the rest go to the overflow.
        assert_eq!(q.retire(0, (0, 1)), 0);
        assert_eq!(q.retire(1, (1, 2)), 0, "another life of the slot: nothing of its own");
        let moved: u64 = (1..n).map(|slot| q.retire(slot, (slot, 1))).sum();
        assert_eq!(moved, u64::from(n) - 1);
        assert_eq!((q.closed_pending, q.tombstones, q.len()), (1, n as usize - 1, 1 + 1));
        q.sweep();
        assert_eq!((q.reports.len(), q.tombstones), (1, 0), "swept");
        // The index is rebuilt: a new report of slot 0's track merges.
        let h = q.end();
        assert_eq!(
            q.push(0, Report { flags: TRACKSTATS_FLAG_LATE, ..report(0, 1, Direction::Up, 4) }, h),
            Pushed::Merged
        );
        let mut out = Vec::new();
        q.drain_into(&mut out, usize::MAX);
        assert_eq!(out.iter().map(|r| r.bytes).sum::<u64>(), u64::from(n) + 4);
    }

    #[test]
    fn past_so_many_countries_the_overflow_folds_under_one() {
        let mut q = Queue { closed_max: 0, ..Queue::default() };
        for c in 0..OVERFLOW_COUNTRIES as u32 + 10 {
            let h = q.end();
            assert_eq!(q.push(c, closed(c, &format!("C{c}"), Direction::Up, 1), h), Pushed::Overflowed);
        }
        assert_eq!(q.len(), OVERFLOW_COUNTRIES + 1);
        let mut out = Vec::new();
        q.drain_into(&mut out, usize::MAX);
        let rest: Vec<_> = out.iter().filter(|r| r.key.country() == TRACKSTATS_OVERFLOW_ID).collect();
        assert_eq!((rest.len(), rest[0].bytes), (1, 10));
        assert_eq!(out.iter().map(|r| r.bytes).sum::<u64>(), OVERFLOW_COUNTRIES as u64 + 10);
    }
}
