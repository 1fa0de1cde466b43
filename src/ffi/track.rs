//! `trackstats_track`: opened by `trackstats_track_open`, released by
//! `trackstats_track_release`. Functions: `trackstats_record_up`/`_down`,
//! `trackstats_record_up_packet`, `_close`, `_totals`, and for bindings
//! `_window_words`, `_slow_path` and `_packet_words`.
//!
//! A NULL track is a no-op everywhere: the relay/proxy case, where a copy of
//! a track on another node has no stats object so bytes are not counted twice.

use super::{arg, bytes, guard, guard_void, trackstats_registry, trackstats_result};
use crate::hosted::{HostedPacketWords, HostedWords};
use crate::hub::Core;
use crate::key::TrackKey;
use crate::registry::{Error, Registry};
use crate::report::Direction;
use crate::slot::Slot;
use crate::track::Track;
use std::os::raw::c_char;
use std::ptr::NonNull;

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
    /// Sequence counts of the up side, from `trackstats_record_up_packet`
    /// (zero without packet records); see `trackstats_report`. Each is what
    /// the reports so far added up to, plus the open window.
    pub up_packets_lost: u64,
    pub up_packets_recovered: u64,
    pub up_packets_out_of_order: u64,
    pub up_packets_duplicated: u64,
    pub up_frames: u64,
}

impl Track {
    /// This track's C handle, borrowed: valid while the Track lives. Lets a
    /// Rust host hand the track to C code that records or reads totals.
    pub fn as_ptr(&self) -> *mut trackstats_track {
        self.slot_ptr().cast()
    }
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
///
/// Returns `OK`; `NULL_ARGUMENT` for a NULL registry or `out`, or an id
/// pointer that is NULL with a non-zero length; `EMPTY_ID` for an empty
/// participant or track id; `ID_TOO_LONG` for an id over
/// `TRACKSTATS_MAX_ID_BYTES`; `INVALID_UTF8` for an id that is not UTF-8;
/// `FORKED` for a registry inherited from a parent process;
/// `REGISTRY_CLOSED` once the registry is closed; `TOO_MANY_TRACKS` when it
/// holds `trackstats_config.max_tracks` tracks (or every slot is in use);
/// `PANIC` for a bug in trackstats (caught). Checked in that order (the
/// lengths before the UTF-8 of any id).
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
        let ids = [(participant_id, participant_id_len), (track_id, track_id_len), (country, country_len)];
        open_with(registry, ids, user_data, out, |r, key| r.open(key))
    })
}

/// The common part of the opens: checks the arguments, makes the key, opens
/// with `open` and writes the handle.
fn open_with(
    registry: *mut trackstats_registry,
    ids: [(*const c_char, usize); 3],
    user_data: u64,
    out: *mut *mut trackstats_track,
    open: impl FnOnce(&Registry, TrackKey) -> Result<Track, Error>,
) -> trackstats_result {
    let r = arg!(registry);
    let out = arg!(mut out);
    // SAFETY: each pointer is NULL or valid for its length during the call.
    let [p, t, c] = ids.map(|(ptr, len)| unsafe { bytes(ptr, len) });
    let (Some(p), Some(t), Some(c)) = (p, t, c) else {
        return trackstats_result::NullArgument;
    };
    let key = match TrackKey::from_bytes(p, t, c, user_data) {
        Ok(k) => k,
        Err(e) => return Error::Key(e).into(),
    };
    match open(&r.inner, key) {
        Ok(track) => {
            *out = track.into_raw() as *mut trackstats_track;
            trackstats_result::Ok
        }
        Err(e) => e.into(),
    }
}

