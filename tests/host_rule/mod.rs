//! The host's side of hosted words, as `trackstats_track_open_hosted` in the
//! header describes it: the record rule with its let-go checks, written once
//! for the tests that play the host (tests/hosted.rs, tests/loom.rs).

use trackstats::ffi::{trackstats_track, trackstats_track_slow_path};
use trackstats::{
    Delta, Direction, HostedWords, Registry, TRACKSTATS_WORD_BYTES_BITS, TRACKSTATS_WORD_BYTES_MASK,
    TRACKSTATS_WORD_MESSAGE_ONE, TRACKSTATS_WORD_SEALED, TRACKSTATS_WORD_SPILL_MASK,
};

#[cfg(not(trackstats_loom))]
use std::sync::atomic::Ordering::Relaxed;

#[cfg(trackstats_loom)]
use loom::sync::atomic::Ordering::Relaxed;

/// One record of `n` bytes (at most `TRACKSTATS_MAX_INLINE_BYTES`) in `dir`
/// on the hosted block `w` of `track`, a handle of `reg`.
pub fn record(reg: &Registry, track: *mut trackstats_track, w: &HostedWords, dir: Direction, n: u64) {
    // Relaxed: as the library's own record (`Slot::record`).
    let old = w.window(dir).fetch_add(TRACKSTATS_WORD_MESSAGE_ONE | n, Relaxed);
    if old == 0 || old & TRACKSTATS_WORD_SPILL_MASK != 0 {
        if !w.is_let_go() {
            trackstats_track_slow_path(track, dir as u32, old);
        }
        if w.is_let_go() {
            take_stale(reg, w, dir);
        }
    }
}

/// After the let-go: takes what records added to the sealed word off it and
/// has it counted as stale.
pub fn take_stale(reg: &Registry, w: &HostedWords, dir: Direction) {
    // Relaxed: the block is the host's alone after the let-go.
    let v = w.window(dir).swap(TRACKSTATS_WORD_SEALED, Relaxed).wrapping_sub(TRACKSTATS_WORD_SEALED);
    reg.count_stale(Delta { bytes: v & TRACKSTATS_WORD_BYTES_MASK, messages: v >> TRACKSTATS_WORD_BYTES_BITS });
}
