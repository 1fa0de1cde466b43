package trackstats

// The Go binding's benchmarks, all in one run (make bench-go):
//
//	BenchmarkRecord/* (BenchmarkRecordNoCgo/* without cgo): one record on an
//	  open track against its baselines, measured in the same run: a native
//	  atomic.AddUint64 on Go memory, one call into the library per record
//	  (trackstats_record_up, through cgo or the loader), and a model of
//	  LiveKit's BytesTrackStats.AddBytes (four atomic adds per message).
//	BenchmarkRecordParallel/*: RecordUp from GOMAXPROCS goroutines at
//	  once (b.RunParallel; ns/op is wall time per record over all of them),
//	  each on its own track against each on its own padded atomic word, and
//	  all on one track against all on one word. Run with -cpu 1,2,4,...
//	  on a machine with the cores to see how it scales.
//	BenchmarkRecordUpPacket/*: the sequence-aware record against RecordUp:
//	  in order, in order read from a table, and a mixed stream (gaps, late
//	  packets, duplicates) read from a table.
//	BenchmarkTracks100k/*: memory and goroutines held by 100k open tracks,
//	  against 100k objects of the goroutine-and-ticker-per-track design.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackstats/trackstats/cbindings/go/internal/clib"
)

const benchMessage = 1200 // a typical data-channel message

// liveKitModel is the shape of LiveKit's BytesTrackStats (pkg/rtc,
// signalanddatastats.go): window and total counters per side, bumped with
// four atomic adds per message, and a goroutine with its own 5 s ticker per
// object that swaps bytes and messages separately.
type liveKitModel struct {
	country, trackID, participantID      string
	send, recv                           atomic.Uint64
	sendMessages, recvMessages           atomic.Uint32
	totalSendBytes, totalRecvBytes       atomic.Uint64
	totalSendMessages, totalRecvMessages atomic.Uint32
	// onStats stands for the telemetry listener's OnTrackStats.
	onStats func(participantID, trackID string, up bool, bytes uint64, messages uint32)
	done    chan struct{}
}

func (s *liveKitModel) AddBytes(bytes uint64, isSend bool) {
	if isSend {
		s.send.Add(bytes)
		s.sendMessages.Add(1)
		s.totalSendBytes.Add(bytes)
		s.totalSendMessages.Add(1)
	} else {
		s.recv.Add(bytes)
		s.recvMessages.Add(1)
		s.totalRecvBytes.Add(bytes)
		s.totalRecvMessages.Add(1)
	}
}

func (s *liveKitModel) report() {
	if recv := s.recv.Swap(0); recv > 0 {
		s.onStats(s.participantID, s.trackID, true, recv, s.recvMessages.Swap(0))
	}
	if send := s.send.Swap(0); send > 0 {
		s.onStats(s.participantID, s.trackID, false, send, s.sendMessages.Swap(0))
	}
}

func (s *liveKitModel) worker(wg *sync.WaitGroup) {
	defer wg.Done()
	ticker := time.NewTicker(5 * time.Second)
	defer func() {
		ticker.Stop()
		s.report()
	}()
	for {
		select {
		case <-s.done:
			return
		case <-ticker.C:
			s.report()
		}
	}
}

// benchRecord is BenchmarkRecord with cgo and BenchmarkRecordNoCgo without
// (bench_mode_test.go): one name per mode, so that one report can hold both.
func benchRecord(b *testing.B) {
	r := newRegistry(b) // the default: a sampler thread, 5 s windows
	tk := mustOpen(b, r, "PA_bench", "TR_bench", "US", 1)

	b.Run("trackstats-RecordUp", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			tk.RecordUp(benchMessage)
		}
	})
	b.Run("baseline-atomic-AddUint64", func(b *testing.B) {
		b.ReportAllocs()
		word := new([8]uint64) // a cache line of Go memory
		for i := 0; i < b.N; i++ {
			atomic.AddUint64(&word[0], clib.WordMessageOne|benchMessage)
		}
	})
	b.Run("baseline-"+callKind+"-call", func(b *testing.B) {
		// One call into the library per record (trackstats_record_up).
		b.ReportAllocs()
		l := lib()
		for i := 0; i < b.N; i++ {
			l.Record(tk.h, clib.DirectionUp, benchMessage)
		}
	})
	b.Run("baseline-livekit-AddBytes", func(b *testing.B) {
		b.ReportAllocs()
		m := &liveKitModel{}
		for i := 0; i < b.N; i++ {
			m.AddBytes(benchMessage, false)
		}
	})
}

