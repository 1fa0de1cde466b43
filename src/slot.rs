//! One track's counters: a 128-byte, cache-line-padded slot whose address
//! never moves, so hosts (and the Go and C++ bindings) can hold a raw pointer.
//!
//! Who writes what:
//! - `words`: every recording thread (`fetch_add`), the spilling writer and
//!   the sampler (`swap(0)`).
//! - `spill`: spilling and wide-record writers (`fetch_add`), the sampler (`swap`).
//! - `seq`: null until the first packet record installs the track's sequence
//!   block (CAS); the sampler frees it with the slot (see `seq.rs`).
//! - `state`: the opener (publish), `close` (lifecycle CAS), spilling writers
//!   (flag `fetch_or`), the sampler (flag `fetch_and`, `FINALIZED`, free),
//!   the allocator (`clear_for_reuse`, on a FREE slot nobody holds).
//!
//! After its release the sampler seals the slot's window words
//! (`TRACKSTATS_WORD_SEALED`, see `word.rs`) as it takes them for the last
//! time, and frees it. A record through a stale handle then takes the slow
//! path, which puts the seal back and counts the record as stale through the
//! slot's home; what reaches a free slot another way (a wide record, a
//! spill racing the seal) is found and counted when the slot is reused.
//!
//! A hosted track (`hosted.rs`) has its window words in the host's memory,
//! at `host`: the sampler takes those; the slot's own words stay sealed for
//! the track's whole life, so a record through the handle (`record_up`
//! through the C ABI) takes the slow path, which moves it into the wide
//! accumulator. The hot path for the library's own slots does not change.
//! - `sums`, `sums_seq`, `key`, `floor`: only the sampler role (the thread
//!   holding the hub's sampler lock), except `key`/`floor`, which the opener
//!   writes before it publishes the slot.
//!   They are atomics for safety, accessed Relaxed, because one thread owns them
//!   at a time and the hand-offs are ordered by `state` (Release/Acquire) and
//!   by the allocator's mutex.
//!
//! A slot carries neither its registry nor its index: the allocator keeps
//! slots in groups aligned to `GROUP_ALIGN`, each beginning with a
//! `GroupHead`, and a slot finds both there from its own address.

use crate::hosted::{HostedPacketWords, HostedWords};
use crate::key::TrackKey;
use crate::report::Direction;
use crate::seq::{SeqBlock, SeqStats};
use crate::sync::{fence, AtomicPtr, AtomicU128, AtomicU32, AtomicU64, Ordering, Ordering::*};
use crate::word::{self, Delta, TRACKSTATS_MAX_INLINE_BYTES, TRACKSTATS_MAX_RECORD_BYTES};
use crossbeam_utils::CachePadded;

/// Lifecycle values (low two bits of `state`).
pub(crate) const FREE: u64 = 0;
pub(crate) const OPEN: u64 = 1;
pub(crate) const CLOSED: u64 = 2;
const LIFECYCLE: u64 = 3;
/// Set by a writer after it adds to `spill[d]`; cleared by the sampler before it takes `spill[d]`.
const SPILLED: [u64; 2] = [1 << 2, 1 << 3];
/// Set by the sampler once the close flush has been reported: later bytes are late.
pub(crate) const FINALIZED: u64 = 1 << 4;
/// The window words are the host's (`host`); the own words are sealed.
const HOSTED: u64 = 1 << 5;
/// In a wide accumulator: sealed by the release's last take (messages never
/// reach 2^63). An add that finds it counts as stale instead.
const SPILL_SEALED: u128 = 1 << 127;

/// Which of a direction's words a slow path works on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Word {
    /// The slot's own (sealed for the life of a hosted track).
    Own,
    /// A hosted track's word in the host's block (sealed only at release).
    Host,
}
/// `seq` is the host's packet block: never freed by the library.
const HOSTED_SEQ: u64 = 1 << 6;
const GEN_SHIFT: u32 = 32;

/// A slot's way back to its registry, for the two cold paths that need it:
/// a window's first record marks the slot for the sampler's next pass, and
/// a record over `TRACKSTATS_MAX_RECORD_BYTES` is counted as rejected. The
/// registry's hub (`hub::Core`) begins with a `Home` holding both calls, so
/// this module needs nothing from the modules above it, and the hub finds
/// itself again from a slot's `home()` for close and release (as a tokio
/// task's header leads to its cell).
#[repr(C)]
pub(crate) struct Home {
    /// Marks the slot at this index for the next pass (`Slab::mark`).
    pub mark: unsafe fn(*const Home, u32),
    /// Counts one rejected record.
    pub reject: unsafe fn(*const Home),
    /// Counts records that reached a track after its release (stale).
    pub stale: unsafe fn(*const Home, Delta),
}

/// The alignment of a group of slots: a slot's group head is at its address
/// rounded down to this. 256 KiB holds the slab's segments (a head and 1024
/// slots, 128 KiB and a little).
#[cfg(not(trackstats_loom))]
pub(crate) const GROUP_ALIGN: usize = 1 << 18;
/// Under loom a group (two model slots) is a box with this alignment.
#[cfg(trackstats_loom)]
pub(crate) const GROUP_ALIGN: usize = 1 << 16;

/// The start of every group of slots, written by the allocator before any
/// of its slots is handed out and never changed after.
#[repr(C)]
pub(crate) struct GroupHead {
    /// The registry all the group's slots belong to.
    pub home: *const Home,
    /// The index of the group's first slot.
    pub first: u32,
    /// Where the group's first slot begins, in bytes from the group's start.
    pub slots_at: u32,
}

