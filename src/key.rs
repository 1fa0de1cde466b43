//! A track's identity: participant id, track id, country and the host's
//! `user_data`, copied once at open into one reference-counted block that
//! the slot and every report of the track share.

use std::alloc::{handle_alloc_error, Layout};
use std::ptr::NonNull;
// Not `crate::sync`: like the `Arc` it replaces, the count is not part of the
// protocols the loom models check.
use std::sync::atomic::{fence, AtomicU32, Ordering::*};

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
/// reports. One allocation holds everything:
/// `[count: u32][lengths: 3 x u16][user_data: u64][participant id][track id]
/// [country]`, reference counted like an `Arc` but with a 4-byte count and
/// no weak count, so the header is 18 bytes (benches/notes.md has what that
/// saves per key). Clones (one per report) cost a count.
pub struct TrackKey(NonNull<u8>);

// SAFETY: the block is immutable after `new` but for its count, which is
// atomic; the last handle frees it, as with `Arc<[u8]>`.
unsafe impl Send for TrackKey {}
unsafe impl Sync for TrackKey {}

/// The count is the block's first 4 bytes; the rest (`fixed`, from here on)
/// is written once by `new` and only read after, so it can be borrowed as
/// bytes while other threads change the count.
const FIXED_AT: usize = 4;
/// Offsets in the fixed part: the three lengths, then the user data.
const LENS_AT: usize = 0;
const USER_DATA_AT: usize = 6;
/// Fixed bytes before the ids.
const FIXED_HEADER: usize = 14;
/// Block bytes before the ids.
const KEY_HEADER: usize = FIXED_AT + FIXED_HEADER;
/// More handles than this is a leak of counts (as `Arc`'s limit): abort
/// rather than let the count wrap and free a block in use.
const MAX_COUNT: u32 = u32::MAX / 2;

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
        let layout = Self::layout(ids.iter().map(|s| s.len()).sum());
        // SAFETY: the layout has a non-zero size (at least the header).
        let p = NonNull::new(unsafe { std::alloc::alloc(layout) }).unwrap_or_else(|| handle_alloc_error(layout));
        // SAFETY: `p` is valid for `layout.size()` bytes, aligned to 8; each
        // write below stays inside it (the header, then the ids' total).
        unsafe {
            p.as_ptr().cast::<AtomicU32>().write(AtomicU32::new(1));
            let fixed = p.as_ptr().add(FIXED_AT);
            fixed.add(USER_DATA_AT).copy_from_nonoverlapping(user_data.to_le_bytes().as_ptr(), 8);
            let mut at = KEY_HEADER;
            for (k, id) in ids.iter().enumerate() {
                fixed.add(LENS_AT + 2 * k).copy_from_nonoverlapping((id.len() as u16).to_le_bytes().as_ptr(), 2);
                std::ptr::copy_nonoverlapping(id.as_ptr(), p.as_ptr().add(at), id.len());
                at += id.len();
            }
        }
        Ok(TrackKey(p))
    }

    /// The same checks on raw bytes, UTF-8 validated.
    pub fn from_bytes(
        participant_id: &[u8],
        track_id: &[u8],
        country: &[u8],
        user_data: u64,
    ) -> Result<TrackKey, KeyError> {
        // The cheap checks first, so an absurdly long id is refused for its
        // length without being read through, in the order `new` makes them.
        if participant_id.is_empty() || track_id.is_empty() {
            return Err(KeyError::Empty);
        }
        if [participant_id, track_id, country].iter().any(|b| b.len() > TRACKSTATS_MAX_ID_BYTES) {
            return Err(KeyError::TooLong);
        }
        let s = |b| std::str::from_utf8(b).map_err(|_| KeyError::InvalidUtf8);
        TrackKey::new(s(participant_id)?, s(track_id)?, s(country)?, user_data)
    }

    /// The block's layout for ids of `ids_len` bytes in all.
    fn layout(ids_len: usize) -> Layout {
        Layout::from_size_align(KEY_HEADER + ids_len, 8).expect("a key of at most 3 x 256 id bytes")
    }

    /// The fixed part: lengths, user data and ids, written once by `new`.
    fn fixed(&self) -> &[u8] {
        // SAFETY: a live key holds its header, initialized; the lengths in
        // it give the ids that follow, all initialized by `new` and never
        // written again. The count, which is, lies before this range.
        unsafe {
            let p = self.0.as_ptr().add(FIXED_AT);
            let header = std::slice::from_raw_parts(p, FIXED_HEADER);
            let len = FIXED_HEADER + (0..3).map(|k| Self::len_of(header, k)).sum::<usize>();
            std::slice::from_raw_parts(p, len)
        }
    }

    fn count(&self) -> &AtomicU32 {
        // SAFETY: `new` placed an initialized AtomicU32 at the start of the
        // block (8-aligned); it lives as long as the block.
        unsafe { &*self.0.as_ptr().cast::<AtomicU32>() }
    }

    fn len_of(header: &[u8], k: usize) -> usize {
        u16::from_le_bytes([header[LENS_AT + 2 * k], header[LENS_AT + 1 + 2 * k]]) as usize
    }

    /// Id `k` (0 participant, 1 track, 2 country).
    fn id(&self, k: usize) -> &str {
        let b = self.fixed();
        let start = FIXED_HEADER + (0..k).map(|j| Self::len_of(b, j)).sum::<usize>();
        let b = &b[start..start + Self::len_of(b, k)];
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
        u64::from_le_bytes(self.fixed()[USER_DATA_AT..USER_DATA_AT + 8].try_into().expect("8 header bytes"))
    }

    /// The key as one thin pointer (a slot has room for one word), owning
    /// this handle's count. `from_raw` gives it back.
    pub(crate) fn into_raw(self) -> *mut u8 {
        std::mem::ManuallyDrop::new(self).0.as_ptr()
    }

    /// A new handle from a pointer of `into_raw`, without taking its count.
    ///
    /// # Safety
    /// `p` came from `into_raw` and its count has not been given back.
    pub(crate) unsafe fn clone_raw(p: *const u8) -> TrackKey {
        // SAFETY: per the contract, `p` is a live key, kept alive by the
        // caller's count while we add ours.
        let borrowed = std::mem::ManuallyDrop::new(unsafe { Self::from_raw(p) });
        (*borrowed).clone()
    }

    /// Takes back the handle `into_raw` made.
    ///
    /// # Safety
    /// As `clone_raw`, and `p` is not used again.
    pub(crate) unsafe fn from_raw(p: *const u8) -> TrackKey {
        // SAFETY: `into_raw` returned a non-null block pointer.
        TrackKey(unsafe { NonNull::new_unchecked(p as *mut u8) })
    }
}