func BenchmarkRecordParallel(b *testing.B) {
	r := newRegistry(b)
	procs := runtime.GOMAXPROCS(0)
	// Opened back to back: adjacent slots, as the Rust scaling bench.
	tracks := make([]*Track, procs)
	for i := range tracks {
		tracks[i] = mustOpen(b, r, "PA_par", "TR_par_"+strconv.Itoa(i), "US", uint64(i))
	}
	// 128 bytes apart, so no two goroutines' words share a line or an
	// adjacent-line prefetch pair.
	words := make([][16]uint64, procs)

	// each runs body(i) on RunParallel's goroutines, i = 0, 1, ... each its
	// own (RunParallel starts GOMAXPROCS of them per round).
	each := func(b *testing.B, body func(i int, pb *testing.PB)) {
		b.ReportAllocs()
		var next atomic.Int32
		b.RunParallel(func(pb *testing.PB) {
			body(int(next.Add(1)-1)%procs, pb)
		})
	}
	b.Run("trackstats-RecordUp-own-track", func(b *testing.B) {
		each(b, func(i int, pb *testing.PB) {
			for t := tracks[i]; pb.Next(); {
				t.RecordUp(benchMessage)
			}
		})
	})
	b.Run("baseline-atomic-own-word", func(b *testing.B) {
		each(b, func(i int, pb *testing.PB) {
			for w := &words[i][0]; pb.Next(); {
				atomic.AddUint64(w, clib.WordMessageOne|benchMessage)
			}
		})
	})
	b.Run("trackstats-RecordUp-one-track", func(b *testing.B) {
		each(b, func(_ int, pb *testing.PB) {
			for t := tracks[0]; pb.Next(); {
				t.RecordUp(benchMessage)
			}
		})
	})
	b.Run("baseline-atomic-one-word", func(b *testing.B) {
		each(b, func(_ int, pb *testing.PB) {
			for w := &words[0][0]; pb.Next(); {
				atomic.AddUint64(w, clib.WordMessageOne|benchMessage)
			}
		})
	})
	runtime.KeepAlive(tracks)
}

// deliveryRounds runs b.N rounds in which every Track of ts records one
// message up and one down (each a window's first record, so a call into the
// library each), a manual tick closes the window, and deliver takes the
// round's reports. It reports per report: ns/report, the whole round;
// deliver-ns/report, deliver alone; and deliver's allocations and bytes.
func deliveryRounds(b *testing.B, r *Registry, ts []*Track, deliver func()) {
	var d time.Duration
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, t := range ts {
			t.RecordUp(benchMessage)
			t.RecordDown(benchMessage)
		}
		if err := r.Tick(); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		deliver()
		d += time.Since(start)
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	reports := float64(b.N) * 2 * float64(len(ts))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/reports, "ns/report")
	b.ReportMetric(float64(d.Nanoseconds())/reports, "deliver-ns/report")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/reports, "allocs/report")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/reports, "B/report")
	runtime.KeepAlive(ts)
}