// SAFETY: written once before the group is shared (the allocator publishes
// it with a Release store) and only read after; `home` points to a registry
// that every holder of one of the group's slots keeps alive.
unsafe impl Send for GroupHead {}
unsafe impl Sync for GroupHead {}

/// A slot as it sits in its group: alone on its 128-byte unit.
pub(crate) type Padded = CachePadded<Slot>;

#[repr(C)]
pub struct Slot {
    /// The window words, `[up, down]`: the only memory the hot path touches.
    words: [AtomicU64; 2],
    state: AtomicU64,
    /// The up side's sequence block, installed by the first packet record.
    /// On the hot line: a packet record reads it beside the window word.
    seq: AtomicPtr<SeqBlock>,
    spill: [AtomicU128; 2],
    /// Sampler-owned running sums per direction: `[bytes, messages]`.
    sums: [[AtomicU64; 2]; 2],
    /// Reports of this track never start before its floor: the open time,
    /// then each close or late flush (Unix ns).
    floor: AtomicU64,
    /// The key, as `TrackKey::into_raw`, owned by the slot while it is live.
    key: AtomicPtr<u8>,
    /// A hosted track's window block (null for the library's own words):
    /// written before the slot is published, nulled by `free`.
    host: AtomicPtr<HostedWords>,
    /// Seqlock over `sums` and the sampler's swaps: odd while the sampler
    /// moves a window. 32 bits: a reader is fooled only if it stalls across
    /// exactly 2^31 of this slot's passes.
    sums_seq: AtomicU32,
}

// The hot line (words + state) and all the rest fit one padded unit.
#[cfg(not(trackstats_loom))]
const _: () = assert!(std::mem::size_of::<Slot>() <= 128);

// SAFETY: every field is an atomic; the raw pointers in `seq` and `key` are
// only dereferenced under the lifecycle protocol described above.
unsafe impl Send for Slot {}
unsafe impl Sync for Slot {}

impl Default for Slot {
    fn default() -> Self {
        Slot {
            words: [AtomicU64::new(0), AtomicU64::new(0)],
            state: AtomicU64::new(FREE),
            seq: AtomicPtr::new(std::ptr::null_mut()),
            spill: [AtomicU128::new(0), AtomicU128::new(0)],
            sums: [[AtomicU64::new(0), AtomicU64::new(0)], [AtomicU64::new(0), AtomicU64::new(0)]],
            floor: AtomicU64::new(0),
            key: AtomicPtr::new(std::ptr::null_mut()),
            host: AtomicPtr::new(std::ptr::null_mut()),
            sums_seq: AtomicU32::new(0),
        }
    }
}

/// The state word of a live slot, as the sampler role read it.
pub(crate) struct SlotState {
    bits: u64,
}

impl SlotState {
    pub fn generation(&self) -> u32 {
        (self.bits >> GEN_SHIFT) as u32
    }
    pub fn finalized(&self) -> bool {
        self.bits & FINALIZED != 0
    }
}

impl Slot {
    // ---- hot path -------------------------------------------------------

    /// One record: one `fetch_add` in the common case.
    #[inline(always)]
    pub fn record(&self, dir: Direction, bytes: u64) {
        // Relaxed: the count is the only data a record publishes, and the
        // sampler takes it with an RMW (`swap` in `take_windows`), which always
        // reads the latest value in this word's modification order.
        self.add(dir, bytes, Relaxed)
    }

    /// The window-word rule with the add's ordering as a parameter (a
    /// constant at every call site, so `record` compiles as before).
    #[inline(always)]
    fn add(&self, dir: Direction, bytes: u64, order: Ordering) {
        if bytes <= TRACKSTATS_MAX_INLINE_BYTES {
            let old = self.words[dir.index()].fetch_add(word::increment(bytes), order);
            if word::needs_slow_path(old) {
                self.slow_path(dir, old);
            }
        } else {
            self.record_wide(dir, bytes);
        }
    }

    /// One data-track packet received from the publisher: a record of
    /// `bytes` on the up side, plus the sequence rule of `seq.rs`. A packet
    /// over `TRACKSTATS_MAX_RECORD_BYTES` is rejected whole.
    #[inline(always)]
    pub fn record_packet(&self, bytes: u64, seq: u16, end_of_frame: bool) {
        // Acquire: pairs with the AcqRel CAS in `install_seq`, so the block's
        // zeroed contents are visible before we use it.
        let p = self.seq.load(Acquire);
        if p.is_null() || bytes > TRACKSTATS_MAX_RECORD_BYTES {
            // A tail call, so the common path saves no registers for it.
            return self.record_packet_slow(bytes, seq, end_of_frame);
        }
        // SAFETY: as in `seq_block`.
        unsafe { &*p }.record(seq, end_of_frame);
        self.add_packet_bytes(bytes)
    }

    #[cold]
    #[inline(never)]
    fn record_packet_slow(&self, bytes: u64, seq: u16, end_of_frame: bool) {
        if bytes > TRACKSTATS_MAX_RECORD_BYTES || self.is_free() {
            // A free slot gets no sequence block: the packet counts as a
            // stale record (or a rejected one).
            self.record_wide(Direction::Up, bytes);
            return;
        }
        if let Some(b) = self.seq_block() {
            b.record(seq, end_of_frame);
        }
        self.add_packet_bytes(bytes)
    }

