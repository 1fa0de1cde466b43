//! What the loom test binaries (tests/loom.rs, tests/seq_loom.rs) share: the
//! model runner and a registry with no thread and no deadline in reach.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;
use trackstats::{Config, Mode, Registry, MAX_INTERVAL};

/// Preemption bound when `LOOM_MAX_PREEMPTIONS` is unset (CI sets it).
const DEFAULT_PREEMPTIONS: usize = 2;

/// Runs one model under loom and prints how many executions it explored.
pub fn model(name: &str, f: impl Fn() + Sync + Send + 'static) {
    model_with_bound(name, None, f)
}

/// `model` with a preemption bound of its own, for a model whose threads'
/// paths are long enough that the suite's bound would take minutes (the
/// bound it needs to reach its race is said where it is used).
pub fn model_with_bound(name: &str, bound: Option<usize>, f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if bound.is_some() {
        builder.preemption_bound = bound;
    }
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(DEFAULT_PREEMPTIONS);
    }
    let bound = builder.preemption_bound;
    let executions = Arc::new(AtomicUsize::new(0));
    let counter = executions.clone();
    builder.check(move || {
        counter.fetch_add(1, SeqCst);
        f();
    });
    let n = executions.load(SeqCst);
    assert!(n > 1, "{name}: loom explored a single interleaving; the model has no concurrency");
    println!("loom model {name}: {n} interleavings explored (preemption bound {bound:?})");
}

/// Manual mode with the longest interval: windows close only by `tick`. No
/// quarantine: a released slot is the next one handed out, so the models
/// race reuse too.
pub fn manual_registry() -> Registry {
    Registry::new(Config { interval: MAX_INTERVAL, mode: Mode::Manual, ..reusing_at_once() }).expect("registry")
}

/// The default configuration without a quarantine.
pub fn reusing_at_once() -> Config {
    Config { quarantine: Duration::ZERO, quarantine_slots: 0, ..Default::default() }
}