// deliveryTracks is the 1000 tracks of the delivery benchmarks, with
// listener l when it is not nil.
func deliveryTracks(b *testing.B, r *Registry, l ReportListener) []*Track {
	ts := make([]*Track, 1000)
	for i := range ts {
		var err error
		if l != nil {
			ts[i], err = r.OpenTrackWithListener("PA_"+strconv.Itoa(i/4), "TR_"+strconv.Itoa(i), "US", uint64(i), l)
		} else {
			ts[i], err = r.OpenTrack("PA_"+strconv.Itoa(i/4), "TR_"+strconv.Itoa(i), "US", uint64(i))
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	return ts
}

// BenchmarkDrain: what taking reports costs Go, per report: Drain converts
// a round's 2000 reports into a reused slice (deliver-ns/report; the goal of
// issue 20 is at most 40 ns). The reports' ids are copied from the library's
// key: one string per track, shared by its two adjacent reports, and one
// allocation per batch of up to 1024 reports.
func BenchmarkDrain(b *testing.B) {
	r := newRegistry(b, WithManualTicking())
	ts := deliveryTracks(b, r, nil)
	var rs []Report
	deliveryRounds(b, r, ts, func() {
		var err error
		if rs, err = r.Drain(rs[:0]); err != nil || len(rs) != 2*len(ts) {
			b.Fatalf("drained %d reports (%v), want %d", len(rs), err, 2*len(ts))
		}
	})
}

// BenchmarkDeliver: the two push paths, per report, timed as BenchmarkDrain
// times Drain: a listener per track, called by Drain on a pull registry (the
// listener adds the bytes atomically, so its own cost is small), and the
// report channel, from the tick's return to the last report received (the
// registry's goroutine fills, converts and sends; the benchmark receives).
func BenchmarkDeliver(b *testing.B) {
	b.Run("listener", func(b *testing.B) {
		r := newRegistry(b, WithManualTicking())
		var got byteSum
		ts := deliveryTracks(b, r, &got)
		var rs []Report
		deliveryRounds(b, r, ts, func() {
			var err error
			if rs, err = r.Drain(rs[:0]); err != nil || len(rs) != 0 {
				b.Fatalf("Drain returned %d reports (%v), want 0: all go to the listener", len(rs), err)
			}
		})
		if want := uint64(b.N) * 2 * uint64(len(ts)) * benchMessage; got.bytes.Load() != want {
			b.Fatalf("the listener got %d bytes, want %d", got.bytes.Load(), want)
		}
	})
	b.Run("channel", func(b *testing.B) {
		r := newRegistry(b, WithManualTicking(), WithReportChannel(4000))
		ts := deliveryTracks(b, r, nil)
		deliveryRounds(b, r, ts, func() {
			for range 2 * len(ts) {
				if rep := <-r.Reports(); rep.Bytes != benchMessage {
					b.Fatalf("a report of %d bytes, want %d", rep.Bytes, benchMessage)
				}
			}
		})
	})
}

// BenchmarkRecordUpPacket: the sequence-aware record against RecordUp on
// the same kind of track, in the same run (goal: at most 2x).
func BenchmarkRecordUpPacket(b *testing.B) {
	r := newRegistry(b)
	b.Run("baseline-RecordUp", func(b *testing.B) {
		tk := mustOpen(b, r, "PA_bench", "TR_plain", "US", 1)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			tk.RecordUp(benchMessage)
		}
	})
	b.Run("in-order", func(b *testing.B) {
		// The next number every time, every packet ending a frame.
		tk := mustOpen(b, r, "PA_bench", "TR_in_order", "US", 2)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			tk.RecordUpPacket(benchMessage, uint16(i), true)
		}
	})
	b.Run("in-order-from-table", func(b *testing.B) {
		// As in-order, one frame in four, but each packet read from a table
		// as mixed does: what the table alone costs.
		tk := mustOpen(b, r, "PA_bench", "TR_table", "US", 4)
		pattern := make([]uint32, 4096)
		for i := range pattern {
			pattern[i] = uint32(i)
			if i%4 == 3 {
				pattern[i] |= 1 << 16
			}
		}
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			p := pattern[i&(len(pattern)-1)]
			tk.RecordUpPacket(benchMessage, uint16(p), p>>16 != 0)
		}
	})
	b.Run("mixed", func(b *testing.B) {
		// About 5% gaps, 5% late, 1% duplicated, one frame in four: every
		// branch of the rule, from a precomputed pattern.
		tk := mustOpen(b, r, "PA_bench", "TR_mixed", "US", 3)
		pattern := mixedPattern()
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			p := pattern[i&(len(pattern)-1)]
			tk.RecordUpPacket(benchMessage, uint16(p), p>>16 != 0)
		}
	})
}

// mixedPattern is 4096 packets, each seq | endOfFrame<<16, from a fixed
// hash so that runs compare and the branch predictor cannot learn it.
func mixedPattern() []uint32 {
	out := make([]uint32, 4096)
	var next uint16
	for i := range out {
		var seq uint16
		switch h := (i * 2654435761) >> 7 % 100; {
		case h < 5: // one number skipped (lost, unless one of the late ones)
			next++
			seq = next
		case h < 10: // late: an older number; the next one is still to come
			seq = next - 3
			next--
		case h < 11: // the last number again
			seq = next - 1
			next--
		default:
			seq = next
		}
		next++
		out[i] = uint32(seq)
		if i%4 == 3 {
			out[i] |= 1 << 16
		}
	}
	return out
}

const benchTracks = 100_000

// The 100k-track figures are measured in a fresh child process each time
// (the test binary, running TestMemProbe): the runtime keeps memory it
// used once, notably the records of finalizers (runtime.SetFinalizer, off
// the Go heap, in MemStats.OtherSys), so a second measurement in one
// process would miss them.
const memProbeEnv = "TRACKSTATS_MEMPROBE"

type memSnapshot struct {
	goBytes    uint64 // live heap objects, goroutine stacks, runtime-internal records
	cBytes     uint64 // the C allocator's bytes in use (the Rust core)
	goroutines int
}

// segmentBytes is what one of the core's slot segments holds resident: its
// 1024 slots of 128 B, its activity words' line and the page of its group
// head. The core maps segments itself (src/pages.rs), outside the C
// allocator, so they are counted from the registry's SegmentsResident.
const segmentBytes = 1024*128 + 128 + 4096

