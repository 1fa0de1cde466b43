//! The simulated SFU: publishers, their subscribers, and the writer threads
//! that forward messages and record them.

use crate::args::Args;
use crate::table::Sums;
use crossbeam_utils::CachePadded;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use trackstats::{Config, Direction, Mode, Registry, Track, TrackKey};

const COUNTRIES: [&str; 8] = ["US", "DE", "IN", "BR", "JP", "SE", "NG", ""];
/// Every this often a writer lets one subscriber leave and another join.
const CHURN_EVERY: Duration = Duration::from_secs(2);

struct Peer {
    track: Track,
    key: (String, String, String),
}

struct Publisher {
    up: Peer,
    subs: Vec<Peer>,
    sent: u64,
}

fn open(reg: &Registry, pid: String, tid: String, country: &str) -> Peer {
    let track = reg.open(TrackKey::new(&pid, &tid, country, 0).expect("key")).expect("open");
    Peer { track, key: (pid, tid, country.to_string()) }
}

/// A data-channel-like size: chat and signalling, telemetry, file chunks.
fn message_size(rng: &mut u64) -> u64 {
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    let r = *rng;
    match r % 100 {
        0..=59 => 40 + (r >> 8) % 260,
        60..=94 => 300 + (r >> 8) % 900,
        _ => 16 * 1024,
    }
}

/// Starts the writers; each returns what it recorded and how many records.
pub fn start(reg: &Arc<Registry>, a: &Args, stop: &Arc<AtomicBool>) -> Vec<JoinHandle<(Sums, u64)>> {
    let next_sub = Arc::new(AtomicU64::new(0));
    (0..a.writers)
        .map(|w| {
            let (reg, stop, next_sub) = (reg.clone(), stop.clone(), next_sub.clone());
            let (writers, publishers, subscribers, rate) = (a.writers, a.publishers, a.subscribers, a.rate);
            thread::spawn(move || {
                let new_sub = |reg: &Registry, tid: &str| {
                    let n = next_sub.fetch_add(1, Ordering::Relaxed);
                    open(reg, format!("PA_sub{n:04}"), tid.to_string(), COUNTRIES[n as usize % COUNTRIES.len()])
                };
                let mut pubs: Vec<Publisher> = (w..publishers)
                    .step_by(writers)
                    .map(|p| {
                        let tid = format!("TR_data{p:03}");
                        let up = open(&reg, format!("PA_pub{p:03}"), tid.clone(), COUNTRIES[p % COUNTRIES.len()]);
                        let subs = (0..subscribers).map(|_| new_sub(&reg, &tid)).collect();
                        Publisher { up, subs, sent: 0 }
                    })
                    .collect();
                let mut truth = Sums::default();
                let mut records = 0u64;
                let mut rng = 0x2545_F491_4F6C_DD1D ^ (w as u64 + 1);
                let start = Instant::now();
                let mut next_churn = start + CHURN_EVERY;
                let mut churned = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
                    for p in pubs.iter_mut() {
                        while p.sent < due {
                            let n = message_size(&mut rng);
                            p.up.track.record_up(n);
                            truth.add_one(&p.up.key, Direction::Up, n);
                            for s in &p.subs {
                                s.track.record_down(n);
                                truth.add_one(&s.key, Direction::Down, n);
                            }
                            records += 1 + p.subs.len() as u64;
                            p.sent += 1;
                        }
                    }
                    if Instant::now() >= next_churn && !pubs.is_empty() {
                        // A subscriber leaves (its track closes: final report
                        // now) and a new one joins the same publisher.
                        let i = churned % pubs.len();
                        let p = &mut pubs[i];
                        if !p.subs.is_empty() {
                            drop(p.subs.remove(0));
                        }
                        let tid = p.up.key.1.clone();
                        p.subs.push(new_sub(&reg, &tid));
                        churned += 1;
                        next_churn += CHURN_EVERY;
                    }
                    thread::sleep(Duration::from_millis(1));
                }
                drop(pubs); // every track released: final reports follow
                (truth, records)
            })
        })
        .collect()
}

/// Median ns of one `record_up`, and of a bare `fetch_add` on a cache-padded
/// `AtomicU64` (the hardware floor), measured back to back in this run.
pub fn cost_per_record() -> (f64, f64) {
    const N: u64 = 20_000_000;
    let reg = Registry::new(Config { mode: Mode::Manual, ..Default::default() }).expect("registry");
    let t = reg.open(TrackKey::new("PA_bench", "TR_bench", "", 0).expect("key")).expect("open");
    let bare = CachePadded::new(AtomicU64::new(0));
    let time = |f: &dyn Fn()| {
        let s = Instant::now();
        f();
        s.elapsed().as_nanos() as f64 / N as f64
    };
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        ours.push(time(&|| (0..N).for_each(|i| t.record_up(black_box(i & 1023)))));
        base.push(time(&|| {
            (0..N).for_each(|i| {
                bare.fetch_add(black_box(i & 1023), Ordering::Relaxed);
            })
        }));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    (median(&mut ours), median(&mut base))
}
