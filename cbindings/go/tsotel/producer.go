// Package tsotel puts a trackstats registry's figures into an OpenTelemetry
// MeterProvider the host already runs: a go.opentelemetry.io/otel/sdk/metric
// Producer built from one read of the library's figures per Produce
// (trackstats.Registry.ReadFigures).
//
//	p, err := tsotel.New(reg)                                       // reg: a *trackstats.Registry
//	if err != nil { ... }
//	reader := metric.NewPeriodicReader(exporter, metric.WithProducer(p)) // or any reader
//	provider := metric.NewMeterProvider(metric.WithReader(reader))
//
// Metrics (sums are monotonic; names and units per OpenTelemetry practice,
// which the OpenTelemetry Prometheus exporter turns into
// trackstats_bytes_total and so on):
//
//   - trackstats.bytes (By) and trackstats.messages ({message}) with
//     attributes direction ("incoming": UPSTREAM, what publishers sent;
//     "outgoing": DOWNSTREAM) and country;
//   - with WithTrackSeries: trackstats.track.bytes and
//     trackstats.track.messages with direction, country, participant_id
//     and track_id, one per admitted (track, direction), at most the limit,
//     and track_id="__overflow__" for the rest;
//   - health: trackstats.tracks.open, trackstats.slots.live and
//     trackstats.reports.pending (gauges); trackstats.reports,
//     trackstats.reports.merged, trackstats.ticks, trackstats.ticks.late,
//     trackstats.records.rejected, trackstats.sampler.panics,
//     trackstats.sink.panics and trackstats.tick.time (s) (sums); and
//     trackstats.tick.last_duration (s, a gauge).
//
// Temporality: cumulative by default, every value counted from the
// registry's start (each point's StartTime; a per-track series' from its
// admission), which is what the OpenTelemetry Prometheus exporter accepts.
// WithDelta makes the sums deltas; see WithDelta for how a window is never
// lost or repeated. The traffic points' Time is the end of the latest
// window the figures include (trackstats.Figures.AsOf).
package tsotel

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/trackstats/trackstats/cbindings/go/trackstats"
)

// ScopeName is the instrumentation scope of every metric produced.
const ScopeName = "github.com/trackstats/trackstats/cbindings/go/tsotel"

// OverflowTrackID is the track_id of the series that sums every (track,
// direction) not admitted to a series of its own.
const OverflowTrackID = "__overflow__"

var directionValue = [2]string{trackstats.Up: "incoming", trackstats.Down: "outgoing"}

// overflowAttrs are the overflow series' attributes, per direction.
var overflowAttrs = [2]attribute.Set{
	attribute.NewSet(attribute.String("direction", "incoming"), attribute.String("track_id", OverflowTrackID)),
	attribute.NewSet(attribute.String("direction", "outgoing"), attribute.String("track_id", OverflowTrackID)),
}

// Option configures New.
type Option func(*config)

type config struct {
	delta, perTrack, liveKit bool
	trackSeries              int
}

// WithDelta produces delta sums. The registry's figures are cumulative
// sums of the windows its sampler has taken, published one after another;
// each Produce reports, per series, the figures of the latest publication
// minus those the previous Produce reported, over [the previous
// publication's end, this one's] (AsOf). Every published window is in
// exactly one delta: the first Produce after its publication. Nothing is
// counted twice, and nothing is lost while the figures only grow; the one
// limit is a per-track series that ends (its track released) and is gone
// before a Produce sees its final value, which takes a collection interval
// longer than two of the registry's windows (its bytes are still in the
// country sums). A delta Producer keeps that state for one reader: give
// each reader its own. Without a new publication, Produce sends no traffic
// point.
func WithDelta() Option {
	return func(c *config) { c.delta = true }
}

// WithTrackSeries also produces per-track series, at most max at once (it
// calls Registry.SetTrackSeries(max): series appear from the registry's
// next window pass on; a negative max is 0, only the overflow series). Each
// (track, direction) that moves is admitted once, to a series of its own or
// to the overflow, until its track is released.
func WithTrackSeries(max int) Option {
	return func(c *config) { c.perTrack, c.trackSeries = true, max }
}

