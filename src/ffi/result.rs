//! Result codes, their names, and the library version.

use crate::key::KeyError;
use crate::registry::Error;
use std::ffi::CStr;
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
    /// The interval was outside `TRACKSTATS_INTERVAL_MIN_MS ..=
    /// TRACKSTATS_INTERVAL_MAX_MS`.
    InvalidInterval = 5,
    /// A batch capacity of 0.
    InvalidCapacity = 6,
    /// An unknown mode or direction value.
    InvalidArgument = 7,
    /// The registry is closed (and, for `wait`, has nothing left to drain).
    RegistryClosed = 8,
    /// `trackstats_registry_tick` on a registry with a sampler thread.
    WrongMode = 9,
    /// Called from inside this registry's own sink (the calling thread holds
    /// its sampler role) in a way that needs that role: tick, flush,
    /// prometheus, or close of a manual registry.
    ReentrantCall = 10,
    /// Every slot index is in use.
    TooManyTracks = 11,
    /// The sampler thread could not be started.
    ThreadSpawnFailed = 12,
    /// A bug inside trackstats was caught at the boundary; state is unchanged
    /// where the call had not yet acted.
    Panic = 13,
    /// The registry was made by a parent of this process, which then
    /// forked: in the child it is inert (see `trackstats_registry_free`).
    Forked = 14,
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
            Error::Forked => trackstats_result::Forked,
        }
    }
}

impl trackstats_result {
    /// Every code, in order: `ALL[c as usize] as u32 == c`.
    const ALL: [trackstats_result; 15] = [
        trackstats_result::Ok,
        trackstats_result::NullArgument,
        trackstats_result::InvalidUtf8,
        trackstats_result::EmptyId,
        trackstats_result::IdTooLong,
        trackstats_result::InvalidInterval,
        trackstats_result::InvalidCapacity,
        trackstats_result::InvalidArgument,
        trackstats_result::RegistryClosed,
        trackstats_result::WrongMode,
        trackstats_result::ReentrantCall,
        trackstats_result::TooManyTracks,
        trackstats_result::ThreadSpawnFailed,
        trackstats_result::Panic,
        trackstats_result::Forked,
    ];

    /// The code of a value from C, None for a value no code has.
    pub fn from_u32(v: u32) -> Option<trackstats_result> {
        Self::ALL.get(v as usize).copied()
    }

    /// What `trackstats_result_str` says about this code.
    pub const fn message(self) -> &'static CStr {
        match self {
            trackstats_result::Ok => c"ok",
            trackstats_result::NullArgument => c"a required pointer argument was NULL",
            trackstats_result::InvalidUtf8 => c"an id is not valid UTF-8",
            trackstats_result::EmptyId => c"the participant or track id is empty",
            trackstats_result::IdTooLong => c"an id is longer than TRACKSTATS_MAX_ID_BYTES",
            trackstats_result::InvalidInterval => {
                c"the interval is outside TRACKSTATS_INTERVAL_MIN_MS ..= TRACKSTATS_INTERVAL_MAX_MS"
            }
            trackstats_result::InvalidCapacity => c"the batch capacity is 0",
            trackstats_result::InvalidArgument => c"an unknown mode or direction value",
            trackstats_result::RegistryClosed => c"the registry is closed",
            trackstats_result::WrongMode => c"tick needs a registry in manual mode",
            trackstats_result::ReentrantCall => c"re-entrant call from inside the sink",
            trackstats_result::TooManyTracks => c"too many tracks",
            trackstats_result::ThreadSpawnFailed => c"the sampler thread could not be started",
            trackstats_result::Panic => c"internal panic caught at the ABI boundary",
            trackstats_result::Forked => c"the registry was inherited from a parent process (fork): inert",
        }
    }
}

// `ALL` lists every code once, at its own value.
const _: () = {
    let mut c = 0;
    while c < trackstats_result::ALL.len() {
        assert!(trackstats_result::ALL[c] as usize == c);
        c += 1;
    }
    assert!(trackstats_result::Forked as usize == trackstats_result::ALL.len() - 1);
};

/// A static, NUL-terminated name for any result value, known or not.
/// Never NULL; the string lives for the whole process. Thread-safe.
#[no_mangle]
pub extern "C" fn trackstats_result_str(result: u32) -> *const c_char {
    trackstats_result::from_u32(result).map_or(c"unknown result code", trackstats_result::message).as_ptr()
}

/// The library version, e.g. "0.1.0": static, NUL-terminated, never NULL.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn trackstats_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr() as *const c_char
}
