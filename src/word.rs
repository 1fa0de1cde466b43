//! The packed window word: the one rule every writer (Rust, C, Go, C++)
//! follows, so it lives in one place and is exported to the C header.
//!
//! Each direction of a track has one `u64` window word: messages in the high
//! `64 - TRACKSTATS_WORD_BYTES_BITS` bits, bytes in the low bits. A record of
//! `n <= TRACKSTATS_MAX_INLINE_BYTES` bytes is one
//! `fetch_add(TRACKSTATS_WORD_MESSAGE_ONE | n)`. The sampler takes a window with
//! one `swap(0)`, so one record's bytes and its count always land in the same
//! window, and a close racing a sample is exact by construction.
//!
//! Two rare cases take a slow path, `trackstats_track_slow_path(track, d, old)`,
//! given the value `old` the `fetch_add` returned. If `old` is 0, the record
//! is its window's first: the slow path marks the track active, so the
//! sampler visits only tracks that have something to take (once per track
//! and window). If `old` has any bit of `TRACKSTATS_WORD_SPILL_MASK` set (a
//! field is at least half full), it moves the whole word into a 128-bit
//! accumulator; that is how overflow is avoided. Half a field of headroom means a field can only
//! overflow if more than 2^23 writers (messages) or 2^15 writers adding the
//! largest inline record (bytes) all stall between their add and their spill on
//! one track. Records larger than `TRACKSTATS_MAX_INLINE_BYTES` skip the word
//! and go to the accumulator directly (`trackstats_record_up` does that).
//!
//! A word the library no longer takes windows from (a released track's,
//! until its slot is reused) holds `TRACKSTATS_WORD_SEALED`, which has both
//! spill bits set: every record through the rule then takes the slow path,
//! which puts the seal back and counts what it found as stale instead of
//! reporting it or giving it to another track. A sealed word stays sealed
//! under records (each record's slow path puts the seal back long before
//! either field could carry out of its top bit).

/// Bits of the window word that hold bytes.
pub const TRACKSTATS_WORD_BYTES_BITS: u32 = 40;
/// What one record adds to the message field: `1 << TRACKSTATS_WORD_BYTES_BITS`.
pub const TRACKSTATS_WORD_MESSAGE_ONE: u64 = 0x0000_0100_0000_0000;
/// Mask of the byte field.
pub const TRACKSTATS_WORD_BYTES_MASK: u64 = 0x0000_00FF_FFFF_FFFF;
/// The top bit of each field: when the old value has one set, spill.
pub const TRACKSTATS_WORD_SPILL_MASK: u64 = 0x8000_0080_0000_0000;
/// The value of a sealed window word: both spill bits, nothing else. A word
/// that reads as sealed (`(w & TRACKSTATS_WORD_SPILL_MASK) ==
/// TRACKSTATS_WORD_SPILL_MASK`) holds `w - TRACKSTATS_WORD_SEALED` of records
/// made after the seal.
pub const TRACKSTATS_WORD_SEALED: u64 = TRACKSTATS_WORD_SPILL_MASK;
/// The largest record that goes through the window word (16 MiB - 1).
pub const TRACKSTATS_MAX_INLINE_BYTES: u64 = 0x00FF_FFFF;
/// Records larger than this (1 TiB) are rejected: counted in the registry's
/// `records_rejected` and otherwise ignored. They can only come from a bug
/// such as a negative length cast to unsigned.
pub const TRACKSTATS_MAX_RECORD_BYTES: u64 = 0x0000_0100_0000_0000;

const _: () = {
    assert!(TRACKSTATS_WORD_MESSAGE_ONE == 1 << TRACKSTATS_WORD_BYTES_BITS);
    assert!(TRACKSTATS_WORD_BYTES_MASK == TRACKSTATS_WORD_MESSAGE_ONE - 1);
    assert!(TRACKSTATS_WORD_SPILL_MASK == (1 << 63) | (1 << (TRACKSTATS_WORD_BYTES_BITS - 1)));
    assert!(TRACKSTATS_MAX_INLINE_BYTES == (1 << 24) - 1);
    assert!(TRACKSTATS_MAX_RECORD_BYTES == 1 << 40);
};

/// The increment for one record of `bytes` (caller checked the inline limit).
#[inline(always)]
pub(crate) const fn increment(bytes: u64) -> u64 {
    TRACKSTATS_WORD_MESSAGE_ONE | bytes
}

