//! The sampler role: the only code that takes windows out of slots. Whoever
//! holds the hub's sampler lock plays it: the registry's thread, or in manual
//! mode the caller of `tick`/`flush`. Because one party does every swap,
//! window bookkeeping (starts, final flags, pending merges) needs no atomics
//! of its own and close/release never block: they queue a `Request` and wake
//! it.

use crate::clock::Clock;
use crate::figures::{Board, Tally};
use crate::key::TrackKey;
use crate::outbox::{Outbox, Writer, CHUNK};
use crate::report::{Direction, Report, TRACKSTATS_FLAG_FINAL, TRACKSTATS_FLAG_LATE, TRACKSTATS_FLAG_MERGED};
use crate::seq::SeqStats;
use crate::slab::Slab;
use crate::slot::{Slot, SlotState};
use crate::stats::Counters;
use crate::sync::{AtomicU64, Ordering::Relaxed};
use crate::word::Delta;
use std::collections::VecDeque;
use std::time::Instant;

/// A report sink called on the sampler thread (or, in manual mode, the
/// thread that ticks) with each batch of reports.
pub type Sink = Box<dyn FnMut(&[Report]) + Send>;

/// Work for the sampler that hosts hand over without waiting.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Request {
    /// The track at this slot was closed: report its final window now.
    Close(u32),
    /// Its holder let go: report what came late, then free the slot.
    Release(u32),
    /// As `Release`, but the track keeps its slot for a grace period first:
    /// records in the grace are reported late (see `Grace`).
    ReleaseAfterGrace(u32),
}

/// How long released-after-grace tracks keep their slots: until `ns` after
/// the release was processed, or until more than `slots` tracks are in their
/// grace (the oldest ends early), whichever comes first. Graces end in the
/// order they began, at the sampler's next activity (a pass, a request, a
/// tick or flush); a sampler thread wakes for the earliest end
/// (`Store::grace_due_ns`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Grace {
    pub ns: u64,
    pub slots: usize,
}

/// What the sampler role works on: the registry's slots, clock, counters,
/// outbox, and the board where it publishes the figures. The hub owns one.
pub(crate) struct Store {
    pub slab: Slab,
    pub clock: Clock,
    pub counters: Counters,
    pub outbox: Outbox,
    pub board: Board,
    /// When the earliest grace ends (unix ns), `NO_GRACE` when none runs:
    /// written by the sampler role, read by the sampler thread to wake for
    /// it (a wake-up hint: the role decides what is due).
    pub grace_due_ns: AtomicU64,
}

/// `Store::grace_due_ns` when no grace runs.
pub(crate) const NO_GRACE: u64 = u64::MAX;

/// Not a report flag: asks `flush_to_now` for the sealing take.
const SEAL: u32 = 1 << 31;

/// The span and flags of the reports one take of a slot produces.
#[derive(Clone, Copy)]
struct Window {
    start: u64,
    end: u64,
    flags: u32,
}

/// Queues the reports of one track's window: one per direction that moved.
/// `seq` belongs to the up side (packet records are publisher-side). The
/// caller counts `d` in the figures (`Tally::add`) beside it.
fn emit(out: &mut Writer, i: u32, slot: &Slot, state: &SlotState, d: [Delta; 2], seq: SeqStats, w: Window) {
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
            start_unix_ns: w.start,
            end_unix_ns: w.end,
            flags: w.flags,
            seq,
            origin: (i, state.generation()),
        }
    };
    // One count per report and no more: each clone and drop of a key is a
    // locked instruction on the key's own line, a large part of an active
    // track's cost in a pass.
    let key = slot.key();
    match (up, down) {
        (true, true) => {
            out.push(i, report(Direction::Up, key.clone()));
            out.push(i, report(Direction::Down, key));
        }
        (true, false) => out.push(i, report(Direction::Up, key)),
        _ => out.push(i, report(Direction::Down, key)),
    }
}

pub(crate) struct Sampler {
    /// End of the last window taken by a pass (Unix ns).
    pub prev_boundary_ns: u64,
    pub sink: Option<Sink>,
    delivery: Vec<Report>,
    /// The figures, counted as reports are queued and published on
    /// `Store::board` at the end of each pass and batch of requests.
    tally: Tally,
    grace: Grace,
    /// Tracks in their grace, oldest first: slot index and the grace's end (ns).
    in_grace: VecDeque<(u32, u64)>,
    /// Test hook: panic in the next pass after this many marked slots.
    #[cfg(feature = "fault-injection")]
    pub panic_after: Option<usize>,
}

impl Sampler {
    pub fn new(start_ns: u64, sink: Option<Sink>, grace: Grace) -> Sampler {
        Sampler {
            prev_boundary_ns: start_ns,
            sink,
            grace,
            in_grace: VecDeque::new(),
            delivery: Vec::new(),
            tally: Tally::new(),
            #[cfg(feature = "fault-injection")]
            panic_after: None,
        }
    }

