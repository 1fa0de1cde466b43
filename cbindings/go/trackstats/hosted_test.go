package trackstats

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
	"weak"
)

// Registry.Close releases the Tracks nobody closed: their final reports
// are delivered, exactly, and the registry holds nothing after.
func TestRegistryCloseReleasesOpenTracks(t *testing.T) {
	for _, manual := range []bool{true, false} {
		name := "threaded"
		if manual {
			name = "manual"
		}
		t.Run(name, func(t *testing.T) {
			opts := []Option{WithInterval(time.Hour)}
			if manual {
				opts = append(opts, WithManualTicking())
			}
			r := newRegistry(t, opts...)
			want := sums{}
			var ws []weak.Pointer[Track]
			func() {
				// Tracks opened, recorded on and dropped without Close.
				for i := uint64(0); i < 100; i++ {
					tk := mustOpen(t, r, "PA", "TR", "FR", i)
					tk.RecordUp(100 + i)
					tk.RecordDown(i + 1)
					want.add(i, Up, 100+i, 1)
					want.add(i, Down, i+1, 1)
					ws = append(ws, weak.Make(tk))
				}
			}()
			runtime.GC()
			// Held by the registry, never let go of by the library yet.
			var tracks []*Track
			for _, w := range ws {
				if tk := w.Value(); tk == nil || tk.letGo() {
					t.Fatal("an open Track was collected, or let go of")
				} else {
					tracks = append(tracks, tk)
				}
			}
			if n := r.entries.len(); n != 100 {
				t.Fatalf("the registry holds %d open Tracks, want 100", n)
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			rs := drainAll(t, r)
			got := sums{}
			got.addReports(rs)
			compareSums(t, got, want)
			for _, rep := range rs {
				if rep.Flags&FlagFinal == 0 {
					t.Errorf("a track still open at Registry.Close gave a non-final report: %+v", rep)
				}
			}
			for _, tk := range tracks {
				if !tk.letGo() {
					t.Fatalf("track %d: the library has not let go of it after Registry.Close", tk.userData)
				}
			}
			if n := r.entries.len(); n != 0 || isHeld(r) {
				t.Errorf("after Registry.Close the registry holds %d Tracks (held: %v)", n, isHeld(r))
			}
		})
	}
}

// Closed Tracks are let go after their grace and then dropped by the
// registry, whatever the collector does: the library's slots and the Go
// side's hold follow Close. Deterministic: waitLetGo waits for the
// registry's own count, not for a collection.
func TestClosedTracksAreLetGoAndDropped(t *testing.T) {
	for _, mode := range []string{"manual", "threaded", "channel"} {
		t.Run(mode, func(t *testing.T) {
			// The sampler thread ends graces at its passes, which a window's
			// end or a request starts: short windows, so graces end soon.
			opts := []Option{WithInterval(10 * time.Millisecond), withGrace(20 * time.Millisecond)}
			switch mode {
			case "manual":
				opts = append(opts, WithManualTicking())
			case "channel":
				opts = append(opts, WithReportChannel(16))
			}
			r := newRegistry(t, opts...)
			got, want := sums{}, sums{}
			done := make(chan struct{})
			if ch := r.Reports(); ch != nil {
				go func() {
					defer close(done)
					for rep := range ch {
						got.addReports([]Report{rep})
					}
				}()
			} else {
				close(done)
			}
			keep := make([]*Track, 0, 300)
			for i := uint64(0); i < 300; i++ {
				tk := mustOpen(t, r, "PA", "TR_"+strconv.FormatUint(i, 10), "FR", i)
				tk.RecordUp(10 + i)
				tk.RecordDown(1)
				want.add(i, Up, 10+i, 1)
				want.add(i, Down, 1, 1)
				_ = tk.Close()
				keep = append(keep, tk) // referenced: the registry lets go anyway
			}
			got.addReports(waitLetGo(t, r))
			// The sampler counts a slot out just after it lets go of the
			// Track: wait for its counters too.
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
				st, err := r.Stats()
				if err != nil {
					t.Fatal(err)
				}
				if st.LiveSlots == 0 && st.OpenTracks == 0 && st.SlotsInGrace == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after the let-go: %d live slots, %d open, %d in grace", st.LiveSlots, st.OpenTracks, st.SlotsInGrace)
				}
			}
			for _, tk := range keep {
				if !tk.letGo() || !tk.has(trackLetGo) {
					t.Fatalf("track %d: let-go mark %v, read by the registry %v", tk.userData, tk.letGo(), tk.has(trackLetGo))
				}
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			<-done
			if r.Reports() == nil {
				got.addReports(drainAll(t, r))
			}
			compareSums(t, got, want)
			if r.entries.orphan != 0 {
				t.Errorf("%d reports named no held Track", r.entries.orphan)
			}
		})
	}
}

