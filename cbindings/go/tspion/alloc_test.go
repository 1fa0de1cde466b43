package tspion_test

import (
	"github.com/trackstats/trackstats/cbindings/go/internal/tstest"

	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/trackstats/trackstats/cbindings/go/tspion"
)

// loopReader returns one packet forever, its sequence number advancing, as
// SRTP's read stream fills the caller's buffer.
type loopReader struct {
	pkt []byte
	seq uint16
}

func (l *loopReader) Read(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
	n := copy(b, l.pkt)
	l.seq++
	b[2], b[3] = byte(l.seq>>8), byte(l.seq)
	return n, a, nil
}

// Reading and writing through the interceptor allocates nothing per packet,
// on media, repair and local streams, also on a window's first record.
func TestNoAllocationPerPacket(t *testing.T) {
	reg := tstest.Manual(t)
	f, _ := tspion.NewFactory(reg, func(s tspion.Stream) *tspion.Key {
		return &tspion.Key{ParticipantID: "p", TrackID: "t"}
	})
	ic, _ := f.NewInterceptor("pc")
	pkt := rtpPacket(t, 0, true, 1200)
	media := ic.BindRemoteStream(&interceptor.StreamInfo{SSRC: 1, MimeType: "video/VP8"}, &loopReader{pkt: pkt})
	rtx := ic.BindRemoteStream(&interceptor.StreamInfo{SSRC: 2, MimeType: "video/rtx"}, &loopReader{pkt: pkt})
	local := ic.BindLocalStream(&interceptor.StreamInfo{SSRC: 3}, &sinkWriter{})
	buf := make([]byte, 1500)
	h := &rtp.Header{Version: 2, Extension: true, ExtensionProfile: rtp.ExtensionProfileOneByte}
	if err := h.SetExtension(1, []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 1000)
	n := 0
	allocs := testing.AllocsPerRun(1000, func() {
		// Every 100 packets a new window: its first record takes the slow
		// path into the library.
		if n++; n%100 == 0 {
			_ = reg.Tick()
		}
		_, _, _ = media.Read(buf, nil)
		_, _, _ = rtx.Read(buf, nil)
		_, _ = local.Write(h, payload, nil)
	})
	if allocs != 0 {
		t.Fatalf("%.2f allocations per packet, want 0", allocs)
	}
}
