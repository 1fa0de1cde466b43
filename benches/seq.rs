//! The packet record against the plain record it builds on (goal:
//! `record_up_packet` at most 2x `record_up`), measured in one group and one
//! run, so the ratio compares like with like.
//!
//! Group `seq`, one thread, one track each:
//! - `record_up`: the baseline, one `fetch_add` on the window word.
//! - `record_up_packet/in_order`: the common case, the next sequence number,
//!   every packet ending a frame (a data track's usual shape).
//! - `record_up_packet/mixed`: a repeating 4096-packet pattern with about 5%
//!   loss, 5% late arrivals and 1% duplicates, so every branch runs and the
//!   branch predictor cannot learn one path.
//! - `c_abi/record_up` and `c_abi/record_up_packet`: the same through the C
//!   functions, called through a pointer the optimizer cannot see through
//!   (as a C or C++ host calls them).
//!
//! Docs/seq.md quotes the medians and ratios.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::time::Duration;
use trackstats::ffi::{self, trackstats_track};
use trackstats::{Config, Mode, Registry, TrackKey};

/// A typical data packet.
const BYTES: u64 = 1200;
const PATTERN: usize = 4096;

/// The mixed stream's sequence numbers (a fixed LCG, so runs compare).
fn mixed_pattern() -> Vec<u16> {
    let mut x: u32 = 12345;
    let mut next: u16 = 0;
    let mut out = Vec::with_capacity(PATTERN);
    while out.len() < PATTERN {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let roll = (x >> 16) % 100;
        let seq = match roll {
            0..=4 => {
                next = next.wrapping_add(2); // one lost
                next
            }
            5..=9 => next.wrapping_sub(1 + (x >> 8) as u16 % 8), // late
            10 => next,                                          // duplicate
            _ => {
                next = next.wrapping_add(1);
                next
            }
        };
        out.push(seq);
    }
    out
}

fn seq(c: &mut Criterion) {
    let reg = Registry::new(Config { mode: Mode::Manual, ..Config::default() }).expect("registry");
    let key = |t: &str| TrackKey::new("PA_bench", t, "", 0).expect("key");
    let plain = reg.open(key("TR_plain")).expect("open");
    let in_order = reg.open(key("TR_in_order")).expect("open");
    let mixed = reg.open(key("TR_mixed")).expect("open");
    let c_plain = reg.open(key("TR_c_plain")).expect("open");
    let c_packet = reg.open(key("TR_c_packet")).expect("open");
    let pattern = mixed_pattern();

    // Real calls, as from C: through pointers the optimizer cannot inline.
    let c_record_up: extern "C" fn(*mut trackstats_track, u64) = black_box(ffi::trackstats_record_up);
    let c_record_up_packet: extern "C" fn(*mut trackstats_track, u64, u16, bool) =
        black_box(ffi::trackstats_record_up_packet);

    let mut g = c.benchmark_group("seq");
    g.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    g.bench_function("record_up", |b| b.iter(|| plain.record_up(black_box(BYTES))));
    let mut s: u16 = 0;
    g.bench_function("record_up_packet/in_order", |b| {
        b.iter(|| {
            s = s.wrapping_add(1);
            in_order.record_up_packet(black_box(BYTES), black_box(s), black_box(true))
        })
    });
    let mut i = 0usize;
    g.bench_function("record_up_packet/mixed", |b| {
        b.iter(|| {
            i = (i + 1) % PATTERN;
            mixed.record_up_packet(black_box(BYTES), black_box(pattern[i]), black_box(i % 3 == 0))
        })
    });
    g.bench_function("c_abi/record_up", |b| b.iter(|| c_record_up(black_box(c_plain.as_ptr()), black_box(BYTES))));
    let mut s: u16 = 0;
    g.bench_function("c_abi/record_up_packet", |b| {
        b.iter(|| {
            s = s.wrapping_add(1);
            c_record_up_packet(black_box(c_packet.as_ptr()), black_box(BYTES), black_box(s), black_box(true))
        })
    });
    g.finish();

    // Keep the counts honest: every track saw what was recorded.
    let t = in_order.totals();
    assert!(t.up.messages > 0 && t.seq.lost == 0 && t.seq.frames == t.up.messages - t.seq.duplicated);
    assert!(mixed.totals().seq.lost > 0);
}

criterion_group!(benches, seq);
criterion_main!(benches);