// The registry keeps a closed Track reachable until it has read the let-go
// mark and taken the reports queued before it, and lets go of it then:
// before that the library may still touch the Track's memory or name it in
// a report; after that nothing holds the Track but its users.
func TestRegistryHoldsATrackUntilItsLetGo(t *testing.T) {
	r := newRegistry(t, WithManualTicking(), withGrace(0))
	var w weak.Pointer[Track]
	func() {
		tk := mustOpen(t, r, "PA", "TR", "", 7)
		tk.RecordUp(100)
		w = weak.Make(tk)
	}()
	collect := func() {
		for i := 0; i < 3; i++ {
			runtime.GC()
		}
	}
	// Open and unreferenced: the library holds its block.
	collect()
	if w.Value() == nil {
		t.Fatal("an open Track was collected while the library holds its words")
	}
	_ = w.Value().Close()
	// Closed, the release queued and not yet processed: held.
	collect()
	tk := w.Value()
	if tk == nil {
		t.Fatal("a closed Track was collected before the library processed its release")
	}
	// Let go by the library (grace 0: the next pass after the release),
	// its reports queued and not drained: still held, for them.
	for i := 0; i < 100 && !tk.letGo(); i++ {
		if err := r.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if !tk.letGo() {
		t.Fatal("the library never let go of the closed Track")
	}
	tk = nil
	collect()
	if w.Value() == nil {
		t.Fatal("a Track was collected while reports naming it were still queued")
	}
	// The drain reads the mark, then takes every report: the Track goes.
	rs := drainAll(t, r)
	if len(rs) != 1 || rs[0].UserData != 7 || rs[0].Bytes != 100 {
		t.Fatalf("reports %+v, want the final one of user data 7", rs)
	}
	collect()
	if w.Value() != nil {
		t.Errorf("the registry still holds a Track it has read the let-go mark of and drained")
	}
}

// Records after the let-go are stale: counted in the stats, not reported,
// never in another track; the Track's Totals are what was reported. After
// Registry.Close they are dropped, and nothing breaks.
func TestRecordsAfterTheLetGoAreStale(t *testing.T) {
	r := newRegistry(t, WithManualTicking(), withGrace(0))
	tk := mustOpen(t, r, "PA", "TR", "", 1)
	tk.RecordUp(100)
	tk.RecordDown(5)
	_ = tk.Close()
	final := waitLetGo(t, r)
	other := mustOpen(t, r, "PB", "TR", "", 2)
	tk.RecordUp(10)
	tk.RecordDown(20)
	tk.RecordUp(MaxInlineBytes + 1)
	tk.RecordBatch(Down, 3, 30)
	tk.RecordUpPacket(40, 1, true)
	st, err := r.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.StaleRecords != 7 || st.StaleBytes != 10+20+MaxInlineBytes+1+30+40 {
		t.Errorf("stale: %d records, %d bytes; want 7, %d", st.StaleRecords, st.StaleBytes, 10+20+MaxInlineBytes+1+30+40)
	}
	want := Totals{UpBytes: 100, UpMessages: 1, DownBytes: 5, DownMessages: 1}
	if got := tk.Totals(); got != want {
		t.Errorf("Totals after the let-go = %+v, want %+v", got, want)
	}
	if err := r.Tick(); err != nil {
		t.Fatal(err)
	}
	got := sums{}
	got.addReports(final)
	got.addReports(drainAll(t, r))
	compareSums(t, got, sums{{1, uint64(Up)}: {100, 1}, {1, uint64(Down)}: {5, 1}})
	if ot := other.Totals(); ot != (Totals{}) {
		t.Errorf("another track's totals %+v: stale records reached it", ot)
	}
	_ = r.Close()
	tk.RecordUp(1)
	tk.RecordUp(MaxInlineBytes + 1)
	other.RecordDown(1)
	other.RecordUpPacket(1, 1, false)
	_ = other.Close()
	if got := tk.Totals(); got != want {
		t.Errorf("Totals after Registry.Close = %+v, want %+v", got, want)
	}
}

// The churn of issue 15: 2,000,000 tracks opened, recorded on, closed and
// dropped, at most 20,000 referenced at once, keeps the process's memory
// (Go and C, by RSS) within 20% between 200,000 and 2,000,000 tracks, with
// every byte reported. Measured in a child process (a fresh heap).
func TestChurnMemoryFollowsOpenTracks(t *testing.T) {
	if testing.Short() {
		t.Skip("a child process churning 2M tracks")
	}
	var res churnResult
	if err := runChildProbe("TestChurnProbe", "churn ", &res, churnEnv+"=1"); err != nil {
		t.Fatal(err)
	}
	t.Logf("RSS %.1f MB at 200k tracks, %.1f MB at 2M (%+.1f%%), peak held %d; %d reports, %d B recorded",
		float64(res.RSS200k)/1e6, float64(res.RSS2M)/1e6, 100*(float64(res.RSS2M)/float64(res.RSS200k)-1),
		res.PeakHeld, res.Reports, res.Recorded)
	for _, d := range res.Diag {
		t.Log(d)
	}
	if res.Recorded == 0 || res.Reported != res.Recorded || res.Orphans != 0 {
		t.Errorf("recorded %d bytes, reported %d, %d reports without a track", res.Recorded, res.Reported, res.Orphans)
	}
	if float64(res.RSS2M) > 1.2*float64(res.RSS200k) {
		t.Errorf("RSS grew from %d at 200k tracks to %d at 2M: more than 20%%", res.RSS200k, res.RSS2M)
	}
	if res.HeldAtEnd != 0 {
		t.Errorf("%d Tracks held after every one was closed and drained", res.HeldAtEnd)
	}
}

const churnEnv = "TRACKSTATS_CHURN"

type churnResult struct {
	RSS200k, RSS2M     uint64
	Recorded, Reported uint64
	Reports, Orphans   uint64
	PeakHeld           int
	HeldAtEnd          int
	Diag               []string
}

// diag is one line of what the churn holds, for the log.
func diag(t *testing.T, r *Registry) string {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	st, _ := r.Stats()
	return fmt.Sprintf("Go heap in use %d MiB, C heap %d MiB, %d live slots (%d in grace, %d quarantined), %d segments, %d Tracks held, RSS %d MiB",
		m.HeapInuse>>20, lib().CHeapBytes()>>20, st.LiveSlots, st.SlotsInGrace, st.SlotsQuarantined, st.SegmentsResident,
		r.entries.len(), rss(t, "VmRSS:")>>20)
}

// TestChurnProbe is the child of TestChurnMemoryFollowsOpenTracks.
func TestChurnProbe(t *testing.T) {
	if os.Getenv(churnEnv) == "" {
		t.Skip("run by TestChurnMemoryFollowsOpenTracks in a child process")
	}
	// The default collector pacing: the test's memory is what a host's is.
	debug.SetGCPercent(100)
	// A window per 1,000 tracks, ended by the test (Tick) just before each
	// drain: the reports of a tick, queued in the library and then in the
	// drain's buffer, reach their usual peak many times before the first
	// measurement, and no sampler thread fills the library's queue between
	// the last drain and a sample. With a sampler thread on 20 ms windows
	// the settled RSS is as flat (sampled every 500,000 tracks up to
	// 6,000,000: 31 to 35 MB, no trend) but noisier, and the two minima
	// came up to 22% apart in one run of about ten. Graces end by count
	// here (4096 tracks), as they do under churn with a sampler thread.
	r := newRegistry(t, WithManualTicking())
	const total, window = 2_000_000, 20_000
	var res churnResult
	ring := make([]*Track, window)
	// The ids are made once: the test's own garbage stays out of the
	// figures (the library copies them at open; Go keeps none).
	participants, tracks := make([]string, window/4), make([]string, window)
	for k := range tracks {
		participants[k/4] = "PA_" + strconv.Itoa(k/4)
		tracks[k] = "TR_" + strconv.Itoa(k)
	}
	var buf []Report
	drain := func() {
		var err error
		if err := r.Tick(); err != nil {
			t.Fatal(err)
		}
		if buf, err = r.Drain(buf[:0]); err != nil {
			t.Fatal(err)
		}
		for i := range buf {
			res.Reported += buf[i].Bytes
		}
		res.Reports += uint64(len(buf))
	}
	for i := 0; i < total; i++ {
		k := i % window
		if old := ring[k]; old != nil {
			_ = old.Close()
		}
		tk, err := r.OpenTrack(participants[k/4], tracks[k], "US", uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		n := uint64(100 + i%1200)
		tk.RecordUp(n)
		tk.RecordDown(n / 2)
		res.Recorded += n + n/2
		ring[k] = tk
		if i%1000 == 999 {
			drain()
			res.PeakHeld = max(res.PeakHeld, r.entries.len())
		}
		// Ten samples before each mark, 10,000 tracks apart; the least is
		// what the process holds on to. A tick's reports, pending in the
		// library for a moment (a few MB for 24,000 tracks), and the heaps'
		// in-flight garbage are not memory the process keeps. Growth that
		// stays is in every sample.
		if j := i + 1; (j <= 200_000 && j > 100_000 || j > total-100_000) && j%10_000 == 0 {
			drain()
			buf = nil // the test's buffer is not the library's memory
			m := settledRSS(t)
			if j <= 200_000 {
				res.RSS200k = minNonZero(res.RSS200k, m)
			} else {
				res.RSS2M = minNonZero(res.RSS2M, m)
			}
			if j == 200_000 || j == total {
				res.Diag = append(res.Diag, diag(t, r))
			}
		}
	}
	for _, tk := range ring {
		_ = tk.Close()
	}
	ring = nil
	for _, rep := range waitLetGo(t, r) {
		res.Reported += rep.Bytes
		res.Reports++
	}
	res.HeldAtEnd = r.entries.len()
	res.Orphans = r.entries.orphan
	out, _ := json.Marshal(res)
	fmt.Printf("churn %s\n", out)
}

func minNonZero(a, b uint64) uint64 {
	if a == 0 {
		return b
	}
	return min(a, b)
}

// settledRSS is the resident set once the collector has run and given the
// pages it freed back to the system: the memory the process holds on to,
// without the garbage a collection cycle happens to have in flight (a
// report buffer grown to a tick's reports, say), which varies from run to
// run by more than the 20% the test allows.
func settledRSS(t *testing.T) uint64 {
	debug.FreeOSMemory()
	return rss(t, "VmRSS:")
}

// rss is the process's resident set: field "VmRSS:" (now) or "VmHWM:"
// (its peak so far).
func rss(t *testing.T, field string) uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status: RSS unknown")
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), field); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}
