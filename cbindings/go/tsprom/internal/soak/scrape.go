package main

import (
	"errors"
	"sync"
	"time"

	"github.com/trackstats/trackstats/cbindings/go/trackstats"
)

// current is the generation the scraper reads (nil between generations).
type current struct {
	mu  sync.Mutex
	gen *generation
}

func (c *current) set(g *generation) {
	c.mu.Lock()
	c.gen = g
	c.mu.Unlock()
}

func (c *current) regs() []*reg {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == nil {
		return nil
	}
	return c.gen.regs
}

// scrape reads every open registry every 100 ms as a metrics endpoint
// would: Figures (whose traffic must never go backwards), the Prometheus
// exposition with per-track series, and the tsprom collector. Each read is
// timed; one over maxScrape is a violation (a scrape must not wait for a
// sink, stuck or not). A registry closed under it is skipped.
func scrape(cur *current, maxScrape time.Duration, stop <-chan struct{}) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		for _, rg := range cur.regs() {
			timed(rg, "Figures", maxScrape, func() error {
				f, err := rg.r.Figures()
				if err != nil {
					return err
				}
				total := f.Total(trackstats.Up).Bytes + f.Total(trackstats.Down).Bytes
				if total < rg.lastTotal {
					violate("figures: %s: traffic went back from %d to %d bytes", rg.name, rg.lastTotal, total)
				}
				rg.lastTotal = total
				return nil
			})
			timed(rg, "Prometheus", maxScrape, func() error {
				_, err := rg.r.Prometheus(trackstats.PrometheusOptions{PerTrack: true, MaxTrackSeries: 200})
				return err
			})
			timed(rg, "tsprom", maxScrape, func() error {
				_, err := rg.prom.Gather()
				return err
			})
		}
	}
}

func timed(rg *reg, what string, maxScrape time.Duration, f func() error) {
	start := time.Now()
	err := f()
	d := time.Since(start)
	if errors.Is(err, trackstats.ErrRegistryClosed) {
		return
	}
	if err != nil {
		violate("scrape: %s: %s: %v", rg.name, what, err)
	}
	stats.scrapes.Add(1)
	for {
		m := stats.maxScrapeNS.Load()
		if int64(d) <= m || stats.maxScrapeNS.CompareAndSwap(m, int64(d)) {
			break
		}
	}
	if d > maxScrape {
		violate("scrape: %s: %s took %v (at most %v)", rg.name, what, d, maxScrape)
	}
}
