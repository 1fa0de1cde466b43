package trackstats

import (
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trackstats/trackstats/cbindings/go/internal/apitest"
)

// The package's rule for bad input (doc.go): a nil *Track is a no-op
// handle; every method of a nil *Registry that returns an error returns
// ErrNilRegistry, the others their zero value; an option out of range or a
// nil Option makes NewRegistry fail; a bad value never panics and never
// loses what was already recorded. apiRows checks it for every exported
// function and method, and TestAPIRowsCoverExports keeps the table complete
// as the package grows.

// apiEnv is what the rows share: a manual registry with a track that
// recorded before any row ran, and the sums reported so far. After every
// row, TestAPIBadInput checks that the recorded bytes are all reported.
type apiEnv struct {
	r    *Registry
	tk   *Track
	got  sums
	want sums
}

// drain takes the live registry's reports into the sums.
func (e *apiEnv) drain(t *testing.T) {
	t.Helper()
	e.got.addReports(drainAll(t, e.r))
}

// closedRegistry is a registry already closed.
func closedRegistry(t *testing.T, opts ...Option) *Registry {
	t.Helper()
	r, err := NewRegistry(opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	return r
}

// wantNil checks that err is ErrNilRegistry (and so, by its rule, a closed
// registry's error too).
func wantNil(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, ErrNilRegistry) || !errors.Is(err, ErrRegistryClosed) {
		t.Errorf("%s on a nil Registry = %v, want ErrNilRegistry", what, err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s = %v, want %v", what, err, want)
	}
}

type nopListener struct{}

func (nopListener) OnReport(Report) {}

// apiRows holds one row per exported function ("Name") and method
// ("Type.Name") of the package.
var apiRows = map[string]func(t *testing.T, e *apiEnv){
	"Version": func(t *testing.T, e *apiEnv) {
		if Version() == "" {
			t.Error("Version() is empty with a library")
		}
	},
	"NewRegistry": func(t *testing.T, e *apiEnv) {
		for i, opts := range [][]Option{{nil}, {WithManualTicking(), nil}} {
			r, err := NewRegistry(opts...)
			wantErr(t, "NewRegistry with a nil Option", err, ErrInvalidOption)
			if r != nil {
				t.Errorf("case %d: a failed NewRegistry returned a registry", i)
			}
		}
	},
	"WithInterval": func(t *testing.T, e *apiEnv) {
		for _, d := range []time.Duration{0, -time.Second, time.Millisecond / 2, 1500 * time.Microsecond,
			time.Hour + time.Millisecond, math.MaxInt64, math.MinInt64} {
			r, err := NewRegistry(WithInterval(d))
			wantErr(t, "WithInterval("+d.String()+")", err, ErrInvalidInterval)
			if r != nil {
				t.Errorf("WithInterval(%v) made a registry", d)
			}
		}
		closedRegistry(t, WithInterval(time.Millisecond))
		closedRegistry(t, WithInterval(time.Hour))
	},
	"WithReportChannel": func(t *testing.T, e *apiEnv) {
		for _, n := range []int{-1, math.MinInt, MaxReportChannelBuffer + 1, math.MaxInt} {
			r, err := NewRegistry(WithReportChannel(n))
			wantErr(t, "WithReportChannel", err, ErrInvalidOption)
			if r != nil {
				t.Errorf("WithReportChannel(%d) made a registry", n)
			}
		}
		r := closedRegistry(t, WithReportChannel(0), WithManualTicking())
		if _, ok := <-r.Reports(); ok {
			t.Error("a closed registry's report channel is open")
		}
	},
	"WithManualTicking": func(t *testing.T, e *apiEnv) {
		closedRegistry(t, WithManualTicking(), WithManualTicking())
	},
	"WithDispatcher": func(t *testing.T, e *apiEnv) {
		r := newRegistry(t, WithDispatcher(), WithManualTicking())
		tk, err := r.OpenTrack("p", "t", "", 0)
		wantErr(t, "OpenTrack on a dispatcher", err, ErrListenerRequired)
		if tk != nil {
			t.Error("a refused OpenTrack returned a track")
		}
		_, err = r.OpenTrackWithListener("p", "t", "", 0, nil)
		wantErr(t, "OpenTrackWithListener(nil) on a dispatcher", err, ErrListenerRequired)
	},

	"WithOverflowListener": func(t *testing.T, e *apiEnv) {
		r, err := NewRegistry(WithOverflowListener(nil))
		wantErr(t, "WithOverflowListener(nil)", err, ErrInvalidOption)
		if r != nil {
			t.Error("WithOverflowListener(nil) made a registry")
		}
		closedRegistry(t, WithOverflowListener(nopListener{}), WithDispatcher())
	},

	"Registry.Close": func(t *testing.T, e *apiEnv) {
		var nilReg *Registry
		wantNil(t, "Close", nilReg.Close())
		r := closedRegistry(t)
		if err := r.Close(); err != nil {
			t.Errorf("a second Close = %v", err)
		}
	},
	"Registry.Done": func(t *testing.T, e *apiEnv) {
		var nilReg *Registry
		select {
		case <-nilReg.Done():
		default:
			t.Error("a nil Registry's Done is not closed")
		}
	},
	"Registry.Reports": func(t *testing.T, e *apiEnv) {
		var nilReg *Registry
		if nilReg.Reports() != nil || e.r.Reports() != nil {
			t.Error("Reports of a nil or pull Registry is not nil")
		}
	},
	"Registry.Drain": func(t *testing.T, e *apiEnv) {
		var nilReg *Registry
		dst := []Report{{Bytes: 1}}
		got, err := nilReg.Drain(dst)
		wantNil(t, "Drain", err)
		if len(got) != 1 || got[0].Bytes != 1 {
			t.Errorf("Drain on a nil Registry changed dst: %v", got)
		}
		push := newRegistry(t, WithReportChannel(1), WithManualTicking())
		got, err = push.Drain(dst)
		wantErr(t, "Drain on a channel registry", err, ErrNotPull)
		if len(got) != 1 {
			t.Errorf("a refused Drain changed dst: %v", got)
		}
		if rs, err := closedRegistry(t).Drain(nil); err != nil || len(rs) != 0 {
			t.Errorf("Drain after Close = %v, %v", rs, err)
		}
	},
	"Registry.Tick": func(t *testing.T, e *apiEnv) {
		var nilReg *Registry
		wantNil(t, "Tick", nilReg.Tick())
		wantErr(t, "Tick after Close", closedRegistry(t, WithManualTicking()).Tick(), ErrRegistryClosed)
		wantErr(t, "Tick on a threaded registry", newRegistry(t, WithInterval(time.Hour)).Tick(), ErrWrongMode)
	},
	"Registry.Flush": func(t *testing.T, e *apiEnv) {
		var nilReg *Registry
		wantNil(t, "Flush", nilReg.Flush())
		wantErr(t, "Flush after Close", closedRegistry(t, WithManualTicking()).Flush(), ErrRegistryClosed)
	},
	"Registry.Stats": func(t *testing.T, e *apiEnv) {
		var nilReg *Registry
		st, err := nilReg.Stats()
		wantNil(t, "Stats", err)
		if st != (Stats{}) {
			t.Errorf("Stats of a nil Registry = %+v", st)
		}
		_, err = closedRegistry(t).Stats()
		wantErr(t, "Stats after Close", err, ErrRegistryClosed)
	},
	"Registry.OpenTrack": func(t *testing.T, e *apiEnv) {
		var nilReg *Registry
		tk, err := nilReg.OpenTrack("p", "t", "", 0)
		wantNil(t, "OpenTrack", err)
		if tk != nil {
			t.Error("OpenTrack on a nil Registry returned a track")
		}
		for _, c := range badIDs {
			tk, err := e.r.OpenTrack(c.p, c.tr, c.country, 7)
			wantErr(t, "OpenTrack with a bad id", err, c.want)
			if tk != nil {
				t.Error("a refused OpenTrack returned a track")
			}
		}
		_, err = closedRegistry(t).OpenTrack("p", "t", "", 0)
		wantErr(t, "OpenTrack after Close", err, ErrRegistryClosed)
	},
	"Registry.OpenTrackWithListener": func(t *testing.T, e *apiEnv) {
		var nilReg *Registry
		tk, err := nilReg.OpenTrackWithListener("p", "t", "", 0, nopListener{})
		wantNil(t, "OpenTrackWithListener", err)
		if tk != nil {
			t.Error("OpenTrackWithListener on a nil Registry returned a track")
		}
		_, err = e.r.OpenTrackWithListener("", "t", "", 0, nopListener{})
		wantErr(t, "OpenTrackWithListener with an empty id", err, ErrEmptyID)
		_, err = closedRegistry(t).OpenTrackWithListener("p", "t", "", 0, nopListener{})
		wantErr(t, "OpenTrackWithListener after Close", err, ErrRegistryClosed)
		// A nil listener on a pull registry is OpenTrack.
		tk, err = e.r.OpenTrackWithListener("p", "nil-listener", "", 8, nil)
		if err != nil {
			t.Fatal(err)
		}
		tk.RecordDown(5)
		e.want.add(8, Down, 5, 1)
		_ = tk.Close()
	},
	"Registry.Figures": func(t *testing.T, e *apiEnv) {
		var nilReg *Registry
		f, err := nilReg.Figures()
		wantNil(t, "Figures", err)
		if f != nil {
			t.Error("Figures of a nil Registry is not nil")
		}
		_, err = closedRegistry(t).Figures()
		wantErr(t, "Figures after Close", err, ErrRegistryClosed)
	},
	"Registry.ReadFigures": func(t *testing.T, e *apiEnv) {
		var nilReg *Registry
		var f Figures
		wantNil(t, "ReadFigures", nilReg.ReadFigures(&f))
		if err := e.r.ReadFigures(nil); err == nil {
			t.Error("ReadFigures(nil) succeeded")
		}
		if err := nilReg.ReadFigures(nil); err == nil {
			t.Error("ReadFigures(nil) on a nil Registry succeeded")
		}
		wantErr(t, "ReadFigures after Close", closedRegistry(t).ReadFigures(&f), ErrRegistryClosed)
	},
	"Registry.SetTrackSeries": func(t *testing.T, e *apiEnv) {
		var nilReg *Registry
		wantNil(t, "SetTrackSeries", nilReg.SetTrackSeries(1))
		// Out of range is clamped, as documented: negative is 0.
		for _, n := range []int{-1, math.MinInt, math.MaxInt} {
			if err := e.r.SetTrackSeries(n); err != nil {
				t.Errorf("SetTrackSeries(%d) = %v", n, err)
			}
		}
		wantErr(t, "SetTrackSeries after Close", closedRegistry(t).SetTrackSeries(1), ErrRegistryClosed)
	},
	"Registry.Prometheus": func(t *testing.T, e *apiEnv) {
		var nilReg *Registry
		text, err := nilReg.Prometheus(PrometheusOptions{})
		wantNil(t, "Prometheus", err)
		if text != "" {
			t.Errorf("Prometheus of a nil Registry = %q", text)
		}
		_, err = e.r.Prometheus(PrometheusOptions{NodeID: "\xff"})
		wantErr(t, "Prometheus with an invalid node id", err, ErrInvalidUTF8)
		for _, n := range []int{-1, math.MinInt, math.MaxInt} {
			if _, err := e.r.Prometheus(PrometheusOptions{PerTrack: true, MaxTrackSeries: n}); err != nil {
				t.Errorf("MaxTrackSeries %d: %v", n, err)
			}
		}
		_, err = closedRegistry(t).Prometheus(PrometheusOptions{})
		wantErr(t, "Prometheus after Close", err, ErrRegistryClosed)
	},
	"Registry.MetricsHandler": func(t *testing.T, e *apiEnv) {
		var nilReg *Registry
		for _, c := range []struct {
			r      *Registry
			method string
			opts   PrometheusOptions
			want   int
		}{
			{nilReg, http.MethodGet, PrometheusOptions{}, http.StatusInternalServerError},
			{e.r, http.MethodGet, PrometheusOptions{NodeID: "\xff"}, http.StatusInternalServerError},
			{e.r, http.MethodPost, PrometheusOptions{}, http.StatusMethodNotAllowed},
			{closedRegistry(t), http.MethodGet, PrometheusOptions{}, http.StatusInternalServerError},
		} {
			w := httptest.NewRecorder()
			c.r.MetricsHandler(c.opts).ServeHTTP(w, httptest.NewRequest(c.method, "/metrics", nil))
			if w.Code != c.want {
				t.Errorf("%s %+v on %p: %d, want %d", c.method, c.opts, c.r, w.Code, c.want)
			}
		}
	},

	"Track.RecordUp": func(t *testing.T, e *apiEnv) {
		var nilTrack *Track
		nilTrack.RecordUp(1)
		// Over MaxRecordBytes: rejected, counted in the stats, not in the
		// track (bytes that large can only come from a bug).
		rejected := mustStats(t, e.r).RecordsRejected
		e.tk.RecordUp(MaxRecordBytes + 1)
		e.tk.RecordUp(math.MaxUint64)
		if got := mustStats(t, e.r).RecordsRejected - rejected; got != 2 {
			t.Errorf("%d records rejected, want 2", got)
		}
	},
	"Track.RecordDown": func(t *testing.T, e *apiEnv) {
		var nilTrack *Track
		nilTrack.RecordDown(1)
		rejected := mustStats(t, e.r).RecordsRejected
		e.tk.RecordDown(math.MaxUint64)
		if got := mustStats(t, e.r).RecordsRejected - rejected; got != 1 {
			t.Errorf("%d records rejected, want 1", got)
		}
	},
	"Track.RecordBatch": func(t *testing.T, e *apiEnv) {
		var nilTrack *Track
		nilTrack.RecordBatch(Up, 1, 1)
		for _, d := range []Direction{Down + 1, math.MaxUint32} {
			e.tk.RecordBatch(d, 1, 1)
		}
		e.tk.RecordBatch(Up, 0, 0)
	},
	"Track.RecordUpPacket": func(t *testing.T, e *apiEnv) {
		var nilTrack *Track
		nilTrack.RecordUpPacket(1, 1, true)
		rejected := mustStats(t, e.r).RecordsRejected
		e.tk.RecordUpPacket(math.MaxUint64, 1, true)
		if got := mustStats(t, e.r).RecordsRejected - rejected; got != 1 {
			t.Errorf("%d packet records rejected, want 1", got)
		}
	},
	"Track.Totals": func(t *testing.T, e *apiEnv) {
		var nilTrack *Track
		if nilTrack.Totals() != (Totals{}) {
			t.Error("Totals of a nil Track is not zero")
		}
	},
	"Track.Close": func(t *testing.T, e *apiEnv) {
		var nilTrack *Track
		if err := nilTrack.Close(); err != nil {
			t.Errorf("Close of a nil Track = %v", err)
		}
		tk := mustOpen(t, e.r, "p", "closed-twice", "", 9)
		tk.RecordUp(4)
		e.want.add(9, Up, 4, 1)
		if err := tk.Close(); err != nil {
			t.Fatal(err)
		}
		if err := tk.Close(); err != nil {
			t.Errorf("a second Close = %v", err)
		}
		// On a closed registry the track is closed already: still nil.
		r := newRegistry(t, WithManualTicking())
		tk = mustOpen(t, r, "p", "t", "", 0)
		_ = r.Close()
		if err := tk.Close(); err != nil {
			t.Errorf("Close after Registry.Close = %v", err)
		}
	},

	"Direction.String": func(t *testing.T, e *apiEnv) {
		if s := Direction(7).String(); s != "unknown" {
			t.Errorf("Direction(7) = %q", s)
		}
	},
	"Figures.Total": func(t *testing.T, e *apiEnv) {
		var nilFigures *Figures
		if nilFigures.Total(Up) != (Traffic{}) {
			t.Error("Total of a nil Figures is not zero")
		}
		f := &Figures{Countries: []CountryFigures{{Up: Traffic{1, 1}, Down: Traffic{2, 2}}}}
		if f.Total(Down+1) != (Traffic{}) {
			t.Errorf("Total of an unknown direction = %+v", f.Total(Down+1))
		}
	},
	"ResultError.Error": func(t *testing.T, e *apiEnv) {
		for _, code := range []ResultError{0, 9999, math.MaxUint32} {
			if s := code.Error(); !strings.HasPrefix(s, "trackstats: ") {
				t.Errorf("ResultError(%d) = %q", uint32(code), s)
			}
		}
	},
	"Traffic.Add": func(t *testing.T, e *apiEnv) {
		// Counters wrap as the library's do (mod 2^64): no bad value.
		if got := (Traffic{math.MaxUint64, 1}).Add(Traffic{1, 1}); got != (Traffic{0, 2}) {
			t.Errorf("Add = %+v", got)
		}
	},
}

func mustStats(t *testing.T, r *Registry) Stats {
	t.Helper()
	st, err := r.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestAPIBadInput runs every row against one registry whose track recorded
// before and between the rows, then checks that every recorded byte is
// reported: bad input changes nothing that was recorded.
func TestAPIBadInput(t *testing.T) {
	e := &apiEnv{r: newRegistry(t, WithManualTicking()), got: sums{}, want: sums{}}
	e.tk = mustOpen(t, e.r, "p", "t", "DE", 1)
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range apiRows {
			if !yield(n) {
				return
			}
		}
	})
	for i, name := range names {
		e.tk.RecordUp(uint64(100 + i))
		e.tk.RecordDown(3)
		e.want.add(1, Up, uint64(100+i), 1)
		e.want.add(1, Down, 3, 1)
		if i%4 == 0 {
			if err := e.r.Tick(); err != nil {
				t.Fatal(err)
			}
			e.drain(t)
		}
		t.Run(name, func(t *testing.T) { apiRows[name](t, e) })
	}
	if err := e.tk.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.r.Close(); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	compareSums(t, e.got, e.want)
	runtime.KeepAlive(e.tk)
}

// TestAPIRowsCoverExports fails when an exported function or method of the
// package has no row in apiRows, or a row names none.
func TestAPIRowsCoverExports(t *testing.T) {
	apitest.Cover(t, ".", apiRows, 20)
}
