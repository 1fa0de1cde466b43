package tsotel

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/trackstats/trackstats/cbindings/go/internal/tstest"
	"github.com/trackstats/trackstats/cbindings/go/trackstats"
)

// reader is a ManualReader fed by p, as a host's provider would hold it.
func reader(t testing.TB, p *Producer) *metric.ManualReader {
	t.Helper()
	rd := metric.NewManualReader(metric.WithProducer(p))
	mp := metric.NewMeterProvider(metric.WithReader(rd))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return rd
}

func collect(t testing.TB, rd *metric.ManualReader) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := rd.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != ScopeName {
			continue
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// key of a data point: its attributes in a fixed order.
func key(s attribute.Set) string {
	var k string
	for _, name := range []string{"direction", "country", "participant_id", "track_id"} {
		if v, ok := s.Value(attribute.Key(name)); ok {
			k += name + "=" + v.AsString() + ","
		}
	}
	return k
}

func sumPoints(t *testing.T, m metricdata.Metrics) []metricdata.DataPoint[int64] {
	t.Helper()
	s, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%s is a %T", m.Name, m.Data)
	}
	return s.DataPoints
}

func values(t *testing.T, m metricdata.Metrics) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, p := range sumPoints(t, m) {
		out[key(p.Attributes)] += p.Value
	}
	return out
}

func equal(t *testing.T, what string, got, want map[string]int64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %v, want %v", what, got, want)
		return
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %s = %d, want %d (all: %v)", what, k, got[k], w, got)
		}
	}
}

