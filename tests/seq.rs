//! Data-track sequence stats against a straightforward reference
//! model of LiveKit's rule: table-driven cases with hand-computed answers,
//! randomized comparisons over long generated sequences (per window, through
//! the Rust API and through the C ABI's inline packet-word rule), and a
//! multi-writer run checking the documented bounds.

mod c_abi;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;
use trackstats::ffi::{self, trackstats_result};
use trackstats::{
    Config, Direction, Mode, Registry, Report, SeqStats, TrackKey, TRACKSTATS_FLAG_FINAL, TRACKSTATS_FLAG_LATE,
    TRACKSTATS_FLAG_MERGED, TRACKSTATS_INTERVAL_DEFAULT_MS, TRACKSTATS_MAX_INLINE_BYTES, TRACKSTATS_MAX_RECORD_BYTES,
    TRACKSTATS_PACKET_STARTED, TRACKSTATS_PACKET_WORDS, TRACKSTATS_PACKET_WORD_DUPLICATED,
    TRACKSTATS_PACKET_WORD_FRAMES, TRACKSTATS_PACKET_WORD_LOST, TRACKSTATS_PACKET_WORD_OUT_OF_ORDER,
    TRACKSTATS_PACKET_WORD_RECOVERED, TRACKSTATS_PACKET_WORD_STATE, TRACKSTATS_WORD_MESSAGE_ONE,
    TRACKSTATS_WORD_SPILL_MASK,
};

// ---- the reference model ---------------------------------------------------

/// LiveKit's `dataTrackStats.Update`, written the obvious way: one signed
/// lost count that a late packet decrements when positive. It also counts
/// how often it incremented and decremented, to compare field by field.
#[derive(Default, Clone, Copy, Debug)]
struct Model {
    started: bool,
    highest: u16,
    /// The reference rule's figure.
    net_lost: i64,
    gaps: u64,
    decrements: u64,
    out_of_order: u64,
    duplicated: u64,
    frames: u64,
}

impl Model {
    fn packet(&mut self, seq: u16, end_of_frame: bool) {
        if !self.started {
            self.started = true;
            self.highest = seq;
        } else {
            let diff = seq.wrapping_sub(self.highest) as u32;
            if diff == 0 {
                self.duplicated += 1;
                return;
            } else if diff > 1 << 15 {
                self.out_of_order += 1;
                if self.net_lost > 0 {
                    self.net_lost -= 1;
                    self.decrements += 1;
                }
            } else {
                self.net_lost += diff as i64 - 1;
                self.gaps += diff as u64 - 1;
                self.highest = seq;
            }
        }
        if end_of_frame {
            self.frames += 1;
        }
    }

    fn stats(&self) -> SeqStats {
        SeqStats {
            lost: self.gaps,
            recovered: self.decrements,
            out_of_order: self.out_of_order,
            duplicated: self.duplicated,
            frames: self.frames,
        }
    }
}

fn diff(a: SeqStats, b: SeqStats) -> SeqStats {
    SeqStats {
        lost: a.lost - b.lost,
        recovered: a.recovered - b.recovered,
        out_of_order: a.out_of_order - b.out_of_order,
        duplicated: a.duplicated - b.duplicated,
        frames: a.frames - b.frames,
    }
}

fn sum<'a>(reports: impl IntoIterator<Item = &'a Report>) -> SeqStats {
    reports.into_iter().fold(SeqStats::ZERO, |acc, r| acc + r.seq)
}

// ---- harness ---------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Op {
    /// A packet: sequence number, end of frame.
    P(u16, bool),
    /// End the window (manual registry).
    Tick,
}
use Op::{Tick, P};

const BYTES: u64 = 100;

/// Manual, without a quarantine: a released slot is the next one handed out.
fn manual_reusing_at_once() -> Registry {
    Registry::new(Config { mode: Mode::Manual, quarantine: Duration::ZERO, quarantine_slots: 0, ..Default::default() })
        .expect("registry")
}

fn manual() -> Registry {
    Registry::new(Config { mode: Mode::Manual, interval: Duration::from_secs(5), sink: None, ..Default::default() })
        .expect("registry")
}

fn key(n: u64) -> TrackKey {
    TrackKey::new("PA_seq", &format!("TR_{n}"), "", n).expect("key")
}

fn drain(reg: &Registry) -> Vec<Report> {
    let mut v = Vec::new();
    reg.drain(&mut v, usize::MAX);
    v
}

/// What one window produced for the track.
#[derive(Debug, Default)]
struct Window {
    seq: SeqStats,
    messages: u64,
    bytes: u64,
    reports: usize,
}

