//! Slots in segments of doubling size whose addresses never move: a segment
//! is added, never reallocated, so a track handle can be a raw slot pointer.
//!
//! Segment `k` holds `FIRST << k` slots; slot `i` lives in segment
//! `log2(i / FIRST + 1)`. The segment table is a fixed array of pointers, so
//! the sampler's view of live slots is two Acquire loads, with no lock and no
//! snapshot to swap.

use crate::sync::{lock, AtomicPtr, AtomicU32, Mutex, Ordering::*};
use crossbeam_utils::CachePadded;

use crate::slot::Slot;

#[cfg(not(loom))]
const FIRST_BITS: u32 = 6;
/// Under loom every slot's atomics are model objects: two slots in the first
/// segment keep executions small and make the models cross segment growth.
#[cfg(loom)]
const FIRST_BITS: u32 = 1;
const FIRST: usize = 1 << FIRST_BITS;
/// 64 * (2^26 - 1) slots: more than `u32` indices can name.
const SEGMENTS: usize = 26;

pub(crate) type Padded = CachePadded<Slot>;

pub(crate) struct Slab {
    segments: [AtomicPtr<Padded>; SEGMENTS],
    /// Slots handed out at least once: the sampler visits `0..len`.
    len: AtomicU32,
    alloc: Mutex<Alloc>,
}

struct Alloc {
    free: Vec<u32>,
    next: u32,
}

#[inline]
fn locate(i: u32) -> (usize, usize) {
    let j = i as usize + FIRST;
    let seg = (usize::BITS - 1 - j.leading_zeros() - FIRST_BITS) as usize;
    (seg, j - (FIRST << seg))
}

const fn segment_len(seg: usize) -> usize {
    FIRST << seg
}

impl Slab {
    pub(crate) fn new() -> Slab {
        Slab {
            segments: std::array::from_fn(|_| AtomicPtr::new(std::ptr::null_mut())),
            len: AtomicU32::new(0),
            alloc: Mutex::new(Alloc { free: Vec::new(), next: 0 }),
        }
    }

    /// A free slot's index, exclusively the caller's until it publishes it.
    /// None when every index is in use.
    pub(crate) fn alloc(&self) -> Option<u32> {
        let mut a = lock(&self.alloc);
        if let Some(i) = a.free.pop() {
            return Some(i);
        }
        let i = a.next;
        let (seg, off) = locate(i);
        if seg >= SEGMENTS || i == u32::MAX {
            return None;
        }
        if off == 0 {
            // Release: pairs with the Acquire load in `get`.
            self.segments[seg].store(new_segment(segment_len(seg)), Release);
        }
        a.next = i + 1;
        // Release: pairs with the Acquire load in `len`; the segment pointer
        // above is visible to whoever sees the new length.
        self.len.store(a.next, Release);
        Some(i)
    }

    /// Gives a slot back for reuse (the sampler, once nobody holds it).
    pub(crate) fn release(&self, i: u32) {
        lock(&self.alloc).free.push(i);
    }

    pub(crate) fn len(&self) -> u32 {
        // Acquire: pairs with the Release store in `alloc`.
        self.len.load(Acquire)
    }

    /// The slot at `i < len()`.
    #[inline]
    pub(crate) fn get(&self, i: u32) -> &Slot {
        let (seg, off) = locate(i);
        // Acquire: pairs with the Release store in `alloc`.
        let base = self.segments[seg].load(Acquire);
        assert!(!base.is_null(), "slot index beyond the published length");
        // SAFETY: `i < len()`, so segment `seg` was published with at least
        // `off + 1` initialized slots, and segments are freed only in `drop`.
        unsafe { &*base.add(off) }
    }

    /// Calls `f` on every slot handed out so far, in index order, segment by
    /// segment (a tight loop over contiguous memory).
    #[inline]
    pub(crate) fn for_each(&self, mut f: impl FnMut(u32, &Slot)) {
        let len = self.len() as usize;
        let mut start = 0usize;
        for seg in 0..SEGMENTS {
            if start >= len {
                break;
            }
            let n = segment_len(seg).min(len - start);
            // Acquire: pairs with the Release store in `alloc`.
            let base = self.segments[seg].load(Acquire);
            // SAFETY: as in `get`: the first `n` slots of this segment are
            // published and live until `drop`.
            let slots = unsafe { std::slice::from_raw_parts(base, n) };
            for (k, s) in slots.iter().enumerate() {
                f((start + k) as u32, s);
            }
            start += segment_len(seg);
        }
    }