    /// One window for every live track, ending at `end_ns`.
    pub fn pass(&mut self, st: &Store, end_ns: u64, flags: u32) {
        let began = Instant::now();
        let prev = self.prev_boundary_ns;
        self.tally.begin(&st.board, end_ns);
        let tally = &mut self.tally;
        #[cfg(feature = "fault-injection")]
        let mut fuse = self.panic_after.take();
        let mut out = st.outbox.writer(&st.counters);
        // Only marked slots: a track whose words are untouched since the last
        // pass (and that spilled nothing) has no bit, and nothing to take.
        st.slab.take_marked(|i, slot| {
            #[cfg(feature = "fault-injection")]
            if let Some(n) = fuse.as_mut() {
                if *n == 0 {
                    panic!("injected sampler fault");
                }
                *n -= 1;
            }
            let Some(state) = slot.observe() else { return };
            if slot.is_idle(&state) {
                return;
            }
            let d = slot.take_windows(&state);
            let seq = slot.take_seq();
            // A track opened (or flushed) after `end_ns` but before this pass
            // ran has its floor past the window's end: its bytes belong to
            // this window, which for it is empty in time, not reversed.
            let start = prev.max(slot.floor().load(Relaxed)).min(end_ns);
            let late = if state.finalized() { TRACKSTATS_FLAG_LATE } else { 0 };
            tally.add(i, slot, &d);
            emit(&mut out, i, slot, &state, d, seq, Window { start, end: end_ns, flags: flags | late });
        });
        if flags & TRACKSTATS_FLAG_MERGED != 0 {
            st.counters.reports_late_ticks.fetch_add(out.emitted(), Relaxed);
        }
        drop(out);
        self.tally.pass_done();
        self.tally.publish(&st.board, end_ns);
        // A pass with fewer marked slots than the fuse leaves it for the next.
        #[cfg(feature = "fault-injection")]
        {
            self.panic_after = fuse;
        }
        self.prev_boundary_ns = end_ns;
        // Quarantines end by time too, so an idle registry's memory goes back.
        st.slab.expire_quarantine(&st.clock);
        let took = began.elapsed().as_nanos() as u64;
        st.counters.tick_ns_total.fetch_add(took, Relaxed);
        st.counters.last_tick_ns.store(took, Relaxed);
        st.counters.ticks.fetch_add(1, Relaxed);
    }

    /// The close flush: everything up to now, flagged final.
    fn report_final(&mut self, out: &mut Writer, i: u32, slot: &Slot, now: u64) {
        let Some(state) = slot.observe() else { return };
        if state.finalized() {
            return;
        }
        self.flush_to_now(out, i, slot, &state, TRACKSTATS_FLAG_FINAL, now);
        slot.set_finalized();
    }

    /// Whatever a finalized track recorded since its close flush, flagged late.
    fn report_late(&mut self, out: &mut Writer, i: u32, slot: &Slot, now: u64) {
        let Some(state) = slot.observe() else { return };
        if slot.is_idle(&state) {
            return;
        }
        self.flush_to_now(out, i, slot, &state, TRACKSTATS_FLAG_LATE, now);
    }

    /// At release: the last late flush, which seals the slot's words.
    fn report_late_and_seal(&mut self, out: &mut Writer, i: u32, slot: &Slot, now: u64) {
        let Some(state) = slot.observe() else { return };
        self.flush_to_now(out, i, slot, &state, TRACKSTATS_FLAG_LATE | SEAL, now);
    }

    /// Takes the slot's windows into one report ending at `now` (the clock,
    /// read once by the caller for all it does), and moves the slot's floor
    /// there, so a later report of this track starts where this ended.
    /// `SEAL` in `flags` makes it the last take (see `Slot::take_and_seal`).
    /// Every take outside a pass comes here, and is counted in the figures
    /// here, once.
    fn flush_to_now(&mut self, out: &mut Writer, i: u32, slot: &Slot, state: &SlotState, flags: u32, now: u64) {
        let d = if flags & SEAL != 0 { slot.take_and_seal(state) } else { slot.take_windows(state) };
        let flags = flags & !SEAL;
        let seq = slot.take_seq();
        let floor = slot.floor();
        let start = self.prev_boundary_ns.max(floor.load(Relaxed));
        // A take of nothing (the sealing take of a track released after its
        // close flush, most often) leaves the figures as they are, and
        // unpublished.
        if !d.iter().all(|x| x.is_zero()) {
            self.tally.add(i, slot, &d);
        }
        emit(out, i, slot, state, d, seq, Window { start, end: now, flags });
        floor.store(now, Relaxed);
    }