/// Runs `ops` on a fresh track of a manual registry, ending with a tick, and
/// checks as it goes that totals follow the model. Returns the windows (one
/// per tick) and the model.
fn run(ops: &[Op]) -> (Vec<Window>, Model) {
    let reg = manual();
    let track = reg.open(key(1)).expect("open");
    let mut model = Model::default();
    let mut windows = Vec::new();
    let mut tick = |model: &Model| {
        reg.tick().expect("tick");
        let reports = drain(&reg);
        assert!(reports.iter().all(|r| r.direction == Direction::Up && r.flags == 0), "{reports:?}");
        windows.push(Window {
            seq: sum(&reports),
            messages: reports.iter().map(|r| r.messages).sum(),
            bytes: reports.iter().map(|r| r.bytes).sum(),
            reports: reports.len(),
        });
        assert_eq!(track.totals().seq, model.stats(), "totals after a tick");
    };
    for &op in ops {
        match op {
            P(s, f) => {
                track.record_up_packet(BYTES, s, f);
                model.packet(s, f);
            }
            Tick => tick(&model),
        }
        assert_eq!(track.totals().seq, model.stats(), "totals after {op:?}");
    }
    tick(&model);
    (windows, model)
}

// ---- table-driven cases ----------------------------------------------------

const fn s(lost: u64, recovered: u64, out_of_order: u64, duplicated: u64, frames: u64) -> SeqStats {
    SeqStats { lost, recovered, out_of_order, duplicated, frames }
}

struct Case {
    name: &'static str,
    ops: &'static [Op],
    /// Hand-computed cumulative counts.
    want: SeqStats,
    /// The reference rule's cumulative lost figure (LiveKit's numPacketsLost).
    net_lost: i64,
    /// Hand-computed per-window counts, when the case is about windows.
    windows: &'static [SeqStats],
}

const CASES: &[Case] = &[
    Case {
        name: "in order, every packet ends a frame",
        ops: &[P(1, true), P(2, true), P(3, true), P(4, true)],
        want: s(0, 0, 0, 0, 4),
        net_lost: 0,
        windows: &[],
    },
    Case {
        name: "the first packet starts the stream wherever it is",
        ops: &[P(40000, false), P(40001, true)],
        want: s(0, 0, 0, 0, 1),
        net_lost: 0,
        windows: &[],
    },
    Case {
        name: "loss",
        ops: &[P(1, false), P(2, false), P(5, false), P(6, false), P(10, false)],
        want: s(5, 0, 0, 0, 0),
        net_lost: 5,
        windows: &[],
    },
    Case {
        name: "reorder recovers a loss",
        ops: &[P(1, false), P(3, false), P(2, false), P(4, false)],
        want: s(1, 1, 1, 0, 0),
        net_lost: 0,
        windows: &[],
    },
    Case {
        name: "out of order with nothing lost does not go negative",
        ops: &[P(5, false), P(4, false), P(3, true)],
        want: s(0, 0, 2, 0, 1),
        net_lost: 0,
        windows: &[],
    },
    Case {
        name: "more late packets than losses",
        ops: &[P(10, false), P(12, false), P(11, false), P(9, false), P(8, false)],
        want: s(1, 1, 3, 0, 0),
        net_lost: 0,
        windows: &[],
    },
    Case {
        name: "duplicate of the highest: counted, not a frame",
        ops: &[P(1, true), P(2, true), P(2, true), P(3, true)],
        want: s(0, 0, 0, 1, 3),
        net_lost: 0,
        windows: &[],
    },
    Case {
        name: "duplicate of the first packet",
        ops: &[P(7, false), P(7, false), P(7, false)],
        want: s(0, 0, 0, 2, 0),
        net_lost: 0,
        windows: &[],
    },
    Case {
        name: "an older duplicate is out of order (the rule only knows the highest)",
        ops: &[P(1, false), P(3, false), P(2, false), P(2, false)],
        want: s(1, 1, 2, 0, 0),
        net_lost: 0,
        windows: &[],
    },
    Case {
        name: "wrap at 65535 to 0 is in order",
        ops: &[P(65534, true), P(65535, true), P(0, true), P(1, true)],
        want: s(0, 0, 0, 0, 4),
        net_lost: 0,
        windows: &[],
    },
    Case {
        name: "loss across the wrap",
        ops: &[P(65534, false), P(1, false)],
        want: s(2, 0, 0, 0, 0),
        net_lost: 2,
        windows: &[],
    },
    Case {
        name: "reorder across the wrap",
        ops: &[P(65535, false), P(1, false), P(0, false)],
        want: s(1, 1, 1, 0, 0),
        net_lost: 0,
        windows: &[],
    },
    Case {
        name: "the longest gap: exactly half the space ahead",
        ops: &[P(0, false), P(32768, false)],
        want: s(32767, 0, 0, 0, 0),
        net_lost: 32767,
        windows: &[],
    },
    Case {
        name: "one past half is behind",
        ops: &[P(0, false), P(32769, false)],
        want: s(0, 0, 1, 0, 0),
        net_lost: 0,
        windows: &[],
    },
    Case {
        name: "long gaps add up past 16 bits",
        ops: &[P(0, false), P(32768, false), P(0, false), P(32768, false), P(0, false)],
        want: s(4 * 32767, 0, 0, 0, 0),
        net_lost: 4 * 32767,
        windows: &[],
    },
    Case {
        name: "reorder across a window boundary",
        ops: &[P(1, true), P(3, true), Tick, P(2, true), P(4, true), Tick],
        want: s(1, 1, 1, 0, 4),
        net_lost: 0,
        // Window 1 counts the loss, window 2 the recovery; sums match.
        windows: &[s(1, 0, 0, 0, 2), s(0, 1, 1, 0, 2), SeqStats::ZERO],
    },
    Case {
        name: "recovery two windows later, after an empty window",
        ops: &[P(1, false), P(4, false), Tick, Tick, P(3, false), Tick, P(2, false), P(2, false)],
        want: s(2, 2, 3, 0, 0),
        net_lost: 0,
        // The second 2 is behind the highest (4): out of order, nothing left
        // to recover.
        windows: &[s(2, 0, 0, 0, 0), SeqStats::ZERO, s(0, 1, 1, 0, 0), s(0, 1, 2, 0, 0)],
    },
    Case {
        name: "duplicates and frames split by windows",
        ops: &[P(9, true), Tick, P(9, true), P(10, true), Tick, P(10, false)],
        want: s(0, 0, 0, 2, 2),
        net_lost: 0,
        windows: &[s(0, 0, 0, 0, 1), s(0, 0, 0, 1, 1), s(0, 0, 0, 1, 0)],
    },
];