    #[inline(always)]
    fn add_packet_bytes(&self, bytes: u64) {
        // Release: pairs with the Acquire fence in `take_seq`. The sampler
        // that takes this packet's message also sees its sequence counters,
        // so they are reported in the same window as its bytes or, when the
        // packet races a window's end, the one before; never later.
        // (Over the inline limit, `add_spill`'s Release `fetch_or` does it.)
        self.add(Direction::Up, bytes, Release)
    }

    /// The sequence block, installed on first use. None only if it could not
    /// be allocated (the packet then counts as a plain record).
    #[inline(always)]
    fn seq_block(&self) -> Option<&SeqBlock> {
        // Acquire: pairs with the AcqRel CAS in `install_seq`, so the block's
        // zeroed contents are visible before we use it.
        let p = self.seq.load(Acquire);
        if p.is_null() {
            return self.install_seq();
        }
        // SAFETY: a non-null `seq` points to a live block installed for this
        // slot's current life; it is freed only by `free`, after the last
        // holder released the track, so not while a writer uses it.
        Some(unsafe { &*p })
    }

    #[cold]
    fn install_seq(&self) -> Option<&SeqBlock> {
        let fresh = alloc_seq_block()?;
        // AcqRel: Release publishes the zeroed block to other writers and the
        // sampler (their Acquire loads); Acquire, on failure, makes the
        // winner's block visible to us.
        match self.seq.compare_exchange(std::ptr::null_mut(), fresh, AcqRel, Acquire) {
            // SAFETY: we just published `fresh`; as in `seq_block`.
            Ok(_) => Some(unsafe { &*fresh }),
            Err(winner) => {
                // SAFETY: `fresh` came from `alloc_seq_block` and was never
                // shared; `winner` is live as in `seq_block`.
                unsafe {
                    free_seq_block(fresh);
                    Some(&*winner)
                }
            }
        }
    }

    /// The packet words' address (installing the block), for bindings that
    /// apply the sequence rule inline. Null if the block cannot be allocated.
    pub(crate) fn packet_words_ptr(&self) -> *mut u64 {
        self.seq_block().map_or(std::ptr::null_mut(), |b| b.words_ptr())
    }

    /// The rare paths of the window-word rule, given the value the record's
    /// `fetch_add` returned (the Go and C++ bindings reach it through
    /// `trackstats_track_slow_path`): a field at least half full moves the
    /// word into the wide accumulator; 0, the window's first record, marks
    /// the slot for the sampler's next pass. Any other value does nothing, so
    /// a stray call is harmless.
    #[cold]
    #[inline(never)]
    pub fn slow_path(&self, dir: Direction, old: u64) {
        if word::needs_spill(old) {
            self.spill_word(dir);
        } else if old == 0 {
            self.mark_active();
        }
    }

    /// Marks this slot in its slab's activity bits (see `slab.rs`).
    #[cold]
    fn mark_active(&self) {
        let home = self.home();
        // SAFETY: `home` is live while this slot is held (see `home`), and
        // `mark` is the call its hub gave for it.
        unsafe { ((*home).mark)(home, self.index()) }
    }

    /// Moves the direction's whole window word into the wide accumulator
    /// (for a hosted track, both the host's word and the sealed own one: the
    /// caller's `old` may have come from either).
    #[cold]
    pub fn spill_word(&self, dir: Direction) {
        self.spill_one(&self.words[dir.index()], dir, Word::Own);
        if let Some(h) = self.hosted() {
            self.spill_one(h.window(dir), dir, Word::Host);
        }
    }

    /// Takes a word off: from a live word at half a field, into the
    /// accumulator; from a sealed word, what records added since the seal
    /// (the seal stays), routed by `route_sealed`. A compare-and-swap, so a
    /// sealed word is never unsealed, not even for a moment, while the
    /// sampler's seal or a host's stale step swaps it too.
    fn spill_one(&self, word: &AtomicU64, dir: Direction, which: Word) {
        // Relaxed: the CAS below reads the latest value, and what it moves is
        // published to the sampler by `add_spill`'s Release.
        let mut w = word.load(Relaxed);
        loop {
            let (next, d) = if word::is_sealed(w) {
                (word::TRACKSTATS_WORD_SEALED, word::unseal(w))
            } else if word::needs_spill(w) {
                (0, Delta::from_word(w))
            } else {
                // Another writer moved it first (or the call was a stray one).
                return;
            };
            if d.is_zero() {
                return;
            }
            // Relaxed: an RMW, ordered against records and the sampler's swap
            // by the word's modification order.
            match word.compare_exchange_weak(w, next, Relaxed, Relaxed) {
                Ok(_) if next == 0 => return self.add_spill(dir, d),
                Ok(_) => return self.route_sealed(dir, d, which),
                Err(now) => w = now,
            }
        }
    }

    /// What a record left on a sealed word: a hosted track's own words are
    /// sealed while it lives, so there it is the track's (into the
    /// accumulator, or stale if that is sealed too); anywhere else the track
    /// is released, so it is stale.
    fn route_sealed(&self, dir: Direction, d: Delta, which: Word) {
        // Acquire: pairs with the Release store in `publish`.
        let s = self.state.load(Acquire);
        if which == Word::Own && s & HOSTED != 0 && s & LIFECYCLE != FREE {
            self.add_spill(dir, d);
        } else {
            self.count_stale(d);
        }
    }

