//! Sums per track key and the per-window table the demo prints.

use std::collections::HashMap;
use trackstats::{Direction, Report};

type Key = (String, String, String, Direction);

/// (bytes, messages) per (participant, track, country, direction).
#[derive(Default)]
pub struct Sums(pub HashMap<Key, (u64, u64)>);

impl Sums {
    pub fn add_one(&mut self, k: &(String, String, String), d: Direction, bytes: u64) {
        let e = self.0.entry((k.0.clone(), k.1.clone(), k.2.clone(), d)).or_default();
        e.0 += bytes;
        e.1 += 1;
    }

    pub fn add(&mut self, reports: &[Report]) {
        for r in reports {
            let k = &r.key;
            let e = self
                .0
                .entry((k.participant_id().to_string(), k.track_id().to_string(), k.country().to_string(), r.direction))
                .or_default();
            e.0 += r.bytes;
            e.1 += r.messages;
        }
    }

    pub fn merge(&mut self, o: &Sums) {
        for (k, v) in &o.0 {
            let e = self.0.entry(k.clone()).or_default();
            e.0 += v.0;
            e.1 += v.1;
        }
    }

    pub fn total(&self) -> (u64, u64) {
        self.0.values().fold((0, 0), |a, v| (a.0 + v.0, a.1 + v.1))
    }
}

/// Groups reports by window and prints one table per window once it is
/// complete (the next window started, or the stream went quiet).
pub struct Printer {
    interval_ms: u64,
    top: usize,
    window: Vec<Report>,
    closing: Vec<Report>,
    printed: usize,
}

impl Printer {
    pub fn new(interval_ms: u64, top: usize) -> Printer {
        Printer { interval_ms, top, window: Vec::new(), closing: Vec::new(), printed: 0 }
    }

    pub fn take(&mut self, batch: &[Report]) {
        if batch.is_empty() {
            // 100 ms without reports: the current window is complete.
            self.print();
            return;
        }
        for r in batch {
            if r.is_final() || r.is_late() {
                self.closing.push(r.clone());
                continue;
            }
            if self.window.first().is_some_and(|w| w.end_unix_ns != r.end_unix_ns) {
                self.print();
            }
            self.window.push(r.clone());
        }
    }

    pub fn finish(&mut self) {
        self.print();
        if !self.closing.is_empty() {
            let end = self.closing.iter().map(|r| r.end_unix_ns).max().unwrap_or(0);
            println!("── shutdown flush at {} UTC ──", clock(end));
            closing_line(&self.closing);
            self.closing.clear();
        }
    }

    fn print(&mut self) {
        if self.window.is_empty() {
            return;
        }
        let w = std::mem::take(&mut self.window);
        let (start, end) = (w.iter().map(|r| r.start_unix_ns).min().unwrap(), w[0].end_unix_ns);
        let secs = (end - start) as f64 / 1e9;
        self.printed += 1;
        println!(
            "── window {} · {} → {} UTC ({:.3} s{}) ──────────────────────",
            self.printed,
            clock(start),
            clock(end),
            secs,
            if w.iter().any(|r| r.is_merged()) { ", merged" } else { "" }
        );
        println!("  {:<11} {:>7} {:>12} {:>10} {:>13}", "direction", "tracks", "bytes", "messages", "rate");
        let nominal = self.interval_ms as f64 / 1e3;
        for d in [Direction::Up, Direction::Down] {
            let rs: Vec<_> = w.iter().filter(|r| r.direction == d).collect();
            let (b, m) = rs.iter().fold((0, 0), |a, r| (a.0 + r.bytes, a.1 + r.messages));
            println!(
                "  {:<11} {:>7} {:>12} {:>10} {:>13}",
                d.stream_type(),
                rs.len(),
                human(b as f64),
                grouped(m),
                format!("{}/s", human(b as f64 / nominal.max(secs.min(nominal))))
            );
        }
        let mut top: Vec<_> = w.iter().collect();
        top.sort_by_key(|r| std::cmp::Reverse(r.bytes));
        println!("  top tracks by bytes:");
        for r in top.iter().take(self.top) {
            let k = &r.key;
            println!(
                "    {:<11} {:<11} {:<3} {:<10} {:>10} {:>7} msgs {:>11}/s",
                k.participant_id(),
                k.track_id(),
                if k.country().is_empty() { "--" } else { k.country() },
                r.direction.stream_type(),
                human(r.bytes as f64),
                grouped(r.messages),
                human(r.bytes as f64 / secs)
            );
        }
        if !self.closing.is_empty() {
            closing_line(&self.closing);
            self.closing.clear();
        }
        println!();
    }
}

fn closing_line(rs: &[Report]) {
    let finals = rs.iter().filter(|r| r.is_final()).count();
    let late = rs.iter().filter(|r| r.is_late()).count();
    let bytes: u64 = rs.iter().map(|r| r.bytes).sum();
    let tracks: std::collections::HashSet<_> = rs.iter().map(|r| (r.key.participant_id(), r.key.track_id())).collect();
    println!(
        "  closed tracks: {} ({} final reports, {} late), {} in their last windows",
        tracks.len(),
        finals,
        late,
        human(bytes as f64)
    );
}

/// HH:MM:SS.mmm of a Unix-ns instant, UTC.
fn clock(ns: u64) -> String {
    let ms = ns / 1_000_000;
    let s = ms / 1000;
    format!("{:02}:{:02}:{:02}.{:03}", (s / 3600) % 24, (s / 60) % 60, s % 60, ms % 1000)
}

fn human(b: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{v:.0} {}", UNITS[u])
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// 1234567 -> "1,234,567".
pub fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
