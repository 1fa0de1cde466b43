//! Fault containment. A panic inside the sampler (injected through the
//! test-only `fault-injection` feature: `cargo test --features
//! fault-injection --test faults`, which `make test-faults` runs) is caught,
//! counted in `trackstats_registry_stats().sampler_panics`, and sampling goes
//! on with nothing lost: the reports a panicking pass had already made stay
//! in the sampler's batch and go out with the next pass. A panicking Rust
//! sink is caught and counted the same way.
//!
//! No panic ever unwinds into C: checked here from the source, every
//! exported function either runs its body under the `guard`/`guard_void`
//! panic boundary or is on a short reviewed list of functions that cannot
//! panic (the hot path and constants). The header's thread-safety statement
//! for every function is checked here too.

mod c_abi;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use trackstats::{Config, Mode, Registry, Report, TrackKey, MAX_INTERVAL};

/// Exported functions that do not run under `guard`, and why they cannot
/// panic. A new exported function must use `guard`/`guard_void` or be
/// reviewed and listed here. (Since Rust 1.81 a panic escaping an
/// `extern "C"` function aborts the process rather than unwinding into C;
/// these are the functions where even that cannot happen.)
const UNGUARDED: &[(&str, &str)] = &[
    ("trackstats_record_up", "hot path: a null check and atomic adds on a live slot"),
    ("trackstats_record_down", "hot path: a null check and atomic adds on a live slot"),
    ("trackstats_record_up_packet", "hot path: atomics at constant indices; allocation failure is a no-op"),
    ("trackstats_track_window_words", "returns the slot's address"),
    ("trackstats_track_packet_words", "returns an address; allocation failure gives NULL"),
    ("trackstats_track_slow_path", "a direction check and atomic RMWs"),
    ("trackstats_config_default", "a constant"),
    ("trackstats_result_str", "a match on the code, any value accepted"),
    ("trackstats_version", "a constant"),
];

/// `(name, body)` of every `extern "C"` function in `src/ffi`.
fn exported_functions() -> Vec<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/ffi");
    let mut out = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(dir).expect("src/ffi").map(|e| e.expect("entry").path()).collect();
    paths.sort();
    for path in paths.into_iter().filter(|p| p.extension().is_some_and(|e| e == "rs")) {
        let src = std::fs::read_to_string(&path).expect("read");
        let mut rest = src.as_str();
        while let Some(at) = rest.find("extern \"C\" fn ") {
            let after = &rest[at + "extern \"C\" fn ".len()..];
            let name: String = after.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            // The body: from the first `{` after the signature to its match.
            let open = after.find('{').expect("a body");
            let mut depth = 0usize;
            let mut end = open;
            for (i, c) in after[open..].char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = open + i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            // Skip function-pointer types (`Option<unsafe extern "C" fn(..)>`).
            if !name.is_empty() {
                out.push((name, after[open..=end].to_string()));
            }
            rest = &after[end..];
        }
    }
    out
}

#[test]
fn no_panic_can_unwind_into_c() {
    let fns = exported_functions();
    assert!(fns.len() >= 20 && fns.iter().any(|(n, _)| n == "trackstats_track_open"), "parser found {fns:?}");
    let mut unguarded = Vec::new();
    for (name, body) in &fns {
        let guarded = body.contains("guard(") || body.contains("guard_void(");
        let listed = UNGUARDED.iter().any(|(n, _)| n == name);
        if !guarded && !listed {
            unguarded.push(name.clone());
        }
        assert!(!(guarded && listed), "{name} is guarded: take it off UNGUARDED");
    }
    assert!(unguarded.is_empty(), "exported without the panic guard and not reviewed: {unguarded:?}");
    for (name, _) in UNGUARDED {
        assert!(fns.iter().any(|(n, _)| n == name), "UNGUARDED lists {name}, which is not exported");
    }
    println!(
        "{} exported functions: {} guarded, {} reviewed panic-free",
        fns.len(),
        fns.len() - UNGUARDED.len(),
        UNGUARDED.len()
    );
}