#[test]
fn table_cases_match_hand_counts_and_the_reference_model() {
    for c in CASES {
        let (windows, model) = run(c.ops);
        let total = windows.iter().fold(SeqStats::ZERO, |a, w| a + w.seq);
        assert_eq!(total, c.want, "{}: sum of windows", c.name);
        assert_eq!(model.stats(), c.want, "{}: the model agrees with the hand count", c.name);
        assert_eq!(model.net_lost, c.net_lost, "{}: the reference rule's lost", c.name);
        assert_eq!(total.lost as i64 - total.recovered as i64, c.net_lost, "{}: net lost", c.name);
        let packets = c.ops.iter().filter(|o| matches!(o, P(..))).count() as u64;
        assert_eq!(windows.iter().map(|w| w.messages).sum::<u64>(), packets, "{}: every packet is a message", c.name);
        assert_eq!(windows.iter().map(|w| w.bytes).sum::<u64>(), packets * BYTES, "{}", c.name);
        if !c.windows.is_empty() {
            let got: Vec<SeqStats> = windows.iter().map(|w| w.seq).collect();
            assert_eq!(got, c.windows, "{}: per window", c.name);
        }
        for w in &windows {
            // Only non-zero reports, at most one per window for one track.
            assert_eq!(w.reports, usize::from(w.messages != 0 || !w.seq.is_zero()), "{}: {w:?}", c.name);
        }
    }
}

/// 200k maximal gaps in one window: 6.5e9 lost, more than 32 bits hold. The
/// window's count is exact, not wrapped.
#[test]
fn a_window_of_long_gaps_does_not_wrap() {
    let n = 200_000u64;
    let ops: Vec<Op> = (0..=n).map(|i| P(if i % 2 == 0 { 0 } else { 32768 }, false)).collect();
    let (windows, model) = run(&ops);
    assert_eq!(windows.len(), 1);
    assert_eq!(windows[0].seq.lost, n * 32767);
    assert!(windows[0].seq.lost > u32::MAX as u64);
    assert_eq!(windows[0].seq, model.stats());
}

// ---- randomized comparison -------------------------------------------------

/// splitmix64: a seeded, dependency-free generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A long sequence: mostly in order, with losses, late arrivals of skipped
/// numbers, duplicates, near strays, and window ends; `hostile` adds long
/// gaps, far jumps back and random numbers (then the lost count is so large
/// that every late packet recovers one; without, late strays often find
/// nothing to recover). Long enough to wrap 16 bits many times.
fn generate(seed: u64, len: usize, hostile: bool) -> Vec<Op> {
    let mut rng = Rng(seed);
    let mut next: u16 = rng.next() as u16;
    let mut skipped: Vec<u16> = Vec::new();
    let mut ops = Vec::with_capacity(len);
    while ops.len() < len {
        let eof = rng.below(3) == 0;
        let mut roll = rng.below(1000);
        if !hostile && (970..990).contains(&roll) {
            roll = 0;
        }
        let seq = match roll {
            0..=799 => {
                next = next.wrapping_add(1);
                next
            }
            800..=849 => {
                // A short gap; the skipped numbers may come later.
                // Without `hostile`, gaps are short enough that late
                // arrivals keep up with them and the lost count drains.
                let gap = 1 + rng.below(if hostile { 20 } else { 2 }) as u16;
                for k in 1..=gap {
                    if skipped.len() < 256 {
                        skipped.push(next.wrapping_add(k));
                    }
                }
                next = next.wrapping_add(gap + 1);
                next
            }
            850..=929 if !skipped.is_empty() => {
                // A late packet, if it is still recent: a real stream does
                // not deliver one a wrap-around later (it would be ahead).
                let i = rng.below(skipped.len() as u64) as usize;
                let late = skipped.swap_remove(i);
                if next.wrapping_sub(late) > 2000 {
                    continue;
                }
                late
            }
            930..=959 => next,
            960..=969 => next.wrapping_sub(rng.below(64) as u16),
            970..=974 => {
                next = next.wrapping_add(1000 + rng.below(31_769) as u16);
                next
            }
            975..=984 => next.wrapping_sub(1 + rng.below(32_767) as u16),
            985..=989 => {
                // A random number; when it is ahead the stream continues from
                // it (a sender jump), else it is one more stray packet.
                let r = rng.next() as u16;
                if r.wrapping_sub(next) <= 32768 {
                    next = r;
                }
                r
            }
            _ => {
                ops.push(Tick);
                continue;
            }
        };
        ops.push(P(seq, eof));
    }
    ops
}

