//! Data-track sequence stats: packets lost, recovered, out of order,
//! duplicated, and frames, from 16-bit sequence numbers, per window and
//! without a lock (LiveKit keeps the same figures under a mutex and only logs
//! them at close).
//!
//! The reference rule, per arriving sequence number `s` against the highest
//! seen `h` (the first packet only sets `h`): `d = s - h` (mod 2^16).
//! - `d == 0`: a duplicate.
//! - `d > 2^15`: out of order; when the cumulative lost count is positive it
//!   goes down by one (here: `recovered` goes up by one).
//! - otherwise: `d - 1` packets lost, and `h = s`.
//!
//! A packet with `end_of_frame` counts a frame unless it is a duplicate.
//!
//! Counters are cumulative `u64`s that only the writer stores to (plain
//! loads and stores, no read-modify-write, so the packet record costs one
//! atomic add, the window word's, plus a few ordinary moves). The sampler
//! keeps, beside them, the values it has already reported, and a window is the
//! difference. Lost is never decremented: a late packet counts `recovered` in
//! the window it arrives in, so every window's counters are non-negative,
//! merge by addition, and sum over all windows to the reference rule's
//! cumulative figures (net lost = lost - recovered).
//!
//! The block is allocated the first time a track records a packet and freed
//! with its slot; tracks that never do pay only the slot's pointer.

use crate::sync::{AtomicU64, Ordering::*};

/// Word index, in the packet words, of the stream state: 0 before the first
/// packet, else `TRACKSTATS_PACKET_STARTED | highest sequence number`.
pub const TRACKSTATS_PACKET_WORD_STATE: u32 = 0;
/// Word index of the cumulative count of packets lost (gaps, never decremented).
pub const TRACKSTATS_PACKET_WORD_LOST: u32 = 1;
/// Word index of the cumulative count of late packets that reduced the lost count.
pub const TRACKSTATS_PACKET_WORD_RECOVERED: u32 = 2;
/// Word index of the cumulative count of out-of-order packets.
pub const TRACKSTATS_PACKET_WORD_OUT_OF_ORDER: u32 = 3;
/// Word index of the cumulative count of duplicated packets.
pub const TRACKSTATS_PACKET_WORD_DUPLICATED: u32 = 4;
/// Word index of the cumulative count of frames (end-of-frame packets, duplicates excluded).
pub const TRACKSTATS_PACKET_WORD_FRAMES: u32 = 5;
/// How many packet words a writer may touch.
pub const TRACKSTATS_PACKET_WORDS: u32 = 6;
/// Set in the state word once the first packet started the stream.
pub const TRACKSTATS_PACKET_STARTED: u64 = 1 << 16;

const STATE: usize = TRACKSTATS_PACKET_WORD_STATE as usize;
const LOST: usize = TRACKSTATS_PACKET_WORD_LOST as usize;
const RECOVERED: usize = TRACKSTATS_PACKET_WORD_RECOVERED as usize;
const OUT_OF_ORDER: usize = TRACKSTATS_PACKET_WORD_OUT_OF_ORDER as usize;
const DUPLICATED: usize = TRACKSTATS_PACKET_WORD_DUPLICATED as usize;
const FRAMES: usize = TRACKSTATS_PACKET_WORD_FRAMES as usize;
const WORDS: usize = TRACKSTATS_PACKET_WORDS as usize;
/// The counters, in `SeqStats` order, are words `1..=COUNTERS`.
const COUNTERS: usize = WORDS - 1;
/// A difference above this (mod 2^16) is a packet from the past.
const HALF: u16 = 1 << 15;

/// Sequence counters of the up side of one track over some span (a window,
/// a merged report, or the track's life).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeqStats {
    /// Packets missing from gaps in the sequence (at most 32767 per packet).
    pub lost: u64,
    /// Late packets that arrived after being counted lost. Net loss over a
    /// span is `lost - recovered`; it can be negative for one window when a
    /// packet lost in an earlier window arrives in this one.
    pub recovered: u64,
    /// Packets older than the highest sequence number seen (all of them,
    /// recovered or not).
    pub out_of_order: u64,
    /// Packets with the highest sequence number seen, again.
    pub duplicated: u64,
    /// Packets marked end of frame, duplicates excluded.
    pub frames: u64,
}

impl SeqStats {
    pub const ZERO: SeqStats = SeqStats { lost: 0, recovered: 0, out_of_order: 0, duplicated: 0, frames: 0 };

