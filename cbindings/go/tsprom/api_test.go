package tsprom

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/trackstats/trackstats/cbindings/go/internal/tstest"
	"github.com/trackstats/trackstats/cbindings/go/trackstats"
)

// TestAPIBadInput calls every exported function and method with nil
// receivers and bad values (the main package's rule, cbindings/go/README.md:
// Guarantees); a new export without a row fails it.
func TestAPIBadInput(t *testing.T) {
	tstest.MetricsTable(t, New, WithTrackSeries, WithLiveKit, ErrLiveKitTrackSeries, map[string]tstest.Row{
		"Collector.Describe": func(t *testing.T, _ *trackstats.Registry) {
			ch := make(chan *prometheus.Desc, 1)
			(*Collector)(nil).Describe(ch)
			if len(ch) != 0 {
				t.Error("a nil Collector described something")
			}
		},
		"Collector.Collect": func(t *testing.T, _ *trackstats.Registry) {
			ch := make(chan prometheus.Metric, 1)
			(*Collector)(nil).Collect(ch)
			if len(ch) != 0 {
				t.Error("a nil Collector collected something")
			}
		},
	})
}
