//! What the sampler hands to the host: keys, directions, flags and reports.

use crate::seq::SeqStats;
use std::sync::Arc;

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

/// The most bytes an id (participant, track or country) may have.
pub const TRACKSTATS_MAX_ID_BYTES: usize = 256;

/// Why a key was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyError {
    Empty,
    TooLong,
    InvalidUtf8,
}

/// The identity of one track's stats, copied at open and shared by its
/// reports. The three ids live in one buffer (with their lengths), so a key
/// costs two allocations, this and the `Arc` around it, not four.
#[derive(PartialEq, Eq)]
pub struct TrackKey {
    /// participant id, then track id, then country.
    ids: Box<str>,
    /// Byte lengths of the participant and track ids (each at most
    /// `TRACKSTATS_MAX_ID_BYTES`, so they fit).
    lens: [u16; 2],
    user_data: u64,
}

impl TrackKey {
    /// Validates and copies. Participant and track ids must be non-empty; every
    /// id must be at most `TRACKSTATS_MAX_ID_BYTES` bytes; country may be
    /// empty (unknown), as in LiveKit.
    pub fn new(participant_id: &str, track_id: &str, country: &str, user_data: u64) -> Result<TrackKey, KeyError> {
        if participant_id.is_empty() || track_id.is_empty() {
            return Err(KeyError::Empty);
        }
        if [participant_id, track_id, country].iter().any(|s| s.len() > TRACKSTATS_MAX_ID_BYTES) {
            return Err(KeyError::TooLong);
        }
        let ids = [participant_id, track_id, country].concat().into_boxed_str();
        Ok(TrackKey { ids, lens: [participant_id.len() as u16, track_id.len() as u16], user_data })
    }

    /// The same checks on raw bytes, UTF-8 validated.
    pub fn from_bytes(
        participant_id: &[u8],
        track_id: &[u8],
        country: &[u8],
        user_data: u64,
    ) -> Result<TrackKey, KeyError> {
        let s = |b| std::str::from_utf8(b).map_err(|_| KeyError::InvalidUtf8);
        TrackKey::new(s(participant_id)?, s(track_id)?, s(country)?, user_data)
    }

    pub fn participant_id(&self) -> &str {
        &self.ids[..self.lens[0] as usize]
    }

    pub fn track_id(&self) -> &str {
        let p = self.lens[0] as usize;
        &self.ids[p..p + self.lens[1] as usize]
    }

    /// Empty when unknown.
    pub fn country(&self) -> &str {
        &self.ids[(self.lens[0] + self.lens[1]) as usize..]
    }

    /// Opaque to trackstats; given back in every report.
    pub fn user_data(&self) -> u64 {
        self.user_data
    }
}

impl std::fmt::Debug for TrackKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrackKey")
            .field("participant_id", &self.participant_id())
            .field("track_id", &self.track_id())
            .field("country", &self.country())
            .field("user_data", &self.user_data)
            .finish()
    }
}

/// One (track, direction, window) delta.
#[derive(Clone, Debug)]
pub struct Report {
    pub key: Arc<TrackKey>,
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
        self.bytes = self.bytes.wrapping_add(later.bytes);
        self.messages = self.messages.wrapping_add(later.messages);
        self.seq = self.seq + later.seq;
        self.start_unix_ns = self.start_unix_ns.min(later.start_unix_ns);
        self.end_unix_ns = self.end_unix_ns.max(later.end_unix_ns);
        self.flags |= later.flags | TRACKSTATS_FLAG_MERGED;
    }
}
