// Command sfu runs a small selective forwarding unit on pion/webrtc with
// trackstats counting its traffic, all on 127.0.0.1: publishers send a VP8
// track and a data channel, the SFU forwards both to every subscriber, the
// tspion interceptor records the media and the SFU the data-channel
// messages. It prints trackstats' per-window tables, serves /metrics, and
// at the end holds each peer's own count of what it sent or received
// against trackstats' reports, exactly; it exits 1 on any difference.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/trackstats/trackstats/cbindings/go/trackstats"
)

type config struct {
	publishers, subscribers, relays int
	duration, interval              time.Duration
	metricsAddr                     string
	top                             int
	out                             io.Writer
}

func main() {
	cfg := config{out: os.Stdout}
	flag.IntVar(&cfg.publishers, "publishers", 2, "publishers, each sending a video track and a data channel")
	flag.IntVar(&cfg.subscribers, "subscribers", 3, "subscribers, each receiving every publisher")
	flag.IntVar(&cfg.relays, "relays", 1, "relay subscribers (other SFU nodes): forwarded to, not counted")
	flag.DurationVar(&cfg.duration, "duration", 7*time.Second, "how long the publishers send")
	flag.DurationVar(&cfg.interval, "interval", 2*time.Second, "trackstats window")
	flag.StringVar(&cfg.metricsAddr, "metrics", "127.0.0.1:0", "address serving /metrics (loopback)")
	flag.IntVar(&cfg.top, "top", 5, "tracks listed per window")
	flag.Parse()
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "sfu:", err)
		os.Exit(1)
	}
}

// The countries the peers connect from, in turn.
var countries = []string{"FR", "DE", "US", "BR", "JP", "IN", "NG", "SE"}

// setupTimeout bounds connecting every peer, and then delivering what was
// sent, on a loaded machine.
const setupTimeout = 30 * time.Second

func run(cfg config) (err error) {
	if cfg.publishers < 1 || cfg.subscribers < 0 || cfg.relays < 0 || cfg.duration <= 0 {
		return errors.New("need at least one publisher, a positive duration, and no negative counts")
	}
	reg, err := trackstats.NewRegistry(trackstats.WithInterval(cfg.interval))
	if err != nil {
		return err
	}
	defer reg.Close()
	metricsURL, stopMetrics, err := serveMetrics(cfg.metricsAddr, reg)
	if err != nil {
		return err
	}
	defer stopMetrics()
	col := startCollector(reg, &printer{out: cfg.out, interval: cfg.interval, top: cfg.top})

	s, err := newSFU(reg)
	if err != nil {
		return err
	}
	var pubs []*publisher
	var subs []*subscriber
	defer func() {
		// Idempotent; what the normal path already closed stays closed.
		for _, p := range pubs {
			_ = p.pc.Close()
		}
		for _, sub := range subs {
			_ = sub.pc.Close()
		}
		_ = s.close()
	}()

	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	for i := 1; i <= cfg.publishers; i++ {
		p, err := newPublisher(ctx, s, fmt.Sprintf("pub-%d", i), countries[(i-1)%len(countries)])
		if p != nil {
			pubs = append(pubs, p)
		}
		if err != nil {
			return fmt.Errorf("publisher %d: %w", i, err)
		}
	}
	// Subscribers connect to what is published: wait for every publisher's
	// data channel to reach the SFU.
	if !waitUntil(setupTimeout, func() bool {
		published, _ := s.dataChannels()
		return published == cfg.publishers
	}) {
		return errors.New("the publishers' data channels did not open")
	}
	for j := 1; j <= cfg.subscribers+cfg.relays; j++ {
		id, country, relay := fmt.Sprintf("sub-%d", j), countries[(cfg.publishers+j-1)%len(countries)], false
		if j > cfg.subscribers {
			id, country, relay = fmt.Sprintf("relay-%d", j-cfg.subscribers), "", true
		}
		sub, err := newSubscriber(ctx, s, id, country, relay)
		if sub != nil {
			subs = append(subs, sub)
		}
		if err != nil {
			return fmt.Errorf("subscriber %s: %w", id, err)
		}
	}
	downstreams := cfg.publishers * (cfg.subscribers + cfg.relays)
	ready := waitUntil(setupTimeout, func() bool {
		pcs := s.peerConnections()
		for _, p := range pubs {
			pcs = append(pcs, p.pc)
		}
		for _, sub := range subs {
			pcs = append(pcs, sub.pc)
		}
		up, down := s.bound()
		_, open := s.dataChannels()
		return connected(pcs...) && up == cfg.publishers && down == downstreams &&
			open == downstreams && subscribersHaveData(subs, cfg.publishers)
	})
	if !ready {
		return errors.New("the peers did not all connect")
	}
	fmt.Fprintf(cfg.out, "trackstats pion SFU: %d publishers, %d subscribers, %d relay subscribers; WebRTC on 127.0.0.1 "+
		"(ICE, DTLS, SRTP, SCTP), %v windows, %v; metrics at %s\n\n",
		cfg.publishers, cfg.subscribers, cfg.relays, cfg.interval, cfg.duration, metricsURL)

	var wg sync.WaitGroup
	for _, p := range pubs {
		wg.Add(1)
		go func() { defer wg.Done(); p.run(cfg.duration) }()
	}
	wg.Wait()
	// Whatever was sent arrives (or the check shows what did not).
	waitUntil(setupTimeout, func() bool { return delivered(pubs, subs) })

	// Closing the SFU's PeerConnections unbinds their streams: the
	// interceptor closes their tracks, whose final reports follow.
	closeErr := s.close()
	for _, p := range pubs {
		closeErr = errors.Join(closeErr, p.pc.Close())
	}
	for _, sub := range subs {
		closeErr = errors.Join(closeErr, sub.pc.Close())
	}
	if closeErr != nil {
		return closeErr
	}
	exp := expected(pubs, subs)
	scraped, scrapeErr := scrapeUntil(metricsURL, exp.metrics, 5*time.Second)
	if err := reg.Close(); err != nil {
		return err
	}
	got := col.stop()
	if scrapeErr != nil {
		return scrapeErr
	}
	if !endCheck(cfg.out, exp, got, scraped) {
		return errors.New("end check failed: trackstats' reports differ from the peers' own counts")
	}
	return nil
}

