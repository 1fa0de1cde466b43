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
/// reports. One allocation holds everything: a cheap handle (a reference
/// count) to `[user_data: u64][lengths: 3 x u16][participant id][track id]
/// [country]`, so a key costs one malloc chunk, and clones (one per report)
/// cost a count.
#[derive(Clone, PartialEq, Eq)]
pub struct TrackKey(Arc<[u8]>);

/// Bytes before the ids: `user_data` and the three id lengths.
const KEY_HEADER: usize = 8 + 3 * 2;

impl TrackKey {
    /// Validates and copies. Participant and track ids must be non-empty; every
    /// id must be at most `TRACKSTATS_MAX_ID_BYTES` bytes; country may be
    /// empty (unknown), as in LiveKit.
    pub fn new(participant_id: &str, track_id: &str, country: &str, user_data: u64) -> Result<TrackKey, KeyError> {
        if participant_id.is_empty() || track_id.is_empty() {
            return Err(KeyError::Empty);
        }
        let ids = [participant_id, track_id, country];
        if ids.iter().any(|s| s.len() > TRACKSTATS_MAX_ID_BYTES) {
            return Err(KeyError::TooLong);
        }
        // Assembled on the stack, so the `Arc` allocation is the only one.
        let mut buf = [0u8; KEY_HEADER + 3 * TRACKSTATS_MAX_ID_BYTES];
        buf[..8].copy_from_slice(&user_data.to_le_bytes());
        let mut at = KEY_HEADER;
        for (k, id) in ids.iter().enumerate() {
            buf[8 + 2 * k..10 + 2 * k].copy_from_slice(&(id.len() as u16).to_le_bytes());
            buf[at..at + id.len()].copy_from_slice(id.as_bytes());
            at += id.len();
        }
        Ok(TrackKey(Arc::from(&buf[..at])))
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

    fn len_of(header: &[u8], k: usize) -> usize {
        u16::from_le_bytes([header[8 + 2 * k], header[9 + 2 * k]]) as usize
    }

    /// Id `k` (0 participant, 1 track, 2 country).
    fn id(&self, k: usize) -> &str {
        let start = KEY_HEADER + (0..k).map(|j| Self::len_of(&self.0, j)).sum::<usize>();
        let b = &self.0[start..start + Self::len_of(&self.0, k)];
        // SAFETY: `new` copied these bytes from a `&str` and nothing writes
        // them after; the lengths split at the same boundaries.
        unsafe { std::str::from_utf8_unchecked(b) }
    }

    pub fn participant_id(&self) -> &str {
        self.id(0)
    }

    pub fn track_id(&self) -> &str {
        self.id(1)
    }

    /// Empty when unknown.
    pub fn country(&self) -> &str {
        self.id(2)
    }

    /// Opaque to trackstats; given back in every report.
    pub fn user_data(&self) -> u64 {
        u64::from_le_bytes(self.0[..8].try_into().expect("8 header bytes"))
    }

    /// The key as one thin pointer (a slot has room for one word), owning
    /// this handle's count. `from_raw` gives it back.
    pub(crate) fn into_raw(self) -> *mut u8 {
        Arc::into_raw(self.0) as *const u8 as *mut u8
    }

    /// A new handle from a pointer of `into_raw`, without taking its count.
    ///
    /// # Safety
    /// `p` came from `into_raw` and its count has not been given back.
    pub(crate) unsafe fn clone_raw(p: *const u8) -> TrackKey {
        // SAFETY: per the contract, `p` is a live key; bumping the count
        // first keeps the caller's count while this handle owns a new one.
        unsafe {
            let fat = Self::fat(p);
            Arc::increment_strong_count(fat);
            TrackKey(Arc::from_raw(fat))
        }
    }

    /// Takes back the handle `into_raw` made.
    ///
    /// # Safety
    /// As `clone_raw`, and `p` is not used again.
    pub(crate) unsafe fn from_raw(p: *const u8) -> TrackKey {
        // SAFETY: per the contract.
        TrackKey(unsafe { Arc::from_raw(Self::fat(p)) })
    }

    /// The slice pointer `Arc::into_raw` returned, rebuilt from its data
    /// address and the lengths stored in the header.
    ///
    /// # Safety
    /// `p` is the data address of a live key.
    unsafe fn fat(p: *const u8) -> *const [u8] {
        // SAFETY: a live key holds at least its header, initialized.
        let header = unsafe { std::slice::from_raw_parts(p, KEY_HEADER) };
        let len = KEY_HEADER + (0..3).map(|k| Self::len_of(header, k)).sum::<usize>();
        std::ptr::slice_from_raw_parts(p, len)
    }
}

impl std::fmt::Debug for TrackKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrackKey")
            .field("participant_id", &self.participant_id())
            .field("track_id", &self.track_id())
            .field("country", &self.country())
            .field("user_data", &self.user_data())
            .finish()
    }
}

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
        self.bytes = self.bytes.wrapping_add(later.bytes);
        self.messages = self.messages.wrapping_add(later.messages);
        self.seq = self.seq + later.seq;
        self.start_unix_ns = self.start_unix_ns.min(later.start_unix_ns);
        self.end_unix_ns = self.end_unix_ns.max(later.end_unix_ns);
        self.flags |= later.flags | TRACKSTATS_FLAG_MERGED;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_keeps_its_ids_and_user_data_in_one_block() {
        let long = "é".repeat(TRACKSTATS_MAX_ID_BYTES / 2);
        for (p, t, c) in [("PA_1", "TR_1", ""), ("p", &long[..], "SE"), (&long[..], &long[..], &long[..])] {
            let k = TrackKey::new(p, t, c, u64::MAX - 3).unwrap();
            assert_eq!((k.participant_id(), k.track_id(), k.country(), k.user_data()), (p, t, c, u64::MAX - 3));
            let raw = k.clone().into_raw();
            // SAFETY: `raw` is from `into_raw` and its count is still held.
            let (c1, back) = unsafe { (TrackKey::clone_raw(raw), TrackKey::from_raw(raw)) };
            assert_eq!(c1, k);
            assert_eq!(back, k);
            assert_eq!(Arc::strong_count(&k.0), 3, "clone_raw took one count, from_raw gave the raw one back");
        }
    }

    #[test]
    fn bad_keys_are_refused() {
        let long = "x".repeat(TRACKSTATS_MAX_ID_BYTES + 1);
        assert_eq!(TrackKey::new("", "t", "", 0), Err(KeyError::Empty));
        assert_eq!(TrackKey::new("p", "", "", 0), Err(KeyError::Empty));
        assert_eq!(TrackKey::new("p", "t", &long, 0), Err(KeyError::TooLong));
        assert_eq!(TrackKey::from_bytes(b"p", b"\xff", b"", 0), Err(KeyError::InvalidUtf8));
    }
}
