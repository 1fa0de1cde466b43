//! The C ABI. Every exported function goes through `guard` (no panic crosses
//! the boundary) and checks its pointers with `arg!`; handles are opaque.
//! `include/trackstats.h` is generated from these modules by cbindgen.

#![allow(non_camel_case_types)]
// These are C entry points: their pointer contract is the C header's, checked
// by `arg!` (NULL) and stated per function; marking them `unsafe fn` would
// change nothing for C callers, who cannot see Rust's `unsafe`.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

mod batch;
mod prometheus;
mod registry;
mod result;
mod track;

pub use batch::*;
pub use prometheus::*;
pub use registry::*;
pub use result::*;
pub use track::*;

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f`, turning a panic into `TRACKSTATS_RESULT_PANIC`.
pub(crate) fn guard(f: impl FnOnce() -> trackstats_result) -> trackstats_result {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(trackstats_result::Panic)
}

/// Runs `f` for a function with no result; a panic becomes a no-op.
pub(crate) fn guard_void(f: impl FnOnce()) {
    let _ = catch_unwind(AssertUnwindSafe(f));
}

/// Borrows a pointer argument or returns `TRACKSTATS_RESULT_NULL_ARGUMENT`.
macro_rules! arg {
    ($p:expr) => {
        // SAFETY: the caller passes NULL or a pointer valid for this call, as
        // every function's contract in the header requires.
        match unsafe { $p.as_ref() } {
            Some(r) => r,
            None => return $crate::ffi::trackstats_result::NullArgument,
        }
    };
    (mut $p:expr) => {
        // SAFETY: as above, and the pointee is not aliased during this call.
        match unsafe { $p.as_mut() } {
            Some(r) => r,
            None => return $crate::ffi::trackstats_result::NullArgument,
        }
    };
}
pub(crate) use arg;

/// Bytes from a (pointer, length) pair; NULL is allowed only with length 0.
///
/// # Safety
/// A non-NULL `ptr` must be valid for reads of `len` bytes during the call.
pub(crate) unsafe fn bytes<'a>(ptr: *const std::os::raw::c_char, len: usize) -> Option<&'a [u8]> {
    if ptr.is_null() {
        return (len == 0).then_some(&[]);
    }
    // SAFETY: non-NULL and valid for `len` bytes by the caller's contract.
    Some(unsafe { std::slice::from_raw_parts(ptr as *const u8, len) })
}
