//! One test module per invariant (numbered as in README.md, "How each
//! invariant is kept"). A single test binary keeps link time low on small CI
//! machines.

mod common;
#[path = "../c_abi/mod.rs"]
mod c_abi;

mod exactly_once; // 1
mod window_consistency; // 2
mod hot_path; // 3
mod no_drift; // 4
mod final_flush; // 5
mod memory_safety; // 6
mod slow_consumer; // 7
mod abi_errors; // 8

/// Counts allocations per thread, so the hot-path test can prove records
/// allocate nothing while other tests run on other threads.
struct CountingAlloc;

thread_local! {
    static ALLOCS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

// SAFETY: forwards to the system allocator unchanged; the counter is a
// const-initialized thread-local without a destructor, safe to touch here.
unsafe impl std::alloc::GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, l: std::alloc::Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { std::alloc::System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: std::alloc::Layout) {
        // SAFETY: same contract as ours.
        unsafe { std::alloc::System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: std::alloc::Layout, n: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { std::alloc::System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Allocations made by this thread so far.
pub fn allocations() -> u64 {
    ALLOCS.with(|c| c.get())
}
