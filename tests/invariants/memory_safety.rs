//! Invariant 6: a NULL track is a no-op everywhere; a slot is reused only
//! after its last holder released it, so nothing is misattributed; bytes
//! recorded after close are reported, flagged late.

use crate::common::*;
use std::collections::HashSet;
use std::ptr::null_mut;
use trackstats::ffi::*;
use trackstats::{Direction, Report};

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
    let reg = manual();
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
    // Once released (and flushed), the slot is reused, with a fresh key.
    drop(held);
    reg.flush().unwrap();
    let next = reg.open(key(5000)).unwrap();
    assert_eq!(words(&next), held_words, "the free list hands back the released slot");
    next.record_up(3);
    reg.tick().unwrap();
    let r = drain_all(&reg);
    assert_eq!(only(&r, 5000).iter().map(|r| r.bytes).sum::<u64>(), 3);
    assert!(only(&r, 1).is_empty());
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
