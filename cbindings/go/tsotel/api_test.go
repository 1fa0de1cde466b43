package tsotel

import (
	"context"
	"testing"

	"github.com/trackstats/trackstats/cbindings/go/internal/tstest"
	"github.com/trackstats/trackstats/cbindings/go/trackstats"
)

// TestAPIBadInput: as tsprom's, for the producer.
func TestAPIBadInput(t *testing.T) {
	tstest.MetricsTable(t, New, WithTrackSeries, WithLiveKit, ErrLiveKitTrackSeries, map[string]tstest.Row{
		"WithDelta": func(t *testing.T, r *trackstats.Registry) {
			if _, err := New(r, WithDelta(), WithDelta()); err != nil {
				t.Error(err)
			}
		},
		"Producer.Produce": func(t *testing.T, _ *trackstats.Registry) {
			if ms, err := (*Producer)(nil).Produce(context.Background()); ms != nil || err != nil {
				t.Errorf("a nil Producer produced %v, %v", ms, err)
			}
		},
	})
}
