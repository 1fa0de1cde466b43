//! Registries inherited by a forked child process are inert. fork() copies
//! only the calling thread: a registry's sampler thread is gone in the child,
//! and any of its locks a parent thread held at that moment stays held
//! forever. So a registry remembers the fork generation it was made in, and
//! in a later one (a child) every call that would need its thread or its
//! locks refuses (`Error::Forked`); records and totals, plain atomics, still
//! work on the child's copy of the memory, and are never reported. Freeing
//! an inherited registry releases its memory when no parent thread was
//! inside it at the fork (every lock free), and leaves it to the process's
//! exit otherwise (its data may be half updated); either way it prints
//! nothing and waits for nothing.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Forks since the process started, as seen from this process: its children
/// see one more than their parent did when they were made.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// The fork generation this process is in, registering the child handler
/// that counts forks on first use (a registry's creation).
pub(crate) fn generation() -> u64 {
    #[cfg(not(trackstats_loom))]
    {
        static REGISTER: std::sync::Once = std::sync::Once::new();
        REGISTER.call_once(|| {
            // SAFETY: `in_child` is async-signal-safe (one atomic add), as a
            // child handler must be; registering has no other precondition.
            // A failure (ENOMEM) leaves forks uncounted: registries then act
            // in a child as before this module, which is what the C library
            // would do to any other library's threads.
            unsafe { libc::pthread_atfork(None, None, Some(in_child)) };
        });
    }
    // Relaxed: the count only ever changes in a child's only thread, before
    // anything else runs there.
    GENERATION.load(Relaxed)
}

#[cfg(not(trackstats_loom))]
extern "C" fn in_child() {
    // Relaxed: see `generation`.
    GENERATION.fetch_add(1, Relaxed);
}
