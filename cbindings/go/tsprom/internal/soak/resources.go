package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

// snapshot is the process's resources at one moment.
type snapshot struct {
	rss        uint64 // bytes
	threads    int
	fds        int
	goroutines int
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

func take() snapshot {
	s := snapshot{goroutines: runtime.NumGoroutine()}
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			k, v, ok := bytes.Cut(sc.Bytes(), []byte(":"))
			if !ok {
				continue
			}
			f := bytes.Fields(v)
			if len(f) == 0 {
				continue
			}
			n, _ := strconv.ParseUint(string(f[0]), 10, 64)
			switch string(k) {
			case "VmRSS":
				s.rss = n << 10 // kB
			case "Threads":
				s.threads = int(n)
			}
		}
	}
	// ReadDir holds one descriptor of its own while it reads: the same one
	// at every count.
	if es, err := os.ReadDir("/proc/self/fd"); err == nil {
		s.fds = len(es)
	}
	return s
}

// resources keeps the warm-up peaks and checks later samples against them.
type resources struct {
	cfg  config
	last snapshot
	// The warm-up's peak RSS (the first two generations) and thread count
	// between generations; the goroutines and descriptors between the first
	// two generations.
	warmRSS     uint64
	warm        bool // warm-up is over: warmRSS is the peak
	warmThreads int
	baseG       int
	baseFDs     int
	rssOver     bool
}

func newResources(cfg config) *resources { return &resources{cfg: cfg, last: take()} }

func (r *resources) bound() uint64 {
	return uint64(float64(r.warmRSS)*(1+r.cfg.rssGrowth)) + uint64(r.cfg.rssSlackMiB)<<20
}

func (r *resources) boundText() string {
	if !r.warm {
		return "warming up"
	}
	return fmt.Sprintf("%.1f MiB", mib(r.bound()))
}

// sample is the once-a-second look at RSS: it sets the warm-up peak, and
// after warm-up checks the bound (one violation per crossing).
func (r *resources) sample(warm bool) {
	r.last = take()
	if !warm {
		r.warmRSS = max(r.warmRSS, r.last.rss)
		return
	}
	r.warm = true
	over := r.last.rss > r.bound()
	if over && !r.rssOver {
		violate("rss: %.1f MiB over the bound %.1f MiB (warm-up peak %.1f MiB)", mib(r.last.rss), mib(r.bound()), mib(r.warmRSS))
	}
	r.rssOver = over
}

// betweenGenerations checks goroutines, descriptors and threads when no
// registry is open: after generation 1 they set the baseline; later ones
// must come back to it within two seconds (finalizers and exiting
// goroutines settle), threads within the slack of the warm-up peak.
func (r *resources) betweenGenerations(g int) {
	s := take()
	if g == 1 {
		r.baseG, r.baseFDs, r.warmThreads = s.goroutines, s.fds, s.threads
		r.last = s
		return
	}
	deadline := time.Now().Add(2 * time.Second)
	for (s.goroutines > r.baseG || s.fds > r.baseFDs) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		s = take()
	}
	r.last = s
	if s.goroutines > r.baseG {
		violate("goroutines: %d between generations %d and %d, %d after the first", s.goroutines, g, g+1, r.baseG)
	}
	if s.fds > r.baseFDs {
		violate("fds: %d between generations %d and %d, %d after the first", s.fds, g, g+1, r.baseFDs)
	}
	if g <= 2 {
		r.warmThreads = max(r.warmThreads, s.threads)
	} else if s.threads > r.warmThreads+r.cfg.threadSlack {
		violate("threads: %d between generations %d and %d, warm-up peak %d + slack %d", s.threads, g, g+1, r.warmThreads, r.cfg.threadSlack)
	}
}
