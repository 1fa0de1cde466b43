// Package tstest holds the registry fixtures the integration modules'
// tests and benchmarks share (tsprom, tsotel, tslivekit, tspion): one
// definition of a test registry and of the benchmark fleet's shape, so the
// exporters are measured on the same registry, and the rows their API
// tables share (apitest). Only tests import it.
package tstest

import (
	"errors"
	"fmt"
	"maps"
	"testing"

	"github.com/trackstats/trackstats/cbindings/go/internal/apitest"
	"github.com/trackstats/trackstats/cbindings/go/trackstats"
)

// Manual is a registry whose windows the test ends (Tick), closed when the
// test ends.
func Manual(t testing.TB) *trackstats.Registry {
	t.Helper()
	r, err := trackstats.NewRegistry(trackstats.WithManualTicking())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// Open opens a track on r with no packet statistics.
func Open(t testing.TB, r *trackstats.Registry, participant, track, country string) *trackstats.Track {
	t.Helper()
	tk, err := r.OpenTrack(participant, track, country, 0)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// Tick ends r's window.
func Tick(t testing.TB, r *trackstats.Registry) {
	t.Helper()
	if err := r.Tick(); err != nil {
		t.Fatal(err)
	}
}

// The benchmark fleet's shape: countries, the per-track series limit, and
// how many of the open tracks move (enough to fill the limit and the
// overflow).
const (
	BenchCountries = 50
	BenchLimit     = trackstats.DefaultMaxTrackSeries
	BenchMoving    = 10_000
)

// BenchRegistry opens n tracks over BenchCountries countries (with
// per-track series up to BenchLimit when perTrack), records on up to
// BenchMoving of them, and ticks once, so the figures are published.
func BenchRegistry(b *testing.B, n int, perTrack bool) (*trackstats.Registry, []*trackstats.Track) {
	b.Helper()
	reg, err := trackstats.NewRegistry(trackstats.WithManualTicking())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = reg.Close() })
	if perTrack {
		if err := reg.SetTrackSeries(BenchLimit); err != nil {
			b.Fatal(err)
		}
	}
	tracks := make([]*trackstats.Track, n)
	for i := range tracks {
		c := i % BenchCountries
		tracks[i], err = reg.OpenTrack(fmt.Sprintf("PA_%d", i), "TR_data", fmt.Sprintf("%c%c", 'A'+c/26, 'A'+c%26), 0)
		if err != nil {
			b.Fatal(err)
		}
		if i < BenchMoving {
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
	return reg, tracks
}

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
	apitest.Table(t, rows, len(rows), Manual(t))
}
