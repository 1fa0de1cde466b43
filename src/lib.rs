//! trackstats: lock-free per-track traffic metrics for SFUs.
//!
//! `record_up`/`record_down` are one atomic add on a per-track cache line;
//! one sampler thread per registry turns the counters into 5-second reports
//! per track and direction, with an exact final flush when a track closes.
//! See README.md for the invariants and how each is kept, and `ffi` for the
//! C ABI (`include/trackstats.h`).

#![deny(unsafe_op_in_unsafe_fn)]

// Bottom up: each module uses only modules listed before it (rustfmt.toml
// keeps this order). The module graph is in README.md, "Layout".
mod sync;
mod pages;
mod word;
mod key;
mod clock;
mod seq;
mod report;
mod hosted;
mod stats;
mod slot;
mod slab;
mod outbox;
mod figures;
mod sampler;
mod prometheus;
mod fork;
mod hub;
mod track;
mod registry;
pub mod ffi;

pub use figures::{CountryFigures, Figures, TrackFigures};
pub use hosted::{
    HostedPacketWords, HostedWords, TRACKSTATS_HOSTED_LET_GO, TRACKSTATS_HOSTED_PACKET_WORDS, TRACKSTATS_HOSTED_WORDS,
    TRACKSTATS_HOSTED_WORD_DOWN, TRACKSTATS_HOSTED_WORD_LET_GO, TRACKSTATS_HOSTED_WORD_TOTAL_UP_BYTES,
    TRACKSTATS_HOSTED_WORD_UP,
};
pub use key::{KeyError, TrackKey, TRACKSTATS_MAX_ID_BYTES};
pub use prometheus::PrometheusOptions;
#[cfg(feature = "fault-injection")]
#[doc(hidden)]
pub use registry::fail_next_thread_spawn;
pub use registry::{
    Config, Error, Mode, Registry, DEFAULT_INTERVAL, MAX_INTERVAL, MIN_INTERVAL, TRACKSTATS_GRACE_DEFAULT_MS,
    TRACKSTATS_GRACE_DEFAULT_SLOTS, TRACKSTATS_INTERVAL_DEFAULT_MS, TRACKSTATS_INTERVAL_MAX_MS,
    TRACKSTATS_INTERVAL_MIN_MS, TRACKSTATS_MAX_TRACKS, TRACKSTATS_PENDING_CLOSED_DEFAULT,
    TRACKSTATS_QUARANTINE_DEFAULT_MS, TRACKSTATS_QUARANTINE_DEFAULT_SLOTS,
};
pub use report::{
    Direction, Report, TRACKSTATS_FLAG_FINAL, TRACKSTATS_FLAG_LATE, TRACKSTATS_FLAG_MERGED, TRACKSTATS_FLAG_OVERFLOW,
    TRACKSTATS_OVERFLOW_ID,
};
pub use sampler::Sink;
pub use seq::{
    SeqStats, TRACKSTATS_PACKET_STARTED, TRACKSTATS_PACKET_WORDS, TRACKSTATS_PACKET_WORD_DUPLICATED,
    TRACKSTATS_PACKET_WORD_FRAMES, TRACKSTATS_PACKET_WORD_LOST, TRACKSTATS_PACKET_WORD_OUT_OF_ORDER,
    TRACKSTATS_PACKET_WORD_RECOVERED, TRACKSTATS_PACKET_WORD_STATE,
};
pub use stats::Stats;
pub use track::{Totals, Track};
pub use word::{
    Delta, TRACKSTATS_MAX_INLINE_BYTES, TRACKSTATS_MAX_RECORD_BYTES, TRACKSTATS_WORD_BYTES_BITS,
    TRACKSTATS_WORD_BYTES_MASK, TRACKSTATS_WORD_MESSAGE_ONE, TRACKSTATS_WORD_SEALED, TRACKSTATS_WORD_SPILL_MASK,
};