    /// A hosted track's window block, None for the library's own words.
    #[inline]
    fn hosted(&self) -> Option<&HostedWords> {
        // Acquire: pairs with the Release store that ends `free` (see there).
        // The block itself was written before the slot was published
        // (`publish`), and every caller got the slot after that.
        let h = self.host.load(Acquire);
        // SAFETY: a non-null `host` is the block the host gave at open, valid
        // until the host has seen the let-go mark and none of its calls
        // naming the track (this one among them) is in progress (the
        // header's rule).
        unsafe { h.as_ref() }
    }

    /// The window words the sampler takes: the slot's own, or a hosted
    /// track's (one load of `host` for both).
    #[inline]
    fn windows(&self) -> [&AtomicU64; 2] {
        match self.hosted() {
            Some(h) => [h.window(Direction::Up), h.window(Direction::Down)],
            None => [&self.words[0], &self.words[1]],
        }
    }

    #[cold]
    fn record_wide(&self, dir: Direction, bytes: u64) {
        if bytes > TRACKSTATS_MAX_RECORD_BYTES {
            let home = self.home();
            // SAFETY: as in `mark_active`.
            unsafe { ((*home).reject)(home) }
            return;
        }
        let d = Delta { bytes, messages: 1 };
        if self.is_free() {
            self.count_stale(d);
        } else {
            self.add_spill(dir, d);
        }
    }

    /// Counts records that reached this slot after its track was released.
    #[cold]
    fn count_stale(&self, d: Delta) {
        if !d.is_zero() {
            let home = self.home();
            // SAFETY: as in `mark_active`: a stale handle's registry is alive
            // as long as the registry's own handle is (the header's rule).
            unsafe { ((*home).stale)(home, d) }
        }
    }

    /// Whether the slot holds no track (released, in quarantine or free).
    fn is_free(&self) -> bool {
        // Acquire: pairs with the Release store in `publish`.
        self.state.load(Acquire) & LIFECYCLE == FREE
    }

    pub(crate) fn add_spill(&self, dir: Direction, d: Delta) {
        let acc = &self.spill[dir.index()];
        // Relaxed: made visible to the sampler by the Release below; the
        // compare-and-swap reads the latest value.
        let mut cur = acc.load(Relaxed);
        loop {
            if cur & SPILL_SEALED != 0 {
                // The release's last take sealed the accumulator: too late
                // to be reported, so stale (decided by the same atomic value
                // the take swapped, so never both or neither).
                return self.count_stale(d);
            }
            match acc.compare_exchange_weak(cur, cur.wrapping_add(d.to_wide()), Relaxed, Relaxed) {
                Ok(_) => break,
                Err(now) => cur = now,
            }
        }
        // Release: pairs with the Acquire `fetch_and` in `take_spill`. If the
        // sampler clears this flag, it also sees the add above; if the flag is
        // set after the sampler cleared it, the next pass takes the amount.
        self.state.fetch_or(SPILLED[dir.index()], Release);
        // After the flag: the pass that takes this mark sees the flag. (The
        // word's own mark may already have been taken by a pass that ran
        // before the flag was set.)
        self.mark_active();
    }

    /// The window words' address, for bindings that record inline.
    pub(crate) fn words_ptr(&self) -> *mut u64 {
        self.words.as_ptr() as *mut u64
    }

    // ---- lifecycle ------------------------------------------------------

    /// The head of this slot's group (see `GroupHead`).
    #[inline]
    fn group(&self) -> &GroupHead {
        let at = (self as *const Slot as usize) & !(GROUP_ALIGN - 1);
        // SAFETY: slots exist only inside groups the allocator made (`Slab`),
        // aligned to `GROUP_ALIGN` and beginning with an initialized head that
        // lives as long as the group.
        unsafe { &*(at as *const GroupHead) }
    }

    /// The registry this slot belongs to. Every holder of the slot (a track
    /// handle, the sampler role) keeps that registry alive, so `home` stays
    /// valid while held.
    pub(crate) fn home(&self) -> *const Home {
        self.group().home
    }

    /// The floor (see the field); the sampler role's after publish.
    #[inline]
    pub(crate) fn floor(&self) -> &AtomicU64 {
        &self.floor
    }

    /// The slot's index in its slab, from its place in its group.
    pub(crate) fn index(&self) -> u32 {
        let g = self.group();
        let offset = self as *const Slot as usize - (g as *const GroupHead as usize) - g.slots_at as usize;
        g.first + (offset / std::mem::size_of::<Padded>()) as u32
    }

    /// Makes a free slot live for a new track. The caller owns the slot
    /// exclusively (it just took it from the allocator); `now_ns` is its floor.
    pub(crate) fn publish(&self, key: TrackKey, now_ns: u64) {
        self.publish_with(key, now_ns, std::ptr::null())
    }

    /// As `publish`, for a hosted track whose window words are `host`'s
    /// (reset here; the host does not touch it before the open returns).
    pub(crate) fn publish_hosted(&self, key: TrackKey, now_ns: u64, host: &HostedWords) {
        host.reset();
        for w in &self.words {
            // Relaxed: published by the Release store in `publish_with`.
            w.store(word::TRACKSTATS_WORD_SEALED, Relaxed);
        }
        self.publish_with(key, now_ns, host)
    }