    /// The index of the slot at `p`, which must be one of ours.
    pub(crate) fn index_of(&self, p: *const Slot) -> Option<u32> {
        let mut start = 0usize;
        for seg in 0..SEGMENTS {
            let base = self.segments[seg].load(Acquire) as *const Slot;
            if base.is_null() {
                return None;
            }
            let size = std::mem::size_of::<Padded>();
            let off = (p as usize).wrapping_sub(base as usize);
            if off < segment_len(seg) * size {
                return Some((start + off / size) as u32);
            }
            start += segment_len(seg);
        }
        None
    }
}

#[cfg(not(loom))]
fn new_segment(n: usize) -> *mut Padded {
    let layout = std::alloc::Layout::array::<Padded>(n).expect("segment layout");
    // SAFETY: `layout` has a non-zero size. An all-zero `Slot` is a valid FREE
    // slot (zero atomics, null pointers), and zeroed pages come lazily from
    // the OS, so a large segment costs nothing until its slots are used.
    let p = unsafe { std::alloc::alloc_zeroed(layout) } as *mut Padded;
    if p.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    p
}

#[cfg(loom)]
fn new_segment(n: usize) -> *mut Padded {
    let v: Vec<Padded> = (0..n).map(|_| CachePadded::new(Slot::default())).collect();
    Box::into_raw(v.into_boxed_slice()) as *mut Padded
}

impl Drop for Slab {
    fn drop(&mut self) {
        let len = self.len() as usize;
        let mut start = 0usize;
        for seg in 0..SEGMENTS {
            let p = self.segments[seg].load(Acquire);
            if p.is_null() {
                break;
            }
            let n = segment_len(seg);
            // Live slots still own a key; free them so nothing leaks.
            for k in 0..n.min(len.saturating_sub(start)) {
                // SAFETY: within the segment's published part; no other
                // reference exists during drop.
                let s = unsafe { &*p.add(k) };
                if s.observe().is_some() {
                    s.free();
                }
            }
            // SAFETY: `p` was allocated by `new_segment(n)` with this layout
            // (or as a boxed slice of it under loom) and is freed once.
            unsafe {
                #[cfg(not(loom))]
                std::alloc::dealloc(p as *mut u8, std::alloc::Layout::array::<Padded>(n).unwrap());
                #[cfg(loom)]
                drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(p, n)));
            }
            start += n;
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn locate_covers_every_index_once() {
        assert_eq!(locate(0), (0, 0));
        assert_eq!(locate(63), (0, 63));
        assert_eq!(locate(64), (1, 0));
        assert_eq!(locate(191), (1, 127));
        assert_eq!(locate(192), (2, 0));
        let mut expect = (0usize, 0usize);
        for i in 0..100_000u32 {
            assert_eq!(locate(i), expect);
            expect.1 += 1;
            if expect.1 == segment_len(expect.0) {
                expect = (expect.0 + 1, 0);
            }
        }
    }

    #[test]
    fn addresses_never_move_and_indices_round_trip() {
        let slab = Slab::new();
        let first = slab.alloc().unwrap();
        let p0 = slab.get(first) as *const Slot;
        for _ in 0..10_000 {
            slab.alloc().unwrap();
        }
        assert_eq!(slab.get(first) as *const Slot, p0);
        for i in [0u32, 63, 64, 5000, 10_000] {
            assert_eq!(slab.index_of(slab.get(i)), Some(i));
        }
        let mut seen = 0;
        slab.for_each(|i, s| {
            assert_eq!(slab.index_of(s), Some(i));
            seen += 1;
        });
        assert_eq!(seen, 10_001);
        slab.release(5000);
        assert_eq!(slab.alloc(), Some(5000), "freed slots are reused first");
    }
}
