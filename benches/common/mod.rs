//! Helpers shared by the bench binaries (each bench includes this module with
//! `mod common;`, so a helper one bench does not use is not dead code there).
#![allow(dead_code)]

pub mod perf;

use std::fmt::Write as _;
use std::path::PathBuf;
use trackstats::{Config, Mode, Registry, Track, TrackKey};

/// A key shaped like an SFU's: short participant and track ids and a country.
/// The ids are distinct per `i` so no allocator can share them.
pub fn key(i: usize) -> TrackKey {
    TrackKey::new(&format!("PA_{i:08}"), &format!("TR_{i:08}"), "US", i as u64).expect("valid key")
}

/// Bytes the three id strings of `key(i)` ask the allocator for.
pub fn key_id_bytes(i: usize) -> usize {
    format!("PA_{i:08}").len() + format!("TR_{i:08}").len() + "US".len()
}

/// A registry whose windows only close when the bench calls `tick`.
pub fn manual_registry() -> Registry {
    Registry::new(Config { mode: Mode::Manual, ..Config::default() }).expect("manual registry")
}

pub fn open_tracks(reg: &Registry, n: usize) -> Vec<Track> {
    (0..n).map(|i| reg.open(key(i)).expect("open")).collect()
}

/// Where the custom (non-criterion) benches write their JSON results:
/// `$TRACKSTATS_BENCH_OUT`, or `target/bench-results` in the package.
pub fn results_dir() -> PathBuf {
    let dir = std::env::var_os("TRACKSTATS_BENCH_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target").join("bench-results"));
    std::fs::create_dir_all(&dir).expect("create the bench results directory");
    dir
}

/// `cargo bench --no-run` only builds; `cargo test --benches` runs a bench
/// binary without `--bench`. The custom benches then do a tiny smoke run
/// instead of the full measurement, so `make test` stays fast.
pub fn is_full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// A flat JSON object of numbers and strings (the report script reads it);
/// enough for our results without a serde dependency.
#[derive(Default)]
pub struct Json {
    fields: Vec<(String, String)>,
}

impl Json {
    pub fn num(&mut self, k: &str, v: f64) -> &mut Self {
        let v = if v.is_finite() { format!("{v}") } else { "null".into() };
        self.fields.push((k.into(), v));
        self
    }
    pub fn str(&mut self, k: &str, v: &str) -> &mut Self {
        self.fields.push((k.into(), format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))));
        self
    }
    pub fn render(&self) -> String {
        let mut s = String::from("{\n");
        for (i, (k, v)) in self.fields.iter().enumerate() {
            let comma = if i + 1 < self.fields.len() { "," } else { "" };
            let _ = writeln!(s, "  \"{k}\": {v}{comma}");
        }
        s.push_str("}\n");
        s
    }
    pub fn write(&self, name: &str) {
        let path = results_dir().join(format!("{name}.json"));
        std::fs::write(&path, self.render()).expect("write bench results");
        println!("wrote {}", path.display());
    }
}

/// The `q`-quantile (0..=1) of sorted values, nearest rank.
pub fn quantile(sorted: &[u64], q: f64) -> u64 {
    assert!(!sorted.is_empty(), "quantile of nothing");
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}