/// Compares every window with the model's counts over the same packets.
fn check_windows(ops: &[Op], windows: &[Window]) -> Model {
    let mut model = Model::default();
    let mut last = SeqStats::ZERO;
    let mut w = 0;
    let mut packets = 0u64;
    for &op in ops.iter().chain(std::iter::once(&Tick)) {
        match op {
            P(s, f) => {
                model.packet(s, f);
                packets += 1;
            }
            Tick => {
                let now = model.stats();
                assert_eq!(windows[w].seq, diff(now, last), "window {w}");
                assert_eq!(windows[w].messages, packets, "window {w}");
                last = now;
                packets = 0;
                w += 1;
            }
        }
    }
    assert_eq!(w, windows.len());
    model
}

#[test]
fn randomized_sequences_match_the_model_window_by_window() {
    for seed in [1u64, 2, 0xDEAD_BEEF, 42, 7_777_777] {
        for hostile in [false, true] {
            let ops = generate(seed, 250_000, hostile);
            let (windows, model) = run(&ops);
            let checked = check_windows(&ops, &windows);
            assert_eq!(checked.stats(), model.stats());
            // The sequence exercised every branch, and a reorder across windows.
            let t = model.stats();
            assert!(t.lost > t.recovered && t.recovered > 0 && t.duplicated > 0 && t.frames > 0, "{t:?}");
            if hostile {
                assert!(t.lost > u32::MAX as u64 / 1000, "long gaps: {t:?}");
            } else {
                assert!(t.out_of_order > t.recovered, "strays with nothing to recover: {t:?}");
            }
            assert!(windows.iter().any(|w| w.seq.recovered > w.seq.lost), "seed {seed}: a window with net recovery");
            assert!(windows.len() > 100, "seed {seed}: {} windows", windows.len());
            let total = windows.iter().fold(SeqStats::ZERO, |a, w| a + w.seq);
            assert_eq!(total.lost as i64 - total.recovered as i64, model.net_lost, "seed {seed}");
        }
    }
}

// ---- reports, merging, lifecycle -------------------------------------------

#[test]
fn a_lagging_consumer_gets_merged_sequence_counts() {
    let reg = manual();
    let track = reg.open(key(1)).expect("open");
    track.record_up_packet(10, 1, true);
    track.record_up_packet(10, 3, true);
    reg.tick().unwrap();
    track.record_up_packet(10, 2, false);
    reg.tick().unwrap();
    track.record_up_packet(10, 4, false);
    track.record_up_packet(10, 4, true);
    reg.tick().unwrap();
    let r = drain(&reg);
    assert_eq!(r.len(), 1, "three windows merged into one pending report: {r:?}");
    assert_ne!(r[0].flags & TRACKSTATS_FLAG_MERGED, 0);
    assert_eq!(r[0].messages, 5);
    assert_eq!(r[0].seq, s(1, 1, 1, 1, 2));
}

#[test]
fn close_flushes_sequence_counts_final_and_later_packets_late() {
    let reg = manual();
    let track = reg.open(key(1)).expect("open");
    track.record_up_packet(10, 100, false);
    track.record_up_packet(10, 105, true);
    track.record_down(7);
    assert!(track.close());
    reg.flush().unwrap();
    let r = drain(&reg);
    let up: Vec<_> = r.iter().filter(|r| r.direction == Direction::Up).collect();
    let down: Vec<_> = r.iter().filter(|r| r.direction == Direction::Down).collect();
    assert_eq!(up.len(), 1);
    assert_eq!(up[0].flags, TRACKSTATS_FLAG_FINAL);
    assert_eq!(up[0].seq, s(4, 0, 0, 0, 1));
    assert_eq!(down.len(), 1);
    assert_eq!(down[0].seq, SeqStats::ZERO, "sequence counts belong to the up side");

    // After close: a late packet recovers one of the four.
    track.record_up_packet(10, 103, false);
    drop(track);
    reg.flush().unwrap();
    let r = drain(&reg);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].flags, TRACKSTATS_FLAG_LATE);
    assert_eq!(r[0].seq, s(0, 1, 1, 0, 0));
}

