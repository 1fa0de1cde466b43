//! The registry's counters: `Counters`, the atomics every layer bumps, and
//! `Stats`, a snapshot of them as `Registry::stats` returns it.

use crate::sync::{AtomicU64, Ordering::Relaxed};

/// A registry's counters at one moment: what `trackstats_registry_stats`
/// (C) and `Registry::stats` (Rust) return.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Tracks opened and not yet closed.
    pub open_tracks: u64,
    /// Slots held: open tracks plus closed ones not yet released.
    pub live_slots: u64,
    /// Reports produced so far (merged ones included).
    pub reports_emitted: u64,
    /// Reports folded into a pending one of the same track and direction
    /// because the consumer lagged (the pending one is flagged MERGED).
    /// Every MERGED flag has one cause counted: here, in
    /// `reports_late_ticks` or in `reports_overflowed`.
    pub reports_merged: u64,
    /// Reports waiting for `drain`/`wait` (or for the sink's next call),
    /// overflow reports included. Bounded whether or not anyone drains: at
    /// most `2 * live_slots + pending_closed_max + 514`.
    pub reports_pending: u64,
    /// Window passes done.
    pub ticks: u64,
    /// Window deadlines the sampler missed (their windows merged into the
    /// next one).
    pub late_ticks: u64,
    /// Records over `TRACKSTATS_MAX_RECORD_BYTES`, ignored.
    pub records_rejected: u64,
    /// Panics caught in the sampler role (a bug in trackstats).
    pub sampler_panics: u64,
    /// Panics caught in the sink (a bug in the host's sink).
    pub sink_panics: u64,
    /// Records that reached a track after its release had been processed,
    /// through a stale handle or a host's words after the library let go of
    /// them: caught by the sealed window words (or found on the slot when it
    /// was reused), counted here, never reported and never given to another
    /// track.
    pub stale_records: u64,
    /// The bytes of `stale_records`.
    pub stale_bytes: u64,
    /// Released slots waiting in the quarantine before they may be reused.
    pub slots_quarantined: u64,
    /// Tracks released after a grace (`trackstats_track_release_after_grace`)
    /// still in their grace: their slots are held, their records reported
    /// late.
    pub slots_in_grace: u64,
    /// Slab segments (1024 slots, 128 KiB each) whose memory is resident.
    pub segments_resident: u64,
    /// Slab segments whose memory went back to the system after all their
    /// slots were freed (their addresses stay reserved, for reuse).
    pub segments_returned: u64,
    /// Reports of closed tracks folded into their country's overflow report
    /// (`TRACKSTATS_FLAG_OVERFLOW`) because `pending_closed_max` reports of
    /// closed tracks were pending: their bytes are reported there.
    pub reports_overflowed: u64,
    /// Reports made by a window pass that came after missed deadlines
    /// (`late_ticks`): flagged MERGED, their window spans several intervals.
    pub reports_late_ticks: u64,
}

/// The live counters behind `Stats`. Each is a statistic only, read and
/// written Relaxed: no other data is published through them.
#[derive(Default)]
pub(crate) struct Counters {
    pub open_tracks: AtomicU64,
    pub live_slots: AtomicU64,
    pub reports_emitted: AtomicU64,
    pub reports_merged: AtomicU64,
    pub ticks: AtomicU64,
    pub late_ticks: AtomicU64,
    pub records_rejected: AtomicU64,
    pub sampler_panics: AtomicU64,
    pub sink_panics: AtomicU64,
    pub stale_records: AtomicU64,
    pub stale_bytes: AtomicU64,
    pub reports_overflowed: AtomicU64,
    pub reports_late_ticks: AtomicU64,
    /// A gauge, the sampler's to set.
    pub slots_in_grace: AtomicU64,
    /// Time spent in window passes, in total and in the latest one.
    pub tick_ns_total: AtomicU64,
    pub last_tick_ns: AtomicU64,
}

impl Counters {
    /// A snapshot of the counters; the gauges of other parts (pending
    /// reports, slab) are the caller's to fill in.
    pub fn snapshot(&self) -> Stats {
        Stats {
            open_tracks: self.open_tracks.load(Relaxed),
            live_slots: self.live_slots.load(Relaxed),
            reports_emitted: self.reports_emitted.load(Relaxed),
            reports_merged: self.reports_merged.load(Relaxed),
            reports_pending: 0,
            ticks: self.ticks.load(Relaxed),
            late_ticks: self.late_ticks.load(Relaxed),
            records_rejected: self.records_rejected.load(Relaxed),
            sampler_panics: self.sampler_panics.load(Relaxed),
            sink_panics: self.sink_panics.load(Relaxed),
            stale_records: self.stale_records.load(Relaxed),
            stale_bytes: self.stale_bytes.load(Relaxed),
            slots_quarantined: 0,
            slots_in_grace: self.slots_in_grace.load(Relaxed),
            segments_resident: 0,
            segments_returned: 0,
            reports_overflowed: self.reports_overflowed.load(Relaxed),
            reports_late_ticks: self.reports_late_ticks.load(Relaxed),
        }
    }
}