    fn publish_with(&self, key: TrackKey, now_ns: u64, host: *const HostedWords) {
        debug_assert_eq!(self.state.load(Relaxed) & LIFECYCLE, FREE);
        // Relaxed: published by the Release store of `state` below.
        self.host.store(host as *mut HostedWords, Relaxed);
        let hosted = if host.is_null() { 0 } else { HOSTED };
        // Relaxed: published by the Release store of `state` below.
        self.key.store(key.into_raw(), Relaxed);
        // Relaxed: published by the Release store below.
        self.floor.store(now_ns, Relaxed);
        let generation = self.state.load(Relaxed) & !((1 << GEN_SHIFT) - 1);
        // Release: pairs with the Acquire loads in `observe` and `totals`, so
        // the key and floor stores before it are visible to the sampler.
        self.state.store(generation | hosted | OPEN, Release);
    }

    /// Installs a hosted track's packet block (reset here). False when the
    /// track is not hosted, or already has a block (a packet recorded
    /// through the library installed one, or an earlier attach).
    pub(crate) fn attach_packet_words(&self, block: &HostedPacketWords) -> bool {
        // Acquire: pairs with the Release store in `publish`.
        if self.state.load(Acquire) & (HOSTED | HOSTED_SEQ) != HOSTED {
            return false;
        }
        let p = block.as_block();
        // SAFETY: the host's block, valid until the library lets go (the
        // header's rule); nobody uses it before the install below.
        unsafe { &*p }.reset();
        // Before the install: whoever frees the slot and finds the block
        // also finds the flag (the sampler, after the release, which the
        // host does not race with this call).
        self.state.fetch_or(HOSTED_SEQ, AcqRel);
        // AcqRel: Release publishes the reset block to writers and the
        // sampler (their Acquire loads of `seq`), as `install_seq` does.
        if self.seq.compare_exchange(std::ptr::null_mut(), p, AcqRel, Acquire).is_ok() {
            return true;
        }
        self.state.fetch_and(!HOSTED_SEQ, AcqRel);
        false
    }

    /// OPEN -> CLOSED. Returns false if the track was already closed (a no-op).
    pub(crate) fn mark_closed(&self) -> bool {
        // AcqRel on success: the Acquire half pairs with the Release store in
        // `publish` (the closer goes on to use the slot's home and index); the
        // Release half pairs with the Acquire load in `observe`, so a pass
        // that sees CLOSED also sees what the closer did before. Acquire on
        // failure: as the Acquire half, for the caller's no-op.
        self.state
            .fetch_update(AcqRel, Acquire, |s| (s & LIFECYCLE == OPEN).then_some((s & !LIFECYCLE) | CLOSED))
            .is_ok()
    }

    /// Sampler only: the state, or None when the slot is free.
    #[inline]
    pub(crate) fn observe(&self) -> Option<SlotState> {
        // Acquire: pairs with the Release store in `publish`.
        let state = self.state.load(Acquire);
        (state & LIFECYCLE != FREE).then_some(SlotState { bits: state })
    }

    /// Sampler only: whether a pass has anything to take from this slot.
    #[inline]
    pub(crate) fn is_idle(&self, state: &SlotState) -> bool {
        state.bits & (SPILLED[0] | SPILLED[1]) == 0 && self.windows().iter().all(|w| w.load(Relaxed) == 0)
    }

    /// Sampler only: the close flush has been reported; later bytes are late.
    pub(crate) fn set_finalized(&self) {
        // Release: pairs with the Acquire load in `observe`. The flag is the
        // sampler role's own; a later holder of the role on another thread is
        // also ordered after this by the hub's sampler lock.
        self.state.fetch_or(FINALIZED, Release);
    }

    /// Sampler only: takes both directions' windows and folds them into the
    /// running sums, inside the seqlock so `totals` never sees a window twice
    /// or not at all.
    #[inline]
    pub(crate) fn take_windows(&self, state: &SlotState) -> [Delta; 2] {
        self.take(state, false)
    }

    /// Sampler only, at release: the last take, which leaves the words
    /// sealed. Every record after it takes the slow path and is counted as
    /// stale, not reported.
    pub(crate) fn take_and_seal(&self, state: &SlotState) -> [Delta; 2] {
        self.take(state, true)
    }

    /// Inlined, so that each caller's `seal` is a constant: a pass's take
    /// has no seal branch.
    #[inline(always)]
    fn take(&self, state: &SlotState, seal: bool) -> [Delta; 2] {
        let seq = self.sums_seq.load(Relaxed);
        self.sums_seq.store(seq.wrapping_add(1), Relaxed);
        // Release fence: pairs with the Acquire fence in `totals`. A reader
        // that observes any swap or sum below also observes the odd seq.
        fence(Release);
        let windows = self.windows();
        let mut out = [Delta::ZERO; 2];
        for dir in Direction::ALL {
            let i = dir.index();
            // A zero word is left alone, saving a locked `xchg` per quiet
            // direction. Reading 0 puts this load before every add not yet
            // taken in the word's modification order, so the first of them
            // returns 0 and marks the slot for a later pass (as in `is_idle`);
            // an add that happens before this call (its mark read by the pass's
            // Acquire swap of the bits, or its close or release request by the
            // inbox) is seen by coherence, so no window is left behind.
            // Relaxed: see `record`; the swap, an RMW, reads the latest value.
            let window = windows[i];
            let w = window.load(Relaxed);
            let mut d = if seal {
                word::taken(window.swap(word::TRACKSTATS_WORD_SEALED, Relaxed))
            } else if w == 0 {
                Delta::ZERO
            } else {
                Delta::from_word(window.swap(0, Relaxed))
            };
            if seal && state.bits & HOSTED != 0 {
                // A hosted track's own word: what a record through the
                // handle left there and its slow path did not move yet.
                d = d.add(word::taken(self.words[i].swap(word::TRACKSTATS_WORD_SEALED, Relaxed)));
            }
            // At the seal, whatever the flags said: an add whose flag the
            // state taken before did not show must not be left behind.
            if seal || state.bits & SPILLED[i] != 0 {
                d = d.add(self.take_spill(dir, seal));
            }
            if !d.is_zero() {
                self.sums[i][0].store(self.sums[i][0].load(Relaxed).wrapping_add(d.bytes), Relaxed);
                self.sums[i][1].store(self.sums[i][1].load(Relaxed).wrapping_add(d.messages), Relaxed);
            }
            out[i] = d;
        }
        // Release: pairs with the Acquire load that starts `totals`.
        self.sums_seq.store(seq.wrapping_add(2), Release);
        out
    }

