//! Recording in the shape of an SFU: N publishers, each forwarded to F
//! subscribers, every message recorded once up and F times down, each record
//! finding its track's line cold (goal: the net cost per record at most 1.3x
//! the bare-atomic limit of the same access pattern).
//!
//! The host (the same model in `cbindings/go/trackstats/sfu_bench_test.go`
//! and `cbindings/cpp/bench/sfu_bench.cpp`):
//! - a `Publisher` per publisher, in an array, holding its up track's stats
//!   handle and a list of its `DownTrack`s, each a heap object of its own
//!   holding that subscriber's stats handle and the host's own counters;
//! - N participants each publish one track, and each track is subscribed by
//!   the next F participants; the subscriptions arrive in a shuffled order
//!   (a fixed seed) and the stats handles are opened in that order, so one
//!   publisher's fan-out is spread over the memory as in a host whose
//!   subscribers come and go; the host's own objects follow in the same
//!   order, after the handles, so they lie the same way in every case;
//! - forwarding: publishers take turns, one message each; a message's size
//!   comes from a fixed mix (`message_sizes`); the host bumps the
//!   publisher's own counters and records up, then for each of its
//!   `DownTrack`s in turn bumps that object's counters and records down.
//!
//! Cases, each the same host and loop, differing only in the stats handle:
//! - `none`: no recording (the host's own work: the loop, the sizes, the
//!   `DownTrack` objects), subtracted from every other case;
//! - `bare`: the physical limit: one `fetch_add` of the record's increment
//!   on a word alone on its own 128-byte line, reached through the same one
//!   pointer a `Track` is, the words in open order in one array (the
//!   densest layout a padded word per track can have, as a slab's);
//! - `bare_rule`: the same words with trackstats' window-word test on the
//!   value the add returns: what the rule costs apart from the layout;
//! - `trackstats`: a `Track` per track, in a threaded registry (1 s windows)
//!   whose consumer thread waits for and takes every report;
//! - `livekit`: LiveKit's `BytesTrackStats` counters, one heap object per
//!   track with the four atomic adds per message (its goroutine and ticker
//!   per track are Go's; the Go bench has them).
//!
//! One criterion iteration is one message (1 + F records); the throughput is
//! set to 1 + F, so the report reads the median per record. The time is the
//! forwarding thread's CPU time (on a shared machine, time spent descheduled
//! is not the code's); the sampler and the consumer run on threads of their
//! own. The cases run in interleaved passes (each case once, then again,
//! each pass starting one case later), so a change of load on the machine
//! reaches every case alike; the report takes each case's median over the
//! passes, and the net cost of a case is its time per record less `none`'s.
//! Where the machine has hardware counters, L1D and cache misses of the
//! forwarding thread are counted around the same loops and written to
//! `sfu.json`.

mod common;

use common::perf::{thread_cpu_time, Counters, EVENT_NAMES};
use common::Json;
use criterion::{BenchmarkId, Criterion, Throughput};
use crossbeam_utils::CachePadded;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use trackstats::{
    Config, Direction, Registry, Track, TrackKey, TRACKSTATS_WORD_MESSAGE_ONE, TRACKSTATS_WORD_SPILL_MASK,
};

/// Subscribers per publisher.
const FAN_OUT: usize = 10;
/// Entries in the message size table (a power of two).
const SIZES: usize = 4096;
/// The registry's window in this bench: short, so the consumer takes
/// reports while the cases run.
const WINDOW: Duration = Duration::from_secs(1);

/// Publisher counts (each with `FAN_OUT` subscribers) and the number of
/// interleaved passes.
fn plan() -> (Vec<usize>, usize) {
    if common::is_full_run() {
        (vec![1_000, 10_000], 3)
    } else {
        // `cargo test --benches`: a smoke run.
        (vec![100], 1)
    }
}

/// splitmix64: the fixed pseudo-random sequence all three languages' SFU
/// benches draw sizes and subscription order from.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The message mix: 55% video packets (900-1199 B), 35% audio packets
/// (80-179 B), 10% data messages (40-1039 B).
fn message_sizes() -> Vec<u64> {
    let mut rng = Rng(0x5EED_0001);
    (0..SIZES)
        .map(|_| {
            let r = rng.next();
            let v = r >> 32;
            match r % 100 {
                0..=54 => 900 + v % 300,
                55..=89 => 80 + v % 100,
                _ => 40 + v % 1000,
            }
        })
        .collect()
}

/// Every (publisher, subscriber) pair, in the order the subscriptions
/// arrive: shuffled (Fisher-Yates with the fixed sequence).
fn subscription_order(publishers: usize) -> Vec<(usize, usize)> {
    let mut pairs: Vec<(usize, usize)> = (0..publishers).flat_map(|p| (0..FAN_OUT).map(move |s| (p, s))).collect();
    let mut rng = Rng(0x5EED_0002);
    for i in (1..pairs.len()).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        pairs.swap(i, j);
    }
    pairs
}