#[test]
fn every_function_in_the_header_states_its_thread_safety() {
    let header = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/trackstats.h")).expect("header");
    let lines: Vec<&str> = header.lines().collect();
    let mut missing = Vec::new();
    let mut seen = 0;
    for (i, line) in lines.iter().enumerate() {
        // A prototype: a line at column 0 whose word before `(` is a trackstats_ name.
        let Some(paren) = line.find('(') else { continue };
        if line.starts_with(|c: char| c.is_whitespace() || "/#}".contains(c)) || line.starts_with("typedef") {
            continue;
        }
        let name = line[..paren].rsplit(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap_or("");
        if !name.starts_with("trackstats_") {
            continue;
        }
        seen += 1;
        let doc: Vec<&str> = lines[..i].iter().rev().take_while(|l| l.starts_with("//")).copied().collect();
        let doc = doc.join(" ").to_lowercase();
        if !(doc.contains("thread-safe") || doc.contains("must not race")) {
            missing.push(line.to_string());
        }
    }
    assert!(seen >= 20, "found only {seen} prototypes");
    assert!(missing.is_empty(), "functions whose header doc does not state thread safety: {missing:#?}");
}

fn key(user: u64) -> TrackKey {
    TrackKey::new("PA", &format!("TR_{user}"), "", user).expect("key")
}

/// Bytes reported per user_data.
fn tally(reports: &[Report]) -> BTreeMap<u64, (u64, u64)> {
    let mut t = BTreeMap::new();
    for r in reports {
        let e: &mut (u64, u64) = t.entry(r.key.user_data()).or_default();
        e.0 += r.bytes;
        e.1 += r.messages;
    }
    t
}

/// Keeps the expected panic messages (a sink bug, the injected fault) out
/// of the test output; every other panic still prints.
fn quiet_expected_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = info.payload().downcast_ref::<&str>().copied().unwrap_or("");
            if msg != "a sink bug" && msg != "injected sampler fault" {
                default(info);
            }
        }));
    });
}

#[test]
fn a_panicking_rust_sink_is_caught_counted_and_called_again() {
    quiet_expected_panics();
    let calls = Arc::new(AtomicU64::new(0));
    let got = Arc::new(Mutex::new(Vec::new()));
    let (c, g) = (calls.clone(), got.clone());
    let sink = Box::new(move |rs: &[Report]| {
        if c.fetch_add(1, SeqCst) == 0 {
            panic!("a sink bug");
        }
        g.lock().unwrap().extend_from_slice(rs);
    });
    let reg =
        Registry::new(Config { interval: MAX_INTERVAL, mode: Mode::Manual, sink: Some(sink), ..Default::default() })
            .expect("registry");
    let t = reg.open(key(1)).expect("open");
    t.record_up(10);
    reg.tick().expect("the sink's panic does not reach the caller");
    t.record_up(20);
    reg.tick().expect("tick");
    assert_eq!(reg.stats().sink_panics, 1);
    assert_eq!(calls.load(SeqCst), 2, "the sink is called again after its panic");
    // The panicking call had received the first window; the later ones arrive.
    assert_eq!(tally(&got.lock().unwrap()).get(&1), Some(&(20, 1)));
}

#[cfg(feature = "fault-injection")]
mod injected {
    use super::*;
    use std::ptr::null_mut;
    use std::time::{Duration, Instant};
    use trackstats::ffi::{self, trackstats_registry, trackstats_result as R, trackstats_track};

    fn registry(mode: u32, interval_ms: u64) -> *mut trackstats_registry {
        quiet_expected_panics();
        c_abi::registry(mode, interval_ms)
    }

    fn inject(reg: *mut trackstats_registry, after_slots: usize) {
        // SAFETY: a live registry from `trackstats_registry_new`.
        unsafe { &*reg }.inject_sampler_panic(after_slots);
    }

    use crate::c_abi::open_numbered as open;

    fn stats(reg: *mut trackstats_registry) -> ffi::trackstats_stats {
        let mut s = ffi::trackstats_stats::default();
        assert_eq!(ffi::trackstats_registry_stats(reg, &mut s), R::Ok);
        s
    }

    /// (bytes, messages) per user_data from every pending report.
    fn drain(reg: *mut trackstats_registry, into: &mut BTreeMap<u64, (u64, u64)>) -> usize {
        let mut batch = null_mut();
        assert_eq!(ffi::trackstats_batch_new(16, &mut batch), R::Ok);
        let mut n = 0;
        loop {
            assert_eq!(ffi::trackstats_registry_drain(reg, batch), R::Ok);
            let mut len = 0;
            let rs = ffi::trackstats_batch_reports(batch, &mut len);
            if len == 0 {
                break;
            }
            // SAFETY: `len` reports owned by `batch` until its next fill.
            for r in unsafe { std::slice::from_raw_parts(rs, len) } {
                let e = into.entry(r.user_data).or_default();
                e.0 += r.bytes;
                e.1 += r.messages;
                n += 1;
            }
        }
        ffi::trackstats_batch_free(batch);
        n
    }

    /// THREAD_SPAWN_FAILED, the one code of `trackstats_registry_new` no
    /// argument can cause (tests/abi_codes.rs checks the others): nothing
    /// written, and the next registry starts.
    #[test]
    fn a_sampler_thread_that_cannot_start_is_thread_spawn_failed() {
        trackstats::fail_next_thread_spawn();
        let cfg = ffi::trackstats_config_default();
        let mut out = null_mut();
        assert_eq!(ffi::trackstats_registry_new(&cfg, &mut out), R::ThreadSpawnFailed);
        assert!(out.is_null(), "out written on failure");
        assert_eq!(ffi::trackstats_registry_new(&cfg, &mut out), R::Ok);
        ffi::trackstats_registry_free(out);
    }

