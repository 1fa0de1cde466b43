package tspion_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/trackstats/trackstats/cbindings/go/internal/tstest"
	"github.com/trackstats/trackstats/cbindings/go/trackstats"
	"github.com/trackstats/trackstats/cbindings/go/tspion"
)

// A remote stream counts every packet's bytes and one message UPSTREAM, and
// its sequence numbers and marker bits feed the packet counts.
func TestRemoteStreamCountsPacketsAndSequence(t *testing.T) {
	reg := tstest.Manual(t)
	var log resolverLog
	f, err := tspion.NewFactory(reg, func(s tspion.Stream) *tspion.Key {
		log.add(s)
		return &tspion.Key{ParticipantID: "alice", TrackID: "cam", Country: "FR", UserData: 7}
	})
	if err != nil {
		t.Fatal(err)
	}
	ic, err := f.NewInterceptor("pc-1")
	if err != nil {
		t.Fatal(err)
	}
	// 10 and 11 in order (11 ends a frame), 13 skips 12 (one lost), 12
	// late (out of order, recovers it), 13 again (a duplicate, marked but
	// not a frame), 14 ends a frame, a failed read (not counted), and a
	// 5-byte runt (bytes and a message, no sequence).
	pkts := [][]byte{
		rtpPacket(t, 10, false, 100),
		rtpPacket(t, 11, true, 200),
		rtpPacket(t, 13, false, 300),
		rtpPacket(t, 12, false, 400),
		rtpPacket(t, 13, true, 300),
		rtpPacket(t, 14, true, 500),
		nil,
		{0x80, 0, 0, 1, 2},
	}
	info := &interceptor.StreamInfo{SSRC: 1111, MimeType: "video/VP8", ClockRate: 90000}
	r := ic.BindRemoteStream(info, &queueReader{pkts: pkts})
	readAll(t, r)

	got := map[sumKey]*sums{}
	collect(t, reg, got)
	s := got[sumKey{"alice", "cam", "FR", trackstats.Up}]
	if s == nil {
		t.Fatalf("no up report: %v", got)
	}
	want := sums{bytes: 100 + 200 + 300 + 400 + 300 + 500 + 5, messages: 7, lost: 1, recovered: 1, outOfOrder: 1, duplicated: 1, frames: 2, reports: s.reports}
	if *s != want {
		t.Fatalf("up sums %+v, want %+v", *s, want)
	}
	if len(got) != 1 {
		t.Fatalf("unexpected reports: %v", got)
	}
	if len(log.seen) != 1 || log.seen[0].PeerConnection != "pc-1" || log.seen[0].Direction != trackstats.Up ||
		log.seen[0].SSRC != 1111 || log.seen[0].Repair || log.seen[0].Info != info {
		t.Fatalf("resolver saw %+v", log.seen)
	}
}