    /// Takes the accumulator (sealing it at release).
    fn take_spill(&self, dir: Direction, seal: bool) -> Delta {
        // Acquire: pairs with the Release `fetch_or` in `add_spill`.
        self.state.fetch_and(!SPILLED[dir.index()], Acquire);
        let next = if seal { SPILL_SEALED } else { 0 };
        // Relaxed: ordered after the Acquire above.
        Delta::from_wide(self.spill[dir.index()].swap(next, Relaxed) & !SPILL_SEALED)
    }

    /// Sampler only, right after `take_windows`: the sequence counts that go with the
    /// windows it took.
    pub(crate) fn take_seq(&self) -> SeqStats {
        // Acquire fence: pairs with the Release add in `record_packet` (read
        // by the swap in `take_windows`, sequenced before this fence) and with the
        // Release `fetch_or` in `add_spill` (read by `take_spill`).
        fence(Acquire);
        // Acquire: pairs with the CAS in `install_seq`.
        let p = self.seq.load(Acquire);
        // SAFETY: as in `seq_block`; the sampler role is the one that frees it.
        unsafe { p.as_ref() }.map_or(SeqStats::ZERO, SeqBlock::take_window)
    }

    /// Cumulative sequence counts of the up side: everything reported plus
    /// what the open window holds.
    pub fn seq_totals(&self) -> SeqStats {
        // Acquire: pairs with the CAS in `install_seq`.
        let p = self.seq.load(Acquire);
        // SAFETY: as in `seq_block` (the caller holds the track).
        unsafe { p.as_ref() }.map_or(SeqStats::ZERO, SeqBlock::totals)
    }

    /// Sampler only: a clone of the key of the live track in this slot.
    pub(crate) fn key(&self) -> TrackKey {
        let p = self.key.load(Relaxed);
        // SAFETY: the slot is live (the sampler observed OPEN/CLOSED), `key`
        // holds the count `publish` gave it, and only the sampler role (the
        // caller) gives that back, in `free`.
        unsafe { TrackKey::clone_raw(p) }
    }

    /// Sampler only: the running sums, everything this track reported (the
    /// figures' admission of a series reads them).
    pub(crate) fn sums(&self) -> [Delta; 2] {
        // Relaxed: the sampler role's own fields.
        let d = |i: usize| Delta { bytes: self.sums[i][0].load(Relaxed), messages: self.sums[i][1].load(Relaxed) };
        [d(0), d(1)]
    }

    /// Sampler only: returns the slot to FREE with the next generation. The
    /// caller has already taken its last windows (sealing the words) and no
    /// holder remains.
    pub(crate) fn free(&self) {
        let state = self.state.load(Relaxed);
        let p = self.key.swap(std::ptr::null_mut(), Relaxed);
        if !p.is_null() {
            // SAFETY: `p` came from `TrackKey::into_raw` in `publish`; this
            // gives that count back once.
            drop(unsafe { TrackKey::from_raw(p) });
        }
        // Relaxed: no writer remains (the last holder released the track) and
        // the next opener is ordered by the allocator's mutex.
        let b = self.seq.swap(std::ptr::null_mut(), Relaxed);
        if !b.is_null() && state & HOSTED_SEQ == 0 {
            // SAFETY: installed by `install_seq` from `alloc_seq_block`, freed once.
            unsafe { free_seq_block(b) };
        }
        let totals = self.sums();
        // Relaxed: the sampler role's own read of what it wrote at publish.
        let host = self.host.load(Relaxed);
        // SAFETY: the host's block, still held: the library's last access to
        // it (and to its packet block, taken before this call). The let-go
        // mark goes before the sums are reset: a host reads the slot's totals
        // while the mark is unset and the block's after (the header's rule),
        // so a read that finds the sums reset finds the mark set when it
        // checks again.
        if let Some(h) = unsafe { host.as_ref() } {
            h.let_go(totals);
        }
        // Release fence: pairs with the Acquire fence in `totals`, so a read
        // that sees a sum reset below also sees the let-go mark above.
        fence(Release);
        for s in &self.sums {
            s[0].store(0, Relaxed);
            s[1].store(0, Relaxed);
        }
        let next_gen = ((state >> GEN_SHIFT).wrapping_add(1)) << GEN_SHIFT;
        // Release: pairs with the Acquire load in `observe`, so a late
        // observer that sees FREE also sees the sums reset. The next opener
        // is already ordered after this by the allocator's mutex. A swap, not
        // a store: a stale writer's flag `fetch_or` may race it, and loom
        // (0.7) lets an RMW racing a plain store read the value before the
        // store yet land after it, which no hardware does; with two RMWs the
        // models stay sound (the instruction costs the same on this cold path).
        self.state.swap(next_gen | FREE, Release);
        // Release: pairs with the Acquire load in `hosted`. The let-go mark
        // is stored before the block leaves the slot, so a host's slow-path
        // call that no longer finds the block here (and so cannot take a
        // record off its sealed word) is ordered after the mark, and the host
        // sees the mark when it checks right after the call (the header's
        // rule) and takes the record off itself.
        self.host.store(std::ptr::null_mut(), Release);
    }