// WithLiveKit produces health only: on a LiveKit node the traffic reaches
// livekit_packet_bytes and livekit_packet_total through LiveKit's own
// telemetry.
func WithLiveKit() Option {
	return func(c *config) { c.liveKit = true }
}

// ErrLiveKitTrackSeries: per-track series count the bytes LiveKit's own
// counters already hold.
var ErrLiveKitTrackSeries = errors.New("tsotel: WithLiveKit produces no traffic, so no per-track series either")

// Producer is a metric.Producer of one registry. Safe for concurrent use
// (calls are serialized); after the registry is closed it produces nothing.
type Producer struct {
	reg                    *trackstats.Registry
	delta, traffic, tracks bool
	scope                  instrumentation.Scope

	mu sync.Mutex
	f  trackstats.Figures // reused: a Produce allocates no row
	// countryAttrs caches each country's attribute sets, per direction;
	// trackAttrs each per-track row's, kept while the row's ids stay.
	countryAttrs map[string]*[2]attribute.Set
	trackAttrs   []trackAttrs
	last         delta // what the previous Produce reported (WithDelta)
}

// delta is what a delta Producer reported last.
type delta struct {
	asOf      time.Time
	at        time.Time // the previous Produce's clock, for health sums
	countries map[string][2]trackstats.Traffic
	series    map[seriesID]trackstats.Traffic
	next      map[seriesID]trackstats.Traffic
	overflow  [2]trackstats.Traffic
	stats     trackstats.Stats
	tickTime  time.Duration
}

type trackAttrs struct {
	id  [3]string // participant, track, country
	dir trackstats.Direction
	set attribute.Set
}

type seriesID struct {
	participant, track, country string
	dir                         trackstats.Direction
	start                       int64
}

// New makes the producer of reg; pass it to the host's readers with
// metric.WithProducer. A nil reg is trackstats.ErrNilRegistry, a nil Option
// trackstats.ErrInvalidOption. A nil *Producer produces nothing.
func New(reg *trackstats.Registry, opts ...Option) (*Producer, error) {
	var cfg config
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("tsotel: option %d is nil: %w", i, trackstats.ErrInvalidOption)
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
	return &Producer{
		reg:          reg,
		delta:        cfg.delta,
		traffic:      !cfg.liveKit,
		tracks:       cfg.perTrack,
		scope:        instrumentation.Scope{Name: ScopeName, Version: trackstats.Version()},
		countryAttrs: map[string]*[2]attribute.Set{},
		last: delta{
			countries: map[string][2]trackstats.Traffic{},
			series:    map[seriesID]trackstats.Traffic{},
			next:      map[seriesID]trackstats.Traffic{},
		},
	}, nil
}

