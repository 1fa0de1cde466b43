// Package modtest holds what the integration modules' API tests share
// (apitest tables over their exports). Test code only.
package modtest

import (
	"errors"
	"maps"
	"testing"

	"github.com/trackstats/trackstats/cbindings/go/internal/apitest"
	"github.com/trackstats/trackstats/cbindings/go/trackstats"
)

// Row is a row of an integration module's table: it gets a live manual
// registry.
type Row = func(*testing.T, *trackstats.Registry)

// MetricsTable is the API table (apitest.Table) of a metrics integration
// (tsprom, tsotel): the rows every one shares, New(reg, opts...) refusing a
// nil registry (trackstats.ErrNilRegistry) and a nil Option
// (trackstats.ErrInvalidOption), its WithTrackSeries taking a negative max
// (0, documented) and its WithLiveKit refusing track series (errLiveKit),
// plus the module's own rows; each row gets a live manual registry.
func MetricsTable[T comparable, O any](t *testing.T, newFn func(*trackstats.Registry, ...O) (T, error),
	trackSeries func(int) O, liveKit func() O, errLiveKit error, own map[string]Row) {
	t.Helper()
	rows := map[string]Row{
		"New": func(t *testing.T, r *trackstats.Registry) {
			var zero T
			if c, err := newFn(nil); !errors.Is(err, trackstats.ErrNilRegistry) || c != zero {
				t.Errorf("New(nil) = %v, %v", c, err)
			}
			var nilOption O
			if _, err := newFn(r, nilOption); !errors.Is(err, trackstats.ErrInvalidOption) {
				t.Errorf("New with a nil Option: %v", err)
			}
		},
		"WithTrackSeries": func(t *testing.T, r *trackstats.Registry) {
			if _, err := newFn(r, trackSeries(-1)); err != nil {
				t.Errorf("WithTrackSeries(-1): %v", err)
			}
		},
		"WithLiveKit": func(t *testing.T, r *trackstats.Registry) {
			if _, err := newFn(r, liveKit(), trackSeries(1)); !errors.Is(err, errLiveKit) {
				t.Errorf("WithLiveKit with track series: %v", err)
			}
		},
	}
	maps.Copy(rows, own)
	r, err := trackstats.NewRegistry(trackstats.WithManualTicking())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	apitest.Table(t, rows, len(rows), r)
}
