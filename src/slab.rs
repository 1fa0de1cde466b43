//! Slots in equal segments whose addresses never move: a segment is added,
//! never reallocated, so a track handle can be a raw slot pointer. Each
//! segment is a group of slots in the sense of `slot.rs`: aligned to
//! `GROUP_ALIGN` and headed by the `GroupHead` its slots find their registry
//! and index in.
//!
//! Slot `i` lives in segment `i >> SEG_BITS`, found through a two-level table
//! (a fixed array of directories, each a block of segment pointers). Equal
//! segments keep the reserve beyond the open tracks under one segment (a
//! doubling scheme reserves up to half the slab), and the table costs one
//! pointer per segment. Besides its slots, a segment holds `active`, one bit
//! per slot: set by the first record of a window (the one whose `fetch_add`
//! returned 0) and by every spill; the sampler's pass swaps these words to
//! zero and visits only the marked slots, so an idle track costs a pass one
//! bit, not a cache miss on its slot.

use crate::slot::{GroupHead, Home, Padded, Slot, GROUP_ALIGN};
use crate::sync::{lock, AtomicPtr, AtomicU32, AtomicU64, Mutex, Ordering::*};
use crossbeam_utils::CachePadded;

/// Slots per segment: 1024 (128 KiB of slots).
#[cfg(not(trackstats_loom))]
const SEG_BITS: u32 = 10;
/// Segments per directory: 1024 (an 8 KiB block of pointers per 1 M slots).
#[cfg(not(trackstats_loom))]
const DIR_BITS: u32 = 10;
#[cfg(not(trackstats_loom))]
const DIRS: usize = 64;
/// Under loom every slot's atomics are model objects: two slots per segment
/// and two segments per directory keep executions small and make the models
/// cross segment and directory growth.
#[cfg(trackstats_loom)]
const SEG_BITS: u32 = 1;
#[cfg(trackstats_loom)]
const DIR_BITS: u32 = 1;
#[cfg(trackstats_loom)]
const DIRS: usize = 4;

const SEG: usize = 1 << SEG_BITS;
const DIR: usize = 1 << DIR_BITS;
/// The most slots a registry holds: 2^26 (64 M tracks, 8 GiB of slots).
pub(crate) const MAX_SLOTS: usize = DIRS * DIR * SEG;
const ACTIVE_WORDS: usize = SEG.div_ceil(64);

const _: () = assert!(MAX_SLOTS <= u32::MAX as usize);

/// `SEG` slots, their group head and their activity bits. All-zero but
/// the head is a valid segment: every slot FREE, no bit set.
#[cfg_attr(not(trackstats_loom), repr(C))]
#[cfg_attr(trackstats_loom, repr(C, align(65536)))]
struct Segment {
    head: CachePadded<GroupHead>,
    active: CachePadded<[AtomicU64; ACTIVE_WORDS]>,
    slots: [Padded; SEG],
}

const _: () = assert!(std::mem::size_of::<Segment>() <= GROUP_ALIGN);
#[cfg(trackstats_loom)]
const _: () = assert!(std::mem::align_of::<Segment>() == GROUP_ALIGN);

type Dir = [AtomicPtr<Segment>; DIR];

pub(crate) struct Slab {
    /// The registry every slot here belongs to (each segment's head copies it).
    home: *const Home,
    dirs: [AtomicPtr<Dir>; DIRS],
    /// Slots handed out at least once: `0..len` are initialized and published.
    len: AtomicU32,
    alloc: Mutex<Alloc>,
}

struct Alloc {
    free: Vec<u32>,
    next: u32,
}

/// (directory, segment in it, slot in the segment) of index `i`.
#[inline]
const fn split(i: u32) -> (usize, usize, usize) {
    let i = i as usize;
    (i >> (SEG_BITS + DIR_BITS), (i >> SEG_BITS) & (DIR - 1), i & (SEG - 1))
}

// SAFETY: `home` is only copied into segment heads (see `GroupHead`); the
// rest is atomics and a mutex.
unsafe impl Send for Slab {}
unsafe impl Sync for Slab {}

