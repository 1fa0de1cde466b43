//! Invariant 6: a NULL track is a no-op everywhere; a slot is reused only
//! after its last holder released it, so nothing is misattributed; bytes
//! recorded after close are reported, flagged late.

use crate::common::*;
use std::collections::HashSet;
use std::ptr::null_mut;
use std::time::Duration;
use trackstats::ffi::*;
use trackstats::{Config, Direction, Mode, Registry, Report};

#[test]
fn a_null_track_is_a_no_op_in_every_call() {
    trackstats_record_up(null_mut(), 100);
    trackstats_record_down(null_mut(), 100);
    trackstats_track_slow_path(null_mut(), 0, 0);
    assert_eq!(trackstats_track_close(null_mut()), trackstats_result::Ok);
    trackstats_track_release(null_mut());
    assert!(trackstats_track_window_words(null_mut()).is_null());
    let mut tot = trackstats_totals {
        up_bytes: 9,
        up_messages: 9,
        down_bytes: 9,
        down_messages: 9,
        up_packets_lost: 9,
        up_packets_recovered: 9,
        up_packets_out_of_order: 9,
        up_packets_duplicated: 9,
        up_frames: 9,
    };
    assert_eq!(trackstats_track_totals(std::ptr::null(), &mut tot), trackstats_result::Ok);
    assert_eq!((tot.up_bytes, tot.up_messages, tot.down_bytes, tot.down_messages), (0, 0, 0, 0));
    let seq = (tot.up_packets_lost, tot.up_packets_recovered, tot.up_packets_out_of_order, tot.up_packets_duplicated);
    assert_eq!((seq, tot.up_frames), ((0, 0, 0, 0), 0));
}

fn only(reports: &[Report], id: u64) -> Vec<&Report> {
    reports.iter().filter(|r| r.key.user_data() == id).collect()
}

#[test]
fn bytes_after_close_are_reported_late() {
    let reg = manual();
    let t = reg.open(key(1)).unwrap();
    let mut r = Vec::new();
    t.record_up(10);
    t.close();
    reg.flush().unwrap();
    r.extend(drain_all(&reg));
    t.record_up(5); // after the final flush
    reg.tick().unwrap();
    r.extend(drain_all(&reg));
    t.record_down(7);
    drop(t); // release: the last late bytes
    reg.flush().unwrap();
    r.extend(drain_all(&reg));
    let f: Vec<_> = r.iter().map(|r| (r.direction, r.bytes, r.is_final(), r.is_late())).collect();
    assert_eq!(
        f,
        vec![(Direction::Up, 10, true, false), (Direction::Up, 5, false, true), (Direction::Down, 7, false, true)]
    );
}

/// A closed track still held keeps its slot: new tracks never get it, and
/// its late bytes stay its own.
#[test]
fn a_held_slot_is_never_reused_and_nothing_is_misattributed() {
    let reg = quarantine_of_one();
    let held = reg.open(key(1)).unwrap();
    let held_words = words(&held);
    held.record_up(1);
    held.close();
    reg.flush().unwrap();
    let others: Vec<_> = (2..2000).map(|i| reg.open(key(i)).unwrap()).collect();
    let addrs: HashSet<_> = others.iter().map(words).collect();
    assert!(!addrs.contains(&held_words), "a held slot was handed out again");
    held.record_up(1000);
    others.iter().for_each(|t| t.record_up(1));
    reg.tick().unwrap();
    let r = drain_all(&reg);
    let mine: u64 = only(&r, 1).iter().map(|r| r.bytes).sum();
    assert_eq!(mine, 1001);
    assert!(r.iter().filter(|r| r.key.user_data() != 1).all(|r| r.bytes == 1));
    // Once released (and flushed), the slot is quarantined, then reused
    // with a fresh key once another released slot pushes it out.
    drop(held);
    reg.flush().unwrap();
    let quarantined = reg.open(key(4999)).unwrap();
    assert_ne!(words(&quarantined), held_words, "a quarantined slot was handed out");
    drop(quarantined);
    reg.flush().unwrap();
    let next = reg.open(key(5000)).unwrap();
    assert_eq!(words(&next), held_words, "the slot leaves the quarantine and is reused");
    next.record_up(3);
    reg.tick().unwrap();
    let r = drain_all(&reg);
    assert_eq!(only(&r, 5000).iter().map(|r| r.bytes).sum::<u64>(), 3);
    assert!(only(&r, 1).is_empty());
}

