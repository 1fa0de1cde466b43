package tspion_test

import (
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/trackstats/trackstats/cbindings/go/trackstats"
	"github.com/trackstats/trackstats/cbindings/go/tspion"
)

// sums are a registry's reports added up per key and direction.
type sumKey struct {
	participant, track, country string
	dir                         trackstats.Direction
}

type sums struct {
	bytes, messages                                 uint64
	lost, recovered, outOfOrder, duplicated, frames uint64
	reports, finals                                 int
}

// collect ticks a manual registry, flushes closes and drains every report.
func collect(t *testing.T, reg *trackstats.Registry, into map[sumKey]*sums) {
	t.Helper()
	if err := reg.Tick(); err != nil {
		t.Fatal(err)
	}
	if err := reg.Flush(); err != nil {
		t.Fatal(err)
	}
	rs, err := reg.Drain(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		k := sumKey{r.ParticipantID, r.TrackID, r.Country, r.Direction}
		s := into[k]
		if s == nil {
			s = &sums{}
			into[k] = s
		}
		s.bytes += r.Bytes
		s.messages += r.Messages
		s.lost += r.PacketsLost
		s.recovered += r.PacketsRecovered
		s.outOfOrder += r.PacketsOutOfOrder
		s.duplicated += r.PacketsDuplicated
		s.frames += r.Frames
		s.reports++
		if r.Flags&trackstats.FlagFinal != 0 {
			s.finals++
		}
	}
}

// rtpPacket is a marshalled RTP packet of size bytes in all.
func rtpPacket(t testing.TB, seq uint16, marker bool, size int) []byte {
	t.Helper()
	p := rtp.Packet{
		Header:  rtp.Header{Version: 2, Marker: marker, PayloadType: 96, SequenceNumber: seq, Timestamp: 3000 * uint32(seq), SSRC: 1111},
		Payload: make([]byte, size-12),
	}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != size {
		t.Fatalf("packet of %d bytes, want %d", len(b), size)
	}
	return b
}

// queueReader plays packets, then io.EOF; errAt makes one read fail.
type queueReader struct {
	pkts [][]byte
	i    int
}

var errInjected = errors.New("injected read error")

func (q *queueReader) Read(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
	if q.i >= len(q.pkts) {
		return 0, a, io.EOF
	}
	p := q.pkts[q.i]
	q.i++
	if p == nil {
		return 0, a, errInjected
	}
	return copy(b, p), a, nil
}

func readAll(t *testing.T, r interceptor.RTPReader) {
	t.Helper()
	buf := make([]byte, 1500)
	for {
		_, _, err := r.Read(buf, nil)
		if errors.Is(err, io.EOF) {
			return
		}
	}
}

// sinkWriter accepts every packet, or fails them all.
type sinkWriter struct {
	fail bool
	n    int
}

func (w *sinkWriter) Write(h *rtp.Header, payload []byte, _ interceptor.Attributes) (int, error) {
	if w.fail {
		return 0, io.ErrClosedPipe
	}
	w.n++
	return h.MarshalSize() + len(payload), nil
}

// resolverLog records what the resolver was asked.
type resolverLog struct {
	mu   sync.Mutex
	seen []tspion.Stream
}

func (l *resolverLog) add(s tspion.Stream) {
	l.mu.Lock()
	l.seen = append(l.seen, s)
	l.mu.Unlock()
}

func seqOf(p []byte) uint16 { return binary.BigEndian.Uint16(p[2:4]) }
