package trackstats

import (
	"strings"
	"testing"
	"time"
)

// sums are bytes and messages per (user data, direction).
type sums map[[2]uint64][2]uint64

func (s sums) add(userData uint64, dir Direction, bytes, messages uint64) {
	k := [2]uint64{userData, uint64(dir)}
	v := s[k]
	s[k] = [2]uint64{v[0] + bytes, v[1] + messages}
}

func (s sums) addReports(rs []Report) {
	for _, r := range rs {
		s.add(r.UserData, r.Direction, r.Bytes, r.Messages)
	}
}

func (s sums) merge(o sums) {
	for k, v := range o {
		s.add(k[0], Direction(k[1]), v[0], v[1])
	}
}

func compareSums(t *testing.T, got, want sums) {
	t.Helper()
	if len(want) == 0 {
		t.Fatal("nothing was recorded: the test checks nothing")
	}
	for k, w := range want {
		if g := got[k]; g != w {
			t.Errorf("user data %d, %v: reported %d bytes / %d messages, recorded %d / %d",
				k[0], Direction(k[1]), g[0], g[1], w[0], w[1])
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("user data %d, %v: reported %d bytes / %d messages, never recorded", k[0], Direction(k[1]), g[0], g[1])
		}
	}
}

func newRegistry(t testing.TB, opts ...Option) *Registry {
	t.Helper()
	r, err := NewRegistry(opts...)
	if err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func mustOpen(t testing.TB, r *Registry, p, tr, c string, ud uint64) *Track {
	t.Helper()
	tk, err := r.OpenTrack(p, tr, c, ud)
	if err != nil {
		t.Fatalf("OpenTrack(%q, %q, %q): %v", p, tr, c, err)
	}
	return tk
}

// withGrace sets the registry's grace (trackstats_config.grace_ms): how
// long a closed Track's records are still reported.
func withGrace(d time.Duration) Option {
	return func(c *config) { c.graceMS = uint32(d / time.Millisecond) }
}

// waitLetGo flushes (a manual registry) and drains (a pull registry) until
// the registry holds no Track: every one was closed, let go by the library
// and retired. It returns what it drained. Bounded: fails after about 10 s.
func waitLetGo(t testing.TB, r *Registry) []Report {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var rs []Report
	for {
		if r.manual {
			if err := r.Flush(); err != nil {
				t.Fatalf("Flush: %v", err)
			}
		}
		if !r.push {
			var err error
			if rs, err = r.Drain(rs); err != nil {
				t.Fatalf("Drain: %v", err)
			}
		}
		if r.entries.len() == 0 {
			return rs
		}
		if time.Now().After(deadline) {
			t.Fatalf("closed tracks not let go: the registry still holds %d", r.entries.len())
		}
		time.Sleep(time.Millisecond)
	}
}

// checkTotalsAndReports checks a track's Totals against want, then ends the
// window (a manual registry) and checks that the reports of user data ud
// add up to the same.
func checkTotalsAndReports(t *testing.T, r *Registry, tk *Track, ud uint64, want Totals) {
	t.Helper()
	if got := tk.Totals(); got != want {
		t.Fatalf("Totals = %+v, want %+v", got, want)
	}
	if err := r.Tick(); err != nil {
		t.Fatal(err)
	}
	got := sums{}
	got.addReports(drainAll(t, r))
	compareSums(t, got, sums{
		{ud, uint64(Up)}:   {want.UpBytes, want.UpMessages},
		{ud, uint64(Down)}: {want.DownBytes, want.DownMessages},
	})
}

func drainAll(t testing.TB, r *Registry) []Report {
	t.Helper()
	rs, err := r.Drain(nil)
	if err != nil {
		t.Fatalf("Drain: %v", err)
	}
	return rs
}

// badIDs are keys OpenTrack refuses, with the error it returns.
var badIDs = []struct {
	p, tr, country string
	want           error
}{
	{"", "t", "", ErrEmptyID},
	{"p", "", "", ErrEmptyID},
	{strings.Repeat("x", MaxIDBytes+1), "t", "", ErrIDTooLong},
	{"p", "t", strings.Repeat("x", MaxIDBytes+1), ErrIDTooLong},
	{"p", "t\xff", "", ErrInvalidUTF8},
	{"\xff", "t", "", ErrInvalidUTF8},
	{"p", "t", "\xc3", ErrInvalidUTF8},
}