// Cumulative (the default): monotonic cumulative sums equal to what was
// recorded, by direction and country, counted from the registry's start,
// before and after the tracks go away.
func TestCumulativeSumsAreTheGroundTruth(t *testing.T) {
	r := tstest.Manual(t)
	p, err := New(r)
	if err != nil {
		t.Fatal(err)
	}
	rd := reader(t, p)
	want := map[string]int64{}
	func() {
		se, br := tstest.Open(t, r, "PA_pub", "TR", "SE"), tstest.Open(t, r, "PA_sub", "TR", "BR")
		for i := int64(1); i <= 30; i++ {
			se.RecordUp(uint64(100 * i))
			br.RecordDown(uint64(i))
			want["direction=incoming,country=SE,"] += 100 * i
			want["direction=outgoing,country=BR,"] += i
		}
		_ = se.Close()
		_ = br.Close()
	}()
	want["direction=outgoing,country=SE,"] = 0
	want["direction=incoming,country=BR,"] = 0
	tstest.Tick(t, r)
	f, _ := r.Figures()
	for round := 0; round < 2; round++ {
		ms := collect(t, rd)
		b := ms["trackstats.bytes"]
		s := b.Data.(metricdata.Sum[int64])
		if s.Temporality != metricdata.CumulativeTemporality || !s.IsMonotonic || b.Unit != "By" {
			t.Fatalf("bytes: %v, monotonic %v, unit %q", s.Temporality, s.IsMonotonic, b.Unit)
		}
		for _, pt := range s.DataPoints {
			if !pt.StartTime.Equal(f.Started) || pt.Time.Before(pt.StartTime) {
				t.Errorf("point %v from %v to %v, registry started %v", key(pt.Attributes), pt.StartTime, pt.Time, f.Started)
			}
		}
		equal(t, "bytes", values(t, b), want)
		if got := values(t, ms["trackstats.messages"])["direction=incoming,country=SE,"]; got != 30 {
			t.Errorf("messages: %d", got)
		}
		// The tracks were closed and dropped: still counted.
		if err := r.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	ms := collect(t, rd)
	if g, ok := ms["trackstats.tracks.open"].Data.(metricdata.Gauge[int64]); !ok || g.DataPoints[0].Value != 0 {
		t.Errorf("open tracks: %+v", ms["trackstats.tracks.open"].Data)
	}
	if s := ms["trackstats.ticks"].Data.(metricdata.Sum[int64]); s.DataPoints[0].Value != 1 {
		t.Errorf("ticks: %+v", s.DataPoints)
	}
}

// Delta: each collection reports what the windows published since the
// previous one added, over [previous end, this end]: contiguous windows,
// none lost or repeated, summing to the cumulative total; nothing while
// nothing new was published (the open window waits for its pass).
func TestDeltaWindowsNeverLoseOrRepeat(t *testing.T) {
	r := tstest.Manual(t)
	p, err := New(r, WithDelta())
	if err != nil {
		t.Fatal(err)
	}
	rd := reader(t, p)
	tk := tstest.Open(t, r, "PA", "TR", "JP")
	const k = "direction=incoming,country=JP,"
	var total, sent int64
	var prevEnd time.Time
	for i, n := range []int64{100, 50, 0, 7, 3} {
		if n > 0 {
			tk.RecordUp(uint64(n))
			sent += n
		}
		if i != 3 { // 7 waits in the open window for the next pass
			tstest.Tick(t, r)
		}
		ms := collect(t, rd)
		m, ok := ms["trackstats.bytes"]
		if !ok {
			if i == 2 || i == 3 {
				continue // nothing new published: no traffic point
			}
			t.Fatalf("collection %d: no bytes", i)
		}
		s := m.Data.(metricdata.Sum[int64])
		if s.Temporality != metricdata.DeltaTemporality || !s.IsMonotonic || len(s.DataPoints) != 1 {
			t.Fatalf("collection %d: %+v", i, s)
		}
		pt := s.DataPoints[0]
		if key(pt.Attributes) != k {
			t.Fatalf("collection %d: %s", i, key(pt.Attributes))
		}
		if !prevEnd.IsZero() && !pt.StartTime.Equal(prevEnd) {
			t.Errorf("collection %d starts at %v, the previous ended at %v", i, pt.StartTime, prevEnd)
		}
		if !pt.Time.After(pt.StartTime) {
			t.Errorf("collection %d: empty window %v..%v", i, pt.StartTime, pt.Time)
		}
		prevEnd = pt.Time
		total += pt.Value
		if want := map[int]int64{0: 100, 1: 50, 4: 10}[i]; pt.Value != want {
			t.Errorf("collection %d: delta %d, want %d", i, pt.Value, want)
		}
	}
	if total != sent {
		t.Errorf("deltas sum to %d, recorded %d", total, sent)
	}
	if s := collect(t, rd)["trackstats.ticks"].Data.(metricdata.Sum[int64]); s.DataPoints[0].Value != 0 {
		t.Errorf("ticks delta without a tick: %d", s.DataPoints[0].Value)
	}
	runtime.KeepAlive(tk)
}

// Per-track series in both temporalities: under the limit, overflow for the
// rest; a released track's final value reaches the next collection.
func TestTrackSeries(t *testing.T) {
	for _, delta := range []bool{false, true} {
		r := tstest.Manual(t)
		opts := []Option{WithTrackSeries(1)}
		if delta {
			opts = append(opts, WithDelta())
		}
		p, err := New(r, opts...)
		if err != nil {
			t.Fatal(err)
		}
		rd := reader(t, p)
		a, b := tstest.Open(t, r, "PA_a", "TR_a", "DE"), tstest.Open(t, r, "PA_b", "TR_b", "DE")
		a.RecordUp(10)
		b.RecordUp(20)
		tstest.Tick(t, r)
		ms := collect(t, rd)
		equal(t, "first", values(t, ms["trackstats.track.bytes"]), map[string]int64{
			"direction=incoming,country=DE,participant_id=PA_a,track_id=TR_a,": 10,
			"direction=incoming,track_id=__overflow__,":                        20,
		})
		a.RecordUp(5)
		_ = a.Close()
		if err := r.Flush(); err != nil {
			t.Fatal(err)
		}
		ms = collect(t, rd)
		want := map[string]int64{"direction=incoming,country=DE,participant_id=PA_a,track_id=TR_a,": 15}
		if delta {
			want["direction=incoming,country=DE,participant_id=PA_a,track_id=TR_a,"] = 5
		} else {
			want["direction=incoming,track_id=__overflow__,"] = 20
		}
		equal(t, "after a's close (delta "+map[bool]string{true: "yes", false: "no"}[delta]+")", values(t, ms["trackstats.track.bytes"]), want)
		runtime.KeepAlive([]*trackstats.Track{a, b})
	}
}

// Several readers may call Produce at once (the race detector checks it).
func TestConcurrentProduce(t *testing.T) {
	r := tstest.Manual(t)
	p, err := New(r, WithTrackSeries(4))
	if err != nil {
		t.Fatal(err)
	}
	tk := tstest.Open(t, r, "PA", "TR", "")
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if _, err := p.Produce(context.Background()); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := 0; i < 200; i++ {
		tk.RecordDown(1)
		tstest.Tick(t, r)
	}
	wg.Wait()
	sm, _ := p.Produce(context.Background())
	for _, m := range sm[0].Metrics {
		if m.Name == "trackstats.bytes" {
			if v := values(t, m)["direction=outgoing,country=,"]; v != 200 {
				t.Errorf("outgoing %d", v)
			}
		}
	}
}

func TestLiveKitModeAndBadUse(t *testing.T) {
	r := tstest.Manual(t)
	p, err := New(r, WithLiveKit())
	if err != nil {
		t.Fatal(err)
	}
	tk := tstest.Open(t, r, "PA", "TR", "US")
	tk.RecordUp(9)
	tstest.Tick(t, r)
	ms := collect(t, reader(t, p))
	for name := range ms {
		if name == "trackstats.bytes" || name == "trackstats.messages" {
			t.Errorf("LiveKit mode produced %s", name)
		}
	}
	if _, ok := ms["trackstats.reports"]; !ok {
		t.Error("LiveKit mode lost the health figures")
	}
	if _, err := New(r, WithLiveKit(), WithTrackSeries(2)); !errors.Is(err, ErrLiveKitTrackSeries) {
		t.Errorf("LiveKit with per-track series: %v", err)
	}
	if _, err := New(nil); err == nil {
		t.Error("New(nil) succeeded")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if sm, err := p.Produce(context.Background()); err != nil || len(sm) != 0 {
		t.Errorf("after Close: %v, %v", sm, err)
	}
	runtime.KeepAlive(tk)
}