// Produce returns the metrics of one read of the registry's figures. It
// never waits for the registry's sampler or report consumer.
func (p *Producer) Produce(context.Context) ([]metricdata.ScopeMetrics, error) {
	if p == nil {
		return nil, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	f := &p.f
	if p.reg.ReadFigures(f) != nil {
		return nil, nil // closed: nothing to produce
	}
	now := time.Now()
	asOf := f.AsOf
	if asOf.IsZero() {
		asOf = f.Started
	}
	// Cumulative points count from the registry's start; delta points from
	// the previous Produce's publication.
	from := f.Started
	if p.delta && !p.last.asOf.IsZero() {
		from = p.last.asOf
	}
	temporality := metricdata.CumulativeTemporality
	if p.delta {
		temporality = metricdata.DeltaTemporality
	}
	ms := make([]metricdata.Metrics, 0, 20)
	sum := func(name, desc, unit string, points []metricdata.DataPoint[int64]) {
		if len(points) > 0 || !p.delta {
			ms = append(ms, metricdata.Metrics{Name: name, Description: desc, Unit: unit,
				Data: metricdata.Sum[int64]{DataPoints: points, Temporality: temporality, IsMonotonic: true}})
		}
	}
	if p.traffic {
		bytes := make([]metricdata.DataPoint[int64], 0, 2*len(f.Countries))
		msgs := make([]metricdata.DataPoint[int64], 0, 2*len(f.Countries))
		for i := range f.Countries {
			c := &f.Countries[i]
			attrs := p.attrs(c.Country)
			was := p.last.countries[c.Country]
			for d, t := range [2]trackstats.Traffic{c.Up, c.Down} {
				v := p.since(t, was[d])
				bytes = p.point(bytes, attrs[d], from, asOf, v.Bytes)
				msgs = p.point(msgs, attrs[d], from, asOf, v.Messages)
			}
			if p.delta {
				p.last.countries[c.Country] = [2]trackstats.Traffic{c.Up, c.Down}
			}
		}
		sum("trackstats.bytes", "Bytes reported, by direction (incoming: UPSTREAM, outgoing: DOWNSTREAM) and country.", "By", bytes)
		sum("trackstats.messages", "Messages reported, by direction and country.", "{message}", msgs)
	}
	if p.tracks {
		bytes, msgs := p.trackPoints(f, from, asOf)
		sum("trackstats.track.bytes", "Bytes reported of one track and direction; track_id=\"__overflow__\" sums the tracks over the limit.", "By", bytes)
		sum("trackstats.track.messages", "Messages reported of one track and direction.", "{message}", msgs)
	}
	ms = p.health(ms, f, now, temporality)
	if p.delta {
		p.last.asOf, p.last.at = asOf, now
	}
	return []metricdata.ScopeMetrics{{Scope: p.scope, Metrics: ms}}, nil
}

// trackPoints are the per-track series and the overflow's points.
func (p *Producer) trackPoints(f *trackstats.Figures, from, asOf time.Time) (bytes, msgs []metricdata.DataPoint[int64]) {
	bytes = make([]metricdata.DataPoint[int64], 0, len(f.Tracks)+2)
	msgs = make([]metricdata.DataPoint[int64], 0, len(f.Tracks)+2)
	p.trackAttrs = resize(p.trackAttrs, len(f.Tracks))
	for i := range f.Tracks {
		s, a := &f.Tracks[i], &p.trackAttrs[i]
		id := seriesID{s.ParticipantID, s.TrackID, s.Country, s.Direction, s.Start.UnixNano()}
		start := s.Start
		if p.delta && from.After(start) {
			start = from
		}
		if ids := [3]string{s.ParticipantID, s.TrackID, s.Country}; a.set.Len() == 0 || a.id != ids || a.dir != s.Direction {
			a.id, a.dir = ids, s.Direction
			a.set = attribute.NewSet(
				attribute.String("direction", directionValue[s.Direction]),
				attribute.String("country", s.Country),
				attribute.String("participant_id", s.ParticipantID),
				attribute.String("track_id", s.TrackID))
		}
		v := p.since(s.Traffic, p.last.series[id])
		bytes = p.point(bytes, a.set, start, asOf, v.Bytes)
		msgs = p.point(msgs, a.set, start, asOf, v.Messages)
		if p.delta {
			p.last.next[id] = s.Traffic
		}
	}
	if p.delta {
		// Series no longer published are forgotten with the old map.
		clear(p.last.series)
		p.last.series, p.last.next = p.last.next, p.last.series
	}
	for d, t := range f.Overflow {
		if t == (trackstats.Traffic{}) {
			continue
		}
		v := p.since(t, p.last.overflow[d])
		bytes = p.point(bytes, overflowAttrs[d], from, asOf, v.Bytes)
		msgs = p.point(msgs, overflowAttrs[d], from, asOf, v.Messages)
		if p.delta {
			p.last.overflow[d] = t
		}
	}
	return bytes, msgs
}

// health appends the registry's health figures: counters as sums in the
// producer's temporality, levels as gauges.
func (p *Producer) health(ms []metricdata.Metrics, f *trackstats.Figures, now time.Time, temporality metricdata.Temporality) []metricdata.Metrics {
	from := f.Started
	if p.delta && !p.last.at.IsZero() {
		from = p.last.at
	}
	s, was := &f.Stats, &p.last.stats
	gauge := func(name, desc, unit string, v uint64) {
		ms = append(ms, metricdata.Metrics{Name: name, Description: desc, Unit: unit,
			Data: metricdata.Gauge[int64]{DataPoints: []metricdata.DataPoint[int64]{{Time: now, Value: clamp(v)}}}})
	}
	counter := func(name, desc, unit string, v, before uint64) {
		if p.delta {
			v -= before
		}
		ms = append(ms, metricdata.Metrics{Name: name, Description: desc, Unit: unit,
			Data: metricdata.Sum[int64]{Temporality: temporality, IsMonotonic: true,
				DataPoints: []metricdata.DataPoint[int64]{{StartTime: from, Time: now, Value: clamp(v)}}}})
	}
	gauge("trackstats.tracks.open", "Tracks opened and not yet closed.", "{track}", s.OpenTracks)
	gauge("trackstats.slots.live", "Slots held: open tracks plus closed ones not yet released.", "{slot}", s.LiveSlots)
	gauge("trackstats.reports.pending", "Reports waiting for the consumer.", "{report}", s.ReportsPending)
	counter("trackstats.reports", "Reports produced.", "{report}", s.ReportsEmitted, was.ReportsEmitted)
	counter("trackstats.reports.merged", "Reports folded into a pending one (lagging consumer).", "{report}", s.ReportsMerged, was.ReportsMerged)
	counter("trackstats.ticks", "Window passes.", "{tick}", s.Ticks, was.Ticks)
	counter("trackstats.ticks.late", "Window deadlines the sampler missed.", "{tick}", s.LateTicks, was.LateTicks)
	counter("trackstats.records.rejected", "Records over the maximum size, ignored.", "{record}", s.RecordsRejected, was.RecordsRejected)
	counter("trackstats.sampler.panics", "Panics caught in the sampler.", "{panic}", s.SamplerPanics, was.SamplerPanics)
	counter("trackstats.sink.panics", "Panics caught in the sink.", "{panic}", s.SinkPanics, was.SinkPanics)
	tick := f.TickTime
	if p.delta {
		tick -= p.last.tickTime
	}
	ms = append(ms,
		metricdata.Metrics{Name: "trackstats.tick.time", Description: "Time the sampler spent in window passes.", Unit: "s",
			Data: metricdata.Sum[float64]{Temporality: temporality, IsMonotonic: true,
				DataPoints: []metricdata.DataPoint[float64]{{StartTime: from, Time: now, Value: tick.Seconds()}}}},
		metricdata.Metrics{Name: "trackstats.tick.last_duration", Description: "Duration of the latest window pass.", Unit: "s",
			Data: metricdata.Gauge[float64]{DataPoints: []metricdata.DataPoint[float64]{{Time: now, Value: f.LastTick.Seconds()}}}})
	if p.delta {
		p.last.stats, p.last.tickTime = *s, f.TickTime
	}
	return ms
}

// since is t in the producer's temporality: t itself (cumulative), or what
// it grew by since was (delta).
func (p *Producer) since(t, was trackstats.Traffic) trackstats.Traffic {
	if !p.delta {
		return t
	}
	if t.Bytes < was.Bytes || t.Messages < was.Messages {
		return t // another life of the series: counts from zero
	}
	return trackstats.Traffic{Bytes: t.Bytes - was.Bytes, Messages: t.Messages - was.Messages}
}

// point appends one data point; a delta point only when it moved.
func (p *Producer) point(pts []metricdata.DataPoint[int64], attrs attribute.Set, start, end time.Time, v uint64) []metricdata.DataPoint[int64] {
	if p.delta && v == 0 {
		return pts
	}
	return append(pts, metricdata.DataPoint[int64]{Attributes: attrs, StartTime: start, Time: end, Value: clamp(v)})
}

// attrs are a country's attribute sets per direction, made once.
func (p *Producer) attrs(country string) *[2]attribute.Set {
	if a, ok := p.countryAttrs[country]; ok {
		return a
	}
	a := new([2]attribute.Set)
	for d := range a {
		a[d] = attribute.NewSet(attribute.String("direction", directionValue[d]), attribute.String("country", country))
	}
	p.countryAttrs[country] = a
	return a
}

// resize is s with length n, keeping its elements (the previous Produce's
// attribute sets, checked against the new rows before use).
func resize[T any](s []T, n int) []T {
	if n <= cap(s) {
		return s[:n]
	}
	return slices.Grow(s[:cap(s)], n-cap(s))[:n]
}

// clamp is v as the int64 OpenTelemetry's sums hold (8 EiB is far away).
func clamp(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}
