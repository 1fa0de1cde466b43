//! `trackstats_batch`: a consumer's buffer of drained reports. Created by
//! `trackstats_batch_new`, freed by `trackstats_batch_free`, filled by
//! `trackstats_registry_drain`/`_wait`, read with `trackstats_batch_reports`.

use super::{arg, guard, guard_void, trackstats_result};
use crate::report::{Direction, Report};
use std::os::raw::c_char;

/// One (track, direction, window) delta. Strings are UTF-8, NOT
/// NUL-terminated, and borrowed from the batch (or, in a sink, from the call).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct trackstats_report {
    /// The `user_data` given at open.
    pub user_data: u64,
    pub bytes: u64,
    pub messages: u64,
    /// Window start and end, Unix ns.
    pub start_unix_ns: u64,
    pub end_unix_ns: u64,
    pub participant_id: *const c_char,
    pub participant_id_len: usize,
    pub track_id: *const c_char,
    pub track_id_len: usize,
    /// May be empty.
    pub country: *const c_char,
    pub country_len: usize,
    /// UP is LiveKit's UPSTREAM, DOWN its DOWNSTREAM.
    pub direction: Direction,
    /// `TRACKSTATS_FLAG_*` bits.
    pub flags: u32,
    /// Sequence counts from `trackstats_record_up_packet` in this window (up
    /// reports only; zero otherwise). A report is emitted when any of its
    /// figures is non-zero, these included. All are non-negative and add up
    /// across windows (and merged reports) to the track's cumulative counts.
    /// Packets missing from gaps in the sequence (at most 32767 per packet).
    pub packets_lost: u64,
    /// Late packets that filled a gap counted lost, possibly in an earlier
    /// window: net loss over any span is `packets_lost - packets_recovered`,
    /// which can be negative for a single window.
    pub packets_recovered: u64,
    /// Packets behind the highest sequence number seen (recovered or not).
    pub packets_out_of_order: u64,
    /// Packets repeating the highest sequence number seen.
    pub packets_duplicated: u64,
    /// Packets marked end of frame, duplicates excluded.
    pub frames: u64,
}

impl From<&Report> for trackstats_report {
    fn from(r: &Report) -> Self {
        let k = &r.key;
        trackstats_report {
            user_data: k.user_data(),
            bytes: r.bytes,
            messages: r.messages,
            start_unix_ns: r.start_unix_ns,
            end_unix_ns: r.end_unix_ns,
            participant_id: k.participant_id().as_ptr() as *const c_char,
            participant_id_len: k.participant_id().len(),
            track_id: k.track_id().as_ptr() as *const c_char,
            track_id_len: k.track_id().len(),
            country: k.country().as_ptr() as *const c_char,
            country_len: k.country().len(),
            direction: r.direction,
            flags: r.flags,
            packets_lost: r.seq.lost,
            packets_recovered: r.seq.recovered,
            packets_out_of_order: r.seq.out_of_order,
            packets_duplicated: r.seq.duplicated,
            frames: r.seq.frames,
        }
    }
}

/// A consumer's report buffer. Opaque; not thread-safe: one consumer thread
/// at a time.
pub struct trackstats_batch {
    reports: Vec<Report>,
    view: Vec<trackstats_report>,
    capacity: usize,
}

impl trackstats_batch {
    /// Empties the batch, lets `drain` add up to `capacity` reports, and
    /// rebuilds the C view over them.
    pub(crate) fn fill(&mut self, drain: impl FnOnce(&mut Vec<Report>, usize)) {
        self.view.clear();
        self.reports.clear();
        drain(&mut self.reports, self.capacity);
        self.view.extend(self.reports.iter().map(trackstats_report::from));
    }
}

/// Creates a batch holding up to `capacity` (>= 1) reports; on success writes
/// it to `*out`, owned by the caller. Any capacity from 1 to `SIZE_MAX` is
/// accepted: it is a bound on what one drain moves, not an allocation (the
/// batch preallocates room for at most 4096 reports and grows with what is
/// drained into it). Thread-safe.
///
/// Returns `OK`; `NULL_ARGUMENT` for a NULL `out`; `INVALID_CAPACITY` for a
/// capacity of 0; `PANIC` for a bug in trackstats (caught).
#[no_mangle]
pub extern "C" fn trackstats_batch_new(capacity: usize, out: *mut *mut trackstats_batch) -> trackstats_result {
    guard(|| {
        let out = arg!(mut out);
        if capacity == 0 {
            return trackstats_result::InvalidCapacity;
        }
        // Preallocate a sane amount; a huge capacity grows on demand.
        let pre = capacity.min(4096);
        *out = Box::into_raw(Box::new(trackstats_batch {
            reports: Vec::with_capacity(pre),
            view: Vec::with_capacity(pre),
            capacity,
        }));
        trackstats_result::Ok
    })
}

/// Frees a batch and the strings its reports borrowed. NULL is a no-op.
/// Must not race any other call using this batch, nor be followed by one.
#[no_mangle]
pub extern "C" fn trackstats_batch_free(batch: *mut trackstats_batch) {
    guard_void(|| {
        if !batch.is_null() {
            // SAFETY: a pointer from `trackstats_batch_new`, freed once.
            drop(unsafe { Box::from_raw(batch) });
        }
    })
}

/// The reports the last drain or wait put in the batch, and their count in
/// `*len`. Pointer and strings stay valid until the batch is filled again or
/// freed. A NULL batch gives NULL and `*len = 0`; `len` may be NULL.
/// Must not race a drain or wait into the same batch (one consumer thread
/// per batch); thread-safe otherwise.
#[no_mangle]
pub extern "C" fn trackstats_batch_reports(
    batch: *const trackstats_batch,
    len: *mut usize,
) -> *const trackstats_report {
    let mut out: (*const trackstats_report, usize) = (std::ptr::null(), 0);
    guard_void(|| {
        // SAFETY: NULL or a live batch, per the contract.
        if let Some(b) = unsafe { batch.as_ref() } {
            out = (b.view.as_ptr(), b.view.len());
        }
    });
    // SAFETY: NULL or valid for one write, per the contract.
    if let Some(l) = unsafe { len.as_mut() } {
        *l = out.1;
    }
    out.0
}
