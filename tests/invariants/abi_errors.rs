//! Invariant 8: bad input through the C ABI gets an error code and changes
//! nothing. (tests/bad_input.rs covers every argument; this is the core set.)

use crate::c_abi;
use std::ptr::{null, null_mut};
use trackstats::ffi::*;
use trackstats::TRACKSTATS_MAX_ID_BYTES;

fn open(reg: *mut trackstats_registry, p: &[u8], t: &[u8], c: &[u8]) -> trackstats_result {
    let (r, out) = c_abi::try_open(reg, p, t, c, 0);
    if r == trackstats_result::Ok {
        trackstats_track_release(out);
    } else {
        assert!(out.is_null(), "out written on failure");
    }
    r
}

#[test]
fn bad_input_gets_a_code_and_changes_nothing() {
    let mut cfg = trackstats_config_default();
    cfg.mode = TRACKSTATS_MODE_MANUAL;
    let mut reg = null_mut();
    assert_eq!(trackstats_registry_new(&cfg, &mut reg), trackstats_result::Ok);
    let long = vec![b'x'; TRACKSTATS_MAX_ID_BYTES + 1];
    assert_eq!(open(reg, b"\xff\xfe", b"t", b""), trackstats_result::InvalidUtf8);
    assert_eq!(open(reg, b"", b"t", b""), trackstats_result::EmptyId);
    assert_eq!(open(reg, b"p", &long, b""), trackstats_result::IdTooLong);
    assert_eq!(
        trackstats_track_open(reg, null(), 3, null(), 0, null(), 0, 0, null_mut()),
        trackstats_result::NullArgument
    );
    assert_eq!(trackstats_registry_tick(null_mut()), trackstats_result::NullArgument);
    let mut st = trackstats_stats::default();
    assert_eq!(trackstats_registry_stats(reg, &mut st), trackstats_result::Ok);
    assert_eq!((st.open_tracks, st.live_slots), (0, 0), "failed opens left nothing behind");
    assert_eq!(open(reg, b"p", b"t", b""), trackstats_result::Ok, "and the registry still works");
    trackstats_registry_free(reg);

    cfg.interval_ms = 0;
    let mut out = null_mut();
    assert_eq!(trackstats_registry_new(&cfg, &mut out), trackstats_result::InvalidInterval);
    assert!(out.is_null());
    // SAFETY: result_str returns a static NUL-terminated string.
    let name = unsafe { std::ffi::CStr::from_ptr(trackstats_result_str(987_654)) };
    assert_eq!(name.to_str().unwrap(), "unknown result code");
}
