package trackstats

// Recording in the shape of an SFU (make bench-go runs these apart from the
// other benchmarks):
//
//	BenchmarkSFU/<N>x10/<case>: N publishers, each forwarded to 10
//	  subscribers, every message recorded once up and 10 times down, each
//	  record finding its track's line cold. The host model is the one of
//	  benches/sfu.rs and cbindings/cpp/bench/sfu_bench.cpp: a publisher
//	  array, each publisher holding its up track's handle and a slice of
//	  its *sfuDown objects, one per subscriber, made as the subscriptions
//	  arrive in a shuffled order; publishers take turns, one message each,
//	  its size from a fixed mix. Cases differ only in the handle:
//	  none (no recording: the host's own work, subtracted from the others),
//	  bare (atomic.AddUint64 on a 128-byte word per track, one pointer
//	  away: the physical limit of the pattern), trackstats (a *Track, used
//	  through its exported methods only, in a registry with 1 s windows
//	  whose reports a consumer goroutine takes from Reports()), and livekit
//	  (the liveKitModel of bench_test.go, its four atomic adds per
//	  message). One op is one message (11 records). Metrics: cpu-ns/record,
//	  the forwarding thread's CPU time per record (on a shared machine,
//	  time descheduled is not the code's), and, where the machine has
//	  hardware counters, L1D and cache misses per record.
//	BenchmarkSFUProcess/<mode>: the 1,000 x 10 workload at 50 messages
//	  per second per publisher for TRACKSTATS_SFU_SECONDS (default 60), in
//	  a child process per mode, all modes at once: none, trackstats (5 s
//	  windows, a consumer taking every report), livekit (the model with
//	  its goroutine and 5 s ticker per track). Metrics: the child's CPU
//	  seconds over the run, its resident set at the end, its goroutines
//	  midway, GC cycles during the run, and the reports its consumer took.

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackstats/trackstats/cbindings/go/internal/clib"
)

const (
	sfuFanOut = 10
	// sfuSizes entries in the message size table (a power of two).
	sfuSizes = 4096
	// sfuRecords per message: one up, sfuFanOut down.
	sfuRecords = 1 + sfuFanOut
)

// splitmix64: the fixed sequence all three languages' SFU benches draw
// sizes and subscription order from.
type splitmix uint64

