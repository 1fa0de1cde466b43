package trackstats

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sample is one line of an exposition.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// parseExposition reads the text format's sample lines (enough of it for
// these tests: label values may hold \" \\ \n escapes).
func parseExposition(t *testing.T, text string) []sample {
	t.Helper()
	var out []sample
	for _, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			t.Fatalf("bad line %q", line)
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			t.Fatalf("bad value in %q: %v", line, err)
		}
		s := sample{labels: map[string]string{}, value: v}
		head := line[:sp]
		brace := strings.IndexByte(head, '{')
		if brace < 0 {
			s.name = head
			out = append(out, s)
			continue
		}
		s.name = head[:brace]
		rest := head[brace+1:]
		for !strings.HasPrefix(rest, "}") {
			eq := strings.Index(rest, `="`)
			if eq < 0 {
				t.Fatalf("bad labels in %q", line)
			}
			key := rest[:eq]
			rest = rest[eq+2:]
			var val strings.Builder
			for i := 0; ; i++ {
				if i >= len(rest) {
					t.Fatalf("unterminated label in %q", line)
				}
				c := rest[i]
				if c == '\\' && i+1 < len(rest) {
					i++
					switch rest[i] {
					case 'n':
						val.WriteByte('\n')
					default:
						val.WriteByte(rest[i])
					}
					continue
				}
				if c == '"' {
					rest = rest[i+1:]
					break
				}
				val.WriteByte(c)
			}
			s.labels[key] = val.String()
			rest = strings.TrimPrefix(rest, ",")
		}
		out = append(out, s)
	}
	return out
}

// sumWhere adds the values of the samples named name whose labels include
// every pair in match.
func sumWhere(samples []sample, name string, match map[string]string) (float64, int) {
	var sum float64
	n := 0
next:
	for _, s := range samples {
		if s.name != name {
			continue
		}
		for k, v := range match {
			if s.labels[k] != v {
				continue next
			}
		}
		sum += s.value
		n++
	}
	return sum, n
}

func scrape(t *testing.T, url string) (string, *http.Response) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body), resp
}

// The served exposition's bytes and messages, summed over countries, equal
// what was recorded per direction: tracks still open, closed, and dropped
// (released) all count.
func TestMetricsHandlerServesWhatWasRecorded(t *testing.T) {
	r := newRegistry(t, WithManualTicking(), withGrace(0))
	srv := httptest.NewServer(r.MetricsHandler(PrometheusOptions{NodeID: "sfu-1"}))
	defer srv.Close()

	var up, down, upMsgs, downMsgs uint64
	byCountry := map[string]uint64{}
	countries := []string{"DE", "US", "", "JP"}
	var keep []*Track
	func() {
		for i := 0; i < 40; i++ {
			c := countries[i%len(countries)]
			tk := mustOpen(t, r, "PA_"+strconv.Itoa(i/2), "TR_"+strconv.Itoa(i), c, uint64(i))
			for k := 0; k < i%5+1; k++ {
				n := uint64(100*i + k + 1)
				tk.RecordUp(n)
				up += n
				upMsgs++
				byCountry[c] += n
			}
			tk.RecordDown(uint64(i + 7))
			down += uint64(i + 7)
			downMsgs++
			if i%3 == 0 {
				tk.RecordUpPacket(1000, uint16(i), true) // packets count as bytes too
				up += 1000
				upMsgs++
				byCountry[c] += 1000
			}
			switch i % 4 {
			case 0:
				_ = tk.Close()
				keep = append(keep, tk)
			case 1: // closed and dropped
				_ = tk.Close()
			default:
				keep = append(keep, tk)
			}
		}
	}()
	flushUntilLetGo(t, r, 20) // the twenty closed tracks
	if err := r.Tick(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Drain(nil); err != nil {
		t.Fatal(err)
	}

	text, resp := scrape(t, srv.URL)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, text)
	}
	if ct := resp.Header.Get("Content-Type"); ct != PrometheusContentType {
		t.Errorf("Content-Type %q", ct)
	}
	samples := parseExposition(t, text)
	checks := []struct {
		name, dir string
		want      uint64
	}{
		{"trackstats_bytes_total", "incoming", up},
		{"trackstats_bytes_total", "outgoing", down},
		{"trackstats_messages_total", "incoming", upMsgs},
		{"trackstats_messages_total", "outgoing", downMsgs},
	}
	for _, c := range checks {
		got, n := sumWhere(samples, c.name, map[string]string{"direction": c.dir})
		if n == 0 || got != float64(c.want) {
			t.Errorf("%s{direction=%q}: %d series sum to %v, recorded %d", c.name, c.dir, n, got, c.want)
		}
	}
	for c, want := range byCountry {
		got, _ := sumWhere(samples, "trackstats_bytes_total", map[string]string{"direction": "incoming", "country": c})
		if got != float64(want) {
			t.Errorf("country %q: incoming %v, recorded %d", c, got, want)
		}
	}
	for _, s := range samples {
		if s.labels["node_id"] != "sfu-1" {
			t.Errorf("%s has no node_id label: %v", s.name, s.labels)
			break
		}
	}
	if v, n := sumWhere(samples, "trackstats_open_tracks", nil); n != 1 || v != 20 {
		t.Errorf("trackstats_open_tracks: %v (%d series), want 20", v, n)
	}
	if _, n := sumWhere(samples, "trackstats_track_bytes_total", nil); n != 0 {
		t.Errorf("%d per-track series without PerTrack", n)
	}
	runtime.KeepAlive(keep)
}

