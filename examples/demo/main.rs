//! `make demo`: a simulated SFU on trackstats.
//!
//! Publishers each send one data track that the SFU fans out to subscribers.
//! Writer threads play the SFU's forwarding loops: every message a publisher
//! sends is one `record_up` on its track, and every copy forwarded is one
//! `record_down` on the subscriber's copy (keyed, as LiveKit does, by the
//! subscriber's participant id and country with the publisher's track id).
//! Subscribers leave and join while it runs. The sampler prints each window;
//! at the end every byte and message is checked against what the writers
//! counted, and the cost of one record is measured against a bare atomic add.

mod args;
mod metrics;
mod sfu;
mod table;

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use trackstats::{Config, Error, Registry};

fn main() -> ExitCode {
    let a = match args::parse() {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}\n\n{}", args::USAGE);
            return ExitCode::from(2);
        }
    };
    println!(
        "trackstats demo: {} publishers x {} subscribers, {} msg/s each, {} writer threads, {} ms windows, {} s\n",
        a.publishers, a.subscribers, a.rate, a.writers, a.interval_ms, a.duration_s
    );
    let reg = Arc::new(
        Registry::new(Config { interval: Duration::from_millis(a.interval_ms), ..Default::default() })
            .expect("registry"),
    );
    if let Some(addr) = &a.metrics_addr {
        if let Err(e) = metrics::serve(reg.clone(), addr) {
            eprintln!("cannot serve /metrics on {addr}: {e}");
            return ExitCode::from(2);
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writers = sfu::start(&reg, &a, &stop);

    // The host's consumer: print a table per window as reports arrive.
    let mut printer = table::Printer::new(a.interval_ms, a.top);
    let mut batch = Vec::new();
    let mut reported = table::Sums::default();
    let end = Instant::now() + Duration::from_secs(a.duration_s);
    while Instant::now() < end {
        batch.clear();
        reg.wait(&mut batch, 4096, Duration::from_millis(100)).expect("wait");
        reported.add(&batch);
        printer.take(&batch);
    }
    stop.store(true, Ordering::Relaxed);
    let mut truth = table::Sums::default();
    let mut records = 0;
    for w in writers {
        let (sums, n) = w.join().expect("writer");
        truth.merge(&sums);
        records += n;
    }
    // Every track is released by now; closing the registry flushes the rest.
    reg.close().expect("close");
    loop {
        batch.clear();
        match reg.wait(&mut batch, 4096, Duration::from_millis(100)) {
            Ok(_) => {
                reported.add(&batch);
                printer.take(&batch);
            }
            Err(Error::Closed) => break,
            Err(e) => panic!("wait: {e:?}"),
        }
    }
    printer.finish();

    let stats = reg.stats();
    println!(
        "\nregistry: {} reports ({} merged), {} ticks ({} late), {} records rejected",
        stats.reports_emitted, stats.reports_merged, stats.ticks, stats.late_ticks, stats.records_rejected
    );
    let ok = check(&truth, &reported, records);
    if let Some(path) = &a.truth_out {
        let d = |dir| truth.0.iter().filter(|(k, _)| k.3 == dir).fold((0u64, 0u64), |a, (_, v)| (a.0 + v.0, a.1 + v.1));
        let (up, down) = (d(trackstats::Direction::Up), d(trackstats::Direction::Down));
        let json = format!(
            "{{\"up_bytes\": {}, \"up_messages\": {}, \"down_bytes\": {}, \"down_messages\": {}, \"ok\": {ok}}}\n",
            up.0, up.1, down.0, down.1
        );
        // Written whole, then renamed, so a reader never sees half a file.
        let tmp = format!("{path}.tmp");
        if let Err(e) = std::fs::write(&tmp, json).and_then(|_| std::fs::rename(&tmp, path)) {
            eprintln!("cannot write {path}: {e}");
        }
    }
    if a.metrics_addr.is_some() && a.hold_s > 0 {
        println!("recording stopped; serving final /metrics for {} s", a.hold_s);
        std::thread::sleep(Duration::from_secs(a.hold_s));
    }
    let (ns, base) = sfu::cost_per_record();
    println!(
        "cost per record: {ns:.2} ns  (bare AtomicU64::fetch_add on a padded line: {base:.2} ns, ratio {:.2}x)",
        ns / base
    );
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Ground truth against reports, per track key and direction.
fn check(truth: &table::Sums, reported: &table::Sums, records: u64) -> bool {
    let mut bad: Vec<String> = Vec::new();
    let keys: HashMap<_, _> = truth.0.iter().chain(reported.0.iter()).map(|(k, _)| (k.clone(), ())).collect();
    for k in keys.keys() {
        let (t, r) = (truth.0.get(k).copied().unwrap_or_default(), reported.0.get(k).copied().unwrap_or_default());
        if t != r {
            bad.push(format!("  {k:?}: recorded {t:?}, reported {r:?}"));
        }
    }
    let (b, m) = truth.total();
    if bad.is_empty() {
        println!(
            "ground truth: {} (track, direction) pairs, {} bytes, {} messages in {} records: every byte and message reported exactly once. OK",
            keys.len(),
            table::grouped(b),
            table::grouped(m),
            table::grouped(records)
        );
        true
    } else {
        println!("ground truth MISMATCH in {} of {} (track, direction) pairs:", bad.len(), keys.len());
        bad.iter().take(20).for_each(|l| println!("{l}"));
        false
    }
}
