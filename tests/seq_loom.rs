//! loom models of the packet record against the real code, as in
//! tests/loom.rs: `RUSTFLAGS="--cfg trackstats_loom"` swaps the crate's atomics for
//! loom's, whose loads may return stale values the way weak hardware does.
//!
//! Run: `RUSTFLAGS="--cfg trackstats_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//! --test seq_loom --target-dir target/loom -- --nocapture`.
//!
//! What they check: a packet's sequence counts are never reported in a
//! window after the one holding its message (the Release add in
//! `Slot::record_packet` against the Acquire fence in `Slot::take_seq`),
//! the lazily installed block is seen whole by the sampler, and two writers
//! racing on one track (and on the block's installation) keep bytes and
//! messages exact with sequence counts inside the documented bounds.
#![cfg(trackstats_loom)]

mod loom_support;
use loom_support::{manual_registry, model};

use loom::thread;
use std::sync::Arc;
use trackstats::{Registry, Report, SeqStats, TrackKey};

fn drain(reg: &Registry) -> Vec<Report> {
    let mut v = Vec::new();
    while reg.drain(&mut v, 16) > 0 {}
    v
}

fn seq_of(reports: &[Report]) -> (SeqStats, u64) {
    reports.iter().fold((SeqStats::ZERO, 0), |(s, m), r| (s + r.seq, m + r.messages))
}

/// Packets 1 and 3 (both ending a frame) race a tick. Whatever window each
/// message lands in, the counts it implies are reported by then: after one
/// message, one frame; after two, one lost and two frames.
#[test]
fn packet_counts_never_trail_their_message() {
    model("packet_counts_never_trail_their_message", || {
        let reg = manual_registry();
        let track = Arc::new(reg.open(TrackKey::new("PA", "TR", "", 1).unwrap()).expect("open"));
        let writer = track.clone();
        let h = thread::spawn(move || {
            writer.record_up_packet(100, 1, true);
            writer.record_up_packet(100, 3, true);
        });
        reg.tick().expect("tick");
        let (first, m1) = seq_of(&drain(&reg));
        h.join().expect("writer");
        reg.tick().expect("tick");
        let (second, m2) = seq_of(&drain(&reg));
        if m1 >= 1 {
            assert!(first.frames >= 1, "first window: {m1} messages, {first:?}");
        }
        if m1 == 2 {
            assert_eq!(first, SeqStats { lost: 1, frames: 2, ..SeqStats::ZERO });
        }
        assert_eq!(m1 + m2, 2);
        assert_eq!(first + second, SeqStats { lost: 1, frames: 2, ..SeqStats::ZERO });
        assert_eq!(track.totals().seq, first + second);
        drop(track);
        reg.flush().expect("flush");
        assert!(drain(&reg).is_empty(), "nothing left after two windows");
    });
}

/// Two writers on one track, each installing the block if it finds none:
/// one block wins, the other is freed; messages exact, counts bounded.
#[test]
fn two_writers_race_the_block_install() {
    model("two_writers_race_the_block_install", || {
        let reg = manual_registry();
        let track = Arc::new(reg.open(TrackKey::new("PA", "TR", "", 1).unwrap()).expect("open"));
        let hs: Vec<_> = [5u16, 7]
            .into_iter()
            .map(|s| {
                let w = track.clone();
                thread::spawn(move || w.record_up_packet(10, s, true))
            })
            .collect();
        for h in hs {
            h.join().expect("writer");
        }
        drop(track);
        reg.flush().expect("flush");
        let (got, messages) = seq_of(&drain(&reg));
        assert_eq!(messages, 2);
        assert!(got.frames >= 1 && got.frames <= 2, "{got:?}");
        assert!(got.out_of_order + got.duplicated <= 2, "{got:?}");
        assert!(got.lost <= 1, "5 then 7 skips one; 7 then 5 is late: {got:?}");
    });
}