/// A track's key: participant p publishes TR_p; its s-th subscriber is
/// participant p + 1 + s (mod N).
fn key(publishers: usize, p: usize, sub: Option<usize>, user_data: u64) -> TrackKey {
    let participant = sub.map_or(p, |s| (p + 1 + s) % publishers);
    TrackKey::new(&format!("PA_{participant:06}"), &format!("TR_{p:06}"), "US", user_data).expect("valid key")
}

/// `count` padded words, for the bare cases to take in open order.
fn padded_words(count: usize) -> Vec<CachePadded<AtomicU64>> {
    (0..count).map(|_| CachePadded::default()).collect()
}

/// The stats handle a host holds per track.
trait Stats {
    fn record(&self, dir: Direction, n: u64);
}

/// No recording.
struct NoStats;

impl Stats for NoStats {
    #[inline(always)]
    fn record(&self, _: Direction, _: u64) {}
}

/// The physical limit: one padded word per track, one pointer away. The
/// words are taken in open order from one array, the densest layout a
/// padded word per track can have, as a slab's.
struct Bare<'a>(&'a AtomicU64);

impl Stats for Bare<'_> {
    #[inline(always)]
    fn record(&self, _: Direction, n: u64) {
        self.0.fetch_add(TRACKSTATS_WORD_MESSAGE_ONE | n, Relaxed);
    }
}

/// Bare words with trackstats' window-word rule on the value the add
/// returns (`old == 0 || old & SPILL_MASK != 0` calls out of line): the
/// part of the net cost that is the rule, apart from where the words live.
struct BareRule<'a>(&'a AtomicU64);

impl Stats for BareRule<'_> {
    #[inline(always)]
    fn record(&self, _: Direction, n: u64) {
        let old = self.0.fetch_add(TRACKSTATS_WORD_MESSAGE_ONE | n, Relaxed);
        if old == 0 || old & TRACKSTATS_WORD_SPILL_MASK != 0 {
            rule_slow_path(self.0, old);
        }
    }
}

/// Where `BareRule` calls out; it does nothing, as trackstats' slow path
/// does nothing for most values, but the optimizer cannot know that.
#[cold]
#[inline(never)]
fn rule_slow_path(word: &AtomicU64, old: u64) {
    black_box((word, old));
}

impl Stats for Track {
    #[inline(always)]
    fn record(&self, dir: Direction, n: u64) {
        Track::record(self, dir, n)
    }
}

/// LiveKit's `BytesTrackStats` counters: per side, window and total bytes
/// and messages, four atomic adds per message.
#[derive(Default)]
struct LiveKit {
    recv: [AtomicU64; 4],
    send: [AtomicU64; 4],
}

impl Stats for Box<LiveKit> {
    #[inline(always)]
    fn record(&self, dir: Direction, n: u64) {
        let side = if dir == Direction::Up { &self.recv } else { &self.send };
        side[0].fetch_add(n, Relaxed);
        side[1].fetch_add(1, Relaxed);
        side[2].fetch_add(n, Relaxed);
        side[3].fetch_add(1, Relaxed);
    }
}

/// The host's object for one subscriber's copy of a track.
struct DownTrack<S> {
    stats: S,
    packets: u64,
    bytes: u64,
}

struct Publisher<S> {
    up: S,
    packets: u64,
    bytes: u64,
    downs: Vec<Box<DownTrack<S>>>,
}

struct Sfu<S> {
    publishers: Vec<Publisher<S>>,
    sizes: Vec<u64>,
    next_publisher: usize,
    next_size: usize,
}

impl<S: Stats> Sfu<S> {
    /// Builds the host. The stats handles are made first, in the order a
    /// host opens them (publishers' up tracks, then each subscription as it
    /// arrives), by `open(p, None)` / `open(p, Some(s))`; then the host's
    /// own objects in the same order, so the host's layout is the same in
    /// every case, whatever a handle allocates.
    fn new(publishers: usize, mut open: impl FnMut(usize, Option<usize>) -> S) -> Sfu<S> {
        let order = subscription_order(publishers);
        let ups: Vec<S> = (0..publishers).map(|p| open(p, None)).collect();
        let downs: Vec<S> = order.iter().map(|&(p, s)| open(p, Some(s))).collect();
        let mut pubs: Vec<Publisher<S>> = ups
            .into_iter()
            .map(|up| Publisher { up, packets: 0, bytes: 0, downs: Vec::with_capacity(FAN_OUT) })
            .collect();
        for (&(p, _), stats) in order.iter().zip(downs) {
            pubs[p].downs.push(Box::new(DownTrack { stats, packets: 0, bytes: 0 }));
        }
        Sfu { publishers: pubs, sizes: message_sizes(), next_publisher: 0, next_size: 0 }
    }