    #[inline]
    pub const fn is_zero(&self) -> bool {
        self.lost == 0 && self.recovered == 0 && self.out_of_order == 0 && self.duplicated == 0 && self.frames == 0
    }

    fn from_counters(c: [u64; COUNTERS]) -> SeqStats {
        SeqStats { lost: c[0], recovered: c[1], out_of_order: c[2], duplicated: c[3], frames: c[4] }
    }
}

/// Field-wise sum (windows into a span, merged reports). Saturating, though
/// no real stream gets there: at 32767 lost per packet a `u64` takes 2^49
/// packets to fill.
impl std::ops::Add for SeqStats {
    type Output = SeqStats;

    #[inline]
    fn add(self, o: SeqStats) -> SeqStats {
        SeqStats {
            lost: self.lost.saturating_add(o.lost),
            recovered: self.recovered.saturating_add(o.recovered),
            out_of_order: self.out_of_order.saturating_add(o.out_of_order),
            duplicated: self.duplicated.saturating_add(o.duplicated),
            frames: self.frames.saturating_add(o.frames),
        }
    }
}

/// What one packet is against the highest sequence number seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Duplicate,
    OutOfOrder,
    /// The highest advances; `lost` packets (0 ..= 32767) were skipped.
    Advance {
        lost: u64,
    },
}

/// The reference rule's classification (16-bit wrap-around).
#[inline(always)]
pub(crate) const fn step(highest: u16, seq: u16) -> Step {
    let d = seq.wrapping_sub(highest);
    if d == 0 {
        Step::Duplicate
    } else if d > HALF {
        Step::OutOfOrder
    } else {
        Step::Advance { lost: d as u64 - 1 }
    }
}

/// One track's sequence state: the writer's cache line, then the sampler's.
/// The library allocates its blocks at `SEQ_BLOCK_ALIGN` (`slot.rs`), which
/// keeps them off other data's lines, so writers of two tracks never share
/// one. (128 would also keep x86_64's adjacent-line prefetcher apart, but
/// costs more memory per block in glibc's aligned allocation; docs/seq.md
/// has the figures.) The type itself needs only 8-byte alignment, so a
/// host's packet block can be one (`hosted.rs`).
#[repr(C)]
#[derive(Default)]
pub(crate) struct SeqBlock {
    /// Writer-owned: state and the cumulative counters. The layout is ABI
    /// (`trackstats_track_packet_words`).
    words: [AtomicU64; WORDS],
    _writer_line: [u64; 8 - WORDS],
    /// Sampler-owned: the cumulative values already reported.
    reported: [AtomicU64; COUNTERS],
}

/// The alignment of the blocks the library allocates (see `SeqBlock`).
#[cfg(not(trackstats_loom))]
pub(crate) const SEQ_BLOCK_ALIGN: usize = 64;

#[cfg(not(trackstats_loom))]
const _: () = {
    assert!(std::mem::size_of::<SeqBlock>() == 8 * SeqBlock::WORDS);
    assert!(std::mem::offset_of!(SeqBlock, reported) == 64);
};

impl SeqBlock {
    /// The block's size in 64-bit words.
    pub(crate) const WORDS: usize = 8 + COUNTERS;

    /// Packet word `k` (`TRACKSTATS_PACKET_WORD_*`).
    pub(crate) fn word(&self, k: u32) -> &AtomicU64 {
        &self.words[k as usize]
    }

    /// A fresh stream: every word zero (a host's block, at attach).
    pub(crate) fn reset(&self) {
        for w in self.words.iter().chain(&self.reported) {
            // Relaxed: published by the Release CAS that installs the block.
            w.store(0, Relaxed);
        }
    }

    /// Writer: applies one packet to the state and counters. Exact with one
    /// writer at a time. With several, every access is still an atomic one
    /// (no UB, no torn value), but a read-then-store can be overtaken: see
    /// docs/seq.md for what the counts then mean.
    ///
    /// Relaxed throughout: the writer's own data in program order; the
    /// sampler sees it through the Release add on the window word that the
    /// caller does next (paired with the Acquire fence in `Slot::take_seq`).
    #[inline(always)]
    pub(crate) fn record(&self, seq: u16, end_of_frame: bool) {
        let w = &self.words;
        let state = w[STATE].load(Relaxed);
        if state & TRACKSTATS_PACKET_STARTED == 0 {
            w[STATE].store(TRACKSTATS_PACKET_STARTED | seq as u64, Relaxed);
        } else {
            match step(state as u16, seq) {
                Step::Duplicate => {
                    bump(&w[DUPLICATED], 1);
                    return;
                }
                Step::OutOfOrder => {
                    bump(&w[OUT_OF_ORDER], 1);
                    // The cumulative lost count is lost - recovered.
                    if w[LOST].load(Relaxed) > w[RECOVERED].load(Relaxed) {
                        bump(&w[RECOVERED], 1);
                    }
                }
                Step::Advance { lost } => {
                    if lost != 0 {
                        bump(&w[LOST], lost);
                    }
                    w[STATE].store(TRACKSTATS_PACKET_STARTED | seq as u64, Relaxed);
                }
            }
        }
        if end_of_frame {
            bump(&w[FRAMES], 1);
        }
    }