/// A manual registry whose quarantine holds one slot (for an hour): a
/// released slot comes back once one more is released after it.
fn quarantine_of_one() -> Registry {
    Registry::new(Config {
        mode: Mode::Manual,
        quarantine: Duration::from_secs(3600),
        quarantine_slots: 1,
        ..Default::default()
    })
    .unwrap()
}

fn words(t: &trackstats::Track) -> usize {
    trackstats_track_window_words(t.as_ptr()) as usize
}

/// Freeing the registry first leaves track handles valid: records still
/// work and release cleans up.
#[test]
fn tracks_outlive_their_registry_safely() {
    let reg = threaded(5);
    let t = reg.open(key(1)).unwrap();
    t.record_up(10);
    drop(reg);
    t.record_up(10);
    assert_eq!(t.totals().up.messages, 2);
    drop(t);
}

/// A record through a released handle (the case: open A, release A,
/// open B, record on A) never counts into another track: A's slot is
/// quarantined with its words sealed, so the record takes the slow path and
/// is counted in `stale_records`, reported nowhere. Once the slot is reused
/// (the quarantine ended), the next track starts clean and what reached the
/// sealed slot meanwhile was counted once.
#[test]
fn a_stale_handle_counts_into_no_other_track() {
    let reg = quarantine_of_one();
    let a = reg.open(key(1)).unwrap();
    a.record_up(10);
    let stale = a.as_ptr();
    drop(a);
    reg.flush().unwrap();
    let b = reg.open(key(2)).unwrap();
    trackstats_record_up(stale, 500);
    trackstats_record_down(stale, 7);
    assert_eq!(b.totals().up.bytes, 0, "the stale record counted into the next track");
    let s = reg.stats();
    assert_eq!((s.stale_records, s.stale_bytes), (2, 507));
    // Out of quarantine and reused: the next track in A's slot starts clean.
    drop(b);
    reg.flush().unwrap();
    let c = reg.open(key(3)).unwrap();
    assert_eq!(c.as_ptr(), stale, "A's slot, reused");
    assert_eq!(c.totals().up, trackstats::Delta::ZERO);
    c.record_up(3);
    drop(c);
    reg.flush().unwrap();
    let r = drain_all(&reg);
    let per = |id| only(&r, id).iter().map(|r| r.bytes).sum::<u64>();
    assert_eq!((per(1), per(2), per(3)), (10, 0, 3), "{r:?}");
    let s = reg.stats();
    assert_eq!((s.stale_records, s.stale_bytes), (2, 507), "counted once");
}

/// The debug option: a slot is never reused, so every record through any
/// released handle, however late, is caught and counted.
#[test]
fn never_reuse_counts_every_stale_record() {
    let reg =
        Registry::new(Config { mode: Mode::Manual, never_reuse: true, quarantine_slots: 0, ..Default::default() })
            .unwrap();
    let mut stale = Vec::new();
    for i in 0..3000 {
        let t = reg.open(key(i)).unwrap();
        t.record_up(1);
        stale.push(t.as_ptr() as usize);
        drop(t);
        reg.flush().unwrap();
    }
    for &p in &stale {
        trackstats_record_up(p as *mut trackstats_track, 2);
    }
    let s = reg.stats();
    assert_eq!((s.stale_records, s.stale_bytes), (3000, 6000));
    let r = drain_all(&reg);
    assert_eq!(r.iter().map(|r| r.bytes).sum::<u64>(), 3000, "only what was recorded before each release");
}