// A local stream counts header, payload and padding of each packet the
// writer below accepted, DOWNSTREAM.
func TestLocalStreamCountsMarshalledSize(t *testing.T) {
	reg := tstest.Manual(t)
	f, _ := tspion.NewFactory(reg, func(s tspion.Stream) *tspion.Key {
		return &tspion.Key{ParticipantID: "bob", TrackID: "cam", Country: "DE"}
	})
	ic, _ := f.NewInterceptor("pc-2")
	sink := &sinkWriter{}
	w := ic.BindLocalStream(&interceptor.StreamInfo{SSRC: 2222, MimeType: "video/VP8"}, sink)

	plain := rtp.Header{Version: 2, SequenceNumber: 1, SSRC: 2222}
	rich := rtp.Header{Version: 2, SequenceNumber: 2, SSRC: 2222, CSRC: []uint32{1, 2}, Padding: true, PaddingSize: 7}
	if err := rich.SetExtension(1, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 1000)
	var want uint64
	for _, h := range []*rtp.Header{&plain, &rich} {
		if _, err := w.Write(h, payload, nil); err != nil {
			t.Fatal(err)
		}
		b, err := (&rtp.Packet{Header: *h, Payload: payload}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		want += uint64(len(b))
	}
	// A packet the writer below refuses was not sent: not counted.
	sink.fail = true
	if _, err := w.Write(&plain, payload, nil); err == nil {
		t.Fatal("the failing writer accepted a packet")
	}

	got := map[sumKey]*sums{}
	collect(t, reg, got)
	s := got[sumKey{"bob", "cam", "DE", trackstats.Down}]
	if s == nil || s.bytes != want || s.messages != 2 {
		t.Fatalf("down sums %+v, want %d bytes in 2 messages", s, want)
	}
	if len(got) != 1 {
		t.Fatalf("unexpected reports: %v", got)
	}
}

// A stream resolved to nil (a relay) is not wrapped and opens no track.
func TestRelayStreamIsNotWrapped(t *testing.T) {
	reg := tstest.Manual(t)
	f, _ := tspion.NewFactory(reg, func(tspion.Stream) *tspion.Key { return nil })
	ic, _ := f.NewInterceptor("relay")
	src := &queueReader{pkts: [][]byte{rtpPacket(t, 1, false, 100)}}
	if r := ic.BindRemoteStream(&interceptor.StreamInfo{SSRC: 1}, src); r != interceptor.RTPReader(src) {
		t.Fatal("a relayed remote stream was wrapped")
	}
	sink := &sinkWriter{}
	if w := ic.BindLocalStream(&interceptor.StreamInfo{SSRC: 2}, sink); w != interceptor.RTPWriter(sink) {
		t.Fatal("a relayed local stream was wrapped")
	}
	st, err := reg.Stats()
	if err != nil || st.OpenTracks != 0 {
		t.Fatalf("stats %+v, %v: want no track", st, err)
	}
	// Unbinding what counted nothing is fine.
	ic.UnbindRemoteStream(&interceptor.StreamInfo{SSRC: 1})
	ic.UnbindLocalStream(&interceptor.StreamInfo{SSRC: 2})
	if err := ic.Close(); err != nil {
		t.Fatal(err)
	}
}

// An RTX stream resolved to its media stream's key shares the track: its
// bytes and messages add up with the media's, its sequence numbers (another
// numbering space) count nothing lost.
func TestRepairStreamSharesTrackWithoutSequence(t *testing.T) {
	reg := tstest.Manual(t)
	var log resolverLog
	f, _ := tspion.NewFactory(reg, func(s tspion.Stream) *tspion.Key {
		log.add(s)
		return &tspion.Key{ParticipantID: "alice", TrackID: "cam"}
	})
	ic, _ := f.NewInterceptor("pc")
	media := ic.BindRemoteStream(&interceptor.StreamInfo{SSRC: 1, MimeType: "video/VP8"},
		&queueReader{pkts: [][]byte{rtpPacket(t, 100, false, 100), rtpPacket(t, 101, true, 100)}})
	rtx := ic.BindRemoteStream(&interceptor.StreamInfo{SSRC: 2, MimeType: "video/rtx"},
		&queueReader{pkts: [][]byte{rtpPacket(t, 5000, false, 50), rtpPacket(t, 9000, false, 50)}})
	fec := ic.BindRemoteStream(&interceptor.StreamInfo{SSRC: 3, MimeType: "video/flexfec-03"},
		&queueReader{pkts: [][]byte{rtpPacket(t, 20000, true, 70)}})
	readAll(t, media)
	readAll(t, rtx)
	readAll(t, fec)

	st, _ := reg.Stats()
	if st.OpenTracks != 1 {
		t.Fatalf("%d open tracks, want the one shared", st.OpenTracks)
	}
	got := map[sumKey]*sums{}
	collect(t, reg, got)
	s := got[sumKey{"alice", "cam", "", trackstats.Up}]
	want := sums{bytes: 100 + 100 + 50 + 50 + 70, messages: 5, frames: 1}
	if s == nil {
		t.Fatalf("no report: %v", got)
	}
	want.reports = s.reports
	if *s != want {
		t.Fatalf("sums %+v, want %+v", *s, want)
	}
	if len(log.seen) != 3 || log.seen[0].Repair || !log.seen[1].Repair || !log.seen[2].Repair {
		t.Fatalf("resolver saw %+v", log.seen)
	}
}

// Unbind closes the track (a final report), once the last stream of its key
// is unbound; the interceptor's Close releases what is left.
func TestUnbindClosesTrack(t *testing.T) {
	reg := tstest.Manual(t)
	f, _ := tspion.NewFactory(reg, func(s tspion.Stream) *tspion.Key {
		// Two streams share "shared"; SSRC 3 has its own track.
		if s.SSRC == 3 {
			return &tspion.Key{ParticipantID: "p", TrackID: "own"}
		}
		return &tspion.Key{ParticipantID: "p", TrackID: "shared"}
	})
	ic, _ := f.NewInterceptor("pc")
	sink := &sinkWriter{}
	h := &rtp.Header{Version: 2}
	var ws []interceptor.RTPWriter
	for ssrc := uint32(1); ssrc <= 3; ssrc++ {
		ws = append(ws, ic.BindLocalStream(&interceptor.StreamInfo{SSRC: ssrc}, sink))
	}
	for _, w := range ws {
		if _, err := w.Write(h, make([]byte, 88), nil); err != nil {
			t.Fatal(err)
		}
	}
	open := func() uint64 {
		t.Helper()
		if err := reg.Flush(); err != nil {
			t.Fatal(err)
		}
		st, err := reg.Stats()
		if err != nil {
			t.Fatal(err)
		}
		return st.OpenTracks
	}
	if n := open(); n != 2 {
		t.Fatalf("%d open tracks, want 2", n)
	}
	// Unbinding an SSRC never bound changes nothing.
	ic.UnbindLocalStream(&interceptor.StreamInfo{SSRC: 99})
	ic.UnbindLocalStream(&interceptor.StreamInfo{SSRC: 1})
	if n := open(); n != 2 {
		t.Fatalf("%d open tracks after one of two shared unbinds, want 2", n)
	}
	ic.UnbindLocalStream(&interceptor.StreamInfo{SSRC: 2})
	if n := open(); n != 1 {
		t.Fatalf("%d open tracks after the shared key's last unbind, want 1", n)
	}
	// A packet written after its Unbind still counts (flagged late).
	if _, err := ws[0].Write(h, make([]byte, 88), nil); err != nil {
		t.Fatal(err)
	}
	if err := ic.Close(); err != nil {
		t.Fatal(err)
	}
	if n := open(); n != 0 {
		t.Fatalf("%d open tracks after Close, want 0", n)
	}
	if err := ic.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	// Binding after Close counts nothing.
	if w := ic.BindLocalStream(&interceptor.StreamInfo{SSRC: 5}, sink); w != interceptor.RTPWriter(sink) {
		t.Fatal("a bind after Close was wrapped")
	}
	got := map[sumKey]*sums{}
	collect(t, reg, got)
	shared, own := got[sumKey{"p", "shared", "", trackstats.Down}], got[sumKey{"p", "own", "", trackstats.Down}]
	if shared == nil || own == nil || shared.messages != 3 || own.messages != 1 || shared.bytes != 3*100 || own.bytes != 100 {
		t.Fatalf("shared %+v, own %+v", shared, own)
	}
	if shared.finals == 0 || own.finals == 0 {
		t.Fatalf("no final report: shared %+v, own %+v", shared, own)
	}
}

// A second bind of one SSRC holds the track until its own unbind.
func TestRebindOfOneSSRC(t *testing.T) {
	reg := tstest.Manual(t)
	f, _ := tspion.NewFactory(reg, func(tspion.Stream) *tspion.Key { return &tspion.Key{ParticipantID: "p", TrackID: "t"} })
	ic, _ := f.NewInterceptor("pc")
	info := &interceptor.StreamInfo{SSRC: 1}
	ic.BindRemoteStream(info, &queueReader{})
	ic.BindRemoteStream(info, &queueReader{})
	ic.UnbindRemoteStream(info)
	_ = reg.Flush()
	if st, _ := reg.Stats(); st.OpenTracks != 1 {
		t.Fatalf("%d open tracks after one of two unbinds, want 1", st.OpenTracks)
	}
	ic.UnbindRemoteStream(info)
	_ = reg.Flush()
	if st, _ := reg.Stats(); st.OpenTracks != 0 {
		t.Fatalf("%d open tracks after both unbinds, want 0", st.OpenTracks)
	}
}

// ForPeer names the PeerConnection for the resolver; without it the
// resolver gets pion's id.
func TestForPeerNamesThePeerConnection(t *testing.T) {
	reg := tstest.Manual(t)
	var log resolverLog
	f, _ := tspion.NewFactory(reg, func(s tspion.Stream) *tspion.Key {
		log.add(s)
		return &tspion.Key{ParticipantID: s.PeerConnection, TrackID: "t"}
	})
	a, _ := f.NewInterceptor("PeerConnection-1")
	b, _ := f.ForPeer("alice").NewInterceptor("PeerConnection-2")
	a.BindRemoteStream(&interceptor.StreamInfo{SSRC: 1}, &queueReader{})
	b.BindRemoteStream(&interceptor.StreamInfo{SSRC: 1}, &queueReader{})
	if len(log.seen) != 2 || log.seen[0].PeerConnection != "PeerConnection-1" || log.seen[1].PeerConnection != "alice" {
		t.Fatalf("resolver saw %+v", log.seen)
	}
	_ = reg.Flush()
	if st, _ := reg.Stats(); st.OpenTracks != 2 {
		t.Fatalf("%d open tracks, want one per peer", st.OpenTracks)
	}
}

// A key the registry refuses reaches the error handler and counts nothing.
func TestOpenErrorGoesToHandler(t *testing.T) {
	reg := tstest.Manual(t)
	var errs []error
	f, _ := tspion.NewFactory(reg, func(tspion.Stream) *tspion.Key { return &tspion.Key{TrackID: "no participant"} },
		tspion.WithErrorHandler(func(_ tspion.Stream, err error) { errs = append(errs, err) }))
	ic, _ := f.NewInterceptor("pc")
	src := &queueReader{}
	if r := ic.BindRemoteStream(&interceptor.StreamInfo{SSRC: 1}, src); r != interceptor.RTPReader(src) {
		t.Fatal("a stream whose track failed to open was wrapped")
	}
	if len(errs) != 1 || !errors.Is(errs[0], trackstats.ErrEmptyID) {
		t.Fatalf("handler got %v, want ErrEmptyID", errs)
	}
}

func TestNewFactoryNeedsRegistryAndResolver(t *testing.T) {
	if _, err := tspion.NewFactory(nil, func(tspion.Stream) *tspion.Key { return nil }); !errors.Is(err, tspion.ErrNoRegistry) {
		t.Fatalf("nil registry: %v", err)
	}
	if _, err := tspion.NewFactory(tstest.Manual(t), nil); !errors.Is(err, tspion.ErrNoResolver) {
		t.Fatalf("nil resolver: %v", err)
	}
}

// Streams of many PeerConnections read and write at once, racing binds,
// unbinds and the sampler: every packet is counted exactly once, with its
// sequence counts. Run it with -race.
func TestConcurrentStreamsExact(t *testing.T) {
	reg, err := trackstats.NewRegistry(trackstats.WithInterval(2e6)) // 2 ms windows: many samples race the records
	if err != nil {
		t.Fatal(err)
	}
	f, _ := tspion.NewFactory(reg, func(s tspion.Stream) *tspion.Key {
		return &tspion.Key{ParticipantID: s.PeerConnection, TrackID: fmt.Sprint("t", s.SSRC%3)}
	})
	const peers, streams, packets, size = 4, 6, 2000, 120
	var wg sync.WaitGroup
	for p := 0; p < peers; p++ {
		ic, _ := f.ForPeer(fmt.Sprint("peer", p)).NewInterceptor("")
		for s := 0; s < streams; s++ {
			wg.Add(1)
			go func(ssrc uint32) {
				defer wg.Done()
				info := &interceptor.StreamInfo{SSRC: ssrc}
				pkts := make([][]byte, packets)
				for i := range pkts {
					// Every 10th number skipped: 1 lost per 10 sent.
					pkts[i] = rtpPacket(t, uint16(i+i/9), i%5 == 4, size)
				}
				var r interceptor.RTPReader
				if ssrc%2 == 0 {
					r = ic.BindRemoteStream(info, &queueReader{pkts: pkts})
					readAll(t, r)
					ic.UnbindRemoteStream(info)
				} else {
					w := ic.BindLocalStream(info, &sinkWriter{})
					h := &rtp.Header{Version: 2}
					for i := 0; i < packets; i++ {
						_, _ = w.Write(h, make([]byte, size-12), nil)
					}
					ic.UnbindLocalStream(info)
				}
			}(uint32(s))
		}
	}
	wg.Wait()
	if err := reg.Close(); err != nil {
		t.Fatal(err)
	}
	rs, err := reg.Drain(nil)
	if err != nil {
		t.Fatal(err)
	}
	var up, down, lost, frames uint64
	for _, r := range rs {
		if r.Bytes != size*r.Messages {
			t.Fatalf("report with %d bytes in %d messages of %d", r.Bytes, r.Messages, size)
		}
		if r.Direction == trackstats.Up {
			up += r.Messages
		} else {
			down += r.Messages
		}
		lost += r.PacketsLost
		frames += r.Frames
	}
	half := uint64(peers * streams / 2 * packets)
	// i+i/9 skips one number after every 9 packets: (packets-1)/9 gaps.
	wantLost := uint64(peers*streams/2) * uint64((packets-1)/9)
	if up != half || down != half || lost != wantLost || frames != half/5 {
		t.Fatalf("up %d, down %d, lost %d, frames %d; want %d, %d, %d, %d", up, down, lost, frames, half, half, wantLost, half/5)
	}
}
