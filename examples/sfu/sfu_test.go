package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/trackstats/trackstats/cbindings/go/trackstats"
)

// The short run `make test` does: real PeerConnections on 127.0.0.1, and the
// end check passes.
func TestShortRun(t *testing.T) {
	var out bytes.Buffer
	err := run(config{publishers: 2, subscribers: 2, relays: 1, duration: 1500 * time.Millisecond,
		interval: 500 * time.Millisecond, metricsAddr: "127.0.0.1:0", top: 3, out: &out})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"── window 1 ", "relay-1", "exactly once. OK"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
	t.Log("\n" + out.String())
}

// The end check fails on any difference between the peers and trackstats.
func TestEndCheckCatchesDifferences(t *testing.T) {
	pub := &publisher{id: "pub-1", country: "FR",
		sentMedia: counts{packets: 10, bytes: 9000, frames: 3, skipped: 1, swapped: 2},
		sentData:  counts{packets: 4, bytes: 100}}
	sub := &subscriber{id: "sub-1", country: "DE", media: map[string]*counts{"pub-1/cam": {packets: 10, bytes: 9000}},
		data: map[string]*counts{"pub-1/chat": {packets: 4, bytes: 100}}}
	relay := &subscriber{id: "relay-1", relay: true, media: map[string]*counts{"pub-1/cam": {packets: 10, bytes: 9000}},
		data: map[string]*counts{}}
	exp := expected([]*publisher{pub}, []*subscriber{sub, relay})
	good := func() map[key]*sums {
		return map[key]*sums{
			{"pub-1", "pub-1/cam", "FR", trackstats.Up}:    {bytes: 9000, messages: 10, frames: 3, lost: 3, recovered: 2, outOfOrder: 2},
			{"pub-1", "pub-1/chat", "FR", trackstats.Up}:   {bytes: 100, messages: 4, frames: 4},
			{"sub-1", "pub-1/cam", "DE", trackstats.Down}:  {bytes: 9000, messages: 10},
			{"sub-1", "pub-1/chat", "DE", trackstats.Down}: {bytes: 100, messages: 4},
		}
	}
	metrics := totals{inBytes: 9100, inMessages: 14, outBytes: 9100, outMessages: 14}
	var out bytes.Buffer
	if !endCheck(&out, exp, good(), metrics) {
		t.Fatalf("the matching run failed:\n%s", out.String())
	}
	// Each break, and the line that must show it.
	breaks := []struct {
		name, shows string
		brk         func(map[key]*sums, *totals)
	}{
		{"a byte more up", "bytes 9,000≠9,001", func(g map[key]*sums, m *totals) {
			g[key{"pub-1", "pub-1/cam", "FR", trackstats.Up}].bytes++
			m.inBytes++
		}},
		{"a message less down", "msgs 4≠3", func(g map[key]*sums, m *totals) {
			g[key{"sub-1", "pub-1/chat", "DE", trackstats.Down}].messages--
			m.outMessages--
		}},
		{"one loss fewer", "lost 3≠2", func(g map[key]*sums, _ *totals) {
			g[key{"pub-1", "pub-1/cam", "FR", trackstats.Up}].lost--
		}},
		{"a missing report", "packets 10≠0", func(g map[key]*sums, m *totals) {
			delete(g, key{"sub-1", "pub-1/cam", "DE", trackstats.Down})
			m.outBytes -= 9000
			m.outMessages -= 10
		}},
		{"a relay counted", "reported but not expected: relay-1 pub-1/cam DOWNSTREAM", func(g map[key]*sums, m *totals) {
			g[key{"relay-1", "pub-1/cam", "", trackstats.Down}] = &sums{bytes: 9000, messages: 10}
			m.outBytes += 9000
			m.outMessages += 10
		}},
		{"metrics off", "outgoing bytes 9,101≠9,100", func(_ map[key]*sums, m *totals) { m.outBytes++ }},
	}
	for _, b := range breaks {
		g, m := good(), metrics
		b.brk(g, &m)
		out.Reset()
		if endCheck(&out, exp, g, m) {
			t.Errorf("%s: the end check passed:\n%s", b.name, out.String())
		}
		if !strings.Contains(out.String(), b.shows) || !strings.Contains(out.String(), "MISMATCH") {
			t.Errorf("%s: no %q MISMATCH in:\n%s", b.name, b.shows, out.String())
		}
	}
}

// The SFU maps a publisher's SSRCs to track ids from its offer.
func TestSSRCTracksFromOffer(t *testing.T) {
	sdp := "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" +
		"m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:96 VP8/90000\r\n" +
		"a=ssrc:1234 cname:x\r\na=ssrc:1234 msid:pub-1 pub-1/cam\r\n" +
		"m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:96 VP8/90000\r\n" +
		"a=ssrc:99 msid:pub-1 screen\r\n"
	got, err := ssrcTracks(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1234] != "pub-1/cam" || got[99] != "screen" {
		t.Fatalf("got %v", got)
	}
}