/// Opens a hosted track: as `trackstats_track_open` (same arguments, codes
/// and ownership), but the track's window words live in the host's memory,
/// in the block `words` of `TRACKSTATS_HOSTED_WORDS` `uint64_t`s, 8-byte
/// aligned (64-byte alignment keeps it on a cache line of its own). The
/// library resets the block before it returns and uses its window words as
/// it does its own until it lets go of the block.
///
/// The block, by word index:
/// - `TRACKSTATS_HOSTED_WORD_UP`, `TRACKSTATS_HOSTED_WORD_DOWN`: the window
///   words. The host records on them with the window-word rule (see
///   `trackstats_track_window_words`) and the slow path below; the library
///   loads and swaps them.
/// - `TRACKSTATS_HOSTED_WORD_LET_GO`: 0 while the library holds the block.
///   After the track's release has been processed (at once, or when its grace
///   ends: `trackstats_track_release_after_grace`), the library takes the
///   last windows (reported LATE), leaves both window words holding
///   `TRACKSTATS_WORD_SEALED` (plus whatever records add after), writes the
///   final totals, and last stores `TRACKSTATS_HOSTED_LET_GO` here with
///   release ordering. No record touches this word; the host reads it with
///   acquire ordering.
/// - word 3: reserved.
/// - `TRACKSTATS_HOSTED_WORD_TOTAL_UP_BYTES` and the three words after it
///   (up messages, down bytes, down messages): the track's final cumulative
///   totals, everything reported for it; valid once the host has seen the
///   let-go mark.
///
/// Who touches what: the host writes the window words only through the rule
/// and never writes the other words; the library touches the block from this
/// call until its let-go store and never after. Once the host has read the
/// let-go mark (acquire), the block is the host's alone: it may free or reuse
/// it as soon as no call of its own naming the track is in progress.
///
/// A host record of `n <= TRACKSTATS_MAX_INLINE_BYTES` bytes in direction
/// `d`, with `w = words` and `reg` the registry:
///
///   old = fetch_add(&w[d], TRACKSTATS_WORD_MESSAGE_ONE | n)
///   if old == 0 || (old & TRACKSTATS_WORD_SPILL_MASK) != 0:
///     if load_acquire(&w[TRACKSTATS_HOSTED_WORD_LET_GO]) == 0:
///       trackstats_track_slow_path(track, d, old)
///     if load_acquire(&w[TRACKSTATS_HOSTED_WORD_LET_GO]) != 0:
///       v = swap(&w[d], TRACKSTATS_WORD_SEALED) - TRACKSTATS_WORD_SEALED
///       trackstats_registry_count_stale(reg, v & TRACKSTATS_WORD_BYTES_MASK,
///                                       v >> TRACKSTATS_WORD_BYTES_BITS)
///
/// Sealed words send every record after the let-go to the last step: the
/// host takes its records off the word and has them counted as stale, and
/// never passes the released handle to the library once it has seen the
/// mark. (A slow-path call racing the let-go is safe, and its record is
/// found by the check after it, as long as the registry is not freed
/// meanwhile.) Larger records: `trackstats_record_up`/`_down` with the handle
/// while the block is held, `trackstats_registry_count_stale(reg, n, 1)`
/// after. Records through `trackstats_record_up`/`_down` on a hosted handle
/// work at any time before the release (through the slow path, each one a
/// few atomic operations more than on a library-owned track).
///
/// Thread-safe.
///
/// Returns what `trackstats_track_open` returns (`OK`, `NULL_ARGUMENT`,
/// `EMPTY_ID`, `ID_TOO_LONG`, `INVALID_UTF8`, `FORKED`, `REGISTRY_CLOSED`,
/// `TOO_MANY_TRACKS`, `PANIC`), and also `NULL_ARGUMENT` for a NULL `words`
/// and `INVALID_ARGUMENT` for `words` not 8-byte aligned, checked first.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn trackstats_track_open_hosted(
    registry: *mut trackstats_registry,
    participant_id: *const c_char,
    participant_id_len: usize,
    track_id: *const c_char,
    track_id_len: usize,
    country: *const c_char,
    country_len: usize,
    user_data: u64,
    words: *mut u64,
    out: *mut *mut trackstats_track,
) -> trackstats_result {
    guard(|| {
        if words.is_null() {
            return trackstats_result::NullArgument;
        }
        if (words as usize) % std::mem::align_of::<HostedWords>() != 0 {
            return trackstats_result::InvalidArgument;
        }
        let ids = [(participant_id, participant_id_len), (track_id, track_id_len), (country, country_len)];
        open_with(registry, ids, user_data, out, |r, key| {
            // SAFETY: non-null and aligned (checked above), valid for the
            // block's size until the let-go, per the contract.
            let words = unsafe { NonNull::new_unchecked(words.cast::<HostedWords>()) };
            // SAFETY: as above.
            unsafe { r.open_hosted(key, words) }
        })
    })
}

