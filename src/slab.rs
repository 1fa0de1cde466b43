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
//!
//! Reuse. A released slot (its words sealed, see `slot.rs`) first waits in a
//! quarantine, in release order, until it is older than the quarantine time
//! or more than the quarantine's slot bound of slots released after it wait
//! too: a stale handle shortly after its release finds a sealed slot and is
//! counted, not given to another track. Out of quarantine, slots are handed
//! out lowest segment first, so that the highest segments empty after a peak.
//! A segment whose slots are all free (beyond one such segment kept as a
//! reserve) has its slot pages handed back to the system; its addresses stay
//! mapped, so a stale record there lands in zeroed memory of ours (and is
//! found at reuse) instead of faulting, and its slots are reused last, after
//! every resident free slot.

use crate::slot::{GroupHead, Home, Padded, Slot, GROUP_ALIGN};
use crate::sync::{lock, AtomicPtr, AtomicU32, AtomicU64, Mutex, Ordering::*};
use crate::word::Delta;
use crossbeam_utils::CachePadded;
use std::collections::VecDeque;

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

/// `SEG` slots and their activity bits. All-zero is a valid segment: every
/// slot FREE, no bit set.
///
/// A segment lives in a block aligned to `GROUP_ALIGN` that begins with its
/// `GroupHead`; the segment itself starts `color(s)` bytes into the block,
/// a different offset for each segment `s`. Aligned alike, the segments'
/// activity words and slots would all fall into the same few cache sets
/// (a pass over the activity words of 1,000 segments took twice as long).
#[repr(C)]
struct Segment {
    active: CachePadded<[AtomicU64; ACTIVE_WORDS]>,
    slots: [Padded; SEG],
}

/// Colors: 480 offsets 128 bytes apart after the head's page, spanning the
/// period of the L2 cache's set index on common parts (64 KiB).
#[cfg(not(trackstats_loom))]
const COLORS: usize = 480;
#[cfg(not(trackstats_loom))]
const COLOR_BASE: usize = 4096;

/// Where segment number `s` starts in its block.
#[cfg(not(trackstats_loom))]
const fn color(s: usize) -> usize {
    COLOR_BASE + (s * 67 % COLORS) * 128
}

/// The most a block holds: the last color's offset and a segment.
#[cfg(not(trackstats_loom))]
const BLOCK: usize = COLOR_BASE + (COLORS - 1) * 128 + std::mem::size_of::<Segment>();

#[cfg(not(trackstats_loom))]
const _: () = assert!(BLOCK <= GROUP_ALIGN);

/// Under loom a block is a box: the head, then the segment.
#[cfg(trackstats_loom)]
#[repr(C, align(65536))]
struct LoomBlock {
    head: CachePadded<GroupHead>,
    segment: Segment,
}

#[cfg(trackstats_loom)]
const _: () = assert!(std::mem::size_of::<LoomBlock>() <= GROUP_ALIGN);
#[cfg(trackstats_loom)]
const _: () = assert!(std::mem::align_of::<LoomBlock>() == GROUP_ALIGN);

type Dir = [AtomicPtr<Segment>; DIR];

/// How released slots come back (from the registry's configuration).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reuse {
    /// A released slot waits at least this long (ns) before reuse...
    pub quarantine_ns: u64,
    /// ...unless more than this many slots released after it wait too.
    pub quarantine_slots: usize,
    /// Debug: never reuse a slot (every stale record is caught and counted;
    /// memory grows with every track ever opened).
    pub never: bool,
    /// The most slots held for tracks at once (open, closed, in grace).
    pub max_live: usize,
}

pub(crate) struct Slab {
    /// The registry every slot here belongs to (each segment's head copies it).
    home: *const Home,
    dirs: [AtomicPtr<Dir>; DIRS],
    /// Slots handed out at least once: `0..len` are initialized and published.
    len: AtomicU32,
    alloc: Mutex<Alloc>,
    /// Gauges of the allocator's state, for stats (written under `alloc`).
    pub gauges: Gauges,
}

/// What `Registry::stats` shows of the allocator. Statistics only, Relaxed.
#[derive(Default)]
pub(crate) struct Gauges {
    /// Released slots waiting in the quarantine.
    pub quarantined: AtomicU64,
    /// Segments whose pages are resident, and those handed back.
    pub segments: AtomicU64,
    pub segments_returned: AtomicU64,
}

