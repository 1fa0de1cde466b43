package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/trackstats/trackstats/cbindings/go/trackstats"
)

// The end check holds each peer's own count against trackstats' reports:
//
//   - a publisher's media track: the RTP packets its PeerConnection sent
//     (written without error), their bytes (header, payload and padding,
//     as pion marshals them for SRTP: no SRTP tag, no UDP, DTLS or ICE),
//     frames (marker bits), and the packets it skipped and swapped, against
//     the UPSTREAM reports' bytes, messages, frames, lost, recovered and out
//     of order counts;
//   - a publisher's data channel: messages sent and their payload bytes
//     (no SCTP, DTLS or DCEP framing), against UPSTREAM, with no loss;
//   - a subscriber's copy of each track: what its PeerConnection received
//     (RTP packets and their bytes as pion returns them after SRTP; data
//     messages and their payload bytes), against DOWNSTREAM;
//   - a relay: what it received, against no report at all;
//   - /metrics: the incoming and outgoing byte and message totals, against
//     the sums of the UPSTREAM and DOWNSTREAM reports.

// row is one (peer, track) to check.
type row struct {
	k     key
	media bool
	relay bool
	// peer is what the peer counted; want the sums trackstats must report.
	peer counts
	want sums
}

type totals struct{ inBytes, inMessages, outBytes, outMessages uint64 }

type expectation struct {
	rows    []row
	metrics totals
}

// expected builds the rows from the peers' own counts. Call it once every
// peer has stopped.
func expected(pubs []*publisher, subs []*subscriber) expectation {
	var e expectation
	for _, p := range pubs {
		media, data := trackIDs(p.id)
		m, d := p.sentMedia, p.sentData
		e.rows = append(e.rows,
			row{k: key{p.id, media, p.country, trackstats.Up}, media: true, peer: m, want: sums{
				bytes: m.bytes, messages: m.packets, frames: m.frames,
				// A swapped pair counts one lost and then recovers it.
				lost: m.skipped + m.swapped, recovered: m.swapped, outOfOrder: m.swapped,
			}},
			// Each message is a frame.
			row{k: key{p.id, data, p.country, trackstats.Up}, peer: d, want: sums{bytes: d.bytes, messages: d.packets, frames: d.packets}},
		)
		e.metrics.inBytes += m.bytes + d.bytes
		e.metrics.inMessages += m.packets + d.packets
	}
	for _, sub := range subs {
		for _, p := range pubs {
			media, data := trackIDs(p.id)
			for _, isMedia := range []bool{true, false} {
				track := data
				if isMedia {
					track = media
				}
				c := sub.got(isMedia, track)
				r := row{k: key{sub.id, track, sub.country, trackstats.Down}, media: isMedia, relay: sub.relay, peer: c}
				if !sub.relay {
					r.want = sums{bytes: c.bytes, messages: c.packets}
					e.metrics.outBytes += c.bytes
					e.metrics.outMessages += c.packets
				}
				e.rows = append(e.rows, r)
			}
		}
	}
	return e
}