// subscribersHaveData: each subscriber has a data channel per publisher.
func subscribersHaveData(subs []*subscriber, publishers int) bool {
	for _, sub := range subs {
		sub.mu.Lock()
		n := len(sub.data)
		sub.mu.Unlock()
		if n != publishers {
			return false
		}
	}
	return true
}

// delivered: every subscriber received everything every publisher sent.
func delivered(pubs []*publisher, subs []*subscriber) bool {
	for _, p := range pubs {
		media, data := trackIDs(p.id)
		for _, sub := range subs {
			if sub.got(true, media).packets != p.sentMedia.packets || sub.got(false, data).packets != p.sentData.packets {
				return false
			}
		}
	}
	return true
}

// collector drains the registry every 50 ms into the printer and the sums.
type collector struct {
	reg  *trackstats.Registry
	p    *printer
	sums map[key]*sums
	quit chan struct{}
	done chan struct{}
}

func startCollector(reg *trackstats.Registry, p *printer) *collector {
	c := &collector{reg: reg, p: p, sums: map[key]*sums{}, quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-c.quit:
				return
			case <-t.C:
				c.drain()
			}
		}
	}()
	return c
}

func (c *collector) drain() {
	batch, err := c.reg.Drain(nil)
	if err != nil {
		fmt.Fprintln(c.p.out, "sfu: drain:", err)
	}
	for i := range batch {
		k := keyOf(&batch[i])
		if c.sums[k] == nil {
			c.sums[k] = &sums{}
		}
		c.sums[k].add(&batch[i])
	}
	c.p.take(batch)
}

// stop takes what the registry's Close left, prints the last tables and
// returns every report's sums. Call it after Registry.Close.
func (c *collector) stop() map[key]*sums {
	close(c.quit)
	<-c.done
	c.drain()
	c.p.finish()
	return c.sums
}

// serveMetrics serves the registry's counters on addr's /metrics until
// stop. This is the one place that picks the exposition.
func serveMetrics(addr string, reg *trackstats.Registry) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", reg.MetricsHandler(trackstats.PrometheusOptions{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String() + "/metrics", func() { _ = srv.Close() }, nil
}
