//! What the Rust tests that drive the C ABI share: registries and tracks
//! made the way C code makes them, with the result checked.
#![allow(dead_code)] // each test binary uses its own part

use std::ptr::{null, null_mut};
use trackstats::ffi::*;

/// `trackstats_registry_new` with no sink, asserting it succeeded.
pub fn registry(mode: u32, interval_ms: u64) -> *mut trackstats_registry {
    let mut cfg = trackstats_config_default();
    cfg.mode = mode;
    cfg.interval_ms = interval_ms;
    let mut reg = null_mut();
    assert_eq!(trackstats_registry_new(&cfg, &mut reg), trackstats_result::Ok);
    assert!(!reg.is_null());
    reg
}

/// `trackstats_track_open` with ids as Rust strings or bytes (an empty
/// country goes as NULL): the result code and the handle, NULL unless OK.
pub fn try_open(
    reg: *mut trackstats_registry,
    participant: impl AsRef<[u8]>,
    track: impl AsRef<[u8]>,
    country: impl AsRef<[u8]>,
    user_data: u64,
) -> (trackstats_result, *mut trackstats_track) {
    let (p, t, c) = (participant.as_ref(), track.as_ref(), country.as_ref());
    let mut out = null_mut();
    let c_ptr = if c.is_empty() { null() } else { c.as_ptr().cast() };
    let rc = trackstats_track_open(
        reg,
        p.as_ptr().cast(),
        p.len(),
        t.as_ptr().cast(),
        t.len(),
        c_ptr,
        c.len(),
        user_data,
        &mut out,
    );
    (rc, out)
}

/// As `try_open`, asserting it succeeded.
pub fn open(
    reg: *mut trackstats_registry,
    participant: &str,
    track: &str,
    country: &str,
    user_data: u64,
) -> *mut trackstats_track {
    let (rc, t) = try_open(reg, participant, track, country, user_data);
    assert_eq!(rc, trackstats_result::Ok, "open {participant}/{track}");
    assert!(!t.is_null());
    t
}

/// Track `user` of participant "PA": track id "TR_{user}", no country,
/// `user` as its user data.
pub fn open_numbered(reg: *mut trackstats_registry, user: u64) -> *mut trackstats_track {
    open(reg, "PA", &format!("TR_{user}"), "", user)
}
