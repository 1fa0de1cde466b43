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
	"fmt"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
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
// next window pass on; a negative max is 0, only the overflow series). Each
// (track, direction) that moves is admitted once, to a series of its own or
// to the overflow series, until its track is released, so no series hops
// between the two.
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
	scratch sync.Pool // *scratch

	bytes, messages           *prometheus.Desc
	trackBytes, trackMessages *prometheus.Desc
	health                    []healthFigure
	tickDuration, lastTick    *prometheus.Desc
	overflow                  [2][]*dto.LabelPair
}

// healthFigure is one health figure: its Desc, type and value.
type healthFigure struct {
	desc  *prometheus.Desc
	kind  kind
	value func(*trackstats.Stats) uint64
}

// scratch is what one Collect works with, pooled: the figures (whose rows
// and strings ReadFigures reuses) and the label pairs of each row, kept by
// row while the row's ids stay the same, so a Collect builds no label.
type scratch struct {
	f         trackstats.Figures
	countries []countryLabels
	tracks    []trackLabels
}

type countryLabels struct {
	country string
	pairs   [2][]*dto.LabelPair // per direction
}

type trackLabels struct {
	id    [3]string // participant, track, country
	dir   trackstats.Direction
	pairs []*dto.LabelPair
}

// New makes the collector of reg; register it where the host's metrics are
// served. A nil reg is trackstats.ErrNilRegistry, a nil Option
// trackstats.ErrInvalidOption. A nil *Collector describes and collects
// nothing.
func New(reg *trackstats.Registry, opts ...Option) (*Collector, error) {
	var cfg config
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("tsprom: option %d is nil: %w", i, trackstats.ErrInvalidOption)
		}
		o(&cfg)
	}
	if cfg.liveKit && cfg.perTrack {
		return nil, ErrLiveKitTrackSeries
	}
	if reg == nil {
		return nil, trackstats.ErrNilRegistry
	}
	if cfg.perTrack {
		if err := reg.SetTrackSeries(cfg.trackSeries); err != nil {
			return nil, err
		}
	}
	c := &Collector{reg: reg, traffic: !cfg.liveKit, tracks: cfg.perTrack}
	c.scratch.New = func() any { return new(scratch) }
	for d := range c.overflow {
		c.overflow[d] = pairs("country", "", "direction", directionLabel[d], "participant_id", "", "track_id", OverflowTrackID)
	}
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
	health := func(name, help string, kind kind, v func(*trackstats.Stats) uint64) {
		c.health = append(c.health, healthFigure{prometheus.NewDesc(name, help, nil, nil), kind, v})
	}
	health("trackstats_open_tracks", "Tracks opened and not yet closed.", gauge,
		func(s *trackstats.Stats) uint64 { return s.OpenTracks })
	health("trackstats_live_slots", "Slots held: open tracks plus closed ones not yet released.", gauge,
		func(s *trackstats.Stats) uint64 { return s.LiveSlots })
	health("trackstats_reports_total", "Reports produced.", counter,
		func(s *trackstats.Stats) uint64 { return s.ReportsEmitted })
	health("trackstats_reports_merged_total", "Reports folded into a pending one (lagging consumer).",
		counter, func(s *trackstats.Stats) uint64 { return s.ReportsMerged })
	health("trackstats_reports_pending", "Reports waiting for the consumer.", gauge,
		func(s *trackstats.Stats) uint64 { return s.ReportsPending })
	health("trackstats_late_ticks_total", "Window deadlines the sampler missed.", counter,
		func(s *trackstats.Stats) uint64 { return s.LateTicks })
	health("trackstats_records_rejected_total", "Records over the maximum size, ignored.", counter,
		func(s *trackstats.Stats) uint64 { return s.RecordsRejected })
	health("trackstats_sampler_panics_total", "Panics caught in the sampler.", counter,
		func(s *trackstats.Stats) uint64 { return s.SamplerPanics })
	health("trackstats_sink_panics_total", "Panics caught in the sink.", counter,
		func(s *trackstats.Stats) uint64 { return s.SinkPanics })
	c.tickDuration = prometheus.NewDesc("trackstats_tick_duration_seconds",
		"Time the sampler spends per window pass.", nil, nil)
	c.lastTick = prometheus.NewDesc("trackstats_last_tick_duration_seconds",
		"Duration of the latest window pass.", nil, nil)
	return c, nil
}