func (s *splitmix) next() uint64 {
	*s += 0x9E3779B97F4A7C15
	z := uint64(*s)
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// sfuMessageSizes is the message mix: 55% video packets (900-1199 B), 35%
// audio packets (80-179 B), 10% data messages (40-1039 B).
func sfuMessageSizes() []uint64 {
	rng := splitmix(0x5EED0001)
	out := make([]uint64, sfuSizes)
	for i := range out {
		r := rng.next()
		v := r >> 32
		switch c := r % 100; {
		case c < 55:
			out[i] = 900 + v%300
		case c < 90:
			out[i] = 80 + v%100
		default:
			out[i] = 40 + v%1000
		}
	}
	return out
}

// sfuSubscriptionOrder is every (publisher, subscriber) pair in the order
// the subscriptions arrive: shuffled (Fisher-Yates on the fixed sequence).
func sfuSubscriptionOrder(publishers int) [][2]int {
	pairs := make([][2]int, 0, publishers*sfuFanOut)
	for p := 0; p < publishers; p++ {
		for s := 0; s < sfuFanOut; s++ {
			pairs = append(pairs, [2]int{p, s})
		}
	}
	rng := splitmix(0x5EED0002)
	for i := len(pairs) - 1; i > 0; i-- {
		j := int(rng.next() % uint64(i+1))
		pairs[i], pairs[j] = pairs[j], pairs[i]
	}
	return pairs
}

// sfuKey: participant p publishes TR_p; its s-th subscriber is participant
// p+1+s (mod N). sub < 0 is the publisher's own (up) track.
func sfuKey(publishers, p, sub int) (participant, track string) {
	who := p
	if sub >= 0 {
		who = (p + 1 + sub) % publishers
	}
	return fmt.Sprintf("PA_%06d", who), fmt.Sprintf("TR_%06d", p)
}

// paddedWord is a bare counter alone on its 128 bytes (its line and the
// adjacent-line prefetcher's pair), as a trackstats slot is.
type paddedWord [16]uint64

// sfuHandles are what a host holds per track; each case sets one field.
type sfuHandles struct {
	track *Track
	word  *paddedWord
	lk    *liveKitModel
}

// sfuDown is the host's object for one subscriber's copy of a track.
type sfuDown struct {
	packets, bytes uint64
	sfuHandles
}

type sfuPublisher struct {
	packets, bytes uint64
	sfuHandles
	downs []*sfuDown
}

type sfuHost struct {
	pubs           []sfuPublisher
	sizes          []uint64
	next, nextSize int
}

// newSFUHost makes the handles first, in the order a host opens them (the
// publishers' up tracks, then each subscription as it arrives), by
// open(p, sub) with sub < 0 for up; then the host's own objects in the same
// order, so the host's layout is the same in every case.
func newSFUHost(publishers int, open func(p, sub int) sfuHandles) *sfuHost {
	order := sfuSubscriptionOrder(publishers)
	h := &sfuHost{pubs: make([]sfuPublisher, publishers), sizes: sfuMessageSizes()}
	for p := range h.pubs {
		h.pubs[p].sfuHandles = open(p, -1)
	}
	downs := make([]sfuHandles, len(order))
	for i, ps := range order {
		downs[i] = open(ps[0], ps[1])
	}
	for p := range h.pubs {
		h.pubs[p].downs = make([]*sfuDown, 0, sfuFanOut)
	}
	for i, ps := range order {
		h.pubs[ps[0]].downs = append(h.pubs[ps[0]].downs, &sfuDown{sfuHandles: downs[i]})
	}
	return h
}

// message picks the next publisher and size and bumps the publisher's own
// counters.
func (h *sfuHost) message() (*sfuPublisher, uint64) {
	n := h.sizes[h.nextSize]
	h.nextSize = (h.nextSize + 1) & (sfuSizes - 1)
	pub := &h.pubs[h.next]
	if h.next++; h.next == len(h.pubs) {
		h.next = 0
	}
	pub.packets++
	pub.bytes += n
	return pub, n
}

// The four forwarding loops differ only in the record; each is its own
// function so that no case pays for another's (an interface or function
// call per record would cost more than the add).

func (h *sfuHost) forwardNone(messages int) {
	for i := 0; i < messages; i++ {
		pub, n := h.message()
		for _, d := range pub.downs {
			d.packets++
			d.bytes += n
		}
	}
}

func (h *sfuHost) forwardBare(messages int) {
	for i := 0; i < messages; i++ {
		pub, n := h.message()
		atomic.AddUint64(&pub.word[0], clib.WordMessageOne|n)
		for _, d := range pub.downs {
			d.packets++
			d.bytes += n
			atomic.AddUint64(&d.word[0], clib.WordMessageOne|n)
		}
	}
}

func (h *sfuHost) forwardTrackstats(messages int) {
	for i := 0; i < messages; i++ {
		pub, n := h.message()
		pub.track.RecordUp(n)
		for _, d := range pub.downs {
			d.packets++
			d.bytes += n
			d.track.RecordDown(n)
		}
	}
}

func (h *sfuHost) forwardLiveKit(messages int) {
	for i := 0; i < messages; i++ {
		pub, n := h.message()
		pub.lk.AddBytes(n, false)
		for _, d := range pub.downs {
			d.packets++
			d.bytes += n
			d.lk.AddBytes(n, true)
		}
	}
}

// sfuPublisherCounts: the two workloads; a smoke size under -short.
func sfuPublisherCounts() []int {
	if testing.Short() {
		return []int{100}
	}
	return []int{1_000, 10_000}
}

func BenchmarkSFU(b *testing.B) {
	for _, n := range sfuPublisherCounts() {
		b.Run(fmt.Sprintf("%dx%d", n, sfuFanOut), func(b *testing.B) { benchSFU(b, n) })
	}
}

func benchSFU(b *testing.B, publishers int) {
	r := newRegistry(b, WithInterval(time.Second), WithReportChannel(4096))
	var taken atomic.Uint64
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		for range r.Reports() {
			taken.Add(1)
		}
	}()

	none := newSFUHost(publishers, func(int, int) sfuHandles { return sfuHandles{} })
	bare := newSFUHost(publishers, func(int, int) sfuHandles { return sfuHandles{word: new(paddedWord)} })
	var userData uint64
	tracks := newSFUHost(publishers, func(p, sub int) sfuHandles {
		participant, track := sfuKey(publishers, p, sub)
		userData++
		return sfuHandles{track: mustOpen(b, r, participant, track, "US", userData)}
	})
	livekit := newSFUHost(publishers, func(int, int) sfuHandles { return sfuHandles{lk: &liveKitModel{}} })

	for _, c := range []struct {
		name    string
		host    *sfuHost
		forward func(int)
	}{
		{"none", none, none.forwardNone},
		{"bare", bare, bare.forwardBare},
		{"trackstats", tracks, tracks.forwardTrackstats},
		{"livekit", livekit, livekit.forwardLiveKit},
	} {
		b.Run(c.name, func(b *testing.B) { measureSFU(b, publishers, c.forward) })
	}
	if err := r.Close(); err != nil {
		b.Fatal(err)
	}
	<-consumed
	if taken.Load() == 0 && !testing.Short() {
		b.Fatal("the consumer took no report")
	}
	runtime.KeepAlive(tracks)
}

