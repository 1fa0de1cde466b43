//! Ground truth and report accounting shared by the invariant tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use trackstats::{Config, Direction, Mode, Registry, Report, Sink, TrackKey};

/// Bytes and messages per (user_data, direction).
#[derive(Default, Debug, Clone, PartialEq, Eq)]
pub struct Ledger(pub HashMap<(u64, Direction), (u64, u64)>);

impl Ledger {
    pub fn add(&mut self, id: u64, dir: Direction, bytes: u64) {
        let e = self.0.entry((id, dir)).or_default();
        e.0 += bytes;
        e.1 += 1;
    }

    pub fn add_report(&mut self, r: &Report) {
        let e = self.0.entry((r.key.user_data(), r.direction)).or_default();
        e.0 += r.bytes;
        e.1 += r.messages;
    }

    pub fn merge(&mut self, o: &Ledger) {
        for (k, v) in &o.0 {
            let e = self.0.entry(*k).or_default();
            e.0 += v.0;
            e.1 += v.1;
        }
    }

    pub fn messages(&self) -> u64 {
        self.0.values().map(|v| v.1).sum()
    }

    /// Fails with the first (track, direction) whose sums differ.
    pub fn assert_equals(&self, recorded: &Ledger) {
        let mut keys: Vec<_> = self.0.keys().chain(recorded.0.keys()).copied().collect();
        keys.sort_by_key(|(id, d)| (*id, *d as u32));
        keys.dedup();
        for k in keys {
            let got = self.0.get(&k).copied().unwrap_or_default();
            let want = recorded.0.get(&k).copied().unwrap_or_default();
            assert_eq!(got, want, "track {} {:?}: reported (bytes, messages) != recorded", k.0, k.1);
        }
    }
}

pub fn key(id: u64) -> TrackKey {
    TrackKey::new("PA_test", &format!("TR_{id}"), "SE", id).unwrap()
}

pub fn manual() -> Registry {
    Registry::new(Config { mode: Mode::Manual, ..Default::default() }).unwrap()
}

pub fn threaded(interval_ms: u64) -> Registry {
    Registry::new(Config { interval: Duration::from_millis(interval_ms), ..Default::default() }).unwrap()
}

/// A threaded registry whose sink appends every report to the returned vector.
pub fn with_sink(interval_ms: u64) -> (Registry, Arc<Mutex<Vec<Report>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let sink: Sink = Box::new(move |rs: &[Report]| s.lock().unwrap().extend_from_slice(rs));
    let reg = Registry::new(Config {
        interval: Duration::from_millis(interval_ms),
        mode: Mode::Thread,
        sink: Some(sink),
        ..Default::default()
    })
    .unwrap();
    (reg, seen)
}

/// Everything `reg` has pending, now.
pub fn drain_all(reg: &Registry) -> Vec<Report> {
    let mut v = Vec::new();
    while reg.drain(&mut v, 1024) > 0 {}
    v
}

pub fn ledger_of<'a>(reports: impl IntoIterator<Item = &'a Report>) -> Ledger {
    let mut l = Ledger::default();
    for r in reports {
        l.add_report(r);
    }
    l
}

/// A tiny deterministic PRNG (xorshift), so failures replay.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// A data-channel-like message size: mostly small, sometimes large.
    pub fn message_size(&mut self) -> u64 {
        let r = self.next();
        match r % 100 {
            0..=69 => 20 + (r >> 8) % 300,
            70..=97 => 300 + (r >> 8) % 1200,
            _ => 1500 + (r >> 8) % 64_000,
        }
    }
}