/// Whether the value a `fetch_add` returned asks the writer to spill.
#[inline(always)]
pub(crate) const fn needs_spill(old: u64) -> bool {
    old & TRACKSTATS_WORD_SPILL_MASK != 0
}

/// Whether a word holds the seal (and whatever was added to it since): both
/// spill bits at once, which a live word never has (its writers spill at the
/// first of the two).
#[inline(always)]
pub(crate) const fn is_sealed(w: u64) -> bool {
    w & TRACKSTATS_WORD_SPILL_MASK == TRACKSTATS_WORD_SPILL_MASK
}

/// What was added to a sealed word since the seal.
#[inline]
pub(crate) const fn unseal(w: u64) -> Delta {
    Delta::from_word(w.wrapping_sub(TRACKSTATS_WORD_SEALED))
}

/// The records a taken word holds, sealed or not.
#[inline]
pub(crate) const fn taken(w: u64) -> Delta {
    if is_sealed(w) {
        unseal(w)
    } else {
        Delta::from_word(w)
    }
}

/// Whether the value a `fetch_add` returned sends the writer to the slow
/// path: a spill, or 0 (the first record of a window, which marks the track
/// for the sampler's next pass).
#[inline(always)]
pub(crate) const fn needs_slow_path(old: u64) -> bool {
    old == 0 || needs_spill(old)
}

/// Bytes and messages of one direction over some span.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Delta {
    pub bytes: u64,
    pub messages: u64,
}

impl Delta {
    pub const ZERO: Delta = Delta { bytes: 0, messages: 0 };

    #[inline]
    pub(crate) const fn from_word(w: u64) -> Delta {
        Delta { bytes: w & TRACKSTATS_WORD_BYTES_MASK, messages: w >> TRACKSTATS_WORD_BYTES_BITS }
    }

    /// The spill accumulator's layout: messages high, bytes low.
    #[inline]
    pub(crate) const fn to_wide(self) -> u128 {
        ((self.messages as u128) << 64) | self.bytes as u128
    }

    #[inline]
    pub(crate) const fn from_wide(w: u128) -> Delta {
        Delta { bytes: w as u64, messages: (w >> 64) as u64 }
    }

    #[inline]
    pub const fn is_zero(self) -> bool {
        self.bytes == 0 && self.messages == 0
    }

    #[inline]
    pub(crate) fn add(self, o: Delta) -> Delta {
        Delta { bytes: self.bytes.wrapping_add(o.bytes), messages: self.messages.wrapping_add(o.messages) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_round_trips() {
        let w = increment(1200).wrapping_mul(3);
        assert_eq!(Delta::from_word(w), Delta { bytes: 3600, messages: 3 });
        let d = Delta { bytes: u64::MAX - 1, messages: 7 };
        assert_eq!(Delta::from_wide(d.to_wide()), d);
    }

    #[test]
    fn spill_triggers_at_half_of_either_field() {
        assert!(!needs_spill(increment(TRACKSTATS_MAX_INLINE_BYTES)));
        assert!(needs_spill(1 << (TRACKSTATS_WORD_BYTES_BITS - 1)));
        assert!(needs_spill(1 << 63));
        assert!(!needs_spill((1 << 62) | ((1 << 38) - 1)));
    }

    #[test]
    fn a_sealed_word_sends_every_record_to_the_slow_path_and_keeps_its_count() {
        let mut w = TRACKSTATS_WORD_SEALED;
        for _ in 0..1000 {
            assert!(needs_slow_path(w) && is_sealed(w));
            w = w.wrapping_add(increment(TRACKSTATS_MAX_INLINE_BYTES));
        }
        assert_eq!(taken(w), Delta { bytes: 1000 * TRACKSTATS_MAX_INLINE_BYTES, messages: 1000 });
        assert_eq!(taken(increment(5)), Delta { bytes: 5, messages: 1 });
        // A live word at half of one field is not sealed.
        assert!(!is_sealed(1 << 63) && !is_sealed(1 << (TRACKSTATS_WORD_BYTES_BITS - 1)));
    }

    #[test]
    fn a_window_s_first_record_takes_the_slow_path_and_later_ones_do_not() {
        assert!(needs_slow_path(0));
        assert!(!needs_slow_path(increment(0)));
        assert!(!needs_slow_path(increment(1200)));
        assert!(needs_slow_path(1 << 63));
    }
}