// perfUnavailable says once why misses are not counted.
var perfUnavailable sync.Once

// measureSFU times forward(b.N) on one locked OS thread, after one untimed
// round over every publisher.
func measureSFU(b *testing.B, publishers int, forward func(int)) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	counters, err := openPerfCounters()
	if err == nil {
		defer counters.close()
	} else {
		perfUnavailable.Do(func() { fmt.Fprintf(os.Stderr, "BenchmarkSFU: misses not counted: %v\n", err) })
	}
	forward(publishers)
	b.ResetTimer()
	if counters != nil {
		counters.start()
	}
	start := threadCPUTime()
	forward(b.N)
	cpu := threadCPUTime() - start
	var misses [2]uint64
	if counters != nil {
		misses = counters.stop()
	}
	b.StopTimer()
	records := float64(b.N) * sfuRecords
	b.ReportMetric(float64(cpu.Nanoseconds())/records, "cpu-ns/record")
	if counters != nil {
		for i, name := range perfEventNames {
			b.ReportMetric(float64(misses[i])/records, name+"/record")
		}
	}
}

// The whole-process figures come from a child process per mode (this test
// binary, running TestSFUProcessProbe), so that each has its own runtime,
// heap and resident set.
const (
	sfuProcessEnv     = "TRACKSTATS_SFU_PROCESS"
	sfuSecondsEnv     = "TRACKSTATS_SFU_SECONDS"
	sfuProcessRate    = 50 // messages per second per publisher
	sfuProcessPubs    = 1_000
	sfuDefaultSeconds = 60
)

// sfuProcessResult is what one child measured over its run.
type sfuProcessResult struct {
	Seconds    float64
	CPUSeconds float64
	RSSBytes   uint64
	Goroutines int
	GCCycles   uint32
	Records    uint64
	Reports    uint64
}

// TestSFUProcessProbe runs one mode of the whole-process workload and prints
// its figures. It only runs in a child that BenchmarkSFUProcess starts.
func TestSFUProcessProbe(t *testing.T) {
	mode := os.Getenv(sfuProcessEnv)
	if mode == "" {
		t.Skip("run by BenchmarkSFUProcess in a child process")
	}
	seconds, err := strconv.ParseFloat(os.Getenv(sfuSecondsEnv), 64)
	if err != nil || seconds <= 0 {
		t.Fatalf("%s=%q: want seconds", sfuSecondsEnv, os.Getenv(sfuSecondsEnv))
	}
	res := runSFUProcess(t, mode, time.Duration(seconds*float64(time.Second)))
	out, _ := json.Marshal(res)
	fmt.Printf("sfuprocess %s\n", out)
}