    /// Forwards `messages` messages, publishers taking turns.
    #[inline(never)]
    fn forward(&mut self, messages: u64) {
        let (mut p, mut k) = (self.next_publisher, self.next_size);
        let count = self.publishers.len();
        for _ in 0..messages {
            let n = self.sizes[k];
            k = (k + 1) & (SIZES - 1);
            let publisher = &mut self.publishers[p];
            p = if p + 1 == count { 0 } else { p + 1 };
            publisher.packets += 1;
            publisher.bytes += n;
            publisher.up.record(Direction::Up, n);
            for d in publisher.downs.iter_mut() {
                d.packets += 1;
                d.bytes += n;
                d.stats.record(Direction::Down, n);
            }
        }
        (self.next_publisher, self.next_size) = (p, k);
    }
}

/// A host of any stats type, for the bench's list of cases.
trait Forward {
    fn forward(&mut self, messages: u64);
}

impl<S: Stats> Forward for Sfu<S> {
    fn forward(&mut self, messages: u64) {
        Sfu::forward(self, messages)
    }
}

/// Per (workload, case): records forwarded and misses counted.
#[derive(Default)]
struct Tally {
    records: u64,
    misses: [u64; 2],
}

/// Runs every case of one workload through criterion, interleaved.
struct Run<'a> {
    counters: Option<&'a Counters>,
    tally: BTreeMap<String, Tally>,
}

impl Run<'_> {
    fn case(&mut self, c: &mut Criterion, group: &str, case: &str, pass: usize, sfu: &mut dyn Forward) {
        let mut g = c.benchmark_group(group);
        g.throughput(Throughput::Elements(1 + FAN_OUT as u64))
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1))
            .sample_size(20);
        let tally = self.tally.entry(format!("{group}/{case}")).or_default();
        let counters = self.counters;
        g.bench_function(BenchmarkId::new(case, pass), |b| {
            b.iter_custom(|iters| {
                if let Some(c) = counters {
                    c.start();
                }
                let start = thread_cpu_time();
                sfu.forward(iters);
                let elapsed = thread_cpu_time() - start;
                if let Some(c) = counters {
                    let m = c.stop();
                    tally.misses[0] += m[0];
                    tally.misses[1] += m[1];
                }
                tally.records += iters * (1 + FAN_OUT as u64);
                elapsed
            })
        });
        g.finish();
    }
}

/// A consumer thread taking every report until stopped; returns how many.
fn consumer(reg: Arc<Registry>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut out = Vec::with_capacity(4096);
        let mut taken = 0u64;
        while !stop.load(Relaxed) {
            if let Ok(n) = reg.wait(&mut out, 4096, Duration::from_millis(50)) {
                taken += n as u64;
            }
            out.clear();
        }
        taken
    })
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let (workloads, passes) = plan();
    let counters = Counters::open();
    let mut json = Json::default();
    match &counters {
        Ok(_) => json.str("perf", "counted"),
        Err(why) => json.str("perf", why),
    };
    for n in workloads {
        let group = format!("sfu_{n}x{FAN_OUT}");
        let reg = Arc::new(Registry::new(Config { interval: WINDOW, ..Config::default() }).expect("registry"));
        let stop = Arc::new(AtomicBool::new(false));
        let taker = consumer(reg.clone(), stop.clone());

        let mut id = 0u64;
        let mut user_data = || {
            id += 1;
            id
        };
        let mut none = Sfu::new(n, |_, _| NoStats);
        let words = padded_words(n * (1 + FAN_OUT));
        let mut next_word = words.iter();
        let mut bare = Sfu::new(n, |_, _| Bare(next_word.next().expect("a word per track")));
        let rule_words = padded_words(n * (1 + FAN_OUT));
        let mut next_rule_word = rule_words.iter();
        let mut bare_rule = Sfu::new(n, |_, _| BareRule(next_rule_word.next().expect("a word per track")));
        let mut tracks = Sfu::new(n, |p, s| reg.open(key(n, p, s, user_data())).expect("open"));
        let mut livekit = Sfu::new(n, |_, _| Box::<LiveKit>::default());

        let mut run = Run { counters: counters.as_ref().ok(), tally: BTreeMap::new() };
        let mut cases: [(&str, &mut dyn Forward); 5] = [
            ("none", &mut none),
            ("bare", &mut bare),
            ("bare_rule", &mut bare_rule),
            ("trackstats", &mut tracks),
            ("livekit", &mut livekit),
        ];
        // Each pass starts one case later, so no case is always measured
        // right after the same other one.
        for pass in 1..=passes {
            for i in 0..cases.len() {
                let (name, sfu) = &mut cases[(i + pass - 1) % cases.len()];
                run.case(&mut c, &group, name, pass, *sfu);
            }
        }
        stop.store(true, Relaxed);
        let taken = taker.join().expect("consumer");
        println!("{group}: the consumer took {taken} reports");
        if counters.is_ok() {
            for (name, t) in run.tally.iter().filter(|(_, t)| t.records > 0) {
                for (event, m) in EVENT_NAMES.iter().zip(t.misses) {
                    json.num(&format!("{name}/{event}_per_record"), m as f64 / t.records as f64);
                }
            }
        }
    }
    c.final_summary();
    if common::is_full_run() {
        json.write("sfu");
    }
}