    /// The allocator, on a FREE slot it is about to hand out again, nobody
    /// else holding it: takes whatever reached the slot since its release
    /// (stale records left on the sealed words or the accumulators, a
    /// sequence block a stale packet installed) and readies it for a track
    /// whose generation is at least `generation`. Returns the stale amount.
    pub(crate) fn clear_for_reuse(&self, generation: u32) -> Delta {
        let mut stale = Delta::ZERO;
        for i in 0..2 {
            // Relaxed: the allocator's mutex orders this with the release that
            // freed the slot and the open that publishes it next; the swaps
            // read the latest values of the words (RMWs).
            stale = stale.add(word::taken(self.words[i].swap(0, Relaxed)));
            stale = stale.add(Delta::from_wide(self.spill[i].swap(0, Relaxed) & !SPILL_SEALED));
        }
        // Relaxed: as above.
        let b = self.seq.swap(std::ptr::null_mut(), Relaxed);
        if !b.is_null() {
            // SAFETY: a block a stale packet record installed on the free
            // slot, from `alloc_seq_block`; nobody holds the slot.
            unsafe { free_seq_block(b) };
        }
        let s = self.state.load(Relaxed);
        let generation = ((s >> GEN_SHIFT) as u32).max(generation);
        // Relaxed: published by `publish`'s Release store; drops the spill
        // flags a stale record set.
        self.state.store(((generation as u64) << GEN_SHIFT) | FREE, Relaxed);
        stale
    }

    /// The slab's drop, nobody holding the slot: frees what it owns.
    pub(crate) fn dispose(&self) {
        if self.observe().is_some() {
            self.free();
        }
        // Relaxed: nobody else holds the slot.
        if !self.seq.load(Relaxed).is_null() {
            self.clear_for_reuse(0);
        }
    }

    /// The generation of the slot's current (or next) track.
    pub(crate) fn generation(&self) -> u32 {
        // Relaxed: the allocator reads it for slots nobody holds.
        (self.state.load(Relaxed) >> GEN_SHIFT) as u32
    }

    /// Cumulative totals: the sampler's sums plus the open window, consistent
    /// against the sampler's moves. A spill in flight on another thread (once
    /// per 2^23 messages on one track) may be missed by a read racing it.
    pub fn totals(&self) -> [Delta; 2] {
        loop {
            // Acquire: pairs with the Release store that ends `take_windows`.
            let s1 = self.sums_seq.load(Acquire);
            if s1 & 1 == 1 {
                crate::sync::spin_loop();
                continue;
            }
            let mut out = [Delta::ZERO; 2];
            for (i, o) in out.iter_mut().enumerate() {
                let sums = Delta { bytes: self.sums[i][0].load(Relaxed), messages: self.sums[i][1].load(Relaxed) };
                let mut open = word::taken(self.words[i].load(Relaxed));
                if let Some(h) = self.hosted() {
                    open = open.add(word::taken(h.window(Direction::ALL[i]).load(Relaxed)));
                }
                let spilled = Delta::from_wide(self.spill[i].load(Relaxed));
                *o = sums.add(open).add(spilled);
            }
            // Acquire fence: pairs with the Release fence in `take_windows`.
            fence(Acquire);
            if self.sums_seq.load(Relaxed) == s1 {
                return out;
            }
        }
    }

    #[cfg(all(test, not(trackstats_loom)))]
    pub(crate) fn raw_state(&self) -> u64 {
        self.state.load(Relaxed)
    }
}

/// The layout of the sequence blocks the library allocates: a whole 128-byte
/// unit at `SEQ_BLOCK_ALIGN`, the block's spare words included.
#[cfg(not(trackstats_loom))]
fn seq_layout() -> std::alloc::Layout {
    std::alloc::Layout::from_size_align(128, crate::seq::SEQ_BLOCK_ALIGN).expect("a valid layout")
}

/// A zeroed block (a fresh stream), or None when memory is exhausted: a
/// hot-path call must not abort the host.
fn alloc_seq_block() -> Option<*mut SeqBlock> {
    #[cfg(not(trackstats_loom))]
    {
        let layout = seq_layout();
        // SAFETY: the layout has a non-zero size; all-zero bytes are a valid
        // `SeqBlock` (atomics and integers at 0).
        let p = unsafe { std::alloc::alloc_zeroed(layout) } as *mut SeqBlock;
        (!p.is_null()).then_some(p)
    }
    #[cfg(trackstats_loom)]
    Some(Box::into_raw(Box::default()))
}