// Describe sends the descriptors of every metric Collect may send.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	if c == nil {
		return
	}
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
// registry's sampler or report consumer, and allocates one block for all
// the metrics it sends, whatever the number of tracks.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	if c == nil {
		return
	}
	sc := c.scratch.Get().(*scratch)
	defer c.scratch.Put(sc)
	f := &sc.f
	if c.reg.ReadFigures(f) != nil {
		return // closed: nothing to collect
	}
	n := len(c.health) + 2
	if c.traffic {
		n += 4 * len(f.Countries)
	}
	if c.tracks {
		n += 2*len(f.Tracks) + 4
	}
	// Immutable once sent (Gather writes them later): new each Collect.
	ms := make([]metric, 0, n)
	if c.traffic {
		sc.countries = resize(sc.countries, len(f.Countries))
		for i := range f.Countries {
			r, l := &f.Countries[i], &sc.countries[i]
			if l.pairs[0] == nil || l.country != r.Country {
				l.country = r.Country
				for d := range l.pairs {
					l.pairs[d] = pairs("country", r.Country, "direction", directionLabel[d])
				}
			}
			for d, t := range [2]trackstats.Traffic{r.Up, r.Down} {
				ms = append(ms,
					metric{desc: c.bytes, labels: l.pairs[d], kind: counter, value: float64(t.Bytes)},
					metric{desc: c.messages, labels: l.pairs[d], kind: counter, value: float64(t.Messages)})
			}
		}
	}
	if c.tracks {
		sc.tracks = resize(sc.tracks, len(f.Tracks))
		for i := range f.Tracks {
			s, l := &f.Tracks[i], &sc.tracks[i]
			id := [3]string{s.ParticipantID, s.TrackID, s.Country}
			if l.pairs == nil || l.id != id || l.dir != s.Direction {
				l.id, l.dir = id, s.Direction
				l.pairs = pairs("country", s.Country, "direction", directionLabel[s.Direction],
					"participant_id", s.ParticipantID, "track_id", s.TrackID)
			}
			ms = append(ms,
				metric{desc: c.trackBytes, labels: l.pairs, kind: counter, value: float64(s.Bytes)},
				metric{desc: c.trackMessages, labels: l.pairs, kind: counter, value: float64(s.Messages)})
		}
		// Once non-zero, always there: the overflow never goes back.
		for d, t := range f.Overflow {
			if t != (trackstats.Traffic{}) {
				ms = append(ms,
					metric{desc: c.trackBytes, labels: c.overflow[d], kind: counter, value: float64(t.Bytes)},
					metric{desc: c.trackMessages, labels: c.overflow[d], kind: counter, value: float64(t.Messages)})
			}
		}
	}
	for _, h := range c.health {
		ms = append(ms, metric{desc: h.desc, kind: h.kind, value: float64(h.value(&f.Stats))})
	}
	ms = append(ms,
		metric{desc: c.tickDuration, kind: summary, value: f.TickTime.Seconds(), count: f.Stats.Ticks},
		metric{desc: c.lastTick, kind: gauge, value: f.LastTick.Seconds()})
	for i := range ms {
		ch <- &ms[i]
	}
}

// kind is a metric's type.
type kind uint8

const (
	counter kind = iota
	gauge
	summary // a count and a sum, without quantiles
)

// metric is one sample, immutable once sent, like client_golang's const
// metrics; its label pairs are shared with later Collects and never
// written (Write hands them out as constMetric does: a wrapping registerer
// appends to a slice whose length is its capacity, so it copies).
type metric struct {
	desc   *prometheus.Desc
	labels []*dto.LabelPair
	kind   kind
	value  float64
	count  uint64
}

func (m *metric) Desc() *prometheus.Desc { return m.desc }

func (m *metric) Write(out *dto.Metric) error {
	out.Label = m.labels
	switch m.kind {
	case counter:
		out.Counter = &dto.Counter{Value: &m.value}
	case gauge:
		out.Gauge = &dto.Gauge{Value: &m.value}
	case summary:
		out.Summary = &dto.Summary{SampleCount: &m.count, SampleSum: &m.value}
	}
	return nil
}

// pairs makes label pairs from name, value, ... given sorted by name, as
// client_golang sorts them; the slice's length is its capacity.
func pairs(nameValues ...string) []*dto.LabelPair {
	ps := make([]*dto.LabelPair, 0, len(nameValues)/2)
	for i := 0; i < len(nameValues); i += 2 {
		name, value := nameValues[i], nameValues[i+1]
		ps = append(ps, &dto.LabelPair{Name: &name, Value: &value})
	}
	return ps
}

// resize is s with length n, keeping its elements (the previous Collect's
// labels, checked against the new rows before use).
func resize[T any](s []T, n int) []T {
	if n <= cap(s) {
		return s[:n]
	}
	return slices.Grow(s[:cap(s)], n-cap(s))[:n]
}
