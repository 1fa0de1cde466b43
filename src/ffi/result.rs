//! Result codes, their names, and the library version.

use crate::key::KeyError;
use crate::registry::Error;
use std::os::raw::c_char;

/// What a fallible call returns. `TRACKSTATS_RESULT_OK` is 0; any other value
/// means nothing was written to the out-parameters. New codes may be added:
/// treat unknown values as errors and name them with `trackstats_result_str`.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum trackstats_result {
    Ok = 0,
    /// A required pointer argument was NULL.
    NullArgument = 1,
    /// An id was not valid UTF-8.
    InvalidUtf8 = 2,
    /// The participant or track id was empty.
    EmptyId = 3,
    /// An id was longer than `TRACKSTATS_MAX_ID_BYTES`.
    IdTooLong = 4,
    /// The interval was outside 1 ms ..= 1 hour.
    InvalidInterval = 5,
    /// A batch capacity of 0.
    InvalidCapacity = 6,
    /// An unknown mode or direction value.
    InvalidArgument = 7,
    /// The registry is closed (and, for `wait`, has nothing left to drain).
    RegistryClosed = 8,
    /// `trackstats_registry_tick` on a registry with a sampler thread.
    WrongMode = 9,
    /// Called from inside the sink in a way that would need the sampler role
    /// the sink's caller holds (tick, flush, or close of a manual registry).
    ReentrantCall = 10,
    /// Every slot index is in use.
    TooManyTracks = 11,
    /// The sampler thread could not be started.
    ThreadSpawnFailed = 12,
    /// A bug inside trackstats was caught at the boundary; state is unchanged
    /// where the call had not yet acted.
    Panic = 13,
}

impl From<Error> for trackstats_result {
    fn from(e: Error) -> Self {
        match e {
            Error::Closed => trackstats_result::RegistryClosed,
            Error::InvalidInterval => trackstats_result::InvalidInterval,
            Error::Key(KeyError::Empty) => trackstats_result::EmptyId,
            Error::Key(KeyError::TooLong) => trackstats_result::IdTooLong,
            Error::Key(KeyError::InvalidUtf8) => trackstats_result::InvalidUtf8,
            Error::TooManyTracks => trackstats_result::TooManyTracks,
            Error::ThreadSpawn => trackstats_result::ThreadSpawnFailed,
            Error::WrongMode => trackstats_result::WrongMode,
            Error::Reentrant => trackstats_result::ReentrantCall,
        }
    }
}

/// A static, NUL-terminated name for any result value, known or not.
/// Never NULL; the string lives for the whole process. Thread-safe.
#[no_mangle]
pub extern "C" fn trackstats_result_str(result: u32) -> *const c_char {
    let s: &'static [u8] = match result {
        0 => b"ok\0",
        1 => b"a required pointer argument was NULL\0",
        2 => b"an id is not valid UTF-8\0",
        3 => b"the participant or track id is empty\0",
        4 => b"an id is longer than TRACKSTATS_MAX_ID_BYTES\0",
        5 => b"the interval is outside 1 ms ..= 1 hour\0",
        6 => b"the batch capacity is 0\0",
        7 => b"an unknown mode or direction value\0",
        8 => b"the registry is closed\0",
        9 => b"tick needs a registry in manual mode\0",
        10 => b"re-entrant call from inside the sink\0",
        11 => b"too many tracks\0",
        12 => b"the sampler thread could not be started\0",
        13 => b"internal panic caught at the ABI boundary\0",
        _ => b"unknown result code\0",
    };
    s.as_ptr() as *const c_char
}

/// The library version, e.g. "0.1.0": static, NUL-terminated, never NULL.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn trackstats_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr() as *const c_char
}
