package tsotel

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	api "go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/trackstats/trackstats/cbindings/go/internal/tstest"
)

// One Produce at 1k, 100k and 1M open tracks, aggregates only and with
// per-track series at the limit (make bench-metrics; BENCHMARKS.md, section
// 8). Each group measures its baseline in the same run: a ManualReader's
// Collect of the OpenTelemetry SDK's own Int64Counter holding as many
// series (attribute sets) as the producer sends. The goal (issue 18):
// aggregates at 1M tracks under 10 ms, no allocation per track.

func BenchmarkProduceAggregates1k(b *testing.B)   { benchProduce(b, 1_000, false) }
func BenchmarkProduceAggregates100k(b *testing.B) { benchProduce(b, 100_000, false) }
func BenchmarkProduceAggregates1M(b *testing.B)   { benchProduce(b, 1_000_000, false) }
func BenchmarkProduceTracks1k(b *testing.B)       { benchProduce(b, 1_000, true) }
func BenchmarkProduceTracks100k(b *testing.B)     { benchProduce(b, 100_000, true) }
func BenchmarkProduceTracks1M(b *testing.B)       { benchProduce(b, 1_000_000, true) }

func benchProduce(b *testing.B, n int, perTrack bool) {
	reg, tracks := tstest.BenchRegistry(b, n, perTrack)
	var opts []Option
	if perTrack {
		opts = append(opts, WithTrackSeries(tstest.BenchLimit))
	}
	p, err := New(reg, opts...)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	sm, err := p.Produce(ctx)
	if err != nil {
		b.Fatal(err)
	}
	series := 0
	for _, m := range sm[0].Metrics {
		switch d := m.Data.(type) {
		case metricdata.Sum[int64]:
			series += len(d.DataPoints)
		case metricdata.Gauge[int64]:
			series += len(d.DataPoints)
		default:
			series++
		}
	}
	b.Run("trackstats", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.Produce(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(series), "series")
	})
	rd := metric.NewManualReader()
	mp := metric.NewMeterProvider(metric.WithReader(rd))
	defer func() { _ = mp.Shutdown(ctx) }()
	counter, err := mp.Meter("baseline").Int64Counter("baseline.bytes")
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < series; i++ {
		counter.Add(ctx, int64(i), api.WithAttributes(attribute.String("direction", "incoming"),
			attribute.String("country", "SE"), attribute.String("participant_id", fmt.Sprintf("PA_%d", i))))
	}
	b.Run("baseline-sdk-counter", func(b *testing.B) {
		b.ReportAllocs()
		var rm metricdata.ResourceMetrics
		for b.Loop() {
			if err := rd.Collect(ctx, &rm); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(series), "series")
	})
	runtime.KeepAlive(tracks)
}