impl Slab {
    /// An empty slab whose slots will belong to the registry at `home`.
    pub(crate) fn new(home: *const Home) -> Slab {
        Slab {
            home,
            dirs: std::array::from_fn(|_| AtomicPtr::new(std::ptr::null_mut())),
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
        if i as usize >= MAX_SLOTS {
            return None;
        }
        let (d, s, off) = split(i);
        if off == 0 {
            if s == 0 {
                // Release: pairs with the Acquire load in `segment`.
                self.dirs[d].store(new_zeroed::<Dir>(), Release);
            }
            // Release: pairs with the Acquire load in `segment`; the head
            // written by `new_segment` is visible to whoever finds the segment.
            self.dir(d)[s].store(new_segment(self.home, i), Release);
        }
        a.next = i + 1;
        // Release: pairs with the Acquire load in `len`; the table entries
        // and the index above are visible to whoever sees the new length.
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

    fn dir(&self, d: usize) -> &Dir {
        // Acquire: pairs with the Release store in `alloc`.
        let p = self.dirs[d].load(Acquire);
        assert!(!p.is_null(), "directory beyond the published length");
        // SAFETY: published by `alloc` (zeroed: all null), freed only in `drop`.
        unsafe { &*p }
    }

    /// The segment holding index `i`, which was handed out.
    #[inline]
    fn segment(&self, i: u32) -> &Segment {
        let (d, s, _) = split(i);
        // Acquire: pairs with the Release store in `alloc`.
        let p = self.dir(d)[s].load(Acquire);
        assert!(!p.is_null(), "slot index beyond the published length");
        // SAFETY: published by `alloc` as a valid all-zero segment, freed only in `drop`.
        unsafe { &*p }
    }

    /// The slot at `i < len()`.
    #[inline]
    pub(crate) fn get(&self, i: u32) -> &Slot {
        &self.segment(i).slots[split(i).2]
    }

    /// Marks the slot at `i` as having something for the next pass. Called by
    /// writers on the rare paths (a window's first record, a spill).
    pub(crate) fn mark(&self, i: u32) {
        let off = split(i).2;
        // Release: pairs with the Acquire swap in `take_marked`. The pass that
        // takes this bit sees the record (or spill) that set it, so its swap
        // of the window word takes that record: a marked window is never left
        // behind without a bit.
        self.segment(i).active[off / 64].fetch_or(1 << (off % 64), Release);
    }

    /// Calls `f(first index, segment)` on every segment that holds handed-out slots.
    fn for_each_segment(&self, mut f: impl FnMut(u32, &Segment)) {
        let len = self.len() as usize;
        for base in (0..len).step_by(SEG) {
            f(base as u32, self.segment(base as u32));
        }
    }

    /// Calls `f` on every slot handed out so far, in index order, segment by
    /// segment (a tight loop over contiguous memory).
    pub(crate) fn for_each(&self, mut f: impl FnMut(u32, &Slot)) {
        let len = self.len();
        self.for_each_segment(|base, seg| {
            let n = SEG.min((len - base) as usize);
            for (k, s) in seg.slots[..n].iter().enumerate() {
                f(base + k as u32, s);
            }
        });
    }

    /// Clears every mark and calls `f(index, slot)` on each slot that
    /// was marked, in index order. A mark set while this runs is either
    /// taken now or left for the next call, never lost; if `f` panics, the
    /// marks not yet visited (and the one being visited) are put back.
    #[inline]
    pub(crate) fn take_marked(&self, mut f: impl FnMut(u32, &Slot)) {
        self.for_each_segment(|base, seg| {
            for (w, word) in seg.active.iter().enumerate() {
                // Relaxed: only a filter; a mark it misses stays set for the next pass.
                if word.load(Relaxed) == 0 {
                    continue;
                }
                // Acquire: pairs with the Release `fetch_or` in `mark`.
                let mut taken = Taken { word, bits: word.swap(0, Acquire) };
                // Every set bit is a slot of this segment that was handed out
                // (a holder marked it), even if `len` read above is older.
                while taken.bits != 0 {
                    let k = w * 64 + taken.bits.trailing_zeros() as usize;
                    f(base + k as u32, &seg.slots[k]);
                    // Cleared only once visited, so an unwind puts it back.
                    taken.bits &= taken.bits - 1;
                }
            }
        });
    }

    /// The index of the slot at `p`, one of ours.
    #[inline]
    pub(crate) fn index_of(&self, p: &Slot) -> u32 {
        let i = p.index();
        debug_assert!(std::ptr::eq(self.get(i), p), "a slot of another slab");
        i
    }
}

/// A segment whose first slot has index `first`, its head written.
fn new_segment(home: *const Home, first: u32) -> *mut Segment {
    #[cfg(not(trackstats_loom))]
    let seg = crate::pages::map(std::mem::size_of::<Segment>(), GROUP_ALIGN) as *mut Segment;
    #[cfg(trackstats_loom)]
    let seg = Box::into_raw(Box::new(Segment::loom_new()));
    let head = GroupHead { home, first, slots_at: std::mem::offset_of!(Segment, slots) as u32 };
    // SAFETY: a fresh segment, not yet shared; the head is plain data.
    unsafe { std::ptr::addr_of_mut!((*seg).head).write(CachePadded::new(head)) };
    seg
}

/// # Safety
/// `seg` came from `new_segment` and is freed once, with no reference left.
unsafe fn free_segment(seg: *mut Segment) {
    // SAFETY: per the contract, the block `map` returned for a segment.
    #[cfg(not(trackstats_loom))]
    unsafe {
        crate::pages::unmap(seg.cast(), std::mem::size_of::<Segment>())
    };
    // SAFETY: per the contract (a Box under loom).
    #[cfg(trackstats_loom)]
    drop(unsafe { Box::from_raw(seg) });
}

/// Marks a pass took from one bit word and has not visited yet. Dropped
/// with bits left only when the visitor panics (a bug, counted by the
/// sampler): they go back, so their windows wait for the next pass instead of
/// for the tracks' next mark or close.
struct Taken<'a> {
    word: &'a AtomicU64,
    bits: u64,
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        if self.bits != 0 {
            // Release: as in `mark`, whose marks these are.
            self.word.fetch_or(self.bits, Release);
        }
    }
}