    /// One request; `now` is the batch's time (one clock reading for all
    /// its requests: reports end there, quarantines and graces start there).
    fn apply(&mut self, st: &Store, out: &mut Writer, req: Request, now: u64) {
        match req {
            Request::Close(i) => self.report_final(out, i, st.slab.get(i), now),
            Request::Release(i) => self.release(st, out, i, now),
            Request::ReleaseAfterGrace(i) => {
                let slot = st.slab.get(i);
                if slot.observe().is_none() {
                    return;
                }
                // `release_track` closed it: the final report now, later
                // records late, the release when the grace ends.
                self.report_final(out, i, slot, now);
                self.in_grace.push_back((i, now.saturating_add(self.grace.ns)));
                while self.in_grace.len() > self.grace.slots {
                    let (j, _) = self.in_grace.pop_front().expect("longer than its bound");
                    self.release(st, out, j, now);
                }
                self.count_in_grace(st);
            }
        }
    }

    /// Ends the graces due by `now_ns`, or, with `all`, every one.
    fn end_graces(&mut self, st: &Store, out: &mut Writer, now_ns: u64, all: bool) {
        let before = self.in_grace.len();
        while let Some(&(i, end)) = self.in_grace.front() {
            if !all && end > now_ns {
                break;
            }
            self.in_grace.pop_front();
            self.release(st, out, i, now_ns);
        }
        if self.in_grace.len() != before {
            self.count_in_grace(st);
        }
    }

    fn count_in_grace(&self, st: &Store) {
        st.counters.slots_in_grace.store(self.in_grace.len() as u64, Relaxed);
        // Relaxed: a hint for the sampler thread's sleep (run_sampler), which
        // re-reads it each time it wakes; the grace itself is decided here.
        st.grace_due_ns.store(self.in_grace.front().map_or(NO_GRACE, |&(_, end)| end), Relaxed);
    }

    /// The release of the track at slot `i`: its final report if it had
    /// none, its last late one (sealing its words: hosted ones are let go),
    /// then the slot goes to the allocator's quarantine.
    fn release(&mut self, st: &Store, out: &mut Writer, i: u32, now: u64) {
        let slot = st.slab.get(i);
        let Some(state) = slot.observe() else { return };
        // `release_track` closed it (a registry close may have too).
        self.report_final(out, i, slot, now);
        self.report_late_and_seal(out, i, slot, now);
        // What it still has pending is a closed track's now (see `outbox.rs`).
        out.retire(i, (i, state.generation()));
        // The reports hold their own key; the slot can go, its sums kept
        // in the figures. The outbox is let go before the slab's lock.
        out.unlock();
        self.tally.forget(i);
        slot.free();
        st.slab.release(i, now);
        st.counters.live_slots.fetch_sub(1, Relaxed);
    }

    /// Ends the graces that are due, then processes `reqs` in order, and
    /// publishes the figures if that took any window.
    pub fn apply_all(&mut self, st: &Store, reqs: &[Request]) {
        if self.in_grace.is_empty() && reqs.is_empty() {
            return;
        }
        let mut out = st.outbox.writer(&st.counters);
        let now = st.clock.now_unix_ns();
        self.tally.begin(&st.board, now);
        self.end_graces(st, &mut out, now, false);
        for &r in reqs {
            self.apply(st, &mut out, r, now);
        }
        drop(out);
        self.tally.publish(&st.board, now);
    }

    /// Registry close: every track not yet flushed gets its final report,
    /// and tracks closed earlier report what they recorded since (late), so
    /// everything recorded before the close is queued when it returns, even
    /// if the host then frees the registry before releasing its tracks.
    pub fn report_final_all(&mut self, st: &Store) {
        self.tally.begin(&st.board, st.clock.now_unix_ns());
        // No sampler will end them after the close: they end now.
        if !self.in_grace.is_empty() {
            let mut out = st.outbox.writer(&st.counters);
            self.end_graces(st, &mut out, st.clock.now_unix_ns(), true);
        }
        let mut live = Vec::new();
        st.slab.for_each(|i, slot| {
            if slot.observe().is_some() {
                live.push(i);
            }
        });
        let mut out = st.outbox.writer(&st.counters);
        for i in live {
            let slot = st.slab.get(i);
            if slot.mark_closed() {
                st.counters.open_tracks.fetch_sub(1, Relaxed);
            }
            let now = st.clock.now_unix_ns();
            self.report_final(&mut out, i, slot, now);
            self.report_late(&mut out, i, slot, now);
        }
        drop(out);
        self.tally.publish(&st.board, st.clock.now_unix_ns());
    }

    /// Hands pending reports to the callback sink, if there is one.
    pub fn deliver(&mut self, st: &Store) {
        let Some(sink) = self.sink.as_mut() else { return };
        loop {
            self.delivery.clear();
            if st.outbox.drain(&mut self.delivery, CHUNK) == 0 {
                return;
            }
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink(&self.delivery)));
            if r.is_err() {
                st.counters.sink_panics.fetch_add(1, Relaxed);
            }
        }
    }
}
