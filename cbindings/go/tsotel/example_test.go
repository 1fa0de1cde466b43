package tsotel_test

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/trackstats/trackstats/cbindings/go/trackstats"
	"github.com/trackstats/trackstats/cbindings/go/tsotel"
)

// The producer handed to the host's reader (a periodic reader with its
// exporter in most hosts; a manual one here, the README's snippet).
func ExampleNew() {
	reg, _ := trackstats.NewRegistry(trackstats.WithManualTicking())
	defer reg.Close()

	p, err := tsotel.New(reg) // cumulative sums; tsotel.WithDelta() for deltas
	if err != nil {
		panic(err)
	}
	reader := metric.NewManualReader(metric.WithProducer(p)) // or metric.NewPeriodicReader(exporter, metric.WithProducer(p))
	provider := metric.NewMeterProvider(metric.WithReader(reader))
	defer provider.Shutdown(context.Background())

	track, _ := reg.OpenTrack("PA_alice", "TR_data", "DE", 1)
	track.RecordUp(1200)
	_ = reg.Tick()
	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == "trackstats.bytes" {
				for _, pt := range m.Data.(metricdata.Sum[int64]).DataPoints {
					if pt.Value > 0 {
						dir, _ := pt.Attributes.Value("direction")
						fmt.Println(m.Name, m.Unit, dir.AsString(), pt.Value)
					}
				}
			}
		}
	}
	// Output:
	// trackstats.bytes By incoming 1200
}