/// A zeroed `T` on the heap; every type given here is valid as all zeros
/// (atomics at 0, null pointers, FREE slots). Zeroed pages come lazily from
/// the OS, so a segment's untouched slots cost address space, not memory.
#[cfg(not(trackstats_loom))]
fn new_zeroed<T>() -> *mut T {
    let layout = std::alloc::Layout::new::<T>();
    // SAFETY: `layout` has a non-zero size (a directory or a segment), and
    // all-zero bytes are a valid `T` per the contract above.
    let p = unsafe { std::alloc::alloc_zeroed(layout) } as *mut T;
    if p.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    p
}

/// Under loom the atomics are model objects that must be constructed.
#[cfg(trackstats_loom)]
fn new_zeroed<T: LoomNew>() -> *mut T {
    Box::into_raw(Box::new(T::loom_new()))
}

#[cfg(trackstats_loom)]
trait LoomNew {
    fn loom_new() -> Self;
}

#[cfg(trackstats_loom)]
impl LoomNew for Dir {
    fn loom_new() -> Self {
        std::array::from_fn(|_| AtomicPtr::new(std::ptr::null_mut()))
    }
}

#[cfg(trackstats_loom)]
impl Segment {
    fn loom_new() -> Self {
        Segment {
            head: CachePadded::new(GroupHead { home: std::ptr::null(), first: 0, slots_at: 0 }),
            active: CachePadded::new(std::array::from_fn(|_| AtomicU64::new(0))),
            slots: std::array::from_fn(|_| CachePadded::new(Slot::default())),
        }
    }
}

/// # Safety
/// `p` came from `new_zeroed::<T>()` and is freed once, with no reference left.
unsafe fn free<T>(p: *mut T) {
    // SAFETY: per the contract, with the layout it was allocated with.
    #[cfg(not(trackstats_loom))]
    unsafe {
        std::alloc::dealloc(p as *mut u8, std::alloc::Layout::new::<T>())
    };
    // SAFETY: per the contract (a Box under loom).
    #[cfg(trackstats_loom)]
    drop(unsafe { Box::from_raw(p) });
}

