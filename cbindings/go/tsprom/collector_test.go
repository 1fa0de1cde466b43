package tsprom

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/trackstats/trackstats/cbindings/go/internal/tstest"
	"github.com/trackstats/trackstats/cbindings/go/trackstats"
)

const (
	bytesHelp = "# HELP trackstats_bytes_total Bytes reported, by direction (incoming: UPSTREAM, outgoing: DOWNSTREAM) and country.\n" +
		"# TYPE trackstats_bytes_total counter\n"
	messagesHelp = "# HELP trackstats_messages_total Messages reported, by direction and country.\n" +
		"# TYPE trackstats_messages_total counter\n"
	trackBytesHelp = "# HELP trackstats_track_bytes_total Bytes reported of one track and direction; track_id=\"__overflow__\" sums the tracks over the limit.\n" +
		"# TYPE trackstats_track_bytes_total counter\n"
)

func newCollector(t testing.TB, r *trackstats.Registry, opts ...Option) *Collector {
	t.Helper()
	c, err := New(r, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// truth is what the test recorded: bytes and messages per (direction label,
// country).
type truth map[[2]string][2]uint64

func (w truth) record(tk *trackstats.Track, d trackstats.Direction, country string, n uint64) {
	if d == trackstats.Up {
		tk.RecordUp(n)
	} else {
		tk.RecordDown(n)
	}
	k := [2]string{directionLabel[d], country}
	v := w[k]
	w[k] = [2]uint64{v[0] + n, v[1] + 1}
}

// exposition is the text CollectAndCompare expects for the two traffic
// families: every country with both directions, as the collector sends
// them.
func (w truth) exposition(countries ...string) string {
	var b, m strings.Builder
	b.WriteString(bytesHelp)
	m.WriteString(messagesHelp)
	for _, c := range countries {
		for _, d := range directionLabel {
			v := w[[2]string{d, c}]
			fmt.Fprintf(&b, "trackstats_bytes_total{country=%q,direction=%q} %d\n", c, d, v[0])
			fmt.Fprintf(&m, "trackstats_messages_total{country=%q,direction=%q} %d\n", c, d, v[1])
		}
	}
	return b.String() + m.String()
}

// The traffic families equal what was recorded, per direction and country,
// after each pass, and stay there when tracks are closed and released.
func TestCollectorAgainstGroundTruth(t *testing.T) {
	r := tstest.Manual(t)
	c := newCollector(t, r)
	w := truth{}
	func() {
		de := tstest.Open(t, r, "PA_pub", "TR_cam", "DE")
		us := tstest.Open(t, r, "PA_sub", "TR_cam", "US")
		unknown := tstest.Open(t, r, "PA_x", "TR_data", "")
		for i := uint64(1); i <= 50; i++ {
			w.record(de, trackstats.Up, "DE", 1000+i)
			w.record(us, trackstats.Down, "US", 1000+i)
			w.record(unknown, trackstats.Down, "", 7)
		}
		tstest.Tick(t, r)
		if err := testutil.CollectAndCompare(c, strings.NewReader(w.exposition("", "DE", "US")),
			"trackstats_bytes_total", "trackstats_messages_total"); err != nil {
			t.Fatal(err)
		}
		w.record(de, trackstats.Up, "DE", 5)
		_ = de.Close()
		_ = us.Close()
		_ = unknown.Close()
	}()
	// Every track closed and dropped: the figures keep them.
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	if st, _ := r.Stats(); st.OpenTracks != 0 {
		t.Fatalf("%d tracks still open", st.OpenTracks)
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(w.exposition("", "DE", "US")),
		"trackstats_bytes_total", "trackstats_messages_total"); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(healthOnly{c, "trackstats_open_tracks"}); got != 0 {
		t.Errorf("open tracks %v", got)
	}
}

// healthOnly collects one metric of c, for testutil.ToFloat64.
type healthOnly struct {
	c    *Collector
	name string
}

func (h healthOnly) Describe(ch chan<- *prometheus.Desc) { h.c.Describe(ch) }
func (h healthOnly) Collect(ch chan<- prometheus.Metric) {
	all := make(chan prometheus.Metric, 64)
	go func() { h.c.Collect(all); close(all) }()
	for m := range all {
		if strings.Contains(m.Desc().String(), `"`+h.name+`"`) {
			ch <- m
		}
	}
}

// Per-track series: at most the limit, the rest in one overflow series per
// direction; admitted once, so a track keeps its series over later passes.
func TestCollectorTrackSeries(t *testing.T) {
	r := tstest.Manual(t)
	c := newCollector(t, r, WithTrackSeries(2))
	tracks := []*trackstats.Track{tstest.Open(t, r, "PA_0", "TR_0", "SE"), tstest.Open(t, r, "PA_1", "TR_1", "SE"), tstest.Open(t, r, "PA_2", "TR_2", "NO")}
	for round := uint64(1); round <= 2; round++ {
		for i, tk := range tracks {
			tk.RecordUp(100 * uint64(i+1))
		}
		tstest.Tick(t, r)
		want := trackBytesHelp + fmt.Sprintf(`trackstats_track_bytes_total{country="SE",direction="incoming",participant_id="PA_0",track_id="TR_0"} %d
trackstats_track_bytes_total{country="SE",direction="incoming",participant_id="PA_1",track_id="TR_1"} %d
trackstats_track_bytes_total{country="",direction="incoming",participant_id="",track_id="__overflow__"} %d
`, 100*round, 200*round, 300*round)
		if err := testutil.CollectAndCompare(c, strings.NewReader(want), "trackstats_track_bytes_total"); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	if n := testutil.CollectAndCount(c, "trackstats_track_messages_total"); n != 3 {
		t.Errorf("%d message series", n)
	}
	runtime.KeepAlive(tracks)
}

// Names, types, help and units per Prometheus practice, in every mode, and
// Describe covers everything Collect sends (the pedantic registry checks).
func TestCollectorLintsClean(t *testing.T) {
	for _, opts := range [][]Option{nil, {WithTrackSeries(10)}, {WithLiveKit()}} {
		r := tstest.Manual(t)
		c := newCollector(t, r, opts...)
		tk := tstest.Open(t, r, "PA", "TR", "FR")
		tk.RecordUp(10)
		tk.RecordDown(20)
		tstest.Tick(t, r)
		problems, err := testutil.CollectAndLint(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
		pedantic := prometheus.NewPedanticRegistry()
		pedantic.MustRegister(c)
		if _, err := pedantic.Gather(); err != nil {
			t.Errorf("pedantic gather: %v", err)
		}
		runtime.KeepAlive(tk)
	}
}

// bytesInFamilies sums every sample of every family whose name holds
// "bytes": what a dashboard summing byte counters would add up.
func bytesInFamilies(t *testing.T, g prometheus.Gatherer) (total float64, names []string) {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if !strings.Contains(mf.GetName(), "bytes") {
			continue
		}
		names = append(names, mf.GetName())
		for _, m := range mf.GetMetric() {
			total += m.GetCounter().GetValue()
		}
	}
	return total, names
}

// A LiveKit node: its data-track reports reach LiveKit's telemetry, which
// adds them to livekit_packet_bytes (simulated here from the drained
// reports, with LiveKit's labels). With WithLiveKit the node's registry
// holds every byte once; without it, twice.
func TestLiveKitModeNeverCountsTwice(t *testing.T) {
	for _, liveKit := range []bool{true, false} {
		r := tstest.Manual(t)
		var opts []Option
		if liveKit {
			opts = append(opts, WithLiveKit())
		}
		c := newCollector(t, r, opts...)
		lk := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "livekit_packet_bytes", Help: "LiveKit's"},
			[]string{"direction", "transmission", "country", "node_id", "node_type"})
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(c, lk)
		tk := tstest.Open(t, r, "PA", "TR_data", "BR")
		var sent uint64
		for i := uint64(1); i <= 20; i++ {
			tk.RecordUp(i * 10)
			tk.RecordDown(i)
			sent += i*10 + i
		}
		tstest.Tick(t, r)
		reports, err := r.Drain(nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, rep := range reports { // what LiveKit's TrackStats does with each stat
			lk.WithLabelValues(directionLabel[rep.Direction], "primary", rep.Country, "n1", "MEDIA").Add(float64(rep.Bytes))
		}
		total, names := bytesInFamilies(t, reg)
		want := float64(sent)
		if !liveKit {
			want *= 2 // the double count the mode exists for
		}
		if total != want {
			t.Errorf("LiveKit mode %v: byte families %v sum to %v, want %v", liveKit, names, total, want)
		}
		if liveKit && testutil.CollectAndCount(c, "trackstats_open_tracks", "trackstats_tick_duration_seconds") != 2 {
			t.Error("LiveKit mode lost the health figures")
		}
		runtime.KeepAlive(tk)
	}
	if _, err := New(tstest.Manual(t), WithLiveKit(), WithTrackSeries(5)); !errors.Is(err, ErrLiveKitTrackSeries) {
		t.Errorf("LiveKit mode with per-track series: %v", err)
	}
}

// Node labels come from the host's registerer: two nodes' collectors in one
// registry, each under its own node_id, each with its own figures.
func TestNodeLabelsThroughWrapRegistererWith(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	var keep []*trackstats.Track
	for i, node := range []string{"home", "edge"} {
		r := tstest.Manual(t)
		prometheus.WrapRegistererWith(prometheus.Labels{"node_id": node}, reg).MustRegister(newCollector(t, r))
		tk := tstest.Open(t, r, "PA", "TR", "DE")
		tk.RecordDown(uint64(1000 * (i + 1)))
		tstest.Tick(t, r)
		keep = append(keep, tk)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			node := label(m, "node_id")
			if node == "" {
				t.Fatalf("%s has no node_id", mf.GetName())
			}
			if mf.GetName() == "trackstats_bytes_total" && label(m, "direction") == "outgoing" {
				got[node] += m.GetCounter().GetValue()
			}
		}
	}
	if got["home"] != 1000 || got["edge"] != 2000 {
		t.Errorf("outgoing bytes by node: %v", got)
	}
	runtime.KeepAlive(keep)
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func TestCollectorAfterClose(t *testing.T) {
	r := tstest.Manual(t)
	c := newCollector(t, r)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(c); n != 0 {
		t.Errorf("a closed registry's collector sent %d metrics", n)
	}
	if _, err := New(nil); err == nil {
		t.Error("New(nil) succeeded")
	}
	if _, err := New(r, WithTrackSeries(1)); !errors.Is(err, trackstats.ErrRegistryClosed) {
		t.Errorf("WithTrackSeries on a closed registry: %v", err)
	}
}
