//! A fleet of three nodes, each with its own registry, forwarding one
//! publisher's data track over the C ABI, as LiveKit does across a relay:
//!
//! ```text
//!   publisher ──► home node ──► relay node ──► edge node
//!                  │ S1          │ S2           │ S3, S4     (subscribers)
//! ```
//!
//! Only the home node has a stats object for the publisher's track; the
//! relay and edge nodes' copies are NULL tracks, so relayed bytes are not
//! counted again. Summed over all nodes, UPSTREAM must equal what the
//! publisher sent, exactly once, and DOWNSTREAM what the subscribers received.

mod c_abi;

use std::ptr::null_mut;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread;
use trackstats::ffi::*;

const MESSAGES: u64 = 200_000;

struct Node {
    reg: *mut trackstats_registry,
}

// SAFETY: registry handles are thread-safe (see the header).
unsafe impl Send for Node {}

fn node() -> Node {
    // 5 ms windows race the forwarding.
    let reg = c_abi::registry(TRACKSTATS_MODE_THREAD, 5);
    // Per-track series from the first window on (the exposition's
    // per_track option would ask for them too, from its first scrape).
    assert_eq!(trackstats_registry_set_track_series(reg, 100), trackstats_result::Ok);
    Node { reg }
}

fn open(n: &Node, participant: &str, track: &str, country: &str) -> Track {
    Track(c_abi::open(n.reg, participant, track, country, 0))
}

/// A track handle; NULL is a relay copy.
struct Track(*mut trackstats_track);
// SAFETY: track handles may be used from any thread.
unsafe impl Send for Track {}

impl Drop for Track {
    fn drop(&mut self) {
        trackstats_track_release(self.0);
    }
}

/// One node's forwarding loop: each message in is one record on the node's
/// copy of the track (NULL on relays), each copy out one record per local
/// subscriber; then it goes on to the next node. Returns bytes received by
/// the local subscribers, and the node's tracks (still open).
fn forward(copy: Track, subscribers: Vec<Track>, rx: Receiver<u64>, next: Option<Sender<u64>>) -> (u64, Vec<Track>) {
    let mut received = 0;
    for n in rx {
        trackstats_record_up(copy.0, n);
        for s in &subscribers {
            trackstats_record_down(s.0, n);
            received += n;
        }
        if let Some(tx) = &next {
            tx.send(n).unwrap();
        }
    }
    let mut tracks = subscribers;
    tracks.push(copy);
    (received, tracks)
}

/// The node's Prometheus exposition, through the C ABI.
fn exposition(n: &Node, node_id: &str) -> String {
    let opts = trackstats_prometheus_options {
        per_track: true,
        max_track_series: 100,
        node_id: node_id.as_ptr().cast(),
        node_id_len: node_id.len(),
    };
    let (mut out, mut len) = (null_mut(), 0);
    assert_eq!(trackstats_registry_prometheus(n.reg, &opts, &mut out, &mut len), trackstats_result::Ok);
    // SAFETY: a NUL-terminated string of `len` bytes owned by us until freed.
    let text = unsafe { std::ffi::CStr::from_ptr(out) }.to_str().unwrap().to_string();
    assert_eq!(text.len(), len);
    trackstats_string_free(out);
    text
}

/// Sum of one counter's samples whose labels include `label`.
fn scrape_sum(text: &str, metric: &str, label: &str) -> u64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")) && l.contains(label))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum()
}

/// UPSTREAM and DOWNSTREAM bytes a node reported, after closing it.
fn reported(n: Node) -> [u64; 2] {
    assert_eq!(trackstats_registry_close(n.reg), trackstats_result::Ok);
    let mut batch = null_mut();
    assert_eq!(trackstats_batch_new(1024, &mut batch), trackstats_result::Ok);
    let mut sums = [0u64; 2];
    loop {
        assert_eq!(trackstats_registry_drain(n.reg, batch), trackstats_result::Ok);
        let mut len = 0;
        let rs = trackstats_batch_reports(batch, &mut len);
        if len == 0 {
            break;
        }
        // SAFETY: the batch holds `len` reports until it is refilled.
        for r in unsafe { std::slice::from_raw_parts(rs, len) } {
            sums[r.direction as usize] += r.bytes;
        }
    }
    trackstats_batch_free(batch);
    trackstats_registry_free(n.reg);
    sums
}

#[test]
fn a_relayed_track_is_counted_once_across_the_fleet() {
    let (home, relay, edge) = (node(), node(), node());
    let tid = "TR_data";
    let home_copy = open(&home, "PA_pub", tid, "DE");
    let s1 = vec![open(&home, "PA_s1", tid, "DE")];
    let s2 = vec![open(&relay, "PA_s2", tid, "US")];
    let s34 = vec![open(&edge, "PA_s3", tid, "JP"), open(&edge, "PA_s4", tid, "")];
    let (to_home, home_rx) = channel();
    let (to_relay, relay_rx) = channel();
    let (to_edge, edge_rx) = channel();
    let nodes = vec![
        thread::spawn(move || forward(home_copy, s1, home_rx, Some(to_relay))),
        thread::spawn(move || forward(Track(null_mut()), s2, relay_rx, Some(to_edge))),
        thread::spawn(move || forward(Track(null_mut()), s34, edge_rx, None)),
    ];
    let mut sent = 0;
    let mut x = 0x1234_5678u64;
    for _ in 0..MESSAGES {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let n = 40 + x % 1400;
        to_home.send(n).unwrap();
        sent += n;
    }
    drop(to_home);
    let (mut received, mut held) = (0, Vec::new());
    for h in nodes {
        let (r, tracks) = h.join().unwrap();
        received += r;
        held.extend(tracks);
    }
    // What a Prometheus scraping every node sees, before and after the
    // tracks go away (released tracks stay in the cumulative counters).
    let scraped = |metric: &str, dir: &str| -> u64 {
        [(&home, "home"), (&relay, "relay"), (&edge, "edge")]
            .iter()
            .map(|(n, id)| scrape_sum(&exposition(n, id), metric, &format!("direction=\"{dir}\"")))
            .sum()
    };
    // The figures are the windows taken so far: the last one is in after
    // the next pass, within one interval.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while scraped("trackstats_track_bytes_total", "outgoing") != received {
        assert!(std::time::Instant::now() < deadline, "the last windows never showed");
        thread::sleep(std::time::Duration::from_millis(2));
    }
    assert_eq!(scraped("trackstats_bytes_total", "incoming"), sent);
    assert_eq!(scraped("trackstats_bytes_total", "outgoing"), received);
    assert_eq!(scraped("trackstats_messages_total", "incoming"), MESSAGES);
    assert_eq!(scraped("trackstats_track_bytes_total", "outgoing"), received, "per-track series add up too");
    drop(held); // released: their sums move to the per-country accumulators
    for n in [&home, &relay, &edge] {
        assert_eq!(trackstats_registry_close(n.reg), trackstats_result::Ok);
    }
    assert_eq!(scraped("trackstats_bytes_total", "incoming"), sent, "counters never go back");
    assert_eq!(scraped("trackstats_bytes_total", "outgoing"), received);
    let fleet = [home, relay, edge].map(reported);
    let up: u64 = fleet.iter().map(|s| s[0]).sum();
    let down: u64 = fleet.iter().map(|s| s[1]).sum();
    assert_eq!(up, sent, "UPSTREAM over the fleet is what the publisher sent, once");
    assert_eq!(down, received, "DOWNSTREAM is what the subscribers received");
    assert_eq!(received, 4 * sent);
    assert_eq!(fleet[1][0] + fleet[2][0], 0, "relay copies count nothing");
}
