package tsprom

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/trackstats/trackstats/cbindings/go/trackstats"
)

// One Collect at 1k, 100k and 1M open tracks, aggregates only and with
// per-track series at the limit (make bench-metrics; BENCHMARKS.md, section
// 8). Each group measures its baseline in the same run: Collect of a
// client_golang CounterVec holding as many series as the collector sends.
// The goal (issue 18): aggregates at 1M tracks under 10 ms, no allocation
// per track.

func BenchmarkCollectAggregates1k(b *testing.B)   { benchCollect(b, 1_000, false) }
func BenchmarkCollectAggregates100k(b *testing.B) { benchCollect(b, 100_000, false) }
func BenchmarkCollectAggregates1M(b *testing.B)   { benchCollect(b, 1_000_000, false) }
func BenchmarkCollectTracks1k(b *testing.B)       { benchCollect(b, 1_000, true) }
func BenchmarkCollectTracks100k(b *testing.B)     { benchCollect(b, 100_000, true) }
func BenchmarkCollectTracks1M(b *testing.B)       { benchCollect(b, 1_000_000, true) }

// The bench registry's shape: countries, the per-track limit, and how many
// of the open tracks move (enough to fill the limit and the overflow).
const (
	benchCountries = 50
	benchLimit     = trackstats.DefaultMaxTrackSeries
	benchMoving    = 10_000
)

// benchRegistry opens n tracks over benchCountries countries, records on
// up to benchMoving of them, and ticks once, so the figures are published.
func benchRegistry(b *testing.B, n int, perTrack bool) (*trackstats.Registry, []*trackstats.Track) {
	b.Helper()
	reg, err := trackstats.NewRegistry(trackstats.WithManualTicking())
	if err != nil {
		b.Fatal(err)
	}
	if perTrack {
		if err := reg.SetTrackSeries(benchLimit); err != nil {
			b.Fatal(err)
		}
	}
	tracks := make([]*trackstats.Track, n)
	for i := range tracks {
		c := i % benchCountries
		tracks[i], err = reg.OpenTrack(fmt.Sprintf("PA_%d", i), "TR_data", fmt.Sprintf("%c%c", 'A'+c/26, 'A'+c%26), 0)
		if err != nil {
			b.Fatal(err)
		}
		if i < benchMoving {
			tracks[i].RecordUp(uint64(100 + i%1000))
			tracks[i].RecordDown(50)
		}
	}
	if err := reg.Tick(); err != nil {
		b.Fatal(err)
	}
	if _, err := reg.Drain(nil); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = reg.Close() })
	return reg, tracks
}

func benchCollect(b *testing.B, n int, perTrack bool) {
	reg, tracks := benchRegistry(b, n, perTrack)
	var opts []Option
	if perTrack {
		opts = append(opts, WithTrackSeries(benchLimit))
	}
	c, err := New(reg, opts...)
	if err != nil {
		b.Fatal(err)
	}
	series := testutil.CollectAndCount(c)
	ch := make(chan prometheus.Metric, series)
	collect := func(b *testing.B, col prometheus.Collector) {
		b.ReportAllocs()
		for b.Loop() {
			col.Collect(ch)
			for len(ch) > 0 {
				<-ch
			}
		}
		b.ReportMetric(float64(series), "series")
	}
	b.Run("trackstats", func(b *testing.B) { collect(b, c) })
	base := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "baseline_bytes_total", Help: "baseline"},
		[]string{"direction", "country", "participant_id", "track_id"})
	for i := 0; i < series; i++ {
		base.WithLabelValues("incoming", "SE", fmt.Sprintf("PA_%d", i), "TR_data").Add(float64(i))
	}
	b.Run("baseline-countervec", func(b *testing.B) { collect(b, base) })
	runtime.KeepAlive(tracks)
}