impl Clone for TrackKey {
    fn clone(&self) -> TrackKey {
        // Relaxed: a new handle is made from a live one, whose count keeps
        // the block alive meanwhile; no data is published (as `Arc::clone`).
        if self.count().fetch_add(1, Relaxed) > MAX_COUNT {
            std::process::abort();
        }
        TrackKey(self.0)
    }
}

impl Drop for TrackKey {
    fn drop(&mut self) {
        // Release: pairs with the Acquire fence below in the thread that drops
        // the last handle, so every use of the block through another handle
        // happens before it is freed (as `Arc`'s drop).
        if self.count().fetch_sub(1, Release) != 1 {
            return;
        }
        fence(Acquire);
        let layout = Self::layout(self.fixed().len() - FIXED_HEADER);
        // SAFETY: this was the last handle; the block came from `alloc` with
        // this layout (the lengths in it are those `new` wrote).
        unsafe { std::alloc::dealloc(self.0.as_ptr(), layout) }
    }
}

impl PartialEq for TrackKey {
    fn eq(&self, other: &TrackKey) -> bool {
        // Everything but the count: lengths, user data and ids.
        self.fixed() == other.fixed()
    }
}

impl Eq for TrackKey {}

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
            assert_eq!(k.count().load(Relaxed), 3, "clone_raw took one count, from_raw gave the raw one back");
        }
    }

    #[test]
    fn a_key_is_its_ids_plus_18_bytes_and_counts_across_threads() {
        // A typical LiveKit key: 15 + 15 + 2 id bytes in a 50-byte block.
        let k = TrackKey::new("PA_abcdefghijkl", "TR_abcdefghijkl", "US", 7).unwrap();
        assert_eq!(TrackKey::layout(k.fixed().len() - FIXED_HEADER).size(), 50);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    let mut held = Vec::new();
                    for _ in 0..10_000 {
                        held.push(k.clone());
                        if held.len() > 16 {
                            held.clear();
                        }
                    }
                });
            }
        });
        assert_eq!(k.count().load(Relaxed), 1, "every clone gave its count back");
        assert_eq!(
            (k.participant_id(), k.track_id(), k.country(), k.user_data()),
            ("PA_abcdefghijkl", "TR_abcdefghijkl", "US", 7)
        );
        assert_ne!(k, TrackKey::new("PA_abcdefghijkl", "TR_abcdefghijkl", "US", 8).unwrap());
        assert_eq!(k, TrackKey::new("PA_abcdefghijkl", "TR_abcdefghijkl", "US", 7).unwrap());
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
