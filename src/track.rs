//! The public Rust API of a track: `Track`, its recording calls, close,
//! cumulative `Totals`, and release on drop.

use crate::hosted::HostedPacketWords;
use crate::hub::Core;
use crate::report::Direction;
use crate::seq::SeqStats;
use crate::slot::Slot;
use crate::word::Delta;
use std::ptr::NonNull;

/// Cumulative bytes and messages of one track, as LiveKit's `GetTrafficTotals`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub up: Delta,
    pub down: Delta,
    /// The up side's sequence counts from packet records (zero without them).
    pub seq: SeqStats,
}

/// The stats handle of one track. Recording is `&self` and lock-free, so share
/// it between threads by reference or `Arc`. Dropping it releases the slot
/// (closing first if needed).
pub struct Track {
    slot: NonNull<Slot>,
}

// SAFETY: a Track is a pointer to a slot whose every field is atomic; the
// slot stays allocated while the Track's core reference lives.
unsafe impl Send for Track {}
unsafe impl Sync for Track {}

impl Track {
    /// The handle of a slot `Core::open` just published.
    pub(crate) fn new(slot: &Slot) -> Track {
        Track { slot: NonNull::from(slot) }
    }

    #[inline]
    fn slot(&self) -> &Slot {
        // SAFETY: the slot lives as long as its segment, freed only with the
        // core, which this Track keeps alive.
        unsafe { self.slot.as_ref() }
    }

    /// One message of `bytes` received from the publisher (UPSTREAM).
    #[inline]
    pub fn record_up(&self, bytes: u64) {
        self.slot().record(Direction::Up, bytes)
    }

    /// One message of `bytes` sent to a subscriber (DOWNSTREAM).
    #[inline]
    pub fn record_down(&self, bytes: u64) {
        self.slot().record(Direction::Down, bytes)
    }

    #[inline]
    pub fn record(&self, dir: Direction, bytes: u64) {
        self.slot().record(dir, bytes)
    }

    /// One data-track packet of `bytes` with sequence number `seq` received
    /// from the publisher: `record_up(bytes)` plus packet loss, out-of-order,
    /// duplicate and frame counts (see `SeqStats`). Exact with one writer per
    /// track at a time; lock-free. The first call on a track allocates its
    /// 128-byte sequence block once.
    #[inline]
    pub fn record_up_packet(&self, bytes: u64, seq: u16, end_of_frame: bool) {
        self.slot().record_packet(bytes, seq, end_of_frame)
    }

    /// Closes the track: its final reports are produced within milliseconds
    /// (threaded) or at the next `flush`/`tick` (manual). Bytes recorded later
    /// are still reported, flagged late. A second close is a no-op (false).
    pub fn close(&self) -> bool {
        Core::close_track(self.slot())
    }

    /// Releases the track after a grace: as dropping it, but the sampler
    /// keeps taking its windows for `Config::grace` (or until
    /// `Config::grace_slots` newer graces push it out), reported late, before
    /// the release takes effect. Meant for hosted tracks, whose host may go
    /// on recording through the hosted words after this: those records are
    /// reported while the grace lasts and counted as stale after it.
    pub fn release_after_grace(self) {
        let p = self.into_raw();
        // SAFETY: this Track owned the handle, given up by `into_raw`.
        unsafe { Core::release_track(p, true) }
    }

    /// Attaches a hosted track's packet block (reset here), for a host that
    /// applies the packet rule inline. False when the track is not hosted or
    /// already has packet words.
    ///
    /// # Safety
    /// As for the window block in `Registry::open_hosted`: `words` stays
    /// valid until the track's hosted words are let go.
    pub unsafe fn attach_packet_words(&self, words: NonNull<HostedPacketWords>) -> bool {
        // SAFETY: valid until the let-go, per the contract.
        self.slot().attach_packet_words(unsafe { words.as_ref() })
    }

    /// Cumulative totals: all reported windows plus the open one.
    pub fn totals(&self) -> Totals {
        let t = self.slot().totals();
        Totals { up: t[0], down: t[1], seq: self.slot().seq_totals() }
    }

    /// The slot's address, which is the track's C handle (see `as_ptr` in
    /// `ffi/track.rs`), borrowed: valid while the Track lives.
    pub(crate) fn slot_ptr(&self) -> *mut Slot {
        self.slot.as_ptr()
    }

    /// The C handle: the slot's address. Ownership moves to the pointer.
    pub(crate) fn into_raw(self) -> *const Slot {
        let p = self.slot.as_ptr() as *const Slot;
        std::mem::forget(self);
        p
    }
}

impl Drop for Track {
    fn drop(&mut self) {
        // SAFETY: this Track owns the handle and is being dropped.
        unsafe { Core::release_track(self.slot.as_ptr(), false) }
    }
}