impl Drop for Slab {
    fn drop(&mut self) {
        // Live slots still own a key; free them so nothing leaks.
        self.for_each(|_, s| {
            if s.observe().is_some() {
                s.free();
            }
        });
        for d in &self.dirs {
            let dir = d.load(Acquire);
            if dir.is_null() {
                break;
            }
            // SAFETY: published by `alloc`; no other reference exists during drop.
            for s in unsafe { &*dir } {
                let seg = s.load(Acquire);
                if !seg.is_null() {
                    // SAFETY: from `new_segment`, freed once here.
                    unsafe { free_segment(seg) };
                }
            }
            // SAFETY: from `new_zeroed::<Dir>()`, freed once here.
            unsafe { free(dir) };
        }
    }
}

#[cfg(all(test, not(trackstats_loom)))]
mod tests {
    use super::*;

    #[test]
    fn split_covers_every_index_once() {
        assert_eq!(split(0), (0, 0, 0));
        assert_eq!(split(SEG as u32 - 1), (0, 0, SEG - 1));
        assert_eq!(split(SEG as u32), (0, 1, 0));
        assert_eq!(split((SEG * DIR) as u32), (1, 0, 0));
        assert_eq!(split(MAX_SLOTS as u32 - 1), (DIRS - 1, DIR - 1, SEG - 1));
        let mut expect = (0usize, 0usize, 0usize);
        for i in 0..3 * (SEG * DIR) as u32 {
            assert_eq!(split(i), expect);
            expect.2 += 1;
            if expect.2 == SEG {
                expect = (expect.0, expect.1 + 1, 0);
            }
            if expect.1 == DIR {
                expect = (expect.0 + 1, 0, 0);
            }
        }
    }

    #[test]
    fn addresses_never_move_and_indices_round_trip() {
        let slab = Slab::new(std::ptr::null());
        let first = slab.alloc().unwrap();
        let p0 = slab.get(first) as *const Slot;
        for _ in 0..10_000 {
            slab.alloc().unwrap();
        }
        assert_eq!(slab.get(first) as *const Slot, p0);
        for i in [0u32, 63, 64, 1023, 1024, 5000, 10_000] {
            assert_eq!(slab.index_of(slab.get(i)), i);
        }
        let mut seen = 0;
        slab.for_each(|i, s| {
            assert_eq!(slab.index_of(s), i);
            seen += 1;
        });
        assert_eq!(seen, 10_001);
        slab.release(5000);
        assert_eq!(slab.alloc(), Some(5000), "freed slots are reused first");
    }

    #[test]
    fn marks_are_taken_once_in_index_order() {
        let slab = Slab::new(std::ptr::null());
        for _ in 0..3000 {
            slab.alloc().unwrap();
        }
        let marked = [2999u32, 0, 64, 63, 1024, 2047, 2048, 64];
        for i in marked {
            slab.mark(i);
        }
        let mut seen = Vec::new();
        slab.take_marked(|i, s| {
            assert!(std::ptr::eq(s, slab.get(i)));
            seen.push(i);
        });
        assert_eq!(seen, [0, 63, 64, 1024, 2047, 2048, 2999]);
        slab.take_marked(|i, _| panic!("slot {i} taken twice"));
    }

    #[test]
    fn a_panicking_visit_puts_back_the_marks_it_did_not_finish() {
        let slab = Slab::new(std::ptr::null());
        for _ in 0..200 {
            slab.alloc().unwrap();
        }
        for i in [3u32, 5, 7, 130] {
            slab.mark(i);
        }
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            slab.take_marked(|i, _| assert_ne!(i, 5, "a visitor bug"));
        }));
        assert!(r.is_err());
        let mut seen = Vec::new();
        slab.take_marked(|i, _| seen.push(i));
        assert_eq!(seen, [5, 7, 130], "3 was visited; 5 (panicked) and the rest wait for the next pass");
    }

    #[test]
    fn the_reserve_is_under_one_segment() {
        // Equal segments: 10,000 slots use ten segments, not 16,320 slots.
        let slab = Slab::new(std::ptr::null());
        for _ in 0..10_000 {
            slab.alloc().unwrap();
        }
        let mut segments = 0;
        slab.for_each_segment(|_, _| segments += 1);
        assert_eq!(segments, 10_000usize.div_ceil(SEG));
    }
}