/// The allocator's state, under the slab's mutex.
struct Alloc {
    reuse: Reuse,
    /// The next never-used index.
    next: u32,
    /// Slots held for tracks.
    live: usize,
    /// Released slots in release order, with their release time (ns).
    quarantine: VecDeque<(u32, u64)>,
    /// Per segment: who holds its slots.
    segs: Vec<SegState>,
    /// Resident segments with free slots.
    with_free: SegSet,
    /// Segments whose pages went back to the system.
    returned: SegSet,
    /// Resident segments with every slot free.
    empty: usize,
}

/// One segment's slots as the allocator sees them.
#[derive(Default)]
struct SegState {
    /// Slots live or in quarantine (or retired, in never-reuse mode).
    pinned: u32,
    /// Free slots, one bit each.
    free: [u64; ACTIVE_WORDS],
    free_count: u32,
    /// The pages are handed back: every slot free, none in `free`.
    returned: bool,
    /// A track in this segment gets at least this generation: past every
    /// generation its slots had before their pages went back (and read 0).
    min_generation: u32,
}

/// A set of segment numbers, lowest first: one bit each, and the lowest
/// word that may hold one, so the allocator's first-fit costs a word or two.
#[derive(Default)]
struct SegSet {
    words: Vec<u64>,
    /// No bit below word `low` is set.
    low: usize,
    len: usize,
}

impl SegSet {
    fn insert(&mut self, s: u32) {
        let (w, bit) = (s as usize / 64, 1u64 << (s % 64));
        if w >= self.words.len() {
            self.words.resize(w + 1, 0);
        }
        if self.words[w] & bit == 0 {
            self.words[w] |= bit;
            self.len += 1;
            self.low = self.low.min(w);
        }
    }

    fn remove(&mut self, s: u32) {
        let (w, bit) = (s as usize / 64, 1u64 << (s % 64));
        if let Some(word) = self.words.get_mut(w).filter(|word| **word & bit != 0) {
            *word &= !bit;
            self.len -= 1;
        }
    }

    /// The lowest member.
    fn first(&mut self) -> Option<u32> {
        while let Some(&word) = self.words.get(self.low) {
            if word != 0 {
                return Some((self.low * 64) as u32 + word.trailing_zeros());
            }
            self.low += 1;
        }
        None
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Empty segments kept resident before the next is handed back, so churn
/// around a segment's edge does not map and unmap pages on every track.
const EMPTY_RESERVE: usize = 1;

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
    pub(crate) fn new(home: *const Home, reuse: Reuse) -> Slab {
        Slab {
            home,
            dirs: std::array::from_fn(|_| AtomicPtr::new(std::ptr::null_mut())),
            len: AtomicU32::new(0),
            alloc: Mutex::new(Alloc {
                reuse,
                next: 0,
                live: 0,
                quarantine: VecDeque::new(),
                segs: Vec::new(),
                with_free: SegSet::default(),
                returned: SegSet::default(),
                empty: 0,
            }),
            gauges: Gauges::default(),
        }
    }

    /// A free slot's index, exclusively the caller's until it publishes it,
    /// and what stale records it held (counted by the caller, given to
    /// nobody). `now_ns` ends quarantines. None when `max_live` slots are
    /// held or every index is in use.
    pub(crate) fn alloc(&self, now_ns: u64) -> Option<(u32, Delta)> {
        let mut a = lock(&self.alloc);
        if a.live >= a.reuse.max_live {
            return None;
        }
        self.expire(&mut a, now_ns);
        let i = match self.take_free(&mut a) {
            Some(i) => i,
            None => self.fresh(&mut a)?,
        };
        a.live += 1;
        let floor = a.segs[i as usize >> SEG_BITS].min_generation;
        let stale = self.get(i).clear_for_reuse(floor);
        self.update_gauges(&a);
        Some((i, stale))
    }

    /// A free slot out of quarantine, lowest segment first: resident ones,
    /// then one whose pages went back.
    fn take_free(&self, a: &mut Alloc) -> Option<u32> {
        if a.with_free.is_empty() {
            let s = a.returned.first()?;
            a.returned.remove(s);
            let seg = &mut a.segs[s as usize];
            seg.returned = false;
            seg.free = [u64::MAX; ACTIVE_WORDS];
            seg.free_count = SEG as u32;
            a.with_free.insert(s);
            a.empty += 1;
        }
        let s = a.with_free.first()?;
        let seg = &mut a.segs[s as usize];
        if seg.pinned == 0 {
            a.empty -= 1;
        }
        let w = seg.free.iter().position(|&w| w != 0).expect("a segment in with_free has a free slot");
        let k = w * 64 + seg.free[w].trailing_zeros() as usize;
        seg.free[w] &= seg.free[w] - 1;
        seg.free_count -= 1;
        seg.pinned += 1;
        if seg.free_count == 0 {
            a.with_free.remove(s);
        }
        Some(((s as usize) << SEG_BITS | k) as u32)
    }

    /// The next never-used index, making its segment (and directory) when it
    /// is the first. None when every index is in use.
    fn fresh(&self, a: &mut Alloc) -> Option<u32> {
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
            a.segs.push(SegState::default());
        }
        a.segs[i as usize >> SEG_BITS].pinned += 1;
        a.next = i + 1;
        // Release: pairs with the Acquire load in `len`; the table entries
        // and the index above are visible to whoever sees the new length.
        self.len.store(a.next, Release);
        Some(i)
    }

