//! `trackstats_track`: opened by `trackstats_track_open`, released by
//! `trackstats_track_release`. Functions: `trackstats_record_up`/`_down`,
//! `_close`, `_totals`, and for bindings `_window_words` and `_spill`.
//!
//! A NULL track is a no-op everywhere: the relay/proxy case, where a copy of
//! a track on another node has no stats object so bytes are not counted twice.

use super::{arg, bytes, guard, guard_void, trackstats_registry, trackstats_result};
use crate::registry::{close_slot, release_slot};
use crate::report::{Direction, TrackKey};
use crate::slot::Slot;
use std::os::raw::c_char;

/// One track's stats handle. Opaque; its address is stable until release.
pub struct trackstats_track {
    _private: [u8; 0],
}

/// Cumulative totals of one track.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct trackstats_totals {
    pub up_bytes: u64,
    pub up_messages: u64,
    pub down_bytes: u64,
    pub down_messages: u64,
}

#[inline(always)]
fn slot<'a>(t: *const trackstats_track) -> Option<&'a Slot> {
    // SAFETY: NULL or a live handle from `trackstats_track_open` (the handle
    // is the slot's address), per every function's contract.
    unsafe { (t as *const Slot).as_ref() }
}

/// Opens a track in `registry`. Ids are (pointer, length) UTF-8, copied
/// before return; participant and track ids must be non-empty, each id at
/// most `TRACKSTATS_MAX_ID_BYTES`; `country` may be empty (pointer may then be
/// NULL). `user_data` is given back in every report. On success writes the
/// handle to `*out`, owned by the caller until `trackstats_track_release`; it
/// stays valid even after the registry is freed. Thread-safe.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn trackstats_track_open(
    registry: *mut trackstats_registry,
    participant_id: *const c_char,
    participant_id_len: usize,
    track_id: *const c_char,
    track_id_len: usize,
    country: *const c_char,
    country_len: usize,
    user_data: u64,
    out: *mut *mut trackstats_track,
) -> trackstats_result {
    guard(|| {
        let r = arg!(registry);
        let out = arg!(mut out);
        // SAFETY: each pointer is NULL or valid for its length during the call.
        let ids = unsafe {
            (bytes(participant_id, participant_id_len), bytes(track_id, track_id_len), bytes(country, country_len))
        };
        let (Some(p), Some(t), Some(c)) = ids else {
            return trackstats_result::NullArgument;
        };
        let key = match TrackKey::from_bytes(p, t, c, user_data) {
            Ok(k) => k,
            Err(e) => return crate::registry::Error::Key(e).into(),
        };
        match r.inner.open(key) {
            Ok(track) => {
                *out = track.into_raw() as *mut trackstats_track;
                trackstats_result::Ok
            }
            Err(e) => e.into(),
        }
    })
}

/// Records one message of `bytes` received from the publisher (UPSTREAM).
/// The hot path: one atomic add, no lock, no allocation, never blocks.
/// NULL is a no-op. Sizes above `TRACKSTATS_MAX_RECORD_BYTES` are counted as
/// rejected and ignored. Thread-safe, also after close (reported late).
#[no_mangle]
pub extern "C" fn trackstats_record_up(track: *mut trackstats_track, bytes: u64) {
    if let Some(s) = slot(track) {
        s.record(Direction::Up, bytes);
    }
}

/// As `trackstats_record_up`, for one message sent to a subscriber (DOWNSTREAM).
#[no_mangle]
pub extern "C" fn trackstats_record_down(track: *mut trackstats_track, bytes: u64) {
    if let Some(s) = slot(track) {
        s.record(Direction::Down, bytes);
    }
}

/// Closes the track: its final reports (flagged FINAL) are produced within
/// milliseconds by the sampler thread (manual mode: at the next flush or
/// tick). The handle stays valid; bytes recorded after close are reported
/// flagged LATE. NULL and a second close are no-ops returning OK. Thread-safe.
#[no_mangle]
pub extern "C" fn trackstats_track_close(track: *mut trackstats_track) -> trackstats_result {
    guard(|| {
        if let Some(s) = slot(track) {
            close_slot(s);
        }
        trackstats_result::Ok
    })
}

/// Gives the handle back; closes first if still open. Everything recorded
/// before this call is reported (late bytes flagged LATE); the slot is reused
/// only after that. The handle must not be used again by any thread: release
/// is the track's free. NULL is a no-op.
#[no_mangle]
pub extern "C" fn trackstats_track_release(track: *mut trackstats_track) {
    guard_void(|| {
        if !track.is_null() {
            // SAFETY: a live handle from `trackstats_track_open`, released once
            // (the caller's contract).
            unsafe { release_slot(track as *const Slot) };
        }
    })
}

/// Writes cumulative totals (every reported window plus the open one) to
/// `*out`. A NULL track gives zeros. Thread-safe.
#[no_mangle]
pub extern "C" fn trackstats_track_totals(
    track: *const trackstats_track,
    out: *mut trackstats_totals,
) -> trackstats_result {
    guard(|| {
        let out = arg!(mut out);
        let t = slot(track).map(|s| s.totals()).unwrap_or_default();
        *out = trackstats_totals {
            up_bytes: t[0].bytes,
            up_messages: t[0].messages,
            down_bytes: t[1].bytes,
            down_messages: t[1].messages,
        };
        trackstats_result::Ok
    })
}

/// For bindings that record inline (Go, C++): the address of the track's two
/// window words, `[0]` up and `[1]` down, valid until release. A record of
/// `n <= TRACKSTATS_MAX_INLINE_BYTES` is an atomic
/// `old = fetch_add(&w[d], TRACKSTATS_WORD_MESSAGE_ONE | n)`, followed by
/// `trackstats_track_spill(track, d)` when `old & TRACKSTATS_WORD_SPILL_MASK`;
/// larger records go through `trackstats_record_up`/`_down`. NULL for NULL.
#[no_mangle]
pub extern "C" fn trackstats_track_window_words(track: *mut trackstats_track) -> *mut u64 {
    slot(track).map_or(std::ptr::null_mut(), |s| s.words_ptr())
}

/// The slow path of the window-word rule: moves direction `direction`'s word
/// (0 up, 1 down) into the track's wide accumulator. NULL or an unknown
/// direction is a no-op. Thread-safe.
#[no_mangle]
pub extern "C" fn trackstats_track_spill(track: *mut trackstats_track, direction: u32) {
    if let (Some(s), Some(d)) = (slot(track), Direction::from_u32(direction)) {
        s.spill_word(d);
    }
}
