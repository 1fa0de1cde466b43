// Package tsprom puts a trackstats registry's figures into a
// client_golang Prometheus registry the host already serves: a
// prometheus.Collector built from one read of the library's figures per
// Collect (trackstats.Registry.ReadFigures), never from text.
//
//	c, err := tsprom.New(reg)                                       // reg: a *trackstats.Registry
//	if err != nil { ... }
//	node := prometheus.WrapRegistererWith(prometheus.Labels{"node_id": "sfu-1"}, prometheus.DefaultRegisterer)
//	node.MustRegister(c)                                             // served by the host's /metrics
//
// What it exports (every value cumulative and never going back; see
// trackstats.Figures for what the traffic figures include):
//
//   - trackstats_bytes_total, trackstats_messages_total{direction, country}:
//     direction "incoming" is UPSTREAM (what publishers sent), "outgoing"
//     DOWNSTREAM, as LiveKit's livekit_packet_bytes labels them;
//   - with WithTrackSeries: trackstats_track_bytes_total and
//     trackstats_track_messages_total{direction, country, participant_id,
//     track_id}, one per admitted (track, direction), at most the limit,
//     and one series per direction with track_id="__overflow__" for the
//     rest;
//   - health: trackstats_open_tracks, trackstats_live_slots,
//     trackstats_reports_total, trackstats_reports_merged_total,
//     trackstats_reports_pending, trackstats_late_ticks_total,
//     trackstats_records_rejected_total, trackstats_sampler_panics_total,
//     trackstats_sink_panics_total, trackstats_tick_duration_seconds (a
//     summary: passes and their time) and
//     trackstats_last_tick_duration_seconds.
//
// WithLiveKit is for LiveKit nodes, whose trackstats reports reach
// LiveKit's telemetry (tslivekit), which counts them in
// livekit_packet_bytes and livekit_packet_total: the collector then exports
// health only, so no byte is counted twice.
package tsprom

import (
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/trackstats/trackstats/cbindings/go/trackstats"
)

// OverflowTrackID is the track_id of the series that sums every (track,
// direction) not admitted to a series of its own.
const OverflowTrackID = "__overflow__"

// directionLabel is LiveKit's label value for each direction.
var directionLabel = [2]string{trackstats.Up: "incoming", trackstats.Down: "outgoing"}

// Option configures New.
type Option func(*config)

type config struct {
	trackSeries int
	perTrack    bool
	liveKit     bool
}

// WithTrackSeries also exports per-track series, at most max at once (it
// calls Registry.SetTrackSeries(max): series appear from the registry's
// next window pass on). Each (track, direction) that moves is admitted
// once, to a series of its own or to the overflow series, until its track
// is released, so no series hops between the two.
func WithTrackSeries(max int) Option {
	return func(c *config) { c.perTrack, c.trackSeries = true, max }
}

// WithLiveKit exports health only: on a LiveKit node the traffic reaches
// livekit_packet_bytes and livekit_packet_total through LiveKit's own
// telemetry, and exporting it again would count it twice.
func WithLiveKit() Option {
	return func(c *config) { c.liveKit = true }
}

// ErrLiveKitTrackSeries: per-track series count the bytes LiveKit's own
// counters already hold.
var ErrLiveKitTrackSeries = errors.New("tsprom: WithLiveKit exports no traffic, so no per-track series either")

// Collector is a prometheus.Collector of one registry. Safe for concurrent
// use; after the registry is closed it collects nothing.
type Collector struct {
	reg     *trackstats.Registry
	traffic bool
	tracks  bool
	figures sync.Pool // *trackstats.Figures, reused so a Collect allocates no row

	bytes, messages           *prometheus.Desc
	trackBytes, trackMessages *prometheus.Desc
	health                    []gauge
	tickDuration, lastTick    *prometheus.Desc
}

// gauge is one health figure: its Desc, type and value.
type gauge struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(*trackstats.Stats) uint64
}