    /// Takes back a released slot (the sampler, once nobody holds it and
    /// its words are sealed): into the quarantine, at `now_ns`.
    pub(crate) fn release(&self, i: u32, now_ns: u64) {
        let mut a = lock(&self.alloc);
        a.live -= 1;
        if !a.reuse.never {
            a.quarantine.push_back((i, now_ns));
            while a.quarantine.len() > a.reuse.quarantine_slots {
                let (j, _) = a.quarantine.pop_front().expect("longer than its bound");
                self.leave_quarantine(&mut a, j);
            }
        }
        self.expire(&mut a, now_ns);
        self.update_gauges(&a);
    }

    /// Ends the quarantine of slots released `quarantine_ns` or more before
    /// now (the sampler calls it on each pass, so pages go back to the
    /// system even while nothing is opened). Nothing to do, and no lock or
    /// clock read, while the quarantine is empty.
    pub(crate) fn expire_quarantine(&self, clock: &crate::clock::Clock) {
        // Relaxed: a filter only; a slot quarantined after it is seen by the
        // next pass (or the next allocation).
        if self.gauges.quarantined.load(Relaxed) == 0 {
            return;
        }
        let mut a = lock(&self.alloc);
        self.expire(&mut a, clock.now_unix_ns());
        self.update_gauges(&a);
    }

    fn expire(&self, a: &mut Alloc, now_ns: u64) {
        while let Some(&(j, at)) = a.quarantine.front() {
            if now_ns.saturating_sub(at) < a.reuse.quarantine_ns {
                break;
            }
            a.quarantine.pop_front();
            self.leave_quarantine(a, j);
        }
    }

    /// Slot `j` becomes free; a segment left with every slot free is handed
    /// back to the system, beyond the reserve.
    fn leave_quarantine(&self, a: &mut Alloc, j: u32) {
        let s = j as usize >> SEG_BITS;
        let k = j as usize & (SEG - 1);
        let seg = &mut a.segs[s];
        seg.free[k / 64] |= 1 << (k % 64);
        seg.free_count += 1;
        seg.pinned -= 1;
        a.with_free.insert(s as u32);
        if seg.pinned == 0 && seg.free_count == SEG as u32 {
            a.empty += 1;
            if a.empty > EMPTY_RESERVE {
                self.return_pages(a, s);
            }
        }
    }

