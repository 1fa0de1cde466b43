//! The Prometheus exposition through the C ABI: `trackstats_registry_prometheus`
//! returns an owned string freed with `trackstats_string_free`.

use super::{arg, bytes, guard, guard_void, trackstats_registry, trackstats_result};
use crate::prometheus::PrometheusOptions;
use std::ffi::CString;
use std::os::raw::c_char;

/// What `trackstats_registry_prometheus` renders. Zeroed = the defaults.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct trackstats_prometheus_options {
    /// Also render the per-track series, one per admitted (track,
    /// direction), and the overflow series. This calls
    /// `trackstats_registry_set_track_series(registry, max_track_series)`:
    /// series appear from the next window pass on.
    pub per_track: bool,
    /// At most this many per-track series at once; the rest sum into one
    /// series per direction with `track_id="__overflow__"`.
    pub max_track_series: u32,
    /// A constant `node_id` label on every series (UTF-8, pointer + length;
    /// none when the length is 0; a NULL pointer with a non-zero length is
    /// `NULL_ARGUMENT`).
    pub node_id: *const c_char,
    pub node_id_len: usize,
}

/// Renders the registry in the Prometheus text exposition format from one
/// read of `trackstats_registry_figures` (so every figure is the same as
/// there): cumulative `trackstats_bytes_total` / `_messages_total` by
/// `direction` (incoming = UPSTREAM, outgoing = DOWNSTREAM) and `country`,
/// optional per-track series, health. `options` may be NULL for the
/// defaults. On success `*out` is a NUL-terminated string owned by the
/// caller (free it with `trackstats_string_free`) and `*out_len`, if
/// `out_len` is not NULL, its length without the NUL. Never waits for the
/// sampler, a window pass or a sink; works from inside the sink (its own
/// registry's too) and after `trackstats_registry_close`. Thread-safe.
///
/// Returns `OK`; `NULL_ARGUMENT` for a NULL registry or `out`, or a NULL
/// `node_id` with a non-zero length; `INVALID_UTF8` for a `node_id` that is
/// not UTF-8; `FORKED` for a registry inherited from a parent process;
/// `PANIC` for a bug in trackstats (caught).
#[no_mangle]
pub extern "C" fn trackstats_registry_prometheus(
    registry: *const trackstats_registry,
    options: *const trackstats_prometheus_options,
    out: *mut *mut c_char,
    out_len: *mut usize,
) -> trackstats_result {
    guard(|| {
        let r = arg!(registry);
        let out = arg!(mut out);
        let mut o = PrometheusOptions::default();
        // SAFETY: NULL or valid for the call, per the contract.
        if let Some(c) = unsafe { options.as_ref() } {
            o.per_track = c.per_track;
            o.max_track_series = c.max_track_series;
            // SAFETY: NULL or valid for `node_id_len` bytes.
            match unsafe { bytes(c.node_id, c.node_id_len) }.map(std::str::from_utf8) {
                None => return trackstats_result::NullArgument,
                Some(Err(_)) => return trackstats_result::InvalidUtf8,
                Some(Ok("")) => {}
                Some(Ok(n)) => o.node_id = Some(n.to_string()),
            }
        }
        let text = match r.inner.prometheus(&o) {
            Ok(t) => t,
            Err(e) => return e.into(),
        };
        // Ids are UTF-8 and may, in principle, hold NUL; drop it from label
        // values rather than fail or truncate the exposition.
        let c = CString::new(text).unwrap_or_else(|e| {
            let mut v = e.into_vec();
            v.retain(|&b| b != 0);
            CString::new(v).expect("NULs removed")
        });
        // SAFETY: NULL or valid for one write.
        if let Some(l) = unsafe { out_len.as_mut() } {
            *l = c.as_bytes().len();
        }
        *out = c.into_raw();
        trackstats_result::Ok
    })
}

/// Frees a string returned by trackstats (`trackstats_registry_prometheus`).
/// NULL is a no-op. Thread-safe; must not race another use of the same
/// string, and each string is freed once.
#[no_mangle]
pub extern "C" fn trackstats_string_free(s: *mut c_char) {
    guard_void(|| {
        if !s.is_null() {
            // SAFETY: `s` came from `CString::into_raw` in this library, freed once.
            drop(unsafe { CString::from_raw(s) });
        }
    })
}
