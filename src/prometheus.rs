//! The Prometheus text exposition of a registry: cumulative bytes and
//! messages by direction and country (LiveKit's label set for its own
//! `livekit_packet_bytes`/`_total`: `direction` is `incoming` for UPSTREAM and
//! `outgoing` for DOWNSTREAM), optional per-track series under a cardinality
//! limit with one overflow series, and the registry's health.
//!
//! Rendering is a pure function of a `Snapshot`; `Core::prometheus_snapshot`
//! gathers one under the sampler role so no track is counted twice while it
//! moves from live to released.

use crate::key::TrackKey;
use crate::report::Direction;
use crate::stats::Stats;
use crate::word::Delta;
use std::collections::BTreeMap;
use std::fmt::Write;

/// What to render.
#[derive(Clone, Debug, Default)]
pub struct PrometheusOptions {
    /// Also render `trackstats_track_*` series, one per live track and direction.
    pub per_track: bool,
    /// At most this many per-track series; the rest are summed into one
    /// series with `track_id="__overflow__"`.
    pub max_track_series: usize,
    /// A constant `node_id` label on every series, as LiveKit sets it.
    pub node_id: Option<String>,
}

/// Everything one exposition shows, taken at one moment.
#[derive(Default)]
pub(crate) struct Snapshot {
    /// Live and released tracks by country: `[up, down]`.
    pub by_country: BTreeMap<Box<str>, [Delta; 2]>,
    /// Live tracks, for the per-track series.
    pub tracks: Vec<(TrackKey, [Delta; 2])>,
    pub stats: Stats,
    pub tick_seconds_sum: f64,
    pub last_tick_seconds: f64,
}

impl Snapshot {
    pub fn add(&mut self, country: &str, dir: Direction, d: Delta) {
        if d.is_zero() {
            return;
        }
        let e = match self.by_country.get_mut(country) {
            Some(e) => e,
            None => self.by_country.entry(country.into()).or_default(),
        };
        e[dir.index()] = e[dir.index()].add(d);
    }
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

pub(crate) fn render(s: &Snapshot, o: &PrometheusOptions) -> String {
    let mut out = Out { text: String::new(), node: o.node_id.as_deref() };
    for (name, help, field) in [
        (
            "trackstats_bytes_total",
            "Bytes recorded, by direction (incoming: UPSTREAM, outgoing: DOWNSTREAM) and country.",
            0,
        ),
        ("trackstats_messages_total", "Messages recorded, by direction and country.", 1),
    ] {
        out.family(name, "counter", help);
        for (country, d) in &s.by_country {
            for dir in Direction::ALL {
                let d = d[dir.index()];
                let v = if field == 0 { d.bytes } else { d.messages };
                out.sample(name, &[("direction", direction_label(dir)), ("country", country)], v);
            }
        }
    }
    if o.per_track {
        render_tracks(&mut out, s, o.max_track_series);
    }
    let st = &s.stats;
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
    ] {
        out.family(name, kind, help);
        out.sample(name, &[], v);
    }
    out.family("trackstats_tick_duration_seconds", "summary", "Time the sampler spends per window pass.");
    out.sample("trackstats_tick_duration_seconds_sum", &[], s.tick_seconds_sum);
    out.sample("trackstats_tick_duration_seconds_count", &[], st.ticks);
    out.family("trackstats_last_tick_duration_seconds", "gauge", "Duration of the latest window pass.");
    out.sample("trackstats_last_tick_duration_seconds", &[], s.last_tick_seconds);
    out.text
}

fn render_tracks(out: &mut Out, s: &Snapshot, limit: usize) {
    for (name, help, field) in [
        ("trackstats_track_bytes_total", "Bytes of one live track and direction.", 0),
        ("trackstats_track_messages_total", "Messages of one live track and direction.", 1),
    ] {
        out.family(name, "counter", help);
        let mut shown = 0usize;
        let mut overflow = [0u64; 2];
        for (key, totals) in &s.tracks {
            for dir in Direction::ALL {
                let d = totals[dir.index()];
                let v = if field == 0 { d.bytes } else { d.messages };
                if d.is_zero() {
                    continue;
                }
                if shown < limit {
                    shown += 1;
                    out.sample(
                        name,
                        &[
                            ("direction", direction_label(dir)),
                            ("country", key.country()),
                            ("participant_id", key.participant_id()),
                            ("track_id", key.track_id()),
                        ],
                        v,
                    );
                } else {
                    overflow[dir.index()] += v;
                }
            }
        }
        if s.tracks.len() * 2 > limit {
            for dir in Direction::ALL {
                out.sample(
                    name,
                    &[("direction", direction_label(dir)), ("track_id", "__overflow__")],
                    overflow[dir.index()],
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Snapshot {
        let mut s = Snapshot::default();
        s.add("DE", Direction::Up, Delta { bytes: 100, messages: 2 });
        s.add("", Direction::Down, Delta { bytes: 7, messages: 1 });
        for i in 0..3u64 {
            let k = TrackKey::new("PA_\"x\"", &format!("TR_{i}"), "DE", i).unwrap();
            s.tracks.push((k, [Delta { bytes: 10 * (i + 1), messages: 1 }, Delta::ZERO]));
        }
        s.stats.ticks = 4;
        s
    }

    #[test]
    fn renders_counters_by_direction_and_country() {
        let text = render(&snapshot(), &PrometheusOptions { node_id: Some("n1".into()), ..Default::default() });
        assert!(text.contains("# TYPE trackstats_bytes_total counter\n"));
        assert!(text.contains("trackstats_bytes_total{node_id=\"n1\",direction=\"incoming\",country=\"DE\"} 100\n"));
        assert!(text.contains("trackstats_messages_total{node_id=\"n1\",direction=\"outgoing\",country=\"\"} 1\n"));
        assert!(text.contains("trackstats_tick_duration_seconds_count{node_id=\"n1\"} 4\n"));
        assert!(!text.contains("trackstats_track_bytes_total"), "per-track series are opt-in");
    }

    #[test]
    fn per_track_series_stop_at_the_limit_and_overflow_keeps_the_sum() {
        let text = render(&snapshot(), &PrometheusOptions { per_track: true, max_track_series: 2, node_id: None });
        let series: Vec<_> = text.lines().filter(|l| l.starts_with("trackstats_track_bytes_total{")).collect();
        assert_eq!(series.len(), 4, "{series:#?}"); // 2 tracks + overflow per direction
        assert!(text.contains("participant_id=\"PA_\\\"x\\\"\""), "label values are escaped");
        assert!(text.contains("trackstats_track_bytes_total{direction=\"incoming\",track_id=\"__overflow__\"} 30\n"));
        let sum: u64 = series.iter().map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap()).sum();
        assert_eq!(sum, 60, "nothing lost to the limit");
    }
}
