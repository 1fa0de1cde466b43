package trackstats

import (
	"errors"
	"runtime"
	"strconv"
	"testing"
)

// byCountry is bytes per (country, direction), from figures or reports.
type byCountry map[[2]string]uint64

func figuresByCountry(f *Figures) byCountry {
	m := byCountry{}
	for _, c := range f.Countries {
		if c.Up.Bytes > 0 {
			m[[2]string{c.Country, "up"}] = c.Up.Bytes
		}
		if c.Down.Bytes > 0 {
			m[[2]string{c.Country, "down"}] = c.Down.Bytes
		}
	}
	return m
}

func mustFigures(t testing.TB, r *Registry) *Figures {
	t.Helper()
	f, err := r.Figures()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func equalCountries(t *testing.T, what string, got, want byCountry) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %v, want %v", what, got, want)
		return
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %v = %d, want %d", what, k, got[k], w)
		}
	}
}

// The figures are the windows the sampler took: equal to the reports after
// each tick, without the open window, and unchanged when tracks are closed,
// dropped and released.
func TestFiguresAreWhatTheReportsAddUpTo(t *testing.T) {
	r := newRegistry(t, WithManualTicking(), withGrace(0))
	countries := []string{"DE", "US", "", "JP"}
	reports := byCountry{}
	drain := func() {
		rs, err := r.Drain(nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range rs {
			reports[[2]string{x.Country, x.Direction.String()}] += x.Bytes
		}
	}
	var recorded Traffic
	func() {
		tracks := make([]*Track, 24)
		for i := range tracks {
			tracks[i] = mustOpen(t, r, "PA_"+strconv.Itoa(i), "TR", countries[i%4], uint64(i))
		}
		for round := 0; round < 3; round++ {
			before := figuresByCountry(mustFigures(t, r))
			for i, tk := range tracks {
				tk.RecordUp(uint64(100 + i))
				tk.RecordDown(7)
				recorded = recorded.Add(Traffic{uint64(107 + i), 2})
			}
			equalCountries(t, "before the tick", figuresByCountry(mustFigures(t, r)), before)
			if err := r.Tick(); err != nil {
				t.Fatal(err)
			}
			drain()
			equalCountries(t, "round "+strconv.Itoa(round), figuresByCountry(mustFigures(t, r)), reports)
		}
		for _, tk := range tracks {
			_ = tk.Close()
		}
	}()
	for _, x := range waitLetGo(t, r) { // every Track closed and let go
		reports[[2]string{x.Country, x.Direction.String()}] += x.Bytes
	}
	f := mustFigures(t, r)
	equalCountries(t, "after release", figuresByCountry(f), reports)
	if got := f.Total(Up).Add(f.Total(Down)); got != recorded {
		t.Errorf("total %+v, recorded %+v", got, recorded)
	}
	if f.Stats.LiveSlots != 0 || f.Publication == 0 || f.AsOf.IsZero() {
		t.Errorf("live slots %d, publication %d, as of %v", f.Stats.LiveSlots, f.Publication, f.AsOf)
	}
	// The exposition is rendered from the same figures.
	text, err := r.Prometheus(PrometheusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := sumWhere(parseExposition(t, text), "trackstats_bytes_total", map[string]string{"direction": "incoming"}); v != float64(f.Total(Up).Bytes) {
		t.Errorf("exposition %v incoming bytes, figures %d", v, f.Total(Up).Bytes)
	}
}

// Per-track series: admitted once under the limit, the rest in the
// overflow, stable over later passes.
func TestFiguresTrackSeriesUnderTheLimit(t *testing.T) {
	r := newRegistry(t, WithManualTicking())
	if err := r.SetTrackSeries(2); err != nil {
		t.Fatal(err)
	}
	tracks := make([]*Track, 4)
	for i := range tracks {
		tracks[i] = mustOpen(t, r, "PA_"+strconv.Itoa(i), "TR_"+strconv.Itoa(i), "SE", uint64(i))
	}
	for round := 1; round <= 3; round++ {
		for i, tk := range tracks {
			tk.RecordUp(uint64(10 * (i + 1)))
		}
		if err := r.Tick(); err != nil {
			t.Fatal(err)
		}
		f := mustFigures(t, r)
		if !f.TrackSeries || f.TrackSeriesLimit != 2 || len(f.Tracks) != 2 {
			t.Fatalf("round %d: on %v, limit %d, %d series", round, f.TrackSeries, f.TrackSeriesLimit, len(f.Tracks))
		}
		for i, s := range f.Tracks {
			want := TrackFigures{"PA_" + strconv.Itoa(i), "TR_" + strconv.Itoa(i), "SE", Up,
				Traffic{uint64(10 * (i + 1) * round), uint64(round)}, f.Tracks[i].Start, false}
			if s.Start.Before(f.Started) || s.Start.After(f.AsOf) {
				t.Errorf("series %d started %v, registry %v, as of %v", i, s.Start, f.Started, f.AsOf)
			}
			if s != want {
				t.Errorf("round %d: series %d is %+v, want %+v", round, i, s, want)
			}
		}
		if o := f.Overflow[Up]; o != (Traffic{uint64(70 * round), uint64(2 * round)}) {
			t.Errorf("round %d: overflow %+v", round, o)
		}
	}
	runtime.KeepAlive(tracks)
}

// A collector that keeps its Figures reads without allocating, per-track
// series included.
func TestReadFiguresReusesItsRows(t *testing.T) {
	r := newRegistry(t, WithManualTicking())
	if err := r.SetTrackSeries(100); err != nil {
		t.Fatal(err)
	}
	var tracks []*Track
	for i := 0; i < 50; i++ {
		tk := mustOpen(t, r, "PA_"+strconv.Itoa(i), "TR", []string{"SE", "NO", "FI"}[i%3], uint64(i))
		tk.RecordUp(1)
		tk.RecordDown(1)
		tracks = append(tracks, tk)
	}
	if err := r.Tick(); err != nil {
		t.Fatal(err)
	}
	var f Figures
	if err := r.ReadFigures(&f); err != nil {
		t.Fatal(err)
	}
	if len(f.Tracks) != 100 || len(f.Countries) != 3 {
		t.Fatalf("%d series, %d countries", len(f.Tracks), len(f.Countries))
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := r.ReadFigures(&f); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per read", allocs)
	}
	runtime.KeepAlive(tracks)
}

func TestFiguresBadUse(t *testing.T) {
	var nilReg *Registry
	if _, err := nilReg.Figures(); !errors.Is(err, ErrRegistryClosed) {
		t.Errorf("nil registry: %v", err)
	}
	if err := nilReg.SetTrackSeries(1); !errors.Is(err, ErrRegistryClosed) {
		t.Errorf("nil registry: %v", err)
	}
	r, err := NewRegistry(WithManualTicking())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.ReadFigures(nil); err == nil {
		t.Error("ReadFigures(nil) succeeded")
	}
	f := mustFigures(t, r)
	if f.Publication != 0 || len(f.Countries) != 0 || f.TrackSeries || !f.AsOf.IsZero() {
		t.Errorf("a new registry's figures: %+v", f)
	}
	if err := r.SetTrackSeries(-5); err != nil {
		t.Error(err)
	}
	if f = mustFigures(t, r); f.TrackSeries {
		t.Error("the setting shows before the next pass")
	}
	tk := mustOpen(t, r, "p", "t", "", 0)
	tk.RecordUp(3)
	if err := r.Tick(); err != nil {
		t.Fatal(err)
	}
	if f = mustFigures(t, r); !f.TrackSeries || f.TrackSeriesLimit != 0 || len(f.Tracks) != 0 || f.Overflow[Up].Bytes != 3 {
		t.Errorf("a negative limit is 0: %+v", f)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Figures(); !errors.Is(err, ErrRegistryClosed) {
		t.Errorf("after Close: %v", err)
	}
	if err := r.SetTrackSeries(1); !errors.Is(err, ErrRegistryClosed) {
		t.Errorf("after Close: %v", err)
	}
	runtime.KeepAlive(tk)
}
