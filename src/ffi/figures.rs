//! The registry's cumulative figures through the C ABI:
//! `trackstats_registry_figures` takes one read (a `trackstats_figures`,
//! freed by `trackstats_figures_free`) and its view;
//! `trackstats_registry_set_track_series` asks for per-track series. What
//! the figures include is in `src/figures.rs` and the header's docs below.

use super::{arg, guard, guard_void, trackstats_registry, trackstats_result};
use crate::figures::{CountryFigures, Figures, TrackFigures};
use crate::report::Direction;
use crate::stats::Stats;

/// One read of a registry's figures. Opaque; owned by the caller of
/// `trackstats_registry_figures` until `trackstats_figures_free`.
pub struct trackstats_figures {
    view: trackstats_figures_view,
    /// Owns every row and string the view points to.
    _figures: Figures,
}

/// What one `trackstats_registry_figures` read holds. Every pointer in it
/// (the arrays and their strings) is borrowed from its `trackstats_figures`
/// and valid until `trackstats_figures_free`.
///
/// Traffic figures (`countries`, `tracks`, the overflow) are cumulative sums
/// of the windows the sampler has taken: exactly what the reports produced so
/// far add up to, queued or delivered, and not the window still open. The
/// sampler publishes them after each window pass and after each batch of
/// closes and releases (a closed track's bytes are in within milliseconds).
/// They never go back: released tracks stay in their country's sums.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct trackstats_figures_view {
    /// How many times the sampler has published: two reads with the same
    /// number have the same traffic figures. 0 before the first report.
    pub publication: u64,
    /// The end of the latest window included (Unix ns), 0 before the first.
    pub as_of_unix_ns: u64,
    /// When the registry started (Unix ns): every cumulative figure counts
    /// from there.
    pub started_unix_ns: u64,
    /// Per country, sorted by country (bytewise), every country reported so
    /// far.
    pub countries: *const CountryFigures,
    pub countries_len: usize,
    /// Per-track series (see `trackstats_registry_set_track_series`): one
    /// per admitted (track, direction), in a stable order; a released
    /// track's series stay, flagged `ended`, with their final values for one
    /// to two intervals. Empty while per-track series are off.
    pub tracks: *const TrackFigures,
    pub tracks_len: usize,
    /// Everything not admitted to a series of its own, released tracks
    /// included; zero while per-track series are off.
    pub overflow_up_bytes: u64,
    pub overflow_up_messages: u64,
    pub overflow_down_bytes: u64,
    pub overflow_down_messages: u64,
    /// Whether per-track series are on, and their limit.
    pub track_series_on: bool,
    pub track_series_limit: u32,
    /// Time the sampler spent in window passes, in total and in the latest.
    pub tick_ns_total: u64,
    pub last_tick_ns: u64,
    /// The registry's health counters when this was read (as
    /// `trackstats_registry_stats`).
    pub stats: Stats,
}

impl trackstats_figures_view {
    fn of(f: &Figures) -> trackstats_figures_view {
        let (countries, tracks) = (f.countries(), f.tracks());
        let (up, down) = (f.overflow(Direction::Up), f.overflow(Direction::Down));
        trackstats_figures_view {
            publication: f.publication(),
            as_of_unix_ns: f.as_of_unix_ns(),
            started_unix_ns: f.started_unix_ns(),
            countries: countries.as_ptr(),
            countries_len: countries.len(),
            tracks: tracks.as_ptr(),
            tracks_len: tracks.len(),
            overflow_up_bytes: up.bytes,
            overflow_up_messages: up.messages,
            overflow_down_bytes: down.bytes,
            overflow_down_messages: down.messages,
            track_series_on: f.track_series_limit().is_some(),
            track_series_limit: f.track_series_limit().unwrap_or(0),
            tick_ns_total: f.tick_ns_total(),
            last_tick_ns: f.last_tick_ns(),
            stats: *f.stats(),
        }
    }
}

/// Reads the registry's figures: the latest the sampler published, with the
/// health counters as they stand. Never waits for the sampler, a window pass
/// or a sink (costs one allocation, whatever the number of tracks); works
/// from inside the sink (its own registry's too) and after
/// `trackstats_registry_close`. On success `*out` is owned by the caller
/// (free it with `trackstats_figures_free`) and `*view` points to its
/// contents, valid until then; on failure neither is written. Thread-safe.
///
/// Returns `OK`; `NULL_ARGUMENT` for a NULL registry, `out` or `view`;
/// `FORKED` for a registry inherited from a parent process; `PANIC` for a
/// bug in trackstats (caught).
#[no_mangle]
pub extern "C" fn trackstats_registry_figures(
    registry: *const trackstats_registry,
    out: *mut *mut trackstats_figures,
    view: *mut *const trackstats_figures_view,
) -> trackstats_result {
    guard(|| {
        let r = arg!(registry);
        let out = arg!(mut out);
        let view = arg!(mut view);
        if r.inner.inherited() {
            return trackstats_result::Forked;
        }
        let figures = r.inner.figures();
        let f = Box::new(trackstats_figures { view: trackstats_figures_view::of(&figures), _figures: figures });
        let p = Box::into_raw(f);
        // SAFETY: `p` is the live box just made; the view's address is stable
        // until `trackstats_figures_free` drops it.
        *view = unsafe { &(*p).view };
        *out = p;
        trackstats_result::Ok
    })
}

/// Frees a read of `trackstats_registry_figures`. NULL is a no-op.
/// Thread-safe, but must not race another use of the same figures; each is
/// freed once.
#[no_mangle]
pub extern "C" fn trackstats_figures_free(figures: *mut trackstats_figures) {
    guard_void(|| {
        if !figures.is_null() {
            // SAFETY: a pointer from `trackstats_registry_figures`, freed once.
            drop(unsafe { Box::from_raw(figures) });
        }
    })
}

/// Keeps per-track series in the registry's figures: from the next window
/// pass on, each (track, direction) that moves is admitted, once, to a
/// series of its own while fewer than `max_series` are admitted, or else to
/// the overflow; it stays there until the track is released, when its
/// series ends (its bytes stay in its country's sums). A track that moved
/// before is admitted with its whole cumulative sum. Calling again changes
/// the limit for series admitted afterwards; there is no off. A no-op after
/// `trackstats_registry_close`. Never waits; works from inside the sink.
/// Thread-safe.
///
/// Returns `OK` (also after `trackstats_registry_close`); `NULL_ARGUMENT`
/// for a NULL registry; `FORKED` for a registry inherited from a parent
/// process; `PANIC` for a bug in trackstats (caught).
#[no_mangle]
pub extern "C" fn trackstats_registry_set_track_series(
    registry: *const trackstats_registry,
    max_series: u32,
) -> trackstats_result {
    guard(|| {
        let r = arg!(registry);
        if r.inner.inherited() {
            return trackstats_result::Forked;
        }
        r.inner.set_track_series(max_series);
        trackstats_result::Ok
    })
}