// runSFUProcess builds the 1,000 x 10 host for mode, then forwards 50
// messages per second per publisher for d: one goroutine per CPU, each
// owning every GOMAXPROCS-th publisher and woken by its own 20 ms ticker to
// forward one message from each of them.
func runSFUProcess(t *testing.T, mode string, d time.Duration) sfuProcessResult {
	const publishers = sfuProcessPubs
	var reports atomic.Uint64
	var host *sfuHost
	var forward func(pub *sfuPublisher, n uint64)
	var stop func()
	switch mode {
	case "none":
		host = newSFUHost(publishers, func(int, int) sfuHandles { return sfuHandles{} })
		forward = func(pub *sfuPublisher, n uint64) {
			for _, d := range pub.downs {
				d.packets++
				d.bytes += n
			}
		}
		stop = func() {}
	case "trackstats":
		r, err := NewRegistry(WithReportChannel(4096))
		if err != nil {
			t.Fatal(err)
		}
		consumed := make(chan struct{})
		go func() {
			defer close(consumed)
			for range r.Reports() {
				reports.Add(1)
			}
		}()
		var userData uint64
		host = newSFUHost(publishers, func(p, sub int) sfuHandles {
			participant, track := sfuKey(publishers, p, sub)
			userData++
			return sfuHandles{track: mustOpen(t, r, participant, track, "US", userData)}
		})
		forward = func(pub *sfuPublisher, n uint64) {
			pub.track.RecordUp(n)
			for _, d := range pub.downs {
				d.packets++
				d.bytes += n
				d.track.RecordDown(n)
			}
		}
		stop = func() {
			if err := r.Close(); err != nil {
				t.Error(err)
			}
			<-consumed
		}
	case "livekit":
		var wg sync.WaitGroup
		var models []*liveKitModel
		host = newSFUHost(publishers, func(p, sub int) sfuHandles {
			participant, track := sfuKey(publishers, p, sub)
			m := &liveKitModel{country: "US", trackID: track, participantID: participant,
				onStats: func(string, string, bool, uint64, uint32) { reports.Add(1) }, done: make(chan struct{})}
			wg.Add(1)
			go m.worker(&wg)
			models = append(models, m)
			return sfuHandles{lk: m}
		})
		forward = func(pub *sfuPublisher, n uint64) {
			pub.lk.AddBytes(n, false)
			for _, d := range pub.downs {
				d.packets++
				d.bytes += n
				d.lk.AddBytes(n, true)
			}
		}
		stop = func() {
			for _, m := range models {
				close(m.done)
			}
			wg.Wait()
		}
	default:
		t.Fatalf("unknown mode %q", mode)
	}

	var gcBefore, gcAfter runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&gcBefore)
	cpuBefore, _ := processFigures()
	workers := runtime.GOMAXPROCS(0)
	var records atomic.Uint64
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			tick := time.NewTicker(time.Second / sfuProcessRate)
			defer tick.Stop()
			k := w
			var done uint64
			for now := range tick.C {
				if now.After(deadline) {
					break
				}
				for p := w; p < publishers; p += workers {
					pub := &host.pubs[p]
					n := host.sizes[k&(sfuSizes-1)]
					k++
					pub.packets++
					pub.bytes += n
					forward(pub, n)
					done += sfuRecords
				}
			}
			records.Add(done)
		}(w)
	}
	// Midway, every goroutine of the mode is running.
	time.Sleep(d / 2)
	goroutines := runtime.NumGoroutine()
	wg.Wait()
	cpuAfter, rss := processFigures()
	runtime.ReadMemStats(&gcAfter)
	stop()
	return sfuProcessResult{
		Seconds:    d.Seconds(),
		CPUSeconds: (cpuAfter - cpuBefore).Seconds(),
		RSSBytes:   rss,
		Goroutines: goroutines,
		GCCycles:   gcAfter.NumGC - gcBefore.NumGC,
		Records:    records.Load(),
		Reports:    reports.Load(),
	}
}

// BenchmarkSFUProcess runs every mode of the whole-process workload at
// once, each in its own child, and reports each child's figures.
func BenchmarkSFUProcess(b *testing.B) {
	seconds := os.Getenv(sfuSecondsEnv)
	if seconds == "" {
		seconds = strconv.Itoa(sfuDefaultSeconds)
	}
	modes := []string{"none", "trackstats", "livekit"}
	results := make([]sfuProcessResult, len(modes))
	errs := make([]error, len(modes))
	for i := 0; i < b.N; i++ {
		var wg sync.WaitGroup
		for m, mode := range modes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[m] = runChildProbe("TestSFUProcessProbe", "sfuprocess ", &results[m],
					sfuProcessEnv+"="+mode, sfuSecondsEnv+"="+seconds)
			}()
		}
		wg.Wait()
	}
	for m, mode := range modes {
		if errs[m] != nil {
			b.Fatal(errs[m])
		}
		res := results[m]
		b.Run(mode, func(b *testing.B) {
			b.ReportMetric(res.Seconds, "seconds")
			b.ReportMetric(res.CPUSeconds, "cpu-s")
			b.ReportMetric(float64(res.RSSBytes)/(1<<20), "RSS-MiB")
			b.ReportMetric(float64(res.Goroutines), "goroutines")
			b.ReportMetric(float64(res.GCCycles), "GC-cycles")
			b.ReportMetric(float64(res.Records), "records")
			b.ReportMetric(float64(res.Reports), "reports")
		})
	}
}
