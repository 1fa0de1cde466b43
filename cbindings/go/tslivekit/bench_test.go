package tslivekit

// Benchmarks (make bench-tslivekit):
//
//	BenchmarkAddBytes/*: AddBytes on a bound object against the bare
//	  trackstats Track.RecordUp it calls, measured in the same run (the
//	  main package's BenchmarkRecord compares RecordUp with LiveKit's four
//	  atomic adds).
//	BenchmarkObjects100k/*: Go memory and goroutines held by 100k open
//	  objects, against 100k bare Tracks and 100k objects of LiveKit's
//	  design (counters and a goroutine with a 5 s ticker each), each
//	  measured in a fresh process. The library's C bytes per track (the
//	  main package's BenchmarkTracks100k measures them) are the same for
//	  both trackstats kinds and not counted here.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/trackstats/trackstats/cbindings/go/trackstats"
)

const benchMessage = 1200

type nopListener struct{}

func (nopListener) OnTrackStats(statsKey, *livekit.AnalyticsStat) {}

func BenchmarkAddBytes(b *testing.B) {
	r, err := trackstats.NewRegistry(trackstats.WithDispatcher())
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	s := NewBytesTrackStats("US", "DTR_bench", "PA_bench", nopListener{}, statsKeyForData, WithRegistry(r))
	tk, err := r.OpenTrackWithListener("PA_bench", "TR_bench", "US", 0, Adapt(nopListener{}, statsKeyForData))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("tslivekit-AddBytes", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			s.AddBytes(benchMessage, false)
		}
	})
	b.Run("baseline-trackstats-RecordUp", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			tk.RecordUp(benchMessage)
		}
	})
}

const (
	benchObjects = 100_000
	memProbeEnv  = "TSLIVEKIT_MEMPROBE"
)

// TestMemProbe opens 100k objects of one kind and prints the Go bytes and
// goroutines they hold. It runs only in the child process that
// BenchmarkObjects100k starts (the runtime keeps finalizer records once
// made, so one process measures one kind).
func TestMemProbe(t *testing.T) {
	kind := os.Getenv(memProbeEnv)
	if kind == "" {
		t.Skip("run by BenchmarkObjects100k in a child process")
	}
	r, err := trackstats.NewRegistry(trackstats.WithDispatcher())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// The ids and handle slices exist before the first snapshot: every
	// kind keeps the caller's strings, and only what it adds is measured.
	pIDs, tIDs := make([]string, benchObjects), make([]string, benchObjects)
	for i := range pIDs {
		pIDs[i], tIDs[i] = "PA_"+strconv.Itoa(i/4), "TR_"+strconv.Itoa(i)
	}
	objs := make([]*BytesTrackStats, benchObjects)
	tracks := make([]*trackstats.Track, benchObjects)
	tickers := make([]*tickerObject, benchObjects)
	defer func() {
		for _, o := range tickers {
			if o != nil {
				close(o.done)
			}
		}
	}()
	listener := nopListener{}
	before := goMemory()
	for i := range objs {
		switch kind {
		case "object":
			objs[i] = NewBytesTrackStats("US", livekit.TrackID(tIDs[i]), livekit.ParticipantID(pIDs[i]), listener, statsKeyForData, WithRegistry(r))
		case "track":
			if tracks[i], err = r.OpenTrackWithListener(pIDs[i], tIDs[i], "US", 0, Adapt(listener, statsKeyForData)); err != nil {
				t.Fatal(err)
			}
		case "goroutine-ticker":
			tickers[i] = newTickerObject()
		default:
			t.Fatalf("unknown kind %q", kind)
		}
	}
	after := goMemory()
	out, _ := json.Marshal(map[string]float64{
		"GoBytes":    float64(int64(after.bytes-before.bytes)) / benchObjects,
		"Goroutines": float64(after.goroutines-before.goroutines) / benchObjects,
	})
	fmt.Printf("memprobe %s\n", out)
	runtime.KeepAlive(objs)
	runtime.KeepAlive(tracks)
	runtime.KeepAlive(tickers)
	runtime.KeepAlive(pIDs)
	runtime.KeepAlive(tIDs)
}

// tickerObject is what LiveKit's BytesTrackStats holds per object: the
// window and total counters of both sides, and a goroutine with a 5 s
// ticker that stops when done closes (its report is not modelled: only
// the memory is measured).
type tickerObject struct {
	send, recv, totalSend, totalRecv                         atomic.Uint64
	sendMessages, recvMessages, totalSendMsgs, totalRecvMsgs atomic.Uint32
	done                                                     chan struct{}
}

func newTickerObject() *tickerObject {
	o := &tickerObject{done: make(chan struct{})}
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-o.done:
				return
			case <-t.C:
			}
		}
	}()
	return o
}

type memSnapshot struct {
	bytes      uint64
	goroutines int
}

func goMemory() memSnapshot {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return memSnapshot{m.HeapAlloc + m.StackInuse + m.OtherSys, runtime.NumGoroutine()}
}

func BenchmarkObjects100k(b *testing.B) {
	for _, v := range []struct{ name, kind string }{
		{"tslivekit-BytesTrackStats", "object"},
		{"baseline-trackstats-Track-with-Adapt", "track"},
		{"baseline-goroutine-ticker-per-object", "goroutine-ticker"},
	} {
		b.Run(v.name, func(b *testing.B) {
			var p map[string]float64
			for range b.N {
				cmd := exec.Command(os.Args[0], "-test.run=^TestMemProbe$", "-test.count=1")
				cmd.Env = append(os.Environ(), memProbeEnv+"="+v.kind)
				out, err := cmd.CombinedOutput()
				if err != nil {
					b.Fatalf("probe %s: %v\n%s", v.kind, err, out)
				}
				for _, line := range strings.Split(string(out), "\n") {
					if rest, ok := strings.CutPrefix(line, "memprobe "); ok {
						if err := json.Unmarshal([]byte(rest), &p); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
			b.ReportMetric(p["GoBytes"], "go-B/object")
			b.ReportMetric(p["Goroutines"], "goroutines/object")
		})
	}
}
