//! Hosted words: a track's hot memory in the host's memory instead of the
//! library's. A binding whose host has a garbage collector (Go) cannot bound
//! the library's memory through finalizers (the collector does not see it),
//! and its tracks may be recorded on after their close at any moment; so the
//! host owns the words its records touch, gives their address at open
//! (`trackstats_track_open_hosted`), and the library uses them as it does
//! its own until it lets go of them.
//!
//! The block (`HostedWords`, 8 `u64`, 8-byte aligned, 64 recommended):
//!
//! | word | who writes | what |
//! |---|---|---|
//! | `UP`, `DOWN` | the host's records (the window-word rule); the library's swaps, until it lets go | the window words |
//! | `LET_GO` | the library, once, last | 0 while the library holds the block; `TRACKSTATS_HOSTED_LET_GO` once it never touches the block again |
//! | 3 | nobody | reserved, 0 |
//! | `TOTAL_*` | the library, before `LET_GO` | the track's final cumulative totals: everything reported for it |
//!
//! After the release of the track has been processed (at once, or at the
//! end of its grace, see `Track::release_after_grace`), the library takes
//! the last windows, leaves both window words sealed
//! (`TRACKSTATS_WORD_SEALED`), writes the totals, and stores `LET_GO` with
//! Release ordering. A host that reads `LET_GO` with Acquire ordering sees
//! everything the library did to the block, and may free or reuse it once
//! no call of its own that names the track is still in progress. Records
//! after that reach a sealed word: the rule sends them to the slow path,
//! where the host, seeing `LET_GO`, takes them off the word itself and hands
//! them to `trackstats_registry_count_stale` instead of calling the library
//! with the released handle.
//!
//! The optional packet block (`HostedPacketWords`, 16 `u64`, 8-byte aligned)
//! holds the packet words of `seq.rs` in its first six words, for hosts that
//! apply the packet rule inline; words 8 to 12 are the library's (what it has
//! reported), the rest reserved. It is let go of with the window block.

use crate::report::Direction;
use crate::seq::SeqBlock;
use crate::sync::{AtomicU64, Ordering::*};
use crate::word::Delta;

/// Words in a hosted window block.
pub const TRACKSTATS_HOSTED_WORDS: u32 = 8;
/// Index of the up window word in a hosted block.
pub const TRACKSTATS_HOSTED_WORD_UP: u32 = 0;
/// Index of the down window word in a hosted block.
pub const TRACKSTATS_HOSTED_WORD_DOWN: u32 = 1;
/// Index of the let-go word in a hosted block (no record touches it).
pub const TRACKSTATS_HOSTED_WORD_LET_GO: u32 = 2;
/// Index of the final up bytes in a hosted block (valid once let go);
/// up messages, down bytes and down messages follow.
pub const TRACKSTATS_HOSTED_WORD_TOTAL_UP_BYTES: u32 = 4;
/// The let-go word's value once the library has let go of the block.
pub const TRACKSTATS_HOSTED_LET_GO: u64 = 1;
/// Words in a hosted packet block.
pub const TRACKSTATS_HOSTED_PACKET_WORDS: u32 = 16;

const LET_GO: usize = TRACKSTATS_HOSTED_WORD_LET_GO as usize;
const TOTALS: usize = TRACKSTATS_HOSTED_WORD_TOTAL_UP_BYTES as usize;

/// A hosted track's window block, in the host's memory (see the module).
#[repr(C)]
pub struct HostedWords {
    words: [AtomicU64; TRACKSTATS_HOSTED_WORDS as usize],
}

#[cfg(not(trackstats_loom))]
const _: () = {
    assert!(std::mem::size_of::<HostedWords>() == 8 * TRACKSTATS_HOSTED_WORDS as usize);
    assert!(std::mem::align_of::<HostedWords>() == 8);
    assert!(TRACKSTATS_HOSTED_WORD_UP == Direction::Up as u32 && TRACKSTATS_HOSTED_WORD_DOWN == Direction::Down as u32);
};

impl Default for HostedWords {
    fn default() -> Self {
        HostedWords { words: std::array::from_fn(|_| AtomicU64::new(0)) }
    }
}

impl HostedWords {
    /// The window word of `dir`: what the host's records add to.
    pub fn window(&self, dir: Direction) -> &AtomicU64 {
        &self.words[dir.index()]
    }

    /// Whether the library has let go of the block (Acquire: pairs with the
    /// Release store in `let_go`, so everything the library did to the block
    /// happens before what the caller does after seeing true).
    pub fn is_let_go(&self) -> bool {
        self.words[LET_GO].load(Acquire) == TRACKSTATS_HOSTED_LET_GO
    }

    /// The track's final cumulative totals, `[up, down]`; valid once
    /// `is_let_go` returned true.
    pub fn final_totals(&self) -> [Delta; 2] {
        // Relaxed: ordered after the library's stores by the caller's
        // Acquire load in `is_let_go`.
        let w = |k: usize| self.words[TOTALS + k].load(Relaxed);
        [Delta { bytes: w(0), messages: w(1) }, Delta { bytes: w(2), messages: w(3) }]
    }

    /// The library, at open: a fresh block (the host does not touch it
    /// before the open returns).
    pub(crate) fn reset(&self) {
        for w in &self.words {
            // Relaxed: published with the handle the open returns.
            w.store(0, Relaxed);
        }
    }

    /// The library, last: the final totals, then the let-go mark. After
    /// this the library never touches the block.
    pub(crate) fn let_go(&self, totals: [Delta; 2]) {
        for (k, d) in totals.iter().enumerate() {
            // Relaxed: published by the Release store below.
            self.words[TOTALS + 2 * k].store(d.bytes, Relaxed);
            self.words[TOTALS + 2 * k + 1].store(d.messages, Relaxed);
        }
        // Release: pairs with the host's Acquire load (`is_let_go`): every
        // access of the library to this block and to the track's hosted
        // packet block happens before the host sees the mark.
        self.words[LET_GO].store(TRACKSTATS_HOSTED_LET_GO, Release);
    }
}

/// A hosted track's packet block, in the host's memory (see the module):
/// the library's sequence block, laid out in 16 words at 8-byte alignment.
#[repr(C)]
pub struct HostedPacketWords {
    block: SeqBlock,
    _reserved: [u64; TRACKSTATS_HOSTED_PACKET_WORDS as usize - SeqBlock::WORDS],
}

#[cfg(not(trackstats_loom))]
const _: () = {
    assert!(std::mem::size_of::<HostedPacketWords>() == 8 * TRACKSTATS_HOSTED_PACKET_WORDS as usize);
    assert!(std::mem::align_of::<HostedPacketWords>() == 8);
};

impl Default for HostedPacketWords {
    fn default() -> Self {
        HostedPacketWords {
            block: SeqBlock::default(),
            _reserved: [0; TRACKSTATS_HOSTED_PACKET_WORDS as usize - SeqBlock::WORDS],
        }
    }
}

impl HostedPacketWords {
    /// The packet words a host's packet rule writes (`TRACKSTATS_PACKET_WORD_*`).
    pub fn packet_word(&self, k: u32) -> &AtomicU64 {
        self.block.word(k)
    }

    /// The block as the sampler reads it.
    pub(crate) fn as_block(&self) -> *mut SeqBlock {
        &self.block as *const SeqBlock as *mut SeqBlock
    }
}
