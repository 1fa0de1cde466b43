//! The concurrency primitives the core is written against, in one place, so
//! that `RUSTFLAGS="--cfg trackstats_loom"` swaps every atomic and lock for loom's
//! model-checked versions (the way crossbeam does it).

#[cfg(not(trackstats_loom))]
pub(crate) use std::sync::{
    atomic::{fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering},
    Condvar, Mutex, MutexGuard,
};

#[cfg(trackstats_loom)]
pub(crate) use loom::sync::{
    atomic::{fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering},
    Condvar, Mutex, MutexGuard,
};

/// The sampler thread: a loom thread under the model, so the models run the
/// real `run_sampler` loop against the real request queue.
#[cfg(not(trackstats_loom))]
pub(crate) use std::thread;

#[cfg(trackstats_loom)]
pub(crate) use loom::thread;

/// A busy-wait hint; loom's yields to the other model threads, so a spin on
/// a value another thread must change cannot loop forever in a model.
#[cfg(not(trackstats_loom))]
pub(crate) use std::hint::spin_loop;

#[cfg(trackstats_loom)]
pub(crate) use loom::hint::spin_loop;

#[cfg(not(trackstats_loom))]
pub(crate) use portable_atomic::AtomicU128;

/// loom has no 128-bit atomic; a mutex gives the model the same
/// linearizable semantics (the real one is a lock-free `cmpxchg16b`).
#[cfg(trackstats_loom)]
#[derive(Debug, Default)]
pub(crate) struct AtomicU128(loom::sync::Mutex<u128>);

#[cfg(trackstats_loom)]
impl AtomicU128 {
    pub(crate) fn new(v: u128) -> Self {
        Self(loom::sync::Mutex::new(v))
    }
    pub(crate) fn swap(&self, v: u128, _: Ordering) -> u128 {
        std::mem::replace(&mut *self.0.lock().unwrap(), v)
    }
    pub(crate) fn load(&self, _: Ordering) -> u128 {
        *self.0.lock().unwrap()
    }
    pub(crate) fn compare_exchange_weak(
        &self,
        current: u128,
        new: u128,
        _: Ordering,
        _: Ordering,
    ) -> Result<u128, u128> {
        let mut g = self.0.lock().unwrap();
        if *g == current {
            *g = new;
            Ok(current)
        } else {
            Err(*g)
        }
    }
}

/// A number naming the calling thread, unique for the life of the process
/// (never 0): how a registry tells whether the thread calling it is the one
/// holding its sampler role (`hub::Core::role_held_here`).
pub(crate) fn thread_token() -> u64 {
    // Not a model object: only a source of distinct numbers.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    #[cfg(not(trackstats_loom))]
    thread_local! {
        static TOKEN: u64 = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    // loom's model threads share one OS thread: its thread-local is per model thread.
    #[cfg(trackstats_loom)]
    loom::thread_local! {
        static TOKEN: u64 = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    TOKEN.with(|t| *t)
}

/// An `Arc` that readers take without ever waiting for its writer: the
/// sampler role publishes the registry's figures through one (see
/// `figures.rs`), and scrapes load them while a pass or a sink call runs.
#[cfg(not(trackstats_loom))]
pub(crate) type ArcCell<T> = arc_swap::ArcSwap<T>;

/// Under loom a std mutex stands in: arc-swap's per-thread debt lists are
/// not model objects, and no model checks the figures' publication. Its
/// critical sections hold no loom operation, so a model never switches
/// threads inside one, and it adds no states to the models.
#[cfg(trackstats_loom)]
pub(crate) struct ArcCell<T>(std::sync::Mutex<std::sync::Arc<T>>);

#[cfg(trackstats_loom)]
impl<T> ArcCell<T> {
    pub(crate) fn from_pointee(v: T) -> Self {
        Self(std::sync::Mutex::new(std::sync::Arc::new(v)))
    }
    pub(crate) fn load_full(&self) -> std::sync::Arc<T> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
    pub(crate) fn store(&self, v: std::sync::Arc<T>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = v;
    }
}

/// Locks ignoring poison: every critical section in this crate leaves its
/// data consistent at each step, and a panic caught at the ABI boundary must
/// not turn every later call into a second panic.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}