/// For a hosted track whose host applies the packet rule inline: attaches
/// its packet block, `words`, of `TRACKSTATS_HOSTED_PACKET_WORDS`
/// `uint64_t`s, 8-byte aligned, which the library resets before it returns.
/// Words `TRACKSTATS_PACKET_WORD_*` (0 to 5) are the packet words of
/// `trackstats_track_packet_words`, written by the host's packet rule (with
/// the window-word rule on the hosted up word); words 8 to 12 are the
/// library's (what it has reported) and the others reserved: the host writes
/// neither. The library lets go of this block with the window block (the
/// window block's let-go mark covers both).
///
/// Must not race a release of the track. Thread-safe otherwise.
///
/// Returns `OK` (also for a NULL track: a no-op); `NULL_ARGUMENT` for a NULL
/// `words`; `INVALID_ARGUMENT` when `words` is not 8-byte aligned, the track
/// is not hosted, or it already has packet words (attached before, or
/// installed by a packet recorded through `trackstats_record_up_packet` or
/// `trackstats_track_packet_words`); `PANIC` for a bug in trackstats
/// (caught).
#[no_mangle]
pub extern "C" fn trackstats_track_attach_packet_words(
    track: *mut trackstats_track,
    words: *mut u64,
) -> trackstats_result {
    guard(|| {
        let Some(s) = slot(track) else { return trackstats_result::Ok };
        if words.is_null() {
            return trackstats_result::NullArgument;
        }
        if (words as usize) % std::mem::align_of::<HostedPacketWords>() != 0 {
            return trackstats_result::InvalidArgument;
        }
        // SAFETY: non-null and aligned (checked above), valid for the block's
        // size until the let-go, per the contract.
        if s.attach_packet_words(unsafe { &*words.cast::<HostedPacketWords>() }) {
            trackstats_result::Ok
        } else {
            trackstats_result::InvalidArgument
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

/// As `trackstats_record_up`, for one message sent to a subscriber
/// (DOWNSTREAM). Thread-safe, also after close (reported late).
#[no_mangle]
pub extern "C" fn trackstats_record_down(track: *mut trackstats_track, bytes: u64) {
    if let Some(s) = slot(track) {
        s.record(Direction::Down, bytes);
    }
}

/// Records one data-track packet received from the publisher: as
/// `trackstats_record_up(track, bytes)`, plus its 16-bit sequence number
/// `seq` against the highest seen so far (mod 2^16): the same number again is
/// a duplicate; 1 to 32767 behind is out of order (and recovers one packet
/// counted lost, if any is outstanding); 1 to 32768 ahead advances the
/// highest to `seq`, the numbers skipped counted lost. The first packet starts the
/// stream. `end_of_frame` counts a frame (not on a duplicate). The counts are
/// reported per window in `trackstats_report` (up reports).
/// Lock-free; exact with one writer per track at a time. Concurrent writers
/// on one track stay memory-safe and keep bytes and messages exact, but may
/// under-count the sequence counts (see docs/seq.md). The first call on a
/// track allocates its 128-byte sequence block, once. NULL is a no-op; sizes
/// above `TRACKSTATS_MAX_RECORD_BYTES` reject the whole packet. Also after
/// close (reported late). Thread-safe in the sense above.
#[no_mangle]
pub extern "C" fn trackstats_record_up_packet(track: *mut trackstats_track, bytes: u64, seq: u16, end_of_frame: bool) {
    if let Some(s) = slot(track) {
        s.record_packet(bytes, seq, end_of_frame);
    }
}

/// Closes the track: its final reports (flagged FINAL) are produced within
/// milliseconds by the sampler thread (manual mode: at the next flush or
/// tick). The handle stays valid; bytes recorded after close are reported
/// flagged LATE. Thread-safe.
///
/// Returns `OK` (also for NULL and for a second close: no-ops, and for a
/// closed registry's track, which its close already flushed); `FORKED` for a
/// track of a registry inherited from a parent process; `PANIC` for a bug in
/// trackstats (caught).
#[no_mangle]
pub extern "C" fn trackstats_track_close(track: *mut trackstats_track) -> trackstats_result {
    guard(|| {
        if let Some(s) = slot(track) {
            if Core::of(s).inherited() {
                return trackstats_result::Forked;
            }
            Core::close_track(s);
        }
        trackstats_result::Ok
    })
}

/// Gives the handle back; closes first if still open (the registry's
/// `open_tracks` drops at once). Everything recorded before this call is
/// reported (late bytes flagged LATE). NULL is a no-op. Must not race any
/// other call on this handle; thread-safe with respect to every other handle
/// and the registry (also after `trackstats_registry_free`).
///
/// Release is the track's free: the handle must not be used again. What a
/// stale handle does anyway: when the sampler processes the release it takes
/// the last windows and seals the slot's window words
/// (`TRACKSTATS_WORD_SEALED`), and the slot waits in a quarantine
/// (`trackstats_config.quarantine_ms`, at most `quarantine_slots` slots,
/// left in release order) before another track may have it. A record
/// through the stale handle in that time takes the slow path and is counted
/// in `stale_records`/`stale_bytes` of the registry's stats, never reported
/// and never given to another track; with `TRACKSTATS_CONFIG_NEVER_REUSE`
/// that holds for ever. What remains undefined: a record through a stale
/// handle after its slot was reused counts into the track that has it now; any
/// other call than a record with a released handle (close, release, totals,
/// window or packet words, slow path); and any use of a handle once its
/// registry has been freed and every track of it released (the registry's
/// memory is gone).
#[no_mangle]
pub extern "C" fn trackstats_track_release(track: *mut trackstats_track) {
    guard_void(|| {
        if !track.is_null() {
            // SAFETY: a live handle from `trackstats_track_open`, released once
            // (the caller's contract).
            unsafe { Core::release_track(track as *const Slot, false) };
        }
    })
}

/// Gives the handle back as `trackstats_track_release` does (closing first
/// if still open, final reports at once), but the release takes effect only
/// after a grace: the sampler keeps taking the track's windows for
/// `trackstats_config.grace_ms` after it processes this call (or until more
/// than `grace_slots` newer tracks are in their grace), reporting them
/// LATE; then it seals the words (a hosted track's are let go) and the slot
/// goes to the quarantine. With the registry closed, the release takes effect
/// at once.
///
/// After this call the handle may still be recorded on (`trackstats_record_*`,
/// and the window-word rule with its slow path): reported LATE while the
/// grace lasts, counted in `stale_records` once it has ended, until the slot
/// is reused after its quarantine (then undefined: see
/// `trackstats_track_open`). No other call may name it. For a hosted track the
/// host tells the end of the grace by the block's let-go word. NULL is a
/// no-op. Must not race any other call on this handle but records; the
/// registry must not be freed while one may still be made. Thread-safe with
/// respect to every other handle.
#[no_mangle]
pub extern "C" fn trackstats_track_release_after_grace(track: *mut trackstats_track) {
    guard_void(|| {
        if !track.is_null() {
            // SAFETY: a live handle from `trackstats_track_open`, released once
            // (the caller's contract).
            unsafe { Core::release_track(track as *const Slot, true) };
        }
    })
}

/// Writes cumulative totals (every reported window plus the open one) to
/// `*out`. A NULL track gives zeros. Thread-safe.
///
/// Returns `OK`; `NULL_ARGUMENT` for a NULL `out`; `PANIC` for a bug in
/// trackstats (caught).
#[no_mangle]
pub extern "C" fn trackstats_track_totals(
    track: *const trackstats_track,
    out: *mut trackstats_totals,
) -> trackstats_result {
    guard(|| {
        let out = arg!(mut out);
        let t = slot(track).map(|s| s.totals()).unwrap_or_default();
        let q = slot(track).map(|s| s.seq_totals()).unwrap_or_default();
        *out = trackstats_totals {
            up_bytes: t[0].bytes,
            up_messages: t[0].messages,
            down_bytes: t[1].bytes,
            down_messages: t[1].messages,
            up_packets_lost: q.lost,
            up_packets_recovered: q.recovered,
            up_packets_out_of_order: q.out_of_order,
            up_packets_duplicated: q.duplicated,
            up_frames: q.frames,
        };
        trackstats_result::Ok
    })
}

/// For bindings that record inline (Go, C++): the address of the track's two
/// window words, `[0]` up and `[1]` down, valid until release. A record of
/// `n <= TRACKSTATS_MAX_INLINE_BYTES` is an atomic
/// `old = fetch_add(&w[d], TRACKSTATS_WORD_MESSAGE_ONE | n)`, followed by
/// `trackstats_track_slow_path(track, d, old)` when
/// `old == 0 || (old & TRACKSTATS_WORD_SPILL_MASK) != 0`; larger records go
/// through `trackstats_record_up`/`_down`. Skipping the call when `old == 0`
/// leaves the window unreported until the track's next mark or close. NULL
/// for NULL. Thread-safe, and so is the rule: any number of threads may add
/// to the words at once.
#[no_mangle]
pub extern "C" fn trackstats_track_window_words(track: *mut trackstats_track) -> *mut u64 {
    slot(track).map_or(std::ptr::null_mut(), |s| s.words_ptr())
}

/// The slow path of the window-word rule, given `old`, the value the
/// record's `fetch_add` on direction `direction`'s word (0 up, 1 down)
/// returned. `old == 0` (the window's first record) marks the track active,
/// so the sampler's next pass takes its window; `old` with a bit of
/// `TRACKSTATS_WORD_SPILL_MASK` set moves the word into the track's wide
/// accumulator. Any other `old` does nothing. About once per track,
/// direction and window. NULL or an unknown direction is a no-op.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn trackstats_track_slow_path(track: *mut trackstats_track, direction: u32, old: u64) {
    if let (Some(s), Some(d)) = (slot(track), Direction::from_u32(direction)) {
        s.slow_path(d, old);
    }
}

/// For bindings that apply the packet rule inline (Go): the address of the
/// track's `TRACKSTATS_PACKET_WORDS` packet words, indexed by
/// `TRACKSTATS_PACKET_WORD_*`, valid until release. The first call allocates
/// the track's sequence block; NULL for NULL, or if it cannot be allocated
/// (then use `trackstats_record_up_packet`). A packet of `n` bytes, sequence
/// number `s`, end-of-frame `f`, from the track's one writer, with atomic
/// 64-bit loads and stores on `p` (no read-modify-write needed):
///
///   if n > TRACKSTATS_MAX_INLINE_BYTES: call trackstats_record_up_packet; done.
///   st = load(p[STATE])
///   if (st & TRACKSTATS_PACKET_STARTED) == 0: store(p[STATE], STARTED | s)
///   else, with d = (uint16_t)(s - (uint16_t)st):
///     d == 0:     bump(p[DUPLICATED], 1); skip the frame step
///     d > 32768:  bump(p[OUT_OF_ORDER], 1);
///                 if load(p[LOST]) > load(p[RECOVERED]): bump(p[RECOVERED], 1)
///     otherwise:  if d > 1: bump(p[LOST], d - 1); store(p[STATE], STARTED | s)
///   frame step: if f: bump(p[FRAMES], 1)
///   then the bytes: the window-word rule on the up word
///   (`trackstats_track_window_words`), with a release or stronger add.
///
/// `bump(w, k)` is `store(w, load(w) + k)` (saturating at UINT64_MAX). The
/// stores must come before the add, which publishes them to the sampler.
/// The call is thread-safe; the rule is not (one writer per track at a time).
#[no_mangle]
pub extern "C" fn trackstats_track_packet_words(track: *mut trackstats_track) -> *mut u64 {
    slot(track).map_or(std::ptr::null_mut(), |s| s.packet_words_ptr())
}
