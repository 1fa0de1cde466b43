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
    let mut cfg = trackstats_config_default();
    cfg.interval_ms = 5; // windows race the forwarding
    let mut reg = null_mut();
    assert_eq!(trackstats_registry_new(&cfg, &mut reg), trackstats_result::Ok);
    Node { reg }
}

fn open(n: &Node, participant: &str, track: &str, country: &str) -> Track {
    let mut t = null_mut();
    let r = trackstats_track_open(
        n.reg,
        participant.as_ptr().cast(),
        participant.len(),
        track.as_ptr().cast(),
        track.len(),
        country.as_ptr().cast(),
        country.len(),
        0,
        &mut t,
    );
    assert_eq!(r, trackstats_result::Ok);
    Track(t)
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
/// the local subscribers.
fn forward(copy: Track, subscribers: Vec<Track>, rx: Receiver<u64>, next: Option<Sender<u64>>) -> u64 {
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
    received
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
    let received: u64 = nodes.into_iter().map(|h| h.join().unwrap()).sum();
    let fleet = [home, relay, edge].map(reported);
    let up: u64 = fleet.iter().map(|s| s[0]).sum();
    let down: u64 = fleet.iter().map(|s| s[1]).sum();
    assert_eq!(up, sent, "UPSTREAM over the fleet is what the publisher sent, once");
    assert_eq!(down, received, "DOWNSTREAM is what the subscribers received");
    assert_eq!(received, 4 * sent);
    assert_eq!(fleet[1][0] + fleet[2][0], 0, "relay copies count nothing");
}
