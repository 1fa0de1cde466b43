package tsnocgo

// The loader's benchmarks (make bench-go), each against its baseline in the
// same run:
//
//	BenchmarkSlowPath, BenchmarkOpenClose (a cgo build): the library's
//	  calls through cgo (the baseline) and through this loader, on
//	  libtrackstats.a linked by cgo and libtrackstats.so loaded by purego in
//	  one process: a window's first record (trackstats_track_slow_path),
//	  and what a track's life costs in calls (open with its window words,
//	  close, totals, release).
//
// The trackstats package's BenchmarkRecordNoCgo is Track.RecordUp without
// cgo.

import (
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/trackstats/trackstats/cbindings/go/internal/clib"
	// The cgo table, in a cgo build (clib.Linked).
	_ "github.com/trackstats/trackstats/cbindings/go/trackstats"
)

// bothTables gives the cgo table (the baseline) and the loader's, or skips
// in a build without cgo.
func bothTables(b *testing.B) []struct {
	name string
	lib  *clib.Lib
} {
	linked := clib.Linked()
	if linked == nil {
		b.Skip("needs a cgo build: compares the loader with cgo")
	}
	loaded, err := load()
	if err != nil {
		b.Fatal(err)
	}
	return []struct {
		name string
		lib  *clib.Lib
	}{{"baseline-cgo", linked}, {"loader", loaded}}
}

func newManualRegistry(b *testing.B, l *clib.Lib) *clib.Registry {
	r, res := l.RegistryNew(5000, clib.ModeManual, 0)
	if res != clib.ResultOK {
		b.Fatalf("RegistryNew: %d", res)
	}
	b.Cleanup(func() { l.RegistryFree(r) })
	return r
}

func BenchmarkSlowPath(b *testing.B) {
	for _, c := range bothTables(b) {
		b.Run(c.name, func(b *testing.B) {
			l := c.lib
			words := new([clib.HostedWords]uint64)
			tk, res := l.TrackOpen(newManualRegistry(b, l), "PA_bench", "TR_bench", "US", 1, words)
			if res != clib.ResultOK {
				b.Fatalf("TrackOpen: %d", res)
			}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				// old == 0: a window's first record marks the track.
				l.SlowPath(tk, clib.DirectionUp, 0)
			}
			b.StopTimer()
			l.TrackReleaseAfterGrace(tk)
			// The registry's free (Cleanup) lets go of words.
			b.Cleanup(func() { runtime.KeepAlive(words) })
		})
	}
}

func BenchmarkOpenClose(b *testing.B) {
	for _, c := range bothTables(b) {
		b.Run(c.name, func(b *testing.B) {
			l := c.lib
			r := newManualRegistry(b, l)
			b.ReportAllocs()
			// Hosted blocks, reused once the library has let go of them:
			// the benchmark measures the calls, not the host's allocations.
			blocks := make([][clib.HostedWords]uint64, 4096)
			for i := 0; i < b.N; i++ {
				words := &blocks[i%len(blocks)]
				for i >= len(blocks) && atomic.LoadUint64(&words[clib.HostedWordLetGo]) == 0 {
					l.RegistryFlush(r)
				}
				tk, res := l.TrackOpen(r, "PA_bench", "TR_bench", "US", uint64(i), words)
				if res != clib.ResultOK {
					b.Fatalf("TrackOpen: %d", res)
				}
				l.TrackTotals(tk)
				l.TrackReleaseAfterGrace(tk)
				if i%1024 == 1023 {
					// Released slots are reused after a flush (the
					// sampler's, in a threaded registry); with no grace
					// the next one lets go of their blocks.
					l.RegistryFlush(r)
				}
			}
			b.StopTimer()
			l.RegistryClose(r)
			runtime.KeepAlive(blocks)
		})
	}
}