    #[test]
    fn a_panic_in_the_sampler_thread_is_caught_counted_and_sampling_goes_on() {
        let reg = registry(ffi::TRACKSTATS_MODE_THREAD, 5);
        let tracks: Vec<_> = (1..=4).map(|u| open(reg, u)).collect();
        for (i, &t) in tracks.iter().enumerate() {
            ffi::trackstats_record_up(t, 100 * (i as u64 + 1));
        }
        // The next pass takes two slots' windows, then panics before the third.
        inject(reg, 2);
        let deadline = Instant::now() + Duration::from_secs(10);
        while stats(reg).sampler_panics == 0 {
            assert!(Instant::now() < deadline, "the injected panic never happened");
            std::thread::sleep(Duration::from_millis(1));
        }
        // Sampling goes on: new records are reported by later passes.
        for &t in &tracks {
            ffi::trackstats_record_down(t, 7);
        }
        let mut got = BTreeMap::new();
        let ticks = stats(reg).ticks;
        while got.values().map(|v: &(u64, u64)| v.1).sum::<u64>() < 8 {
            assert!(Instant::now() < deadline, "no reports after the panic: {got:?}");
            drain(reg, &mut got);
            std::thread::sleep(Duration::from_millis(2));
        }
        assert!(stats(reg).ticks > ticks, "passes continue after the panic");
        for &t in &tracks {
            ffi::trackstats_track_release(t);
        }
        assert_eq!(ffi::trackstats_registry_close(reg), R::Ok);
        drain(reg, &mut got);
        for u in 1..=4u64 {
            assert_eq!(got.get(&u), Some(&(100 * u + 7, 2)), "track {u}: nothing lost or doubled by the panic");
        }
        assert_eq!(stats(reg).sampler_panics, 1);
        ffi::trackstats_registry_free(reg);
    }

    #[test]
    fn a_panic_in_a_manual_tick_returns_panic_and_loses_nothing() {
        let reg = registry(ffi::TRACKSTATS_MODE_MANUAL, trackstats::TRACKSTATS_INTERVAL_MAX_MS);
        let tracks: Vec<_> = (1..=3).map(|u| open(reg, u)).collect();
        for &t in &tracks {
            ffi::trackstats_record_up(t, 10);
        }
        inject(reg, 1);
        assert_eq!(ffi::trackstats_registry_tick(reg), R::Panic, "caught at the boundary");
        assert_eq!(stats(reg).sampler_panics, 1, "and counted");
        for &t in &tracks {
            ffi::trackstats_record_up(t, 5);
        }
        assert_eq!(ffi::trackstats_registry_tick(reg), R::Ok, "the registry keeps working");
        let mut got = BTreeMap::new();
        drain(reg, &mut got);
        for u in 1..=3u64 {
            assert_eq!(got.get(&u), Some(&(15, 2)), "track {u}: {got:?}");
        }
        for t in tracks {
            ffi::trackstats_track_release(t);
        }
        ffi::trackstats_registry_free(reg);
    }

    #[test]
    fn repeated_sampler_panics_under_load_lose_nothing() {
        let reg = registry(ffi::TRACKSTATS_MODE_THREAD, 2);
        let tracks: Vec<_> = (1..=8).map(|u| open(reg, u)).collect();
        let handles: Vec<usize> = tracks.iter().map(|&t| t as usize).collect();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s2 = stop.clone();
        let writer = std::thread::spawn(move || {
            let mut n = 0u64;
            while !s2.load(SeqCst) {
                for &h in &handles {
                    ffi::trackstats_record_up(h as *mut trackstats_track, 3);
                }
                n += 1;
            }
            n
        });
        let mut injected = 0;
        let deadline = Instant::now() + Duration::from_secs(20);
        while stats(reg).sampler_panics < 20 {
            assert!(Instant::now() < deadline, "only {} panics", stats(reg).sampler_panics);
            if stats(reg).sampler_panics == injected {
                inject(reg, injected as usize % 8);
                injected += 1;
            }
            std::thread::sleep(Duration::from_millis(3));
        }
        stop.store(true, SeqCst);
        let rounds = writer.join().expect("writer");
        for t in tracks {
            ffi::trackstats_track_release(t);
        }
        assert_eq!(ffi::trackstats_registry_close(reg), R::Ok);
        let mut got = BTreeMap::new();
        drain(reg, &mut got);
        for u in 1..=8u64 {
            assert_eq!(got.get(&u), Some(&(3 * rounds, rounds)), "track {u}");
        }
        let s = stats(reg);
        assert!(s.sampler_panics >= 20);
        println!("{} sampler panics injected under load, {} records per track, none lost", s.sampler_panics, rounds);
        ffi::trackstats_registry_free(reg);
    }
}