// flushUntilLetGo flushes until `want` slots have been let go.
func flushUntilLetGo(t *testing.T, r *Registry, want uint64) {
	t.Helper()
	st, _ := r.Stats()
	live := st.LiveSlots
	for i := 0; i < 1000; i++ {
		if err := r.Flush(); err != nil {
			t.Fatal(err)
		}
		if st, _ = r.Stats(); st.LiveSlots+want <= live {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("closed tracks not let go: %d slots live", st.LiveSlots)
}

// Per-track series: one per admitted track and direction with its own bytes,
// up to the limit; the overflow series carries the rest, so the shown and
// overflow series add up to what the tracks recorded.
func TestPrometheusPerTrackSeries(t *testing.T) {
	r := newRegistry(t, WithManualTicking())
	const tracks = 300 // a large exposition: the buffer grows past 16 KiB
	const limit = 250  // the rest go to the overflow series
	// Asking for per-track series turns them on from the next pass.
	if _, err := r.Prometheus(PrometheusOptions{PerTrack: true, MaxTrackSeries: limit}); err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{}
	var total uint64
	tks := make([]*Track, tracks)
	for i := range tks {
		id := "TR_" + strconv.Itoa(i)
		tks[i] = mustOpen(t, r, "PA_\"quoted\"\n"+strconv.Itoa(i), id, "SE", uint64(i))
		n := uint64(i*13 + 1)
		tks[i].RecordUp(n)
		want[id] = n
		total += n
	}
	if err := r.Tick(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r.MetricsHandler(PrometheusOptions{PerTrack: true, MaxTrackSeries: limit}))
	defer srv.Close()
	for round := 0; round < 2; round++ { // the second starts from the grown size
		text, resp := scrape(t, srv.URL)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if len(text) <= minPromBuffer {
			t.Errorf("exposition of %d bytes does not test the larger buffer", len(text))
		}
		samples := parseExposition(t, text)
		seen := 0
		for _, s := range samples {
			if s.name != "trackstats_track_bytes_total" || s.labels["direction"] != "incoming" ||
				s.labels["track_id"] == "__overflow__" {
				continue
			}
			seen++
			id := s.labels["track_id"]
			if s.value != float64(want[id]) {
				t.Errorf("%s: %v, recorded %d", id, s.value, want[id])
			}
			if !strings.HasPrefix(s.labels["participant_id"], "PA_\"quoted\"\n") || s.labels["country"] != "SE" {
				t.Errorf("%s labels %v", id, s.labels)
			}
		}
		if seen != limit {
			t.Errorf("round %d: %d per-track series, want %d", round, seen, limit)
		}
	}

	text, err := r.Prometheus(PrometheusOptions{PerTrack: true, MaxTrackSeries: limit})
	if err != nil {
		t.Fatal(err)
	}
	samples := parseExposition(t, text)
	all, n := sumWhere(samples, "trackstats_track_bytes_total", map[string]string{"direction": "incoming"})
	over, nOver := sumWhere(samples, "trackstats_track_bytes_total",
		map[string]string{"direction": "incoming", "track_id": "__overflow__"})
	if n-nOver > limit || n-nOver == 0 || nOver != 1 || all != float64(total) || over == 0 {
		t.Errorf("limit %d: %d series + %d overflow, summing to %v (overflow %v), recorded %d",
			limit, n-nOver, nOver, all, over, total)
	}
	runtime.KeepAlive(tks)
}

func TestMetricsHandlerMethodsAndErrors(t *testing.T) {
	r, err := NewRegistry(WithManualTicking())
	if err != nil {
		t.Fatal(err)
	}
	tk := mustOpen(t, r, "p", "t", "", 1)
	tk.RecordUp(5)
	srv := httptest.NewServer(r.MetricsHandler(PrometheusOptions{}))
	defer srv.Close()

	resp, err := http.Head(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(body) != 0 || resp.ContentLength <= 0 ||
		resp.Header.Get("Content-Type") != PrometheusContentType {
		t.Errorf("HEAD: %d, %d body bytes, length %d, type %q", resp.StatusCode, len(body), resp.ContentLength, resp.Header.Get("Content-Type"))
	}
	resp, err = http.Post(srv.URL, "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(resp.Header.Get("Allow"), "GET") {
		t.Errorf("POST: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}

	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	text, resp := scrape(t, srv.URL)
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(text, ErrRegistryClosed.Error()) {
		t.Errorf("after Close: %d %q", resp.StatusCode, text)
	}
	if _, err := r.Prometheus(PrometheusOptions{}); !errors.Is(err, ErrRegistryClosed) {
		t.Errorf("Prometheus after Close: %v", err)
	}
	var nilReg *Registry
	if _, err := nilReg.Prometheus(PrometheusOptions{}); !errors.Is(err, ErrRegistryClosed) {
		t.Errorf("nil registry: %v", err)
	}
	if _, err := newRegistry(t).Prometheus(PrometheusOptions{NodeID: "\xff"}); !errors.Is(err, ErrInvalidUTF8) {
		t.Errorf("invalid node id: %v", err)
	}
	runtime.KeepAlive(tk)
}