// endCheck prints the check and reports whether everything matched.
func endCheck(out io.Writer, e expectation, got map[key]*sums, scraped totals) bool {
	fmt.Fprintln(out, "── end check: each peer's own count = trackstats' reports ──")
	fmt.Fprintln(out, "  media bytes: RTP header + payload + padding, as SRTP protects and unprotects them; data bytes: message payloads")
	fmt.Fprintln(out, "  a publisher's lost = packets it skipped + pairs it swapped; recovered = out of order = pairs swapped")
	ok := true
	seen := map[key]bool{}
	relays := map[string]bool{}
	for _, r := range e.rows {
		seen[r.k] = true
		country := r.k.country
		if country == "" {
			country = "--"
		}
		unit := "msgs"
		if r.media {
			unit = "packets"
		}
		if r.relay {
			relays[r.k.participant] = true
			fmt.Fprintf(out, "  %-8s %-10s %-3s %-10s received %s %s, %s bytes: not counted (relay), no report\n",
				r.k.participant, r.k.track, country, streamType(r.k.dir), grouped(r.peer.packets), unit, grouped(r.peer.bytes))
			continue
		}
		g := got[r.k]
		if g == nil {
			g = &sums{}
		}
		line := fmt.Sprintf("  %-8s %-10s %-3s %-10s %s %s  bytes %s", r.k.participant, r.k.track, country,
			streamType(r.k.dir), unit, pair(r.want.messages, g.messages), pair(r.want.bytes, g.bytes))
		if r.k.dir == trackstats.Up {
			line += fmt.Sprintf("  frames %s  lost %s  recovered %s  out of order %s  duplicated %s",
				pair(r.want.frames, g.frames), pair(r.want.lost, g.lost), pair(r.want.recovered, g.recovered),
				pair(r.want.outOfOrder, g.outOfOrder), pair(r.want.duplicated, g.duplicated))
		}
		if *g == r.want && r.peer.packets > 0 {
			line += "  ok"
		} else {
			line += "  MISMATCH"
			ok = false
		}
		fmt.Fprintln(out, line)
	}
	// Nothing reported that no peer accounts for, and nothing for a relay.
	var extra []string
	var sumUp, sumDown totals
	for k, s := range got {
		if k.dir == trackstats.Up {
			sumUp.inBytes += s.bytes
			sumUp.inMessages += s.messages
		} else {
			sumDown.outBytes += s.bytes
			sumDown.outMessages += s.messages
		}
		if !seen[k] || relays[k.participant] {
			extra = append(extra, fmt.Sprintf("%s %s %s", k.participant, k.track, streamType(k.dir)))
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		fmt.Fprintf(out, "  reported but not expected: %s  MISMATCH\n", strings.Join(extra, "; "))
		ok = false
	}
	// The rows hold the reports to the peers; this holds /metrics to the
	// reports.
	metricsOK := scraped.inBytes == sumUp.inBytes && scraped.inMessages == sumUp.inMessages &&
		scraped.outBytes == sumDown.outBytes && scraped.outMessages == sumDown.outMessages
	verdict := "ok"
	if !metricsOK {
		verdict = "MISMATCH"
		ok = false
	}
	fmt.Fprintf(out, "  /metrics  incoming bytes %s msgs %s, outgoing bytes %s msgs %s (= the reports' sums)  %s\n",
		pair(scraped.inBytes, sumUp.inBytes), pair(scraped.inMessages, sumUp.inMessages),
		pair(scraped.outBytes, sumDown.outBytes), pair(scraped.outMessages, sumDown.outMessages), verdict)
	if ok {
		fmt.Fprintln(out, "every packet, message and byte the peers counted is in trackstats' reports, exactly once. OK")
	}
	return ok
}

// pair is the peer's figure a beside trackstats' b: "a=b" or "a≠b".
func pair(a, b uint64) string {
	if a == b {
		return grouped(a) + "=" + grouped(b)
	}
	return grouped(a) + "≠" + grouped(b)
}

// scrapeUntil reads /metrics until its totals are want (the sampler
// publishes the final flushes within milliseconds) or timeout passes, and
// returns the last reading.
func scrapeUntil(url string, want totals, timeout time.Duration) (totals, error) {
	var last totals
	var err error
	waitUntil(timeout, func() bool {
		last, err = scrape(url)
		return err == nil && last == want
	})
	return last, err
}

// scrape sums trackstats_bytes_total and trackstats_messages_total by
// direction over countries.
func scrape(url string) (totals, error) {
	resp, err := http.Get(url)
	if err != nil {
		return totals{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return totals{}, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	var t totals
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		name, rest, ok := strings.Cut(line, "{")
		if !ok || (name != "trackstats_bytes_total" && name != "trackstats_messages_total") {
			continue
		}
		labels, value, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		v, err := strconv.ParseUint(value, 10, 64)
		if err != nil {
			return totals{}, fmt.Errorf("metrics line %q: %w", line, err)
		}
		in := strings.Contains(labels, `direction="incoming"`)
		switch {
		case name == "trackstats_bytes_total" && in:
			t.inBytes += v
		case name == "trackstats_bytes_total":
			t.outBytes += v
		case in:
			t.inMessages += v
		default:
			t.outMessages += v
		}
	}
	return t, sc.Err()
}