    /// Hands segment `s` (every slot free) back to the system.
    fn return_pages(&self, a: &mut Alloc, s: usize) {
        let seg = self.segment((s << SEG_BITS) as u32);
        // Tracks opened here later get generations past all of these: their
        // reports must not merge with a pending report of an earlier track in
        // the same slot, and the pages read 0 once handed back.
        let past = seg.slots.iter().map(|p| p.generation()).max().unwrap_or(0);
        let st = &mut a.segs[s];
        st.min_generation = st.min_generation.max(past.wrapping_add(1));
        #[cfg(not(trackstats_loom))]
        // SAFETY: the slots' range inside the segment's mapped block. Every
        // slot is free and out of quarantine: nobody holds one, and a stale
        // record racing this lands in zeroed memory of ours, found at reuse.
        unsafe {
            crate::pages::discard(seg.slots.as_ptr().cast(), std::mem::size_of_val(&seg.slots))
        };
        st.returned = true;
        st.free = [0; ACTIVE_WORDS];
        st.free_count = 0;
        a.with_free.remove(s as u32);
        a.returned.insert(s as u32);
        a.empty -= 1;
    }

    fn update_gauges(&self, a: &Alloc) {
        let g = &self.gauges;
        // Relaxed: statistics (see `Gauges`).
        g.quarantined.store(a.quarantine.len() as u64, Relaxed);
        g.segments.store((a.segs.len() - a.returned.len) as u64, Relaxed);
        g.segments_returned.store(a.returned.len as u64, Relaxed);
    }