/// # Safety
/// `p` came from `alloc_seq_block`, is freed once, and is not used after.
unsafe fn free_seq_block(p: *mut SeqBlock) {
    // SAFETY: per the contract, with the layout it was allocated with.
    #[cfg(not(trackstats_loom))]
    unsafe {
        std::alloc::dealloc(p as *mut u8, seq_layout())
    };
    // SAFETY: per the contract (a Box under loom).
    #[cfg(trackstats_loom)]
    drop(unsafe { Box::from_raw(p) });
}

#[cfg(all(test, not(trackstats_loom)))]
mod tests {
    use super::*;

    #[test]
    fn slot_is_one_padded_unit_and_words_lead() {
        assert_eq!(std::mem::size_of::<Slot>(), 128);
        let s = Slot::default();
        assert_eq!(s.words_ptr() as usize, &s as *const Slot as usize);
    }

    /// What the slots under test reach through their group: nothing to mark,
    /// and a count of rejected records.
    static REJECTED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    unsafe fn mark(_: *const Home, _: u32) {}
    unsafe fn reject(_: *const Home) {
        REJECTED.fetch_add(1, Relaxed);
    }
    static STALE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    unsafe fn stale(_: *const Home, d: Delta) {
        STALE.fetch_add(d.bytes, Relaxed);
    }
    static HOME: Home = Home { mark, reject, stale };

    /// A group of `N` slots, as the allocator lays one out.
    struct Group<const N: usize> {
        at: *mut u8,
    }

    impl<const N: usize> Group<N> {
        const SLOTS_AT: usize = std::mem::size_of::<Padded>();

        fn layout() -> std::alloc::Layout {
            std::alloc::Layout::from_size_align(Self::SLOTS_AT * (N + 1), GROUP_ALIGN).unwrap()
        }

        fn new(first: u32) -> Self {
            // SAFETY: a non-zero size; all-zero slots are valid (FREE).
            let at = unsafe { std::alloc::alloc_zeroed(Self::layout()) };
            assert!(!at.is_null());
            let head = GroupHead { home: &HOME, first, slots_at: Self::SLOTS_AT as u32 };
            // SAFETY: the block starts with room for the head, aligned.
            unsafe { (at as *mut GroupHead).write(head) };
            Group { at }
        }

        fn slot(&self, k: usize) -> &Slot {
            assert!(k < N);
            // SAFETY: slot `k` lies inside the block, zero-initialized or
            // used through atomics only.
            unsafe { &*(self.at.add(Self::SLOTS_AT * (k + 1)) as *const Slot) }
        }

        /// Slot `k`, live with a fresh key.
        fn live(&self, k: usize) -> &Slot {
            let s = self.slot(k);
            s.publish(TrackKey::new("p", "t", "", 0).unwrap(), 0);
            s
        }
    }

    impl<const N: usize> Drop for Group<N> {
        fn drop(&mut self) {
            // SAFETY: from `alloc_zeroed` with this layout; no slot is used after.
            unsafe { std::alloc::dealloc(self.at, Self::layout()) }
        }
    }

    #[test]
    fn a_slot_finds_its_index_and_home_in_its_group() {
        let g = Group::<3>::new(2048);
        for k in 0..3 {
            assert_eq!(g.slot(k).index(), 2048 + k as u32);
            assert!(std::ptr::eq(g.slot(k).home(), &HOME));
        }
    }

    #[test]
    fn the_128_bit_accumulator_is_lock_free_here() {
        assert!(portable_atomic::AtomicU128::is_lock_free());
    }

    #[test]
    fn records_and_spills_keep_every_byte_and_message() {
        let g = Group::<1>::new(0);
        let s = g.live(0);
        for _ in 0..5 {
            s.record(Direction::Up, 10);
        }
        s.record(Direction::Up, TRACKSTATS_MAX_INLINE_BYTES + 1);
        s.spill_word(Direction::Up);
        s.record(Direction::Down, 7);
        let seen = s.observe().unwrap();
        let t = s.take_windows(&seen);
        assert_eq!(t[0], Delta { bytes: 50 + TRACKSTATS_MAX_INLINE_BYTES + 1, messages: 6 });
        assert_eq!(t[1], Delta { bytes: 7, messages: 1 });
        assert_eq!(s.totals()[0], t[0]);
        assert!(s.is_idle(&s.observe().unwrap()));
        s.free();
    }

    #[test]
    fn a_word_at_half_a_field_spills_on_the_next_record() {
        let g = Group::<1>::new(0);
        let s = g.live(0);
        s.words[0].store(1 << (word::TRACKSTATS_WORD_BYTES_BITS - 1), Relaxed);
        s.record(Direction::Up, 1);
        assert_eq!(s.words[0].load(Relaxed), 0, "the writer moved the word");
        assert_ne!(s.raw_state() & SPILLED[0], 0);
        let t = s.take_windows(&s.observe().unwrap());
        assert_eq!(t[0], Delta { bytes: (1 << 39) + 1, messages: 1 });
        s.free();
    }

    #[test]
    fn absurd_sizes_are_ignored() {
        let g = Group::<1>::new(0);
        let s = g.live(0);
        let before = REJECTED.load(Relaxed);
        s.record(Direction::Up, u64::MAX);
        assert!(s.is_idle(&s.observe().unwrap()));
        assert_eq!(REJECTED.load(Relaxed), before + 1);
        s.free();
    }
}
