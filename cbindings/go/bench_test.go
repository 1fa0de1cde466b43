package trackstats

// The Go binding's benchmarks, all in one run (make bench-go):
//
//	BenchmarkRecord/*: one record on an open track against its baselines,
//	  measured in the same run: a native atomic.AddUint64 on Go memory, one
//	  cgo call per record (trackstats_record_up), and a model of LiveKit's
//	  BytesTrackStats.AddBytes (four atomic adds per message).
//	BenchmarkTracks100k/*: memory and goroutines held by 100k open tracks,
//	  against 100k objects of the goroutine-and-ticker-per-track design.

import (
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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
	listener                             TelemetryListener
	done                                 chan struct{}
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
	if recv := s.recv.Swap(0); recv > 0 && s.listener != nil {
		s.listener.OnTrackStats(StatsKeyForData(s.country, StreamTypeUpstream, s.participantID, s.trackID),
			&TrackStat{Bytes: recv, Messages: uint64(s.recvMessages.Swap(0))})
	}
	if send := s.send.Swap(0); send > 0 && s.listener != nil {
		s.listener.OnTrackStats(StatsKeyForData(s.country, StreamTypeDownstream, s.participantID, s.trackID),
			&TrackStat{Bytes: send, Messages: uint64(s.sendMessages.Swap(0))})
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

func BenchmarkRecord(b *testing.B) {
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
			atomic.AddUint64(&word[0], wordMessageOne|benchMessage)
		}
	})
	b.Run("baseline-cgo-call", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			cgoRecordUp(tk, benchMessage)
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

const benchTracks = 100_000

type memSnapshot struct {
	goBytes    uint64 // live heap objects plus goroutine stacks
	cBytes     uint64 // the C allocator's bytes in use (the Rust core)
	goroutines int
}

func snapshot() memSnapshot {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return memSnapshot{goBytes: m.HeapAlloc + m.StackInuse, cBytes: cHeapBytes(), goroutines: runtime.NumGoroutine()}
}

func delta(after, before uint64) float64 { return float64(int64(after - before)) }

func reportPerTrack(b *testing.B, before, after memSnapshot) {
	goB := delta(after.goBytes, before.goBytes) / benchTracks
	cB := delta(after.cBytes, before.cBytes) / benchTracks
	b.ReportMetric(goB, "go-B/track")
	b.ReportMetric(cB, "C-B/track")
	b.ReportMetric(goB+cB, "B/track")
	b.ReportMetric(float64(after.goroutines-before.goroutines)/benchTracks, "goroutines/track")
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

type nopListener struct{}

func (nopListener) OnTrackStats(StatsKey, *TrackStat) {}

func BenchmarkTracks100k(b *testing.B) {
	ids := makeIDs()
	var listener TelemetryListener = nopListener{}

	b.Run("trackstats-Track", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			r := newRegistry(b)
			tracks := make([]*Track, benchTracks)
			before := snapshot()
			for j := range tracks {
				tracks[j] = mustOpen(b, r, ids.participant[j], ids.track[j], "US", uint64(j))
			}
			after := snapshot()
			reportPerTrack(b, before, after)
			tracks = nil
			collectDropped(b, r) // so the next round starts from the same heap
			_ = r.Close()
		}
	})
	b.Run("trackstats-BytesTrackStats", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			r := newRegistry(b, WithDispatcher())
			stats := make([]*BytesTrackStats, benchTracks)
			before := snapshot()
			for j := range stats {
				s, err := NewBytesTrackStats(r, "US", ids.track[j], ids.participant[j], listener)
				if err != nil {
					b.Fatal(err)
				}
				stats[j] = s
			}
			after := snapshot()
			reportPerTrack(b, before, after)
			stats = nil
			collectDropped(b, r)
			_ = r.Close()
		}
	})
	b.Run("baseline-goroutine-ticker-per-track", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			objs := make([]*liveKitModel, benchTracks)
			var wg sync.WaitGroup
			before := snapshot()
			for j := range objs {
				m := &liveKitModel{country: "US", trackID: ids.track[j], participantID: ids.participant[j],
					listener: listener, done: make(chan struct{})}
				wg.Add(1)
				go m.worker(&wg)
				objs[j] = m
			}
			after := snapshot()
			reportPerTrack(b, before, after)
			for _, m := range objs {
				close(m.done)
			}
			wg.Wait()
		}
	})
}