    /// Whether nobody holds the allocator's lock (a forked child's check).
    pub(crate) fn unlocked(&self) -> bool {
        self.alloc.try_lock().is_ok()
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
    let (block, at) = (crate::pages::map(BLOCK, GROUP_ALIGN), color(first as usize >> SEG_BITS));
    #[cfg(trackstats_loom)]
    let (block, at) = (
        Box::into_raw(Box::new(LoomBlock {
            head: CachePadded::new(GroupHead { home: std::ptr::null(), first: 0, slots_at: 0 }),
            segment: Segment::loom_new(),
        }))
        .cast::<u8>(),
        std::mem::offset_of!(LoomBlock, segment),
    );
    let head = GroupHead { home, first, slots_at: (at + std::mem::offset_of!(Segment, slots)) as u32 };
    // SAFETY: a fresh block, not yet shared, aligned for the head at its start
    // and for the segment at `at` (a multiple of 128); the head is plain data.
    unsafe {
        block.cast::<GroupHead>().write(head);
        block.add(at).cast::<Segment>()
    }
}

/// # Safety
/// `seg` came from `new_segment` and is freed once, with no reference left.
unsafe fn free_segment(seg: *mut Segment) {
    let block = (seg as usize & !(GROUP_ALIGN - 1)) as *mut u8;
    // SAFETY: per the contract, the block `map` returned for a segment.
    #[cfg(not(trackstats_loom))]
    unsafe {
        crate::pages::unmap(block, BLOCK)
    };
    // SAFETY: per the contract (a Box under loom).
    #[cfg(trackstats_loom)]
    drop(unsafe { Box::from_raw(block.cast::<LoomBlock>()) });
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
        // Live slots still own a key, and a free one may hold a block a stale
        // packet record installed; free them so nothing leaks.
        self.for_each(|_, s| s.dispose());
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

/// Slots for the unit tests of the modules above the slab (the figures,
/// the exposition): a slab whose home counts nothing, and tracks opened and
/// released in it as the hub and the sampler do.
#[cfg(all(test, not(trackstats_loom)))]
pub(crate) mod testing {
    use super::*;
    use crate::key::TrackKey;

    unsafe fn mark(_: *const Home, _: u32) {}
    unsafe fn reject(_: *const Home) {}
    unsafe fn stale(_: *const Home, _: Delta) {}
    static HOME: Home = Home { mark, reject, stale };

    /// Reuses slots at once, without a limit.
    pub(crate) fn slab() -> Slab {
        Slab::new(&HOME, Reuse { quarantine_ns: 0, quarantine_slots: 0, never: false, max_live: MAX_SLOTS })
    }

    /// Opens a track for `key` in a fresh slot; its index.
    pub(crate) fn open(slab: &Slab, key: TrackKey) -> u32 {
        let (i, _) = slab.alloc(0).expect("a slot");
        slab.get(i).publish(key, 0);
        i
    }

    /// Releases the track at `i` as the sampler does: the sealing take,
    /// handed to `count` with the slot while its key is there, then the
    /// slot is freed and goes back.
    pub(crate) fn release(slab: &Slab, i: u32, count: impl FnOnce(&Slot, &[Delta; 2])) {
        let s = slab.get(i);
        let d = s.take_and_seal(&s.observe().expect("live"));
        count(s, &d);
        s.free();
        slab.release(i, 0);
    }
}

#[cfg(all(test, not(trackstats_loom)))]
mod tests {
    use super::*;
    use crate::key::TrackKey;
    use crate::report::Direction;

    /// What slots under test reach through their home: stale records counted.
    static STALE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    unsafe fn mark(_: *const Home, _: u32) {}
    unsafe fn reject(_: *const Home) {}
    unsafe fn stale(_: *const Home, d: Delta) {
        STALE.fetch_add(d.messages, Relaxed);
    }
    static HOME: Home = Home { mark, reject, stale };

    /// Reuse at once (no quarantine), no limit.
    const AT_ONCE: Reuse = Reuse { quarantine_ns: 0, quarantine_slots: 0, never: false, max_live: MAX_SLOTS };

    fn slab(reuse: Reuse) -> Slab {
        Slab::new(&HOME, reuse)
    }

    fn alloc(slab: &Slab, now: u64) -> u32 {
        slab.alloc(now).expect("a slot").0
    }

    /// Opens a track in a fresh slot, as the hub does.
    fn open(slab: &Slab, now: u64) -> u32 {
        let i = alloc(slab, now);
        slab.get(i).publish(TrackKey::new("p", "t", "", u64::from(i)).unwrap(), now);
        i
    }

    /// Releases slot `i`, as the sampler does: the sealing take, free, back.
    fn release(slab: &Slab, i: u32, now: u64) {
        let s = slab.get(i);
        s.take_and_seal(&s.observe().unwrap());
        s.free();
        slab.release(i, now);
    }

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
        let slab = slab(AT_ONCE);
        let first = alloc(&slab, 0);
        let p0 = slab.get(first) as *const Slot;
        for _ in 0..10_000 {
            slab.alloc(0).unwrap();
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
        open(&slab, 0);
        release(&slab, 10_001, 0);
        assert_eq!(alloc(&slab, 0), 10_001, "freed slots are reused before new ones");
    }

    #[test]
    fn marks_are_taken_once_in_index_order() {
        let slab = slab(AT_ONCE);
        for _ in 0..3000 {
            slab.alloc(0).unwrap();
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
        let slab = slab(AT_ONCE);
        for _ in 0..200 {
            slab.alloc(0).unwrap();
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
        let slab = slab(AT_ONCE);
        for _ in 0..10_000 {
            slab.alloc(0).unwrap();
        }
        let mut segments = 0;
        slab.for_each_segment(|_, _| segments += 1);
        assert_eq!(segments, 10_000usize.div_ceil(SEG));
    }

    #[test]
    fn released_slots_leave_the_quarantine_in_release_order_by_time_or_by_count() {
        let slab = slab(Reuse { quarantine_ns: 1_000, quarantine_slots: 3, never: false, max_live: MAX_SLOTS });
        let slots: Vec<u32> = (0..10).map(|_| open(&slab, 0)).collect();
        for i in [5, 2, 7] {
            release(&slab, slots[i], 0);
        }
        assert_eq!(alloc(&slab, 999), 10, "quarantined slots are not reused: a new one");
        assert_eq!(slab.gauges.quarantined.load(Relaxed), 3);
        release(&slab, slots[1], 999);
        // Four waiting, three allowed: the first released (5) leaves early.
        assert_eq!(alloc(&slab, 999), 5);
        assert_eq!(alloc(&slab, 999), 11, "the others wait");
        // Time: 2 and 7 (released at 0) leave at 1000; 1 (at 999) stays.
        assert_eq!((alloc(&slab, 1_000), alloc(&slab, 1_000)), (2, 7));
        assert_eq!(alloc(&slab, 1_000), 12);
        assert_eq!(slab.gauges.quarantined.load(Relaxed), 1);
        assert_eq!(alloc(&slab, 1_999), 1);
    }

    #[test]
    fn a_released_slot_is_sealed_its_stale_records_counted_and_never_given_on() {
        let slab = slab(Reuse { quarantine_ns: u64::MAX, quarantine_slots: 1, never: false, max_live: MAX_SLOTS });
        let i = open(&slab, 0);
        let s = slab.get(i);
        s.record(Direction::Up, 100);
        release(&slab, i, 0);
        let before = STALE.load(Relaxed);
        // Through the stale handle: each record hits the seal, counted.
        for _ in 0..5 {
            s.record(Direction::Up, 10);
            s.record(Direction::Down, 10);
        }
        assert_eq!(STALE.load(Relaxed) - before, 10);
        // A wide record, or a spill, reaching the sealed accumulator: stale
        // at once. A record whose add landed on the sealed word but whose
        // slow path has not run yet is found when the slot is reused.
        s.record(Direction::Down, crate::word::TRACKSTATS_MAX_INLINE_BYTES + 1);
        s.add_spill(Direction::Up, Delta { bytes: 3, messages: 3 });
        assert_eq!(STALE.load(Relaxed) - before, 14);
        // SAFETY: the slot's up window word, an `AtomicU64` at `words_ptr`.
        let up = unsafe { &*(s.words_ptr() as *const AtomicU64) };
        up.fetch_add(crate::word::increment(9), Relaxed);
        let j = open(&slab, 0);
        release(&slab, j, 0); // pushes `i` out of the one-slot quarantine
        let (k, found) = slab.alloc(0).unwrap();
        assert_eq!((k, found), (i, Delta { bytes: 9, messages: 1 }), "reuse takes what the slot held");
        s.publish(TrackKey::new("p", "t", "", 0).unwrap(), 0);
        s.record(Direction::Up, 7);
        let t = s.take_windows(&s.observe().unwrap());
        assert_eq!(t, [Delta { bytes: 7, messages: 1 }, Delta::ZERO], "the next track starts clean");
    }

    #[test]
    fn never_reuse_keeps_every_slot_sealed() {
        let slab = slab(Reuse { quarantine_ns: 0, quarantine_slots: 0, never: true, max_live: MAX_SLOTS });
        let first = open(&slab, 0);
        release(&slab, first, 0);
        let next: Vec<u32> = (0..100).map(|_| open(&slab, 0)).collect();
        assert!(!next.contains(&first));
        let before = STALE.load(Relaxed);
        slab.get(first).record(Direction::Up, 1);
        assert_eq!(STALE.load(Relaxed) - before, 1);
    }

    #[test]
    fn max_live_bounds_the_tracks_held_not_the_quarantine() {
        let slab = slab(Reuse { quarantine_ns: u64::MAX, quarantine_slots: 100, never: false, max_live: 2 });
        let (a, _b) = (open(&slab, 0), open(&slab, 0));
        assert!(slab.alloc(0).is_none(), "two held");
        release(&slab, a, 0);
        assert_eq!(alloc(&slab, 0), 2, "one held, one quarantined: a new slot");
    }

    #[test]
    fn empty_segments_hand_their_pages_back_and_come_back_last_with_new_generations() {
        let slab = slab(AT_ONCE);
        let n = 4 * SEG as u32;
        for _ in 0..n {
            open(&slab, 0);
        }
        let far = 3 * SEG as u32 + 100;
        let generation = slab.get(far).generation();
        for i in 0..n {
            release(&slab, i, 0);
        }
        // Four empty segments: one kept as a reserve, three handed back.
        assert_eq!(slab.gauges.segments.load(Relaxed), 1);
        assert_eq!(slab.gauges.segments_returned.load(Relaxed), 3);
        // A handed-back slot beyond its segment's first page reads 0: sealed
        // words and all went back to the system.
        assert_eq!((slab.get(far).generation(), slab.get(far).totals()), (0, [Delta::ZERO; 2]));
        // The resident reserve first, then handed-back segments, lowest first.
        let reuse: Vec<u32> = (0..SEG as u32 + 2).map(|_| open(&slab, 0)).collect();
        assert!(reuse[..SEG].iter().all(|&i| (i as usize) < SEG), "the resident segment first");
        assert_eq!(&reuse[SEG..], [SEG as u32, SEG as u32 + 1]);
        assert_eq!(slab.gauges.segments_returned.load(Relaxed), 2);
        // A slot of a handed-back segment gets a generation past its old ones.
        let more: Vec<u32> = (0..3 * SEG as u32).map(|_| open(&slab, 0)).collect();
        assert!(more.contains(&far));
        assert!(slab.get(far).generation() > generation);
    }
}
