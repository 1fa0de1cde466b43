//! What the sampler hands to the host: directions, flags and reports.

use crate::key::TrackKey;
use crate::seq::SeqStats;

/// The direction of a track's traffic, named as LiveKit's stream types.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Bytes received from the publisher (`record_up`): LiveKit's UPSTREAM.
    Up = 0,
    /// Bytes sent to a subscriber (`record_down`): LiveKit's DOWNSTREAM.
    Down = 1,
}

impl Direction {
    pub(crate) const ALL: [Direction; 2] = [Direction::Up, Direction::Down];

    #[inline(always)]
    pub(crate) const fn index(self) -> usize {
        self as usize
    }

    /// Accepts any `u32` from C without undefined behaviour.
    pub fn from_u32(v: u32) -> Option<Direction> {
        match v {
            0 => Some(Direction::Up),
            1 => Some(Direction::Down),
            _ => None,
        }
    }

    /// LiveKit's name for the stream type.
    pub const fn stream_type(self) -> &'static str {
        match self {
            Direction::Up => "UPSTREAM",
            Direction::Down => "DOWNSTREAM",
        }
    }
}

/// The report was produced by the track's close: no more regular reports follow.
pub const TRACKSTATS_FLAG_FINAL: u32 = 1;
/// Bytes recorded after the track was closed (between close and release).
pub const TRACKSTATS_FLAG_LATE: u32 = 2;
/// Several windows folded into one report, because the consumer lagged or the
/// sampler missed deadlines; the report spans all of them.
pub const TRACKSTATS_FLAG_MERGED: u32 = 4;
/// Reports of closed tracks folded into one per country and direction,
/// because the consumer let `pending_closed_max` of them pend: participant
/// and track id `"__overflow__"`, the tracks' country (`"__overflow__"` too
/// once 256 countries have an overflow report), user data 0; the figures are
/// the sums of the folded reports, the window spans theirs.
pub const TRACKSTATS_FLAG_OVERFLOW: u32 = 8;
/// The participant and track id of an overflow report (`TRACKSTATS_FLAG_OVERFLOW`).
pub const TRACKSTATS_OVERFLOW_ID: &str = "__overflow__";

/// One (track, direction, window) delta.
#[derive(Clone, Debug)]
pub struct Report {
    pub key: TrackKey,
    pub direction: Direction,
    pub bytes: u64,
    pub messages: u64,
    /// Window start, Unix ns.
    pub start_unix_ns: u64,
    /// Window end, Unix ns.
    pub end_unix_ns: u64,
    /// `TRACKSTATS_FLAG_*` bits.
    pub flags: u32,
    /// Sequence counts from packet records (`Track::record_up_packet`): up
    /// reports only, zero elsewhere. A report whose only non-zero figures are
    /// these is still emitted.
    pub seq: SeqStats,
    /// Slot index and generation: which life of which slot this came from,
    /// so pending reports merge only with their own track.
    pub(crate) origin: (u32, u32),
}

impl Report {
    pub fn is_final(&self) -> bool {
        self.flags & TRACKSTATS_FLAG_FINAL != 0
    }
    pub fn is_late(&self) -> bool {
        self.flags & TRACKSTATS_FLAG_LATE != 0
    }
    pub fn is_merged(&self) -> bool {
        self.flags & TRACKSTATS_FLAG_MERGED != 0
    }

    /// Folds a later report of the same (track, direction) into this one.
    pub(crate) fn merge(&mut self, later: &Report) {
        debug_assert!(self.origin == later.origin && self.direction == later.direction);
        self.fold(later);
    }

    /// Adds `other`'s figures to this report's, spans both windows, and
    /// flags the result merged (also across tracks: the overflow reports).
    pub(crate) fn fold(&mut self, later: &Report) {
        self.bytes = self.bytes.wrapping_add(later.bytes);
        self.messages = self.messages.wrapping_add(later.messages);
        self.seq = self.seq + later.seq;
        self.start_unix_ns = self.start_unix_ns.min(later.start_unix_ns);
        self.end_unix_ns = self.end_unix_ns.max(later.end_unix_ns);
        self.flags |= later.flags | TRACKSTATS_FLAG_MERGED;
    }
}
