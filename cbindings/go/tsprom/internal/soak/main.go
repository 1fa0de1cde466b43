// Command soak runs the Go binding's public API under churn for a long time
// (make soak; 10 minutes by default) and fails on any broken promise:
//
//   - track churn: workers open tracks, record on them from several
//     goroutines (RecordUp, RecordDown, RecordBatch, RecordUpPacket, some
//     records racing Close), close most and drop the rest without Close;
//     a thousand tracks per registry stay open across a generation;
//   - three registries at once, one per delivery: pull (Drain, by a
//     consumer that stalls now and then), a report channel (a consumer
//     that stops receiving now and then) and a dispatcher (listeners, some
//     slow, one now and then stuck for seconds);
//   - collector pressure: allocation churn and runtime.GC;
//   - scrapes all along: Registry.Figures, the Prometheus exposition and
//     the tsprom collector (client_golang's Gather), each timed;
//   - restarts: every generation's registries are closed and new ones
//     made.
//
// Checks, each a violation that makes the exit status 1: every recorded
// byte and message is reported exactly once, per track and direction, once
// its registry is closed (a track's Totals agree too), and no report names
// a track that was never opened; the figures never go backwards; a scrape
// takes at most -max-scrape; after warm-up (two generations), RSS stays
// within -rss-growth and -rss-slack-mib of the warm-up peak; between
// generations, when no registry is open, goroutines and file descriptors
// come back to the first generation's count and OS threads stay within
// -thread-slack of the warm-up peak.
//
// One summary line per -every (a minute), and a last one. -inject breaks
// one thing on purpose, to see each check fail: sum (a byte recorded that
// the ledger does not know), goroutine (one leaked per generation), fd (one
// file left open per generation), rss (8 MiB kept per generation).
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type config struct {
	duration, every, restart time.Duration
	workers, held            int
	maxScrape                time.Duration
	rssGrowth                float64
	rssSlackMiB              int
	threadSlack              int
	inject                   string
}

// counters are the run's totals for the summary lines.
type counters struct {
	opened, closed, dropped atomic.Uint64
	bytesRecorded, bytesRep atomic.Uint64
	scrapes                 atomic.Uint64
	maxScrapeNS             atomic.Int64
	generations             atomic.Uint64
}

var stats counters

// violations are the broken promises seen so far; each is printed when
// found.
var violations struct {
	mu   sync.Mutex
	n    int
	seen map[string]int
}

// violate records a broken promise. The same kind of message (its text up
// to the first ':') is printed at most five times.
func violate(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	kind, _, _ := strings.Cut(msg, ":")
	violations.mu.Lock()
	defer violations.mu.Unlock()
	violations.n++
	if violations.seen == nil {
		violations.seen = map[string]int{}
	}
	violations.seen[kind]++
	if violations.seen[kind] <= 5 {
		fmt.Fprintf(os.Stderr, "soak: VIOLATION %s\n", msg)
	}
}

func violationCount() int {
	violations.mu.Lock()
	defer violations.mu.Unlock()
	return violations.n
}

func main() {
	var cfg config
	flag.DurationVar(&cfg.duration, "duration", 10*time.Minute, "how long to run")
	flag.DurationVar(&cfg.every, "every", time.Minute, "summary line interval")
	flag.DurationVar(&cfg.restart, "restart", 0, "generation length: registries closed and made anew (default duration/10, 5 s to 30 s)")
	flag.IntVar(&cfg.workers, "workers", 3, "churning goroutines per registry")
	flag.IntVar(&cfg.held, "held", 1000, "tracks per registry open for a whole generation")
	flag.DurationVar(&cfg.maxScrape, "max-scrape", time.Second, "the longest a scrape may take")
	flag.Float64Var(&cfg.rssGrowth, "rss-growth", 0.25, "RSS bound after warm-up: peak * (1 + this) + rss-slack-mib")
	flag.IntVar(&cfg.rssSlackMiB, "rss-slack-mib", 32, "see rss-growth")
	flag.IntVar(&cfg.threadSlack, "thread-slack", 4, "OS threads between generations may exceed the warm-up peak by this many")
	flag.StringVar(&cfg.inject, "inject", "", "break one thing on purpose: sum, goroutine, fd or rss")
	flag.Parse()
	if cfg.restart == 0 {
		cfg.restart = min(max(cfg.duration/10, 5*time.Second), 30*time.Second)
	}
	switch cfg.inject {
	case "", "sum", "goroutine", "fd", "rss":
	default:
		fmt.Fprintf(os.Stderr, "soak: unknown -inject %q\n", cfg.inject)
		os.Exit(2)
	}
	os.Exit(run(cfg))
}

