package tsprom

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/trackstats/trackstats/cbindings/go/internal/tstest"
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

func benchCollect(b *testing.B, n int, perTrack bool) {
	reg, tracks := tstest.BenchRegistry(b, n, perTrack)
	var opts []Option
	if perTrack {
		opts = append(opts, WithTrackSeries(tstest.BenchLimit))
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
