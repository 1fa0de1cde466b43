//! The Prometheus text exposition of a registry, for C hosts: cumulative
//! bytes and messages by direction and country (LiveKit's label set for its
//! own `livekit_packet_bytes`/`_total`: `direction` is `incoming` for
//! UPSTREAM and `outgoing` for DOWNSTREAM), per-track series on request
//! under a limit with one overflow series, and the registry's health.
//!
//! Rendering is a pure function of one `Figures` (see `figures.rs` for what
//! they include and why they never go back), so the exposition, the stats
//! and the bindings' collectors share one definition of every figure.

use crate::figures::Figures;
use crate::report::Direction;
use std::fmt::Write;

/// What to render.
#[derive(Clone, Debug, Default)]
pub struct PrometheusOptions {
    /// Also render `trackstats_track_*` series, one per admitted (track,
    /// direction), and the overflow series. Asking for them turns on the
    /// registry's per-track figures (`Registry::set_track_series`) with
    /// `max_track_series` as the limit: series appear from the next pass on.
    pub per_track: bool,
    /// At most this many per-track series at once; the rest sum into one
    /// series per direction with `track_id="__overflow__"`.
    pub max_track_series: u32,
    /// A constant `node_id` label on every series, as LiveKit sets it.
    pub node_id: Option<String>,
}

fn direction_label(d: Direction) -> &'static str {
    match d {
        Direction::Up => "incoming",
        Direction::Down => "outgoing",
    }
}

/// Escapes a label value: backslash, double quote and newline.
fn escape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

struct Out<'a> {
    text: String,
    node: Option<&'a str>,
}

impl Out<'_> {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.text.push_str(name);
        let node = self.node.map(|n| ("node_id", n));
        let all: Vec<_> = node.iter().chain(labels.iter()).collect();
        if !all.is_empty() {
            self.text.push('{');
            for (i, (k, v)) in all.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{k}=\"{}\"", escape(v));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {value}");
    }
}

pub(crate) fn render(f: &Figures, o: &PrometheusOptions) -> String {
    let mut out = Out { text: String::new(), node: o.node_id.as_deref() };
    for (name, help, field) in [
        (
            "trackstats_bytes_total",
            "Bytes reported, by direction (incoming: UPSTREAM, outgoing: DOWNSTREAM) and country.",
            0,
        ),
        ("trackstats_messages_total", "Messages reported, by direction and country.", 1),
    ] {
        out.family(name, "counter", help);
        for c in f.countries() {
            for dir in Direction::ALL {
                let d = c.traffic(dir);
                let v = if field == 0 { d.bytes } else { d.messages };
                out.sample(name, &[("direction", direction_label(dir)), ("country", c.name())], v);
            }
        }
    }
    if o.per_track {
        render_tracks(&mut out, f);
    }
    let st = f.stats();
    for (name, kind, help, v) in [
        ("trackstats_open_tracks", "gauge", "Tracks opened and not yet closed.", st.open_tracks),
        ("trackstats_live_slots", "gauge", "Slots held: open tracks plus closed ones not yet released.", st.live_slots),
        ("trackstats_reports_total", "counter", "Reports produced.", st.reports_emitted),
        (
            "trackstats_reports_merged_total",
            "counter",
            "Reports folded into a pending one (lagging consumer).",
            st.reports_merged,
        ),
        ("trackstats_reports_pending", "gauge", "Reports waiting for the consumer.", st.reports_pending),
        ("trackstats_late_ticks_total", "counter", "Window deadlines the sampler missed.", st.late_ticks),
        (
            "trackstats_records_rejected_total",
            "counter",
            "Records over the maximum size, ignored.",
            st.records_rejected,
        ),
        ("trackstats_sampler_panics_total", "counter", "Panics caught in the sampler.", st.sampler_panics),
        ("trackstats_sink_panics_total", "counter", "Panics caught in the sink.", st.sink_panics),
    ] {
        out.family(name, kind, help);
        out.sample(name, &[], v);
    }
    out.family("trackstats_tick_duration_seconds", "summary", "Time the sampler spends per window pass.");
    out.sample("trackstats_tick_duration_seconds_sum", &[], f.tick_ns_total() as f64 / 1e9);
    out.sample("trackstats_tick_duration_seconds_count", &[], st.ticks);
    out.family("trackstats_last_tick_duration_seconds", "gauge", "Duration of the latest window pass.");
    out.sample("trackstats_last_tick_duration_seconds", &[], f.last_tick_ns() as f64 / 1e9);
    out.text
}