func run(cfg config) int {
	fmt.Printf("soak: %v, a generation every %v, %d workers and %d held tracks per registry, 3 registries; inject %q\n",
		cfg.duration, cfg.restart, cfg.workers, cfg.held, cfg.inject)
	start := time.Now()
	stop := make(chan struct{})
	var bg sync.WaitGroup
	cur := &current{}
	bg.Add(2)
	go func() { defer bg.Done(); churnHeap(stop) }()
	go func() { defer bg.Done(); scrape(cur, cfg.maxScrape, stop) }()

	res := newResources(cfg)
	sampler := time.NewTicker(time.Second)
	defer sampler.Stop()
	next := start.Add(cfg.every)
	var kept [][]byte // -inject rss
	for g := 1; ; g++ {
		gen, err := startGeneration(g, cfg)
		if err != nil {
			violate("generation %d: cannot start: %v", g, err)
			break
		}
		cur.set(gen)
		end := time.Now().Add(cfg.restart)
		if rest := time.Until(start.Add(cfg.duration)); rest < cfg.restart {
			end = time.Now().Add(rest)
		}
		for time.Now().Before(end) {
			<-sampler.C
			res.sample(g > 2)
			if time.Now().After(next) {
				summary(time.Since(start), res)
				next = next.Add(cfg.every)
			}
		}
		cur.set(nil)
		gen.finish()
		stats.generations.Add(1)
		switch cfg.inject {
		case "goroutine":
			go func() { select {} }()
		case "fd":
			if f, err := os.Open(os.DevNull); err == nil {
				defer f.Close()
			}
		case "rss":
			b := make([]byte, 8<<20)
			for i := range b {
				b[i] = byte(i)
			}
			kept = append(kept, b)
		}
		res.betweenGenerations(g)
		if time.Since(start) >= cfg.duration {
			break
		}
	}
	close(stop)
	bg.Wait()
	runtime.KeepAlive(kept)
	summary(time.Since(start), res)
	n := violationCount()
	if n > 0 {
		fmt.Printf("soak: FAIL, %d violations\n", n)
		return 1
	}
	fmt.Println("soak: PASS")
	return 0
}

// summary prints one line; the scrape maximum is per line.
func summary(elapsed time.Duration, res *resources) {
	s := res.last
	fmt.Printf("soak %6s: tracks opened %d closed %d dropped %d | bytes recorded %d reported %d | rss %.1f MiB (bound %s) | goroutines %d threads %d fds %d | scrapes %d, max %.1f ms | generations %d | violations %d\n",
		elapsed.Round(time.Second), stats.opened.Load(), stats.closed.Load(), stats.dropped.Load(),
		stats.bytesRecorded.Load(), stats.bytesRep.Load(), mib(s.rss), res.boundText(),
		s.goroutines, s.threads, s.fds, stats.scrapes.Load(), float64(stats.maxScrapeNS.Swap(0))/1e6,
		stats.generations.Load(), violationCount())
}

// churnHeap is the collector pressure: a ring of 16 buffers of 256 KiB
// replaced every 10 ms, and a forced collection every 2 s.
func churnHeap(stop <-chan struct{}) {
	var ring [16][]byte
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		ring[i%len(ring)] = make([]byte, 256<<10)
		if i%200 == 0 {
			runtime.GC()
		}
	}
}
