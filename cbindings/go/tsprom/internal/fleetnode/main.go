// Command fleetnode is one SFU node of the fleet test (scripts/fleet_e2e.py):
// a data track flows publisher -> home -> relay -> edge over loopback TCP,
// each node counting it with trackstats as LiveKit does and serving its
// figures through the tsprom collector, registered under its node_id with
// prometheus.WrapRegistererWith, on its own /metrics.
//
//   - home: the publisher's node. It makes the messages, records each on
//     the publisher's track (UPSTREAM) and on its local subscribers'
//     (DOWNSTREAM), and forwards it.
//   - relay: holds the relayed copy of the track as a nil *trackstats.Track
//     (LiveKit's relay case: those bytes are the home node's), records its
//     subscribers', forwards.
//   - edge: as the relay, without forwarding.
//
// When the stream ends a node closes its tracks, waits until its figures
// hold every byte it recorded (one window at most), writes what it
// recorded to -truth, and serves /metrics until its standard input closes
// or -hold passes; then it exits by itself. Every address is on the
// loopback.
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/trackstats/trackstats/cbindings/go/trackstats"
	"github.com/trackstats/trackstats/cbindings/go/tsprom"
)

// truth is what one node recorded, as the test compares it with Prometheus.
type truth struct {
	Node         string `json:"node"`
	UpBytes      uint64 `json:"up_bytes"`
	UpMessages   uint64 `json:"up_messages"`
	DownBytes    uint64 `json:"down_bytes"`
	DownMessages uint64 `json:"down_messages"`
}

// subscriber is one local subscriber's track.
type subscriber struct {
	track *trackstats.Track
}

const trackID = "TR_data"

func main() {
	node := flag.String("node", "", "home, relay or edge")
	metricsAddr := flag.String("metrics", "127.0.0.1:0", "where /metrics is served (loopback)")
	listen := flag.String("listen", "", "relay, edge: where the previous node connects (loopback)")
	next := flag.String("next", "", "home, relay: the next node's -listen address")
	subs := flag.String("subscribers", "", "local subscribers, participant:country,...")
	messages := flag.Int("messages", 20000, "home: messages the publisher sends")
	interval := flag.Duration("interval", 200*time.Millisecond, "trackstats window")
	truthPath := flag.String("truth", "", "where to write what this node recorded")
	hold := flag.Duration("hold", 120*time.Second, "the longest this node runs")
	flag.Parse()
	if *node == "" || *truthPath == "" {
		log.Fatal("fleetnode: -node and -truth are required")
	}
	for _, a := range []string{*metricsAddr, *listen, *next} {
		if a != "" && !strings.HasPrefix(a, "127.0.0.1:") {
			log.Fatalf("fleetnode: %s is not a loopback address", a)
		}
	}
	deadline := time.AfterFunc(*hold, func() { log.Printf("%s: -hold passed", *node); os.Exit(1) })
	defer deadline.Stop()

	reg, err := trackstats.NewRegistry(trackstats.WithInterval(*interval))
	check(err)
	c, err := tsprom.New(reg, tsprom.WithTrackSeries(100))
	check(err)
	prom := prometheus.NewRegistry()
	prometheus.WrapRegistererWith(prometheus.Labels{"node_id": *node}, prom).MustRegister(c)
	ln, err := net.Listen("tcp", *metricsAddr)
	check(err)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(prom, promhttp.HandlerOpts{}))
	go func() { _ = http.Serve(ln, mux) }()
	log.Printf("%s: /metrics on %s", *node, ln.Addr())

	var t truth
	t.Node = *node
	var locals []subscriber
	for _, s := range strings.Split(*subs, ",") {
		if s == "" {
			continue
		}
		p, country, _ := strings.Cut(s, ":")
		tk, err := reg.OpenTrack(p, trackID, country, 0)
		check(err)
		locals = append(locals, subscriber{tk})
	}
	// The publisher's track on its home node; a relayed copy elsewhere is
	// nil, and recording on it is a no-op.
	var copyTrack *trackstats.Track
	if *node == "home" {
		copyTrack, err = reg.OpenTrack("PA_pub", trackID, "DE", 0)
		check(err)
	}
	var conn net.Conn
	var out *bufio.Writer
	if *next != "" {
		conn = dial(*next)
		out = bufio.NewWriter(conn)
	}
	forward := func(msg []byte) {
		n := uint64(len(msg))
		copyTrack.RecordUp(n)
		if copyTrack != nil {
			t.UpBytes += n
			t.UpMessages++
		}
		for _, s := range locals {
			s.track.RecordDown(n)
			t.DownBytes += n
			t.DownMessages++
		}
		if out != nil {
			var hdr [4]byte
			binary.BigEndian.PutUint32(hdr[:], uint32(n))
			_, err := out.Write(hdr[:])
			check(err)
			_, err = out.Write(msg)
			check(err)
		}
	}
	if *node == "home" {
		publish(*messages, forward)
	} else {
		receive(*listen, forward)
	}
	if out != nil {
		check(out.Flush())
		check(conn.Close()) // the next node's end of the stream
	}

	// The end of the stream: close every track (its final window is
	// reported at once) and wait for the figures to hold it all.
	for _, s := range locals {
		check(s.track.Close())
	}
	if copyTrack != nil {
		check(copyTrack.Close())
	}
	waitForFigures(reg, t)
	b, err := json.Marshal(t)
	check(err)
	check(os.WriteFile(*truthPath, b, 0o644))
	log.Printf("%s: recorded %+v", *node, t)

	// Serve until the test is done with us (stdin closes) or -hold passes.
	_, _ = io.Copy(io.Discard, os.Stdin)
	check(reg.Close())
}

// publish sends n messages of 40 to 1439 bytes, a few windows' worth.
func publish(n int, forward func([]byte)) {
	buf := make([]byte, 1440)
	x := uint64(0x2545F4914F6CDD1D)
	for i := 0; i < n; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		forward(buf[:40+x%1400])
		if i%500 == 499 {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// receive takes one connection's length-prefixed messages until it closes.
func receive(addr string, forward func([]byte)) {
	ln, err := net.Listen("tcp", addr)
	check(err)
	defer ln.Close()
	conn, err := ln.Accept()
	check(err)
	defer conn.Close()
	in := bufio.NewReader(conn)
	buf := make([]byte, 1<<16)
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(in, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return
			}
			check(err)
		}
		n := binary.BigEndian.Uint32(hdr[:])
		_, err := io.ReadFull(in, buf[:n])
		check(err)
		forward(buf[:n])
	}
}

// dial connects to the next node, which may still be starting.
func dial(addr string) net.Conn {
	for start := time.Now(); ; {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			return conn
		}
		if time.Since(start) > 30*time.Second {
			check(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitForFigures returns once the registry's figures hold everything the
// node recorded: at most one window after the last close.
func waitForFigures(reg *trackstats.Registry, t truth) {
	var f trackstats.Figures
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		check(reg.ReadFigures(&f))
		up, down := f.Total(trackstats.Up), f.Total(trackstats.Down)
		if up == (trackstats.Traffic{Bytes: t.UpBytes, Messages: t.UpMessages}) &&
			down == (trackstats.Traffic{Bytes: t.DownBytes, Messages: t.DownMessages}) {
			return
		}
		if time.Since(start) > 30*time.Second {
			log.Fatalf("%s: figures %+v / %+v never reached %+v", t.Node, up, down, t)
		}
	}
}

func check(err error) {
	if err != nil {
		log.Output(2, fmt.Sprint("fleetnode: ", err))
		os.Exit(1)
	}
}