/// The label value of the overflow series.
pub const OVERFLOW_TRACK_ID: &str = "__overflow__";

fn render_tracks(out: &mut Out, f: &Figures) {
    for (name, help, field) in [
        ("trackstats_track_bytes_total", "Bytes reported of one track and direction.", 0),
        ("trackstats_track_messages_total", "Messages reported of one track and direction.", 1),
    ] {
        out.family(name, "counter", help);
        for t in f.tracks() {
            let v = if field == 0 { t.bytes } else { t.messages };
            out.sample(
                name,
                &[
                    ("direction", direction_label(t.direction)),
                    ("country", t.country()),
                    ("participant_id", t.participant_id()),
                    ("track_id", t.track_id()),
                ],
                v,
            );
        }
        // Once non-zero, always there: it never goes back (see figures.rs).
        for dir in Direction::ALL {
            let d = f.overflow(dir);
            if !d.is_zero() {
                let v = if field == 0 { d.bytes } else { d.messages };
                out.sample(name, &[("direction", direction_label(dir)), ("track_id", OVERFLOW_TRACK_ID)], v);
            }
        }
    }
}

#[cfg(all(test, not(trackstats_loom)))]
mod tests {
    use super::*;
    use crate::figures::{Board, Tally};
    use crate::key::TrackKey;
    use crate::slab::testing;
    use crate::stats::Stats;

    /// Three FR tracks of 10, 20 and 30 bytes up (per-track figures kept
    /// under `limit`, if any) and one of unknown country with 7 bytes down.
    fn figures(limit: Option<u32>) -> Figures {
        let (board, mut t, slab) = (Board::new(), Tally::new(), testing::slab());
        if let Some(l) = limit {
            board.set_track_series(l);
        }
        t.begin(&board, 0);
        for k in 0..4u64 {
            let (p, c) = if k < 3 { (format!("PA_\"{k}\""), "FR") } else { ("PA_d".to_string(), "") };
            let i = testing::open(&slab, TrackKey::new(&p, &format!("TR_{k}"), c, 0).unwrap());
            let s = slab.get(i);
            if k < 3 {
                s.record(Direction::Up, 10 * (k + 1));
            } else {
                s.record(Direction::Down, 7);
            }
            let d = s.take_windows(&s.observe().unwrap());
            t.add(i, s, &d);
        }
        t.publish(&board, 1);
        Figures::new(board.load(), Stats { ticks: 4, ..Stats::default() }, 0, 0, 0)
    }

    #[test]
    fn renders_counters_by_direction_and_country() {
        let text = render(&figures(None), &PrometheusOptions { node_id: Some("n1".into()), ..Default::default() });
        assert!(text.contains("# TYPE trackstats_bytes_total counter\n"));
        assert!(text.contains("trackstats_bytes_total{node_id=\"n1\",direction=\"incoming\",country=\"FR\"} 60\n"));
        assert!(text.contains("trackstats_messages_total{node_id=\"n1\",direction=\"outgoing\",country=\"\"} 1\n"));
        assert!(text.contains("trackstats_tick_duration_seconds_count{node_id=\"n1\"} 4\n"));
        assert!(!text.contains("trackstats_track_bytes_total"), "per-track series are opt-in");
    }

    #[test]
    fn per_track_series_stop_at_the_limit_and_overflow_keeps_the_sum() {
        let o = PrometheusOptions { per_track: true, max_track_series: 2, node_id: None };
        let text = render(&figures(Some(2)), &o);
        let series: Vec<_> = text.lines().filter(|l| l.starts_with("trackstats_track_bytes_total{")).collect();
        // Two admitted (PA_0 and PA_1 up), the rest in one overflow series per direction.
        assert_eq!(series.len(), 4, "{series:#?}");
        assert!(text.contains("participant_id=\"PA_\\\"0\\\"\""), "label values are escaped:\n{text}");
        assert!(text.contains("trackstats_track_bytes_total{direction=\"incoming\",track_id=\"__overflow__\"} 30\n"));
        assert!(text.contains("trackstats_track_bytes_total{direction=\"outgoing\",track_id=\"__overflow__\"} 7\n"));
        let sum: u64 = series.iter().map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap()).sum();
        assert_eq!(sum, 67, "nothing lost to the limit");
    }
}
