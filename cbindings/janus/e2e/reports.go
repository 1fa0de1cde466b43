package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// logSums adds up the reports the plugin's sink wrote to Janus's log, by
// track id and direction ("UPSTREAM"/"DOWNSTREAM").
type logSums struct {
	bytes, messages, frames, lost uint64
	reports, final                int
}

// A report line of janus_trackstats.c's sink.
var reportLine = regexp.MustCompile(`\[trackstats\] report participant=(\S+) track=(\S+) country=(\S*) ` +
	`direction=(UPSTREAM|DOWNSTREAM) bytes=(\d+) messages=(\d+) start_ns=(\d+) end_ns=(\d+) flags=(\S+) lost=(\d+) frames=(\d+)`)

func parseLog(path, participant, country string) (map[string]*logSums, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sums := map[string]*logSums{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m := reportLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		if m[1] != participant || m[3] != country {
			return nil, fmt.Errorf("a report with key (%s, %s) in the log, expected (%s, %s): %s", m[1], m[3], participant, country, m[0])
		}
		n := func(i int) uint64 { v, _ := strconv.ParseUint(m[i], 10, 64); return v }
		if n(7) >= n(8) {
			return nil, fmt.Errorf("a report whose window does not move forward: %s", m[0])
		}
		key := m[2] + " " + m[4]
		s := sums[key]
		if s == nil {
			s = &logSums{}
			sums[key] = s
		}
		s.bytes += n(5)
		s.messages += n(6)
		s.lost += n(10)
		s.frames += n(11)
		s.reports++
		if strings.HasPrefix(m[9], "F") {
			s.final++
		}
	}
	return sums, sc.Err()
}

// A cumulative series of the exposition for one direction and country.
var totalLine = regexp.MustCompile(`(?m)^trackstats_(bytes|messages)_total\{direction="(incoming|outgoing)",country="([^"]*)"\} (\d+)$`)

// promTotals reads trackstats_{bytes,messages}_total for the country, keyed
// "bytes incoming", "messages outgoing", ...
func promTotals(text, country string) map[string]uint64 {
	out := map[string]uint64{}
	for _, m := range totalLine.FindAllStringSubmatch(text, -1) {
		if m[3] == country {
			v, _ := strconv.ParseUint(m[4], 10, 64)
			out[m[1]+" "+m[2]] = v
		}
	}
	return out
}

// wantTotals is what promTotals must show for the client's counts: incoming
// (UPSTREAM) is everything sent, outgoing (DOWNSTREAM) everything received.
func wantTotals(client map[string]streamCounts) map[string]uint64 {
	want := map[string]uint64{}
	for _, s := range client {
		want["bytes incoming"] += s.sent.bytes
		want["messages incoming"] += s.sent.messages
		want["bytes outgoing"] += s.received.bytes
		want["messages outgoing"] += s.received.messages
	}
	return want
}

// compare checks the sums of one delivery path (Janus's log, the event
// handler) for every (stream, direction) against the client and prints them
// side by side; with seq, also the frames and loss of the RTP streams (the
// log carries them). Returns the mismatches.
func compare(title string, client map[string]streamCounts, sums map[string]*logSums, seq bool) []string {
	var bad []string
	ids := make([]string, 0, len(client))
	for id := range client {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	fmt.Printf("%-9s %-10s | %-25s | %s: bytes / messages (reports, final)\n", "stream", "direction", "client: bytes / messages", title)
	seen := map[string]bool{}
	for _, id := range ids {
		c := client[id]
		for _, dir := range []struct {
			name string
			c    counts
		}{{"UPSTREAM", c.sent}, {"DOWNSTREAM", c.received}} {
			key := id + " " + dir.name
			seen[key] = true
			l := sums[key]
			if l == nil {
				l = &logSums{}
			}
			fmt.Printf("%-9s %-10s | %10d / %-12d | %10d / %-8d (%d, %d)\n", id, dir.name, dir.c.bytes, dir.c.messages, l.bytes, l.messages, l.reports, l.final)
			if dir.c.messages == 0 {
				bad = append(bad, key+": the client counted nothing")
			}
			if l.bytes != dir.c.bytes || l.messages != dir.c.messages {
				bad = append(bad, fmt.Sprintf("%s, %s: trackstats %d bytes / %d messages, client %d / %d", title, key, l.bytes, l.messages, dir.c.bytes, dir.c.messages))
			}
			if seq && dir.name == "UPSTREAM" && !strings.HasPrefix(id, "data:") && (l.frames != c.frames || l.lost != 0) {
				bad = append(bad, fmt.Sprintf("%s, %s: trackstats %d frames, %d lost; the client sent %d frames on a lossless loopback", title, key, l.frames, l.lost, c.frames))
			}
		}
	}
	for key := range sums {
		if !seen[key] {
			bad = append(bad, title+": reports for a stream the client did not have: "+key)
		}
	}
	return bad
}