func snapshot(r *Registry) memSnapshot {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	c := lib().CHeapBytes()
	if r != nil {
		if st, err := r.Stats(); err == nil {
			c += st.SegmentsResident * segmentBytes
		}
	}
	return memSnapshot{
		goBytes:    m.HeapAlloc + m.StackInuse + m.OtherSys,
		cBytes:     c,
		goroutines: runtime.NumGoroutine(),
	}
}

func delta(after, before uint64) float64 { return float64(int64(after - before)) }

// memProbe is what one child measured, per track.
type memProbe struct {
	GoBytes, CBytes, Goroutines float64
}

type benchIDs struct{ participant, track []string }

// The ids exist before the first snapshot in every variant: each design
// keeps the caller's strings, and only what it adds per track is measured.
func makeIDs() benchIDs {
	ids := benchIDs{make([]string, benchTracks), make([]string, benchTracks)}
	for i := range ids.track {
		ids.participant[i] = "PA_" + strconv.Itoa(i/4)
		ids.track[i] = "TR_" + strconv.Itoa(i)
	}
	return ids
}

func nopStats(string, string, bool, uint64, uint32) {}

// TestMemProbe opens 100k tracks of one design and prints what they hold.
// It only runs in the child process that BenchmarkTracks100k starts.
func TestMemProbe(t *testing.T) {
	variant := os.Getenv(memProbeEnv)
	if variant == "" {
		t.Skip("run by BenchmarkTracks100k in a child process")
	}
	ids := makeIDs()
	var r *Registry
	if variant == "track" {
		r = newRegistry(t)
	}
	// The caller's slices of handles exist before the first snapshot too.
	ts := make([]*Track, benchTracks)
	objs := make([]*liveKitModel, benchTracks)
	var wg sync.WaitGroup
	before := snapshot(r)
	switch variant {
	case "track":
		for j := range ts {
			ts[j] = mustOpen(t, r, ids.participant[j], ids.track[j], "US", uint64(j))
		}
	case "goroutine-ticker":
		for j := range objs {
			m := &liveKitModel{country: "US", trackID: ids.track[j], participantID: ids.participant[j],
				onStats: nopStats, done: make(chan struct{})}
			wg.Add(1)
			go m.worker(&wg)
			objs[j] = m
		}
	default:
		t.Fatalf("unknown variant %q", variant)
	}
	after := snapshot(r)
	p := memProbe{
		GoBytes:    delta(after.goBytes, before.goBytes) / benchTracks,
		CBytes:     delta(after.cBytes, before.cBytes) / benchTracks,
		Goroutines: float64(after.goroutines-before.goroutines) / benchTracks,
	}
	out, _ := json.Marshal(p)
	fmt.Printf("memprobe %s\n", out)
	// The caller's ids and handle slices stay live to the end: had they died
	// after the loop, their backing arrays (32 B per track) would be freed
	// between the snapshots and understate every variant alike.
	runtime.KeepAlive(ids)
	runtime.KeepAlive(ts)
	runtime.KeepAlive(objs)
}

func runMemProbe(b *testing.B, variant string) memProbe {
	b.Helper()
	var p memProbe
	if err := runChildProbe("TestMemProbe", "memprobe ", &p, memProbeEnv+"="+variant); err != nil {
		b.Fatal(err)
	}
	return p
}

// runChildProbe runs test in a child process of this test binary with env
// (NAME=value each) added, and decodes into out the JSON the child printed
// after prefix.
func runChildProbe(test, prefix string, out any, env ...string) error {
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1", "-test.timeout=0")
	cmd.Env = append(os.Environ(), env...)
	text, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %v: %v\n%s", test, env, err, text)
	}
	for _, line := range strings.Split(string(text), "\n") {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			return json.Unmarshal([]byte(rest), out)
		}
	}
	return fmt.Errorf("%s %v printed no result:\n%s", test, env, text)
}

// BenchmarkTracks100k: memory and goroutines held by 100k open tracks,
// against 100k objects of the goroutine-and-ticker-per-track design, each
// measured in a fresh process.
func BenchmarkTracks100k(b *testing.B) {
	for _, v := range []struct{ name, variant string }{
		{"trackstats-Track", "track"},
		{"baseline-goroutine-ticker-per-track", "goroutine-ticker"},
	} {
		b.Run(v.name, func(b *testing.B) {
			var p memProbe
			for i := 0; i < b.N; i++ {
				p = runMemProbe(b, v.variant)
			}
			b.ReportMetric(p.GoBytes, "go-B/track")
			b.ReportMetric(p.CBytes, "C-B/track")
			b.ReportMetric(p.GoBytes+p.CBytes, "B/track")
			b.ReportMetric(p.Goroutines, "goroutines/track")
		})
	}
}