#[test]
fn a_reused_slot_starts_a_fresh_stream() {
    // No quarantine: the released slot is the next one handed out.
    let reg = manual_reusing_at_once();
    let a = reg.open(key(1)).expect("open");
    a.record_up_packet(10, 1, false);
    a.record_up_packet(10, 5, false);
    let addr = a.as_ptr();
    drop(a);
    reg.flush().unwrap();
    assert_eq!(sum(&drain(&reg)), s(3, 0, 0, 0, 0));
    let b = reg.open(key(2)).expect("open");
    assert_eq!(b.as_ptr(), addr, "the freed slot is reused");
    assert_eq!(b.totals().seq, SeqStats::ZERO, "no counts carried over");
    b.record_up_packet(10, 5, false); // first packet: no loss against the old 5
    b.record_up_packet(10, 3, false); // behind, and nothing of ours was lost
    reg.tick().unwrap();
    let r = drain(&reg);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].key.track_id(), "TR_2");
    assert_eq!(r[0].seq, s(0, 0, 1, 0, 0));
}

#[test]
fn plain_records_carry_no_sequence_counts_and_oversized_packets_are_rejected_whole() {
    let reg = manual();
    let track = reg.open(key(1)).expect("open");
    track.record_up(100);
    track.record_up_packet(TRACKSTATS_MAX_RECORD_BYTES + 1, 9, true);
    assert_eq!(reg.stats().records_rejected, 1);
    assert_eq!(track.totals().seq, SeqStats::ZERO);
    // Over the inline limit but valid: bytes go wide, the sequence still counts.
    track.record_up_packet(TRACKSTATS_MAX_INLINE_BYTES + 1, 10, true);
    track.record_up_packet(5, 12, false);
    reg.tick().unwrap();
    let r = drain(&reg);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].bytes, 100 + TRACKSTATS_MAX_INLINE_BYTES + 1 + 5);
    assert_eq!(r[0].messages, 3);
    assert_eq!(r[0].seq, s(1, 0, 0, 0, 1));
}

/// The system allocator, counting the bytes each thread holds, so a test can
/// see its own allocations while other tests run on other threads.
struct PerThread;

thread_local! {
    static LIVE: Cell<i64> = const { Cell::new(0) };
}

