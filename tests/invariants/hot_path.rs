//! Invariant 3: records never block, allocate, lock or call into the host.

use crate::allocations;
use crate::c_abi;
use crate::common::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use trackstats::ffi::*;
use trackstats::{Config, Mode, Registry, Report, Sink, TRACKSTATS_INTERVAL_DEFAULT_MS, TRACKSTATS_MAX_INLINE_BYTES};

#[test]
fn records_allocate_nothing_on_any_path() {
    let reg = manual();
    let t = reg.open(key(1)).unwrap();
    let (creg, handle) = c_track();
    let before = allocations();
    for i in 0..1_000_000u64 {
        t.record_up(i % 1500);
        t.record_down(64);
        trackstats_record_up(handle, 100);
        trackstats_record_down(std::ptr::null_mut(), 100);
    }
    t.record_up(TRACKSTATS_MAX_INLINE_BYTES + 1); // the wide path
    trackstats_record_down(handle, u64::MAX); // rejected
    assert_eq!(allocations() - before, 0, "the hot path allocated");
    assert_eq!(t.totals().up.messages, 1_000_001);
    let mut tot = trackstats_totals::default();
    assert_eq!(trackstats_track_totals(handle, &mut tot), trackstats_result::Ok);
    assert_eq!(tot.up_messages, 1_000_000);
    let mut st = trackstats_stats::default();
    assert_eq!(trackstats_registry_stats(creg, &mut st), trackstats_result::Ok);
    assert_eq!(st.records_rejected, 1);
    trackstats_track_release(handle);
    trackstats_registry_free(creg);
}

/// A manual registry and one track through the C ABI.
fn c_track() -> (*mut trackstats_registry, *mut trackstats_track) {
    let reg = c_abi::registry(TRACKSTATS_MODE_MANUAL, TRACKSTATS_INTERVAL_DEFAULT_MS);
    (reg, c_abi::open(reg, "PA_c", "TR_c", "", 9))
}

/// The sink runs on the sampler thread, never on a recording thread.
#[test]
fn records_never_call_into_the_host() {
    let threads = Arc::new(Mutex::new(Vec::new()));
    let th = threads.clone();
    let sink: Sink = Box::new(move |_: &[Report]| th.lock().unwrap().push(thread::current().id()));
    let reg = Registry::new(Config {
        interval: Duration::from_millis(1),
        mode: Mode::Thread,
        sink: Some(sink),
        ..Default::default()
    })
    .unwrap();
    let t = reg.open(key(1)).unwrap();
    let deadline = Instant::now() + Duration::from_millis(50);
    while Instant::now() < deadline {
        t.record_up(10);
    }
    t.close();
    drop(t);
    drop(reg);
    let ids = threads.lock().unwrap();
    assert!(!ids.is_empty(), "the sink was called");
    assert!(ids.iter().all(|id| *id != thread::current().id()), "the sink ran on the recording thread");
}

/// With the sink stuck (holding the sampler role, as a slow host would),
/// records and closes on another thread still complete at full speed.
#[test]
fn records_and_closes_never_wait_for_a_stuck_sink() {
    let (entered_tx, entered_rx) = mpsc::channel::<()>();
    let release = Arc::new(AtomicBool::new(false));
    let rel = release.clone();
    let entered_tx = Mutex::new(entered_tx);
    let sink: Sink = Box::new(move |_: &[Report]| {
        let _ = entered_tx.lock().unwrap().send(());
        while !rel.load(Ordering::Acquire) {
            thread::sleep(Duration::from_millis(1));
        }
    });
    let reg = Registry::new(Config {
        interval: Duration::from_millis(1),
        mode: Mode::Thread,
        sink: Some(sink),
        ..Default::default()
    })
    .unwrap();
    let a = reg.open(key(1)).unwrap();
    a.record_up(1);
    entered_rx.recv_timeout(Duration::from_secs(5)).expect("the sink was entered");
    // The sampler thread is now blocked inside the sink.
    let start = Instant::now();
    let b = reg.open(key(2)).unwrap();
    for _ in 0..1_000_000 {
        a.record_up(100);
        b.record_down(100);
    }
    b.close();
    let took = start.elapsed();
    assert!(!release.load(Ordering::Acquire));
    assert!(took < Duration::from_secs(3), "recording waited for the sink: {took:?}");
    release.store(true, Ordering::Release);
    drop((a, b));
    drop(reg);
}
