package tspion_test

// The cost per packet of counting RTP in a pion interceptor chain: the
// trackstats interceptor against pion's own stats interceptor
// (github.com/pion/interceptor/pkg/stats, which webrtc.RegisterDefault-
// Interceptors installs) and against no interceptor at all, on the same
// stream of 1200-byte packets with one header extension, as pion's
// TrackRemote.Read and TrackLocal writes drive them (nil attributes).
// `make bench-pion` runs these and prints the medians and both ratios:
// gross (ns/op over ns/op) and net of the baseline.

import (
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/stats"
	"github.com/pion/rtp"
	"github.com/trackstats/trackstats/cbindings/go/trackstats"
	"github.com/trackstats/trackstats/cbindings/go/tspion"
)

const (
	benchSSRC = 1111
	benchSize = 1200
)

func benchInfo() *interceptor.StreamInfo {
	return &interceptor.StreamInfo{SSRC: benchSSRC, MimeType: "video/VP8", ClockRate: 90000, PayloadType: 96}
}

// benchHeader is the stream's header: one one-byte extension (as a
// transport-wide sequence number), as a WebRTC video packet carries.
func benchHeader(b *testing.B) *rtp.Header {
	h := &rtp.Header{Version: 2, PayloadType: 96, SSRC: benchSSRC, Timestamp: 90000,
		Extension: true, ExtensionProfile: rtp.ExtensionProfileOneByte}
	if err := h.SetExtension(1, []byte{0, 1}); err != nil {
		b.Fatal(err)
	}
	return h
}

func benchPacket(b *testing.B) []byte {
	h := benchHeader(b)
	p := rtp.Packet{Header: *h, Payload: make([]byte, benchSize-h.MarshalSize())}
	raw, err := p.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

// trackstatsInterceptor is a factory's interceptor on a registry with the
// default 5 s windows and its sampler thread.
func trackstatsInterceptor(b *testing.B) interceptor.Interceptor {
	reg, err := trackstats.NewRegistry()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = reg.Close() })
	f, err := tspion.NewFactory(reg, func(tspion.Stream) *tspion.Key {
		return &tspion.Key{ParticipantID: "alice", TrackID: "cam", Country: "FR"}
	})
	if err != nil {
		b.Fatal(err)
	}
	ic, err := f.NewInterceptor("pc")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ic.Close() })
	return ic
}

// pionStatsInterceptor is pion's stats interceptor, as webrtc configures it.
func pionStatsInterceptor(b *testing.B) *stats.Interceptor {
	f, err := stats.NewInterceptor()
	if err != nil {
		b.Fatal(err)
	}
	ic, err := f.NewInterceptor("pc")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ic.Close() })
	return ic.(*stats.Interceptor)
}

// waitRecording reads or writes until pion's recorder, which starts on a
// goroutine of its own after the bind, has counted a packet: before that it
// drops packets, which would flatter it.
func waitRecording(b *testing.B, ic *stats.Interceptor, step func(), counted func(*stats.Stats) bool) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		step()
		if s := ic.Get(benchSSRC); s != nil && counted(s) {
			return
		}
		if time.Now().After(deadline) {
			b.Fatal("pion's stats recorder never started")
		}
		time.Sleep(time.Millisecond)
	}
}

// BenchmarkPionRemote: one packet read from a remote stream (UPSTREAM).
func BenchmarkPionRemote(b *testing.B) {
	pkt := benchPacket(b)
	run := func(b *testing.B, r interceptor.RTPReader) {
		buf := make([]byte, 1500)
		b.SetBytes(int64(len(pkt)))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, _, err := r.Read(buf, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("baseline-none", func(b *testing.B) {
		run(b, &loopReader{pkt: pkt})
	})
	b.Run("trackstats", func(b *testing.B) {
		run(b, trackstatsInterceptor(b).BindRemoteStream(benchInfo(), &loopReader{pkt: pkt}))
	})
	b.Run("pion-stats", func(b *testing.B) {
		ic := pionStatsInterceptor(b)
		r := ic.BindRemoteStream(benchInfo(), &loopReader{pkt: pkt})
		buf := make([]byte, 1500)
		waitRecording(b, ic, func() { _, _, _ = r.Read(buf, nil) },
			func(s *stats.Stats) bool { return s.InboundRTPStreamStats.PacketsReceived > 0 })
		run(b, r)
	})
}

// BenchmarkPionLocal: one packet written to a local stream (DOWNSTREAM).
func BenchmarkPionLocal(b *testing.B) {
	h := benchHeader(b)
	payload := make([]byte, benchSize-h.MarshalSize())
	run := func(b *testing.B, w interceptor.RTPWriter) {
		b.SetBytes(benchSize)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			h.SequenceNumber++
			if _, err := w.Write(h, payload, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("baseline-none", func(b *testing.B) {
		run(b, &sinkWriter{})
	})
	b.Run("trackstats", func(b *testing.B) {
		run(b, trackstatsInterceptor(b).BindLocalStream(benchInfo(), &sinkWriter{}))
	})
	b.Run("pion-stats", func(b *testing.B) {
		ic := pionStatsInterceptor(b)
		w := ic.BindLocalStream(benchInfo(), &sinkWriter{})
		waitRecording(b, ic, func() { _, _ = w.Write(h, payload, nil) },
			func(s *stats.Stats) bool { return s.OutboundRTPStreamStats.PacketsSent > 0 })
		run(b, w)
	})
}