fn count(delta: i64) {
    // `try_with`: never fails for a const-initialized Cell, but allocation
    // must not panic even while a thread is being torn down.
    let _ = LIVE.try_with(|c| c.set(c.get() + delta));
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the counting has no effect on the memory.
unsafe impl GlobalAlloc for PerThread {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        count(l.size() as i64);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        count(l.size() as i64);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        count(-(l.size() as i64));
        // SAFETY: `p` came from this allocator, so from `System`, with `l`.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static ALLOCATOR: PerThread = PerThread;

/// In manual mode the releasing thread runs the sampler role, so the block
/// a packet record allocated is freed on this thread: 1000 packet tracks
/// opened and released on one slot (no quarantine, so the same slot each
/// time, and the allocator's bookkeeping stays as it is) leave nothing
/// behind.
#[test]
fn packet_blocks_are_freed_with_their_slot() {
    let reg = manual_reusing_at_once();
    let mut reports = Vec::with_capacity(16);
    let life = |reports: &mut Vec<Report>| {
        let t = reg.open(key(1)).expect("open");
        t.record_up_packet(10, 1, true);
        drop(t);
        reg.flush().unwrap();
        reports.clear();
        reg.drain(reports, 16);
        assert_eq!(sum(reports.iter()), s(0, 0, 0, 0, 1));
    };
    life(&mut reports); // the slab's first segment, the outbox's buffers
    let before = LIVE.with(Cell::get);
    for _ in 0..1000 {
        life(&mut reports);
    }
    reports.clear();
    let kept = LIVE.with(Cell::get) - before;
    assert!(kept < 16 * 1024, "{kept} bytes kept after 1000 packet tracks (a block is 128)");
}

// ---- the C ABI ---------------------------------------------------------------

/// One packet by the header's inline rule for bindings (what the Go binding
/// may do on the words instead of a cgo call), written from its doc comment.
fn inline_packet(t: *mut ffi::trackstats_track, n: u64, s: u16, f: bool) {
    if n > TRACKSTATS_MAX_INLINE_BYTES {
        ffi::trackstats_record_up_packet(t, n, s, f);
        return;
    }
    let p = ffi::trackstats_track_packet_words(t);
    assert!(!p.is_null());
    // SAFETY: the header says `p` points to TRACKSTATS_PACKET_WORDS aligned
    // u64 words, valid until release, accessed atomically.
    let w = unsafe { std::slice::from_raw_parts(p as *const AtomicU64, TRACKSTATS_PACKET_WORDS as usize) };
    let at = |i: u32| &w[i as usize];
    let bump = |i: u32, k: u64| at(i).store(at(i).load(SeqCst).saturating_add(k), SeqCst);
    let st = at(TRACKSTATS_PACKET_WORD_STATE).load(SeqCst);
    let mut frame = f;
    if st & TRACKSTATS_PACKET_STARTED == 0 {
        at(TRACKSTATS_PACKET_WORD_STATE).store(TRACKSTATS_PACKET_STARTED | s as u64, SeqCst);
    } else {
        let d = s.wrapping_sub(st as u16);
        if d == 0 {
            bump(TRACKSTATS_PACKET_WORD_DUPLICATED, 1);
            frame = false;
        } else if d > 32768 {
            bump(TRACKSTATS_PACKET_WORD_OUT_OF_ORDER, 1);
            if at(TRACKSTATS_PACKET_WORD_LOST).load(SeqCst) > at(TRACKSTATS_PACKET_WORD_RECOVERED).load(SeqCst) {
                bump(TRACKSTATS_PACKET_WORD_RECOVERED, 1);
            }
        } else {
            if d > 1 {
                bump(TRACKSTATS_PACKET_WORD_LOST, d as u64 - 1);
            }
            at(TRACKSTATS_PACKET_WORD_STATE).store(TRACKSTATS_PACKET_STARTED | s as u64, SeqCst);
        }
    }
    if frame {
        bump(TRACKSTATS_PACKET_WORD_FRAMES, 1);
    }
    let words = ffi::trackstats_track_window_words(t);
    // SAFETY: the window words are two aligned u64s, valid until release.
    let up = unsafe { &*(words as *const AtomicU64) };
    let old = up.fetch_add(TRACKSTATS_WORD_MESSAGE_ONE | n, SeqCst);
    if old == 0 || old & TRACKSTATS_WORD_SPILL_MASK != 0 {
        ffi::trackstats_track_slow_path(t, 0, old);
    }
}

struct CRegistry {
    reg: *mut ffi::trackstats_registry,
    batch: *mut ffi::trackstats_batch,
}

impl CRegistry {
    fn new() -> CRegistry {
        let reg = c_abi::registry(ffi::TRACKSTATS_MODE_MANUAL, TRACKSTATS_INTERVAL_DEFAULT_MS);
        let mut batch = std::ptr::null_mut();
        assert_eq!(ffi::trackstats_batch_new(1024, &mut batch), trackstats_result::Ok);
        CRegistry { reg, batch }
    }

    fn open(&self, id: &str) -> *mut ffi::trackstats_track {
        c_abi::open(self.reg, "PA_c", id, "", 0)
    }

    /// Ticks, then drains everything as C sees it.
    fn tick(&self) -> Vec<ffi::trackstats_report> {
        assert_eq!(ffi::trackstats_registry_tick(self.reg), trackstats_result::Ok);
        let mut out = Vec::new();
        loop {
            assert_eq!(ffi::trackstats_registry_drain(self.reg, self.batch), trackstats_result::Ok);
            let mut len = 0usize;
            let p = ffi::trackstats_batch_reports(self.batch, &mut len);
            if len == 0 {
                return out;
            }
            // SAFETY: `p` points to `len` reports valid until the next fill.
            out.extend_from_slice(unsafe { std::slice::from_raw_parts(p, len) });
        }
    }
}

impl Drop for CRegistry {
    fn drop(&mut self) {
        ffi::trackstats_batch_free(self.batch);
        ffi::trackstats_registry_free(self.reg);
    }
}

fn c_seq(r: &ffi::trackstats_report) -> SeqStats {
    s(r.packets_lost, r.packets_recovered, r.packets_out_of_order, r.packets_duplicated, r.frames)
}

fn c_totals(t: *mut ffi::trackstats_track) -> ffi::trackstats_totals {
    let mut out = ffi::trackstats_totals::default();
    assert_eq!(ffi::trackstats_track_totals(t, &mut out), trackstats_result::Ok);
    out
}

fn c_totals_seq(t: &ffi::trackstats_totals) -> SeqStats {
    s(t.up_packets_lost, t.up_packets_recovered, t.up_packets_out_of_order, t.up_packets_duplicated, t.up_frames)
}

/// Both C paths (the function and the inline rule) against the model, window
/// by window, on two tracks of one registry.
#[test]
fn c_abi_function_and_inline_rule_match_the_model() {
    let c = CRegistry::new();
    let by_call = c.open("TR_call");
    let inline = c.open("TR_inline");
    let ops = generate(99, 120_000, false);
    let mut model = Model::default();
    let mut last = SeqStats::ZERO;
    let mut rng = Rng(5);
    let mut windows = 0;
    for &op in ops.iter().chain(std::iter::once(&Tick)) {
        match op {
            P(s, f) => {
                // Now and then a wide packet, which takes the wide path.
                let n = if rng.below(500) == 0 { TRACKSTATS_MAX_INLINE_BYTES + 1 } else { 1 + rng.below(1400) };
                ffi::trackstats_record_up_packet(by_call, n, s, f);
                inline_packet(inline, n, s, f);
                model.packet(s, f);
            }
            Tick => {
                let reports = c.tick();
                let want = diff(model.stats(), last);
                last = model.stats();
                for (t, id) in [(by_call, "TR_call"), (inline, "TR_inline")] {
                    let got = reports
                        .iter()
                        .filter(|r| c_track_id(r) == id.as_bytes())
                        .fold(SeqStats::ZERO, |a, r| a + c_seq(r));
                    assert_eq!(got, want, "{id}: window {windows}");
                    assert_eq!(c_totals_seq(&c_totals(t)), model.stats(), "{id}");
                }
                windows += 1;
            }
        }
    }
    assert!(windows > 50);
    let (a, b) = (c_totals(by_call), c_totals(inline));
    assert_eq!((a.up_bytes, a.up_messages), (b.up_bytes, b.up_messages));
    assert_eq!(a.up_messages, ops.iter().filter(|o| matches!(o, P(..))).count() as u64);
    ffi::trackstats_track_release(by_call);
    ffi::trackstats_track_release(inline);
}

fn c_track_id(r: &ffi::trackstats_report) -> &[u8] {
    // SAFETY: a report's (pointer, length) id, valid until the batch refills;
    // the caller copied the reports out of the batch before it refilled, and
    // the strings are the track key's, alive while the registry holds them.
    unsafe { std::slice::from_raw_parts(r.track_id as *const u8, r.track_id_len) }
}

#[test]
fn c_abi_null_track_is_a_no_op_and_totals_carry_the_fields() {
    ffi::trackstats_record_up_packet(std::ptr::null_mut(), 100, 1, true);
    assert!(ffi::trackstats_track_packet_words(std::ptr::null_mut()).is_null());
    let z = c_totals(std::ptr::null_mut());
    assert_eq!(c_totals_seq(&z), SeqStats::ZERO);

    let c = CRegistry::new();
    let t = c.open("TR_1");
    // Every field a different value, so a mixed-up field shows: 12 loses 1,
    // 11 recovers it, 9 finds nothing to recover, 20 loses 7, then three
    // duplicates (the end-of-frame marks on them do not count).
    let packets = [(10u16, true), (12, true), (11, true), (9, false), (20, true), (20, true), (20, false), (20, true)];
    for (seq, f) in packets {
        ffi::trackstats_record_up_packet(t, 50, seq, f);
    }
    let want = s(8, 1, 2, 3, 4);
    assert_eq!(c_totals_seq(&c_totals(t)), want);
    let r = c.tick();
    assert_eq!(r.len(), 1);
    assert_eq!(c_seq(&r[0]), want);
    assert_eq!((r[0].bytes, r[0].messages), (400, 8));
    ffi::trackstats_track_release(t);
}

/// A report whose only non-zero figures are sequence counts is emitted. It
/// happens when a writer has stored a packet's counts but not yet added its
/// bytes as the window ends, and the slot is taken for another reason (here
/// the down side): the counts go in that window, the bytes in the next.
#[test]
fn sequence_counts_alone_make_a_report() {
    let c = CRegistry::new();
    let t = c.open("TR_1");
    inline_packet(t, 10, 1, false);
    let r = c.tick();
    assert_eq!(r.len(), 1);
    assert_eq!((r[0].bytes, r[0].messages, c_seq(&r[0])), (10, 1, SeqStats::ZERO));

    // Packet 4, halfway: its counts stored (2 lost), its add not yet done.
    let p = ffi::trackstats_track_packet_words(t);
    // SAFETY: as in `inline_packet`.
    let w = unsafe { std::slice::from_raw_parts(p as *const AtomicU64, TRACKSTATS_PACKET_WORDS as usize) };
    w[TRACKSTATS_PACKET_WORD_LOST as usize].store(2, SeqCst);
    w[TRACKSTATS_PACKET_WORD_STATE as usize].store(TRACKSTATS_PACKET_STARTED | 4, SeqCst);
    ffi::trackstats_record_down(t, 7);
    let r = c.tick();
    assert_eq!(r.len(), 2, "{r:?}");
    let up = r.iter().find(|r| r.direction == Direction::Up).expect("an up report");
    assert_eq!((up.bytes, up.messages, c_seq(up)), (0, 0, s(2, 0, 0, 0, 0)));
    let down = r.iter().find(|r| r.direction == Direction::Down).expect("a down report");
    assert_eq!((down.bytes, c_seq(down)), (7, SeqStats::ZERO));

    // The add lands: its bytes in the next window, counted once.
    let up_word = ffi::trackstats_track_window_words(t);
    // SAFETY: as in `inline_packet`.
    let old = unsafe { &*(up_word as *const AtomicU64) }.fetch_add(TRACKSTATS_WORD_MESSAGE_ONE | 10, SeqCst);
    assert_eq!(old, 0, "the window's first record");
    ffi::trackstats_track_slow_path(t, 0, old);
    let r = c.tick();
    assert_eq!(r.len(), 1);
    assert_eq!((r[0].bytes, r[0].messages, c_seq(&r[0])), (10, 1, SeqStats::ZERO));
    assert_eq!(c_totals_seq(&c_totals(t)), s(2, 0, 0, 0, 0));

    // The same at close, where the final flush takes the slot whatever its
    // words hold: packet 5 ends a frame, its add not yet done.
    w[TRACKSTATS_PACKET_WORD_FRAMES as usize].store(1, SeqCst);
    w[TRACKSTATS_PACKET_WORD_STATE as usize].store(TRACKSTATS_PACKET_STARTED | 5, SeqCst);
    assert_eq!(ffi::trackstats_track_close(t), trackstats_result::Ok);
    let r = c.tick();
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!((r[0].bytes, r[0].messages, c_seq(&r[0])), (0, 0, s(0, 0, 0, 0, 1)));
    assert_eq!(r[0].flags, TRACKSTATS_FLAG_FINAL);
    ffi::trackstats_track_release(t);
}

// ---- several threads -------------------------------------------------------

/// One writer, a sampler thread ending 1 ms windows underneath it: the
/// cumulative figures are exact (windows may split differently than a tick
/// between packets would, but they add up).
#[test]
fn one_writer_racing_the_sampler_is_exact() {
    let reg = Registry::new(Config {
        mode: Mode::Thread,
        interval: Duration::from_millis(1),
        sink: None,
        ..Default::default()
    })
    .unwrap();
    let track = reg.open(key(1)).expect("open");
    let ops = generate(3, 400_000, false);
    let mut model = Model::default();
    let mut reports = Vec::new();
    for (i, &op) in ops.iter().enumerate() {
        if let P(s, f) = op {
            track.record_up_packet(BYTES, s, f);
            model.packet(s, f);
        }
        if i % 50_000 == 0 {
            reg.drain(&mut reports, usize::MAX);
        }
        if i == ops.len() / 2 {
            // The run alone can be shorter than the sampler's wake-up delay
            // on a loaded machine: leave it a few windows mid-stream.
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    assert_eq!(track.totals().seq, model.stats());
    drop(track);
    reg.close().unwrap();
    reg.drain(&mut reports, usize::MAX);
    assert!(reports.len() > 1, "the run spanned several windows");
    assert_eq!(sum(&reports), model.stats());
    assert_eq!(
        reports.iter().map(|r| r.messages).sum::<u64>(),
        ops.iter().filter(|o| matches!(o, P(..))).count() as u64
    );
}

/// Several threads on one track: bytes and messages exact; the sequence
/// counts within the documented bounds (docs/seq.md); windows never negative
/// (u64) and adding up to the totals.
#[test]
fn several_writers_on_one_track_stay_within_the_documented_bounds() {
    const THREADS: u64 = 4;
    const PER: u64 = 100_000;
    let reg = Registry::new(Config {
        mode: Mode::Thread,
        interval: Duration::from_millis(1),
        sink: None,
        ..Default::default()
    })
    .unwrap();
    let track = Arc::new(reg.open(key(1)).expect("open"));
    let next = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (track, next) = (track.clone(), next.clone());
            std::thread::spawn(move || {
                let mut rng = Rng(t + 1);
                let mut frames = 0u64;
                for _ in 0..PER {
                    // A shared counter: nearly in order, interleaved by the
                    // threads; plus some duplicates and jumps.
                    let seq = match rng.below(10) {
                        0 => next.load(SeqCst) as u16,
                        1 => rng.next() as u16,
                        _ => next.fetch_add(1 + rng.below(2), SeqCst) as u16,
                    };
                    let f = rng.below(2) == 0;
                    frames += f as u64;
                    track.record_up_packet(BYTES, seq, f);
                }
                frames
            })
        })
        .collect();
    let eof: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let before = track.totals();
    drop(Arc::into_inner(track).expect("the only holder"));
    reg.close().unwrap();
    let mut reports = Vec::new();
    reg.drain(&mut reports, usize::MAX);
    let packets = THREADS * PER;
    assert_eq!(reports.iter().map(|r| r.messages).sum::<u64>(), packets);
    assert_eq!(reports.iter().map(|r| r.bytes).sum::<u64>(), packets * BYTES);
    assert_eq!(before.up.messages, packets);
    let got = sum(&reports);
    // Every count is backed by classifications some writer made: at most one
    // of out-of-order/duplicated per packet, recovered only on out-of-order
    // packets, a frame only on end-of-frame packets, at most 32767 lost each.
    assert!(got.out_of_order + got.duplicated <= packets, "{got:?}");
    assert!(got.recovered + got.duplicated <= packets, "{got:?}");
    assert!(got.frames <= eof, "{got:?} eof {eof}");
    assert!(got.lost <= 32767 * packets, "{got:?}");
    // Totals read after the writers stopped never exceed what is reported
    // at the end, and the counts are real (the stream was busy).
    for (t, g) in [
        (before.seq.lost, got.lost),
        (before.seq.recovered, got.recovered),
        (before.seq.out_of_order, got.out_of_order),
        (before.seq.duplicated, got.duplicated),
        (before.seq.frames, got.frames),
    ] {
        assert!(t <= g, "totals {:?} reports {got:?}", before.seq);
    }
    assert!(got.frames > 0 && got.out_of_order > 0 && got.lost > 0, "{got:?}");
}