    /// Sampler: the counts since the last `take_window`. A counter that reads below
    /// what was already reported (only possible when several writers overtake
    /// each other's stores) gives 0 and keeps the mark, so a window is never
    /// negative and nothing is reported twice.
    pub(crate) fn take_window(&self) -> SeqStats {
        let mut d = [0u64; COUNTERS];
        for (k, out) in d.iter_mut().enumerate() {
            // Relaxed: the caller's Acquire fence ordered these loads after
            // the window-word swap they belong with; `reported` is ours.
            let now = self.words[1 + k].load(Relaxed);
            let had = self.reported[k].load(Relaxed);
            if now > had {
                *out = now - had;
                self.reported[k].store(now, Relaxed);
            }
        }
        SeqStats::from_counters(d)
    }

    /// Any thread: the cumulative counts, never below what was reported.
    pub(crate) fn totals(&self) -> SeqStats {
        let mut t = [0u64; COUNTERS];
        for (k, out) in t.iter_mut().enumerate() {
            // Relaxed: a snapshot of independent monotone counters; no other
            // data is read through them.
            *out = self.words[1 + k].load(Relaxed).max(self.reported[k].load(Relaxed));
        }
        SeqStats::from_counters(t)
    }

    /// The writer words' address, for bindings that apply the rule inline.
    pub(crate) fn words_ptr(&self) -> *mut u64 {
        self.words.as_ptr() as *mut u64
    }
}

/// `c += n` by its only writer (a load and a store, not an RMW).
#[inline(always)]
fn bump(c: &AtomicU64, n: u64) {
    // Relaxed: see `SeqBlock::record`.
    c.store(c.load(Relaxed).saturating_add(n), Relaxed);
}

#[cfg(all(test, not(trackstats_loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_rule_wraps_at_16_bits() {
        assert_eq!(step(10, 10), Step::Duplicate);
        assert_eq!(step(10, 11), Step::Advance { lost: 0 });
        assert_eq!(step(10, 13), Step::Advance { lost: 2 });
        assert_eq!(step(65535, 0), Step::Advance { lost: 0 });
        assert_eq!(step(65534, 1), Step::Advance { lost: 2 });
        assert_eq!(step(0, 65535), Step::OutOfOrder);
        assert_eq!(step(10, 9), Step::OutOfOrder);
        // Exactly half way is still forward: the longest gap, 32767 lost.
        assert_eq!(step(0, 0x8000), Step::Advance { lost: 32767 });
        assert_eq!(step(0, 0x8001), Step::OutOfOrder);
    }

    #[test]
    fn takes_are_differences_and_totals_never_go_below_them() {
        let b = SeqBlock::default();
        b.record(100, true); // starts: a frame, nothing else
        b.record(103, false); // 2 lost
        b.record(101, true); // late: out of order, recovers 1, a frame
        b.record(103, true); // duplicate: no frame
        let t = b.take_window();
        assert_eq!(t, SeqStats { lost: 2, recovered: 1, out_of_order: 1, duplicated: 1, frames: 2 });
        assert_eq!(b.take_window(), SeqStats::ZERO);
        b.record(102, false); // recovers the second
        b.record(99, false); // out of order, nothing left to recover
        assert_eq!(b.take_window(), SeqStats { recovered: 1, out_of_order: 2, ..SeqStats::ZERO });
        assert_eq!(b.totals(), SeqStats { lost: 2, recovered: 2, out_of_order: 3, duplicated: 1, frames: 2 });
        // A writer's stale store below the mark: no negative window, and
        // totals hold at what was reported.
        b.words[OUT_OF_ORDER].store(1, Relaxed);
        assert_eq!(b.take_window(), SeqStats::ZERO);
        assert_eq!(b.totals().out_of_order, 3);
    }
}