// New makes the collector of reg; register it where the host's metrics are
// served.
func New(reg *trackstats.Registry, opts ...Option) (*Collector, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.liveKit && cfg.perTrack {
		return nil, ErrLiveKitTrackSeries
	}
	if reg == nil {
		return nil, trackstats.ErrRegistryClosed
	}
	if cfg.perTrack {
		if err := reg.SetTrackSeries(cfg.trackSeries); err != nil {
			return nil, err
		}
	}
	c := &Collector{reg: reg, traffic: !cfg.liveKit, tracks: cfg.perTrack}
	c.figures.New = func() any { return new(trackstats.Figures) }
	traffic := []string{"direction", "country"}
	c.bytes = prometheus.NewDesc("trackstats_bytes_total",
		"Bytes reported, by direction (incoming: UPSTREAM, outgoing: DOWNSTREAM) and country.", traffic, nil)
	c.messages = prometheus.NewDesc("trackstats_messages_total",
		"Messages reported, by direction and country.", traffic, nil)
	track := []string{"direction", "country", "participant_id", "track_id"}
	c.trackBytes = prometheus.NewDesc("trackstats_track_bytes_total",
		"Bytes reported of one track and direction; track_id=\"__overflow__\" sums the tracks over the limit.", track, nil)
	c.trackMessages = prometheus.NewDesc("trackstats_track_messages_total",
		"Messages reported of one track and direction; track_id=\"__overflow__\" sums the tracks over the limit.", track, nil)
	health := func(name, help string, kind prometheus.ValueType, v func(*trackstats.Stats) uint64) {
		c.health = append(c.health, gauge{prometheus.NewDesc(name, help, nil, nil), kind, v})
	}
	health("trackstats_open_tracks", "Tracks opened and not yet closed.", prometheus.GaugeValue,
		func(s *trackstats.Stats) uint64 { return s.OpenTracks })
	health("trackstats_live_slots", "Slots held: open tracks plus closed ones not yet released.", prometheus.GaugeValue,
		func(s *trackstats.Stats) uint64 { return s.LiveSlots })
	health("trackstats_reports_total", "Reports produced.", prometheus.CounterValue,
		func(s *trackstats.Stats) uint64 { return s.ReportsEmitted })
	health("trackstats_reports_merged_total", "Reports folded into a pending one (lagging consumer).",
		prometheus.CounterValue, func(s *trackstats.Stats) uint64 { return s.ReportsMerged })
	health("trackstats_reports_pending", "Reports waiting for the consumer.", prometheus.GaugeValue,
		func(s *trackstats.Stats) uint64 { return s.ReportsPending })
	health("trackstats_late_ticks_total", "Window deadlines the sampler missed.", prometheus.CounterValue,
		func(s *trackstats.Stats) uint64 { return s.LateTicks })
	health("trackstats_records_rejected_total", "Records over the maximum size, ignored.", prometheus.CounterValue,
		func(s *trackstats.Stats) uint64 { return s.RecordsRejected })
	health("trackstats_sampler_panics_total", "Panics caught in the sampler.", prometheus.CounterValue,
		func(s *trackstats.Stats) uint64 { return s.SamplerPanics })
	health("trackstats_sink_panics_total", "Panics caught in the sink.", prometheus.CounterValue,
		func(s *trackstats.Stats) uint64 { return s.SinkPanics })
	c.tickDuration = prometheus.NewDesc("trackstats_tick_duration_seconds",
		"Time the sampler spends per window pass.", nil, nil)
	c.lastTick = prometheus.NewDesc("trackstats_last_tick_duration_seconds",
		"Duration of the latest window pass.", nil, nil)
	return c, nil
}

// Describe sends the descriptors of every metric Collect may send.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	if c.traffic {
		ch <- c.bytes
		ch <- c.messages
	}
	if c.tracks {
		ch <- c.trackBytes
		ch <- c.trackMessages
	}
	for _, h := range c.health {
		ch <- h.desc
	}
	ch <- c.tickDuration
	ch <- c.lastTick
}

// Collect sends the metrics of one read of the registry's figures, so
// every value comes from the same publication. It never waits for the
// registry's sampler or report consumer.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	f := c.figures.Get().(*trackstats.Figures)
	defer c.figures.Put(f)
	if c.reg.ReadFigures(f) != nil {
		return // closed: nothing to collect
	}
	if c.traffic {
		for i := range f.Countries {
			r := &f.Countries[i]
			for d, t := range [2]trackstats.Traffic{r.Up, r.Down} {
				ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.CounterValue, float64(t.Bytes), directionLabel[d], r.Country)
				ch <- prometheus.MustNewConstMetric(c.messages, prometheus.CounterValue, float64(t.Messages), directionLabel[d], r.Country)
			}
		}
	}
	if c.tracks {
		for i := range f.Tracks {
			s := &f.Tracks[i]
			dir := directionLabel[s.Direction]
			ch <- prometheus.MustNewConstMetric(c.trackBytes, prometheus.CounterValue, float64(s.Bytes), dir, s.Country, s.ParticipantID, s.TrackID)
			ch <- prometheus.MustNewConstMetric(c.trackMessages, prometheus.CounterValue, float64(s.Messages), dir, s.Country, s.ParticipantID, s.TrackID)
		}
		// Once non-zero, always there: the overflow never goes back.
		for d, t := range f.Overflow {
			if t != (trackstats.Traffic{}) {
				ch <- prometheus.MustNewConstMetric(c.trackBytes, prometheus.CounterValue, float64(t.Bytes), directionLabel[d], "", "", OverflowTrackID)
				ch <- prometheus.MustNewConstMetric(c.trackMessages, prometheus.CounterValue, float64(t.Messages), directionLabel[d], "", "", OverflowTrackID)
			}
		}
	}
	for _, h := range c.health {
		ch <- prometheus.MustNewConstMetric(h.desc, h.kind, float64(h.value(&f.Stats)))
	}
	ch <- prometheus.MustNewConstSummary(c.tickDuration, f.Stats.Ticks, f.TickTime.Seconds(), nil)
	ch <- prometheus.MustNewConstMetric(c.lastTick, prometheus.GaugeValue, f.LastTick.Seconds())
}
