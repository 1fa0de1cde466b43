//! Memory per open track (goal: at most 256 B, excluding the id strings),
//! measured, not computed: a counting global allocator in this binary sees
//! every byte trackstats asks for, and /proc/self/statm gives the resident
//! set. For 10k, 100k and 1M tracks opened in a fresh manual registry:
//!
//! - `alloc`: bytes requested from the allocator and still held after the
//!   opens, minus the id strings' bytes (a key is one block holding its ids
//!   byte for byte, so their bytes are known), per track. The slab grows by
//!   equal segments of 1024 slots, so this includes the unused tail of the
//!   last segment (under 1024 slots).
//! - `rss`: growth of the resident set, per track, minus the same id bytes.
//!   Untouched segment pages stay out of it (they are zero pages from the
//!   OS), and malloc's per-chunk headers of the keys are in it.
//!
//! The host's own `Vec<Track>` (8 bytes per track) is allocated before the
//! first reading and so is not counted, and so are the host's own id strings
//! (`TrackKey::new` copies them; the copies are what is subtracted).
//! `allocs` counts allocation calls per open: the key (one block), and the
//! slab's segments amortized. Writes `memory.json`.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use trackstats::TrackKey;

const COUNTRY: &str = "US";

/// The system allocator, counting live bytes and allocations.
struct Counting;

static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);
static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the counters have no effect on the memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(l.size() as i64, Relaxed);
        ALLOCS.fetch_add(1, Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(l.size() as i64, Relaxed);
        ALLOCS.fetch_add(1, Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE_BYTES.fetch_sub(l.size() as i64, Relaxed);
        // SAFETY: `p` came from this allocator (so from `System`) with `l`.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new_size as i64 - l.size() as i64, Relaxed);
        ALLOCS.fetch_add(1, Relaxed);
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(p, l, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    pages * 4096
}

struct Measure {
    n: usize,
    alloc_per_track: f64,
    rss_per_track: f64,
    allocs_per_track: f64,
    id_bytes_per_track: f64,
}

fn measure(n: usize) -> Measure {
    let reg = common::manual_registry();
    let mut tracks: Vec<trackstats::Track> = Vec::with_capacity(n);
    // Touch the host's vector now so its pages are resident before the first
    // reading (a fresh large allocation is untouched zero pages).
    // SAFETY: writes zero bytes within the vector's allocated capacity; the
    // length stays 0, so nothing reads them as `Track`s.
    unsafe { std::ptr::write_bytes(tracks.as_mut_ptr(), 0, n) };
    // The host's id strings exist before it opens tracks; what is measured is
    // what `TrackKey::new` (the copies) and `open` add.
    let ids: Vec<(String, String)> = (0..n).map(|i| (format!("PA_{i:08}"), format!("TR_{i:08}"))).collect();
    let id_bytes: usize = ids.iter().map(|(p, t)| p.len() + t.len() + COUNTRY.len()).sum();
    let (b0, a0, r0) = (LIVE_BYTES.load(Relaxed), ALLOCS.load(Relaxed), rss_bytes());
    for (i, (p, t)) in ids.iter().enumerate() {
        tracks.push(reg.open(TrackKey::new(p, t, COUNTRY, i as u64).expect("key")).expect("open"));
    }
    let (b1, a1, r1) = (LIVE_BYTES.load(Relaxed), ALLOCS.load(Relaxed), rss_bytes());
    assert_eq!(reg.stats().open_tracks, n as u64);
    let per = |x: f64| x / n as f64;
    Measure {
        n,
        alloc_per_track: per((b1 - b0) as f64 - id_bytes as f64),
        rss_per_track: per(r1 as f64 - r0 as f64 - id_bytes as f64),
        allocs_per_track: per((a1 - a0) as f64),
        id_bytes_per_track: per(id_bytes as f64),
    }
}

/// Each size runs in a fresh child process (this binary again), so memory
/// freed by one size cannot be reused, already resident, by the next.
const CHILD_ENV: &str = "TRACKSTATS_MEMORY_CHILD";

fn main() {
    if let Some(n) = std::env::var(CHILD_ENV).ok().and_then(|v| v.parse().ok()) {
        let m = measure(n);
        println!(
            "RESULT {} {} {} {} {}",
            m.n, m.alloc_per_track, m.rss_per_track, m.allocs_per_track, m.id_bytes_per_track
        );
        return;
    }
    let full = common::is_full_run();
    let sizes: &[usize] = if full { &[10_000, 100_000, 1_000_000] } else { &[10_000] };
    let mut j = common::Json::default();
    println!("memory per open track, excluding id strings:");
    for &n in sizes {
        let out = std::process::Command::new(std::env::current_exe().expect("own path"))
            .env(CHILD_ENV, n.to_string())
            .output()
            .expect("run the measuring child");
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text.lines().find_map(|l| l.strip_prefix("RESULT ")).unwrap_or_else(|| {
            panic!("child for {n} tracks printed no result: {}", String::from_utf8_lossy(&out.stderr))
        });
        let v: Vec<f64> = line.split(' ').map(|x| x.parse().expect("a number")).collect();
        let m =
            Measure { n, alloc_per_track: v[1], rss_per_track: v[2], allocs_per_track: v[3], id_bytes_per_track: v[4] };
        println!(
            "  {:>8} tracks: allocator {:.1} B, RSS {:.1} B ({:.1} allocations and {:.1} id bytes per open)",
            m.n, m.alloc_per_track, m.rss_per_track, m.allocs_per_track, m.id_bytes_per_track
        );
        assert!(m.alloc_per_track > 0.0, "opening tracks allocates");
        j.num(&format!("alloc_bytes_{n}"), m.alloc_per_track)
            .num(&format!("rss_bytes_{n}"), m.rss_per_track)
            .num(&format!("allocs_{n}"), m.allocs_per_track)
            .num(&format!("id_bytes_{n}"), m.id_bytes_per_track);
    }
    if full {
        j.write("memory");
    }
}
