package main

import (
	"context"
	"encoding/binary"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// counts are what one peer's own PeerConnection sent or received on one
// track: its own figures, to hold against trackstats' reports.
type counts struct {
	// Media: RTP packets and their bytes (header, payload and padding:
	// what pion marshals before SRTP protects it and returns after SRTP
	// removed its protection), and frames (packets with the marker bit).
	// Data: messages and their payload bytes.
	packets, bytes, frames uint64
	// A publisher's media only: packets it left out of the stream (their
	// sequence numbers skipped, as a lossy link would) and pairs it sent
	// swapped (reordered).
	skipped, swapped uint64
}

// publisher sends one video track and one data channel through the SFU.
type publisher struct {
	id, country string
	pc          *webrtc.PeerConnection
	media       *webrtc.TrackLocalStaticRTP
	dc          *webrtc.DataChannel
	sentMedia   counts
	sentData    counts
	dcOpen      chan struct{}
}

func trackIDs(id string) (media, data string) { return id + "/cam", id + "/chat" }

func newPublisher(ctx context.Context, s *sfu, id, country string) (*publisher, error) {
	// No trackstats on the peers: they count for themselves.
	pc, err := newPeerConnection()
	if err != nil {
		return nil, err
	}
	p := &publisher{id: id, country: country, pc: pc, dcOpen: make(chan struct{})}
	mediaID, dataID := trackIDs(id)
	if p.media, err = webrtc.NewTrackLocalStaticRTP(videoCodec, mediaID, id); err != nil {
		return nil, err
	}
	sender, err := pc.AddTrack(p.media)
	if err != nil {
		return nil, err
	}
	go drainRTCP(sender)
	if p.dc, err = pc.CreateDataChannel(dataID, nil); err != nil {
		return nil, err
	}
	p.dc.OnOpen(func() { close(p.dcOpen) })
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return nil, err
	}
	if offer, err = setLocal(ctx, pc, offer); err != nil {
		return nil, err
	}
	answer, err := s.publish(ctx, id, country, offer)
	if err != nil {
		return nil, err
	}
	return p, pc.SetRemoteDescription(answer)
}

// The publishers' synthetic stream: frameRate frames a second of 3 to 5
// packets of 200 to 1,199 bytes, the last one marked; one packet in 40
// padded; one frame in 25 with its last two packets swapped and one in 35
// missing a middle packet; a data message of 20 to 199 bytes every
// dataEvery, its first two bytes a sequence number.
const (
	frameRate   = 30
	dataEvery   = 50 * time.Millisecond
	padEvery    = 40
	swapEvery   = 25
	skipEvery   = 35
	paddingSize = 16
)

// run sends for d, then returns.
func (p *publisher) run(d time.Duration) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.sendMedia(d) }()
	go func() { defer wg.Done(); p.sendData(d) }()
	wg.Wait()
}

func (p *publisher) sendMedia(d time.Duration) {
	tick := time.NewTicker(time.Second / frameRate)
	defer tick.Stop()
	end := time.Now().Add(d)
	var seq uint16
	var sent int
	for frame := 1; time.Now().Before(end); frame++ {
		n := 3 + frame%3
		pkts := make([]*rtp.Packet, 0, n)
		for i := 0; i < n; i++ {
			seq++
			sent++
			pkt := &rtp.Packet{
				Header: rtp.Header{Version: 2, Marker: i == n-1, PayloadType: videoPayloadType,
					SequenceNumber: seq, Timestamp: uint32(frame * 90000 / frameRate)},
				Payload: make([]byte, 200+(sent*389)%1000-12),
			}
			if sent%padEvery == 0 {
				pkt.Header.Padding, pkt.Header.PaddingSize = true, paddingSize
			}
			pkts = append(pkts, pkt)
		}
		switch {
		case frame%swapEvery == 0:
			pkts[n-2], pkts[n-1] = pkts[n-1], pkts[n-2]
			p.sentMedia.swapped++
		case frame%skipEvery == 0:
			pkts = append(pkts[:1], pkts[2:]...)
			p.sentMedia.skipped++
		}
		for _, pkt := range pkts {
			if p.media.WriteRTP(pkt) == nil {
				p.sentMedia.packets++
				p.sentMedia.bytes += uint64(pkt.MarshalSize())
				if pkt.Marker {
					p.sentMedia.frames++
				}
			}
		}
		<-tick.C
	}
}

func (p *publisher) sendData(d time.Duration) {
	tick := time.NewTicker(dataEvery)
	defer tick.Stop()
	end := time.Now().Add(d)
	for seq := uint16(0); time.Now().Before(end); seq++ {
		msg := make([]byte, 20+int(seq)*37%180)
		binary.BigEndian.PutUint16(msg, seq)
		if p.dc.Send(msg) == nil {
			p.sentData.packets++
			p.sentData.bytes += uint64(len(msg))
		}
		<-tick.C
	}
}

// subscriber receives every published track and data channel from the SFU.
type subscriber struct {
	id, country string
	relay       bool
	pc          *webrtc.PeerConnection

	mu sync.Mutex
	// media and data are its counts per track id and data channel label.
	media, data map[string]*counts
}

func newSubscriber(ctx context.Context, s *sfu, id, country string, relay bool) (*subscriber, error) {
	// No trackstats on the peers: they count for themselves.
	pc, err := newPeerConnection()
	if err != nil {
		return nil, err
	}
	sub := &subscriber{id: id, country: country, relay: relay, pc: pc, media: map[string]*counts{}, data: map[string]*counts{}}
	pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { sub.readMedia(t) })
	pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		c := &counts{}
		dc.OnMessage(func(m webrtc.DataChannelMessage) {
			sub.mu.Lock()
			c.packets++
			c.bytes += uint64(len(m.Data))
			sub.mu.Unlock()
		})
		// Listed once it counts: the demo waits for every channel before
		// the publishers start.
		sub.mu.Lock()
		sub.data[dc.Label()] = c
		sub.mu.Unlock()
	})
	offer, err := s.subscribe(ctx, id, country, relay)
	if err != nil {
		return nil, err
	}
	if err := pc.SetRemoteDescription(offer); err != nil {
		return nil, err
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return nil, err
	}
	if answer, err = setLocal(ctx, pc, answer); err != nil {
		return nil, err
	}
	return sub, s.answer(id, answer)
}

// readMedia counts every packet pion returns: n is the whole RTP packet,
// after SRTP decryption.
func (s *subscriber) readMedia(t *webrtc.TrackRemote) {
	id := t.ID()
	s.mu.Lock()
	c := &counts{}
	s.media[id] = c
	s.mu.Unlock()
	buf := make([]byte, 1500)
	for {
		n, _, err := t.Read(buf)
		if err != nil {
			return
		}
		s.mu.Lock()
		c.packets++
		c.bytes += uint64(n)
		if n > 1 && buf[1]&0x80 != 0 {
			c.frames++
		}
		s.mu.Unlock()
	}
}

// got returns a copy of its counts of a track (zero if none arrived).
func (s *subscriber) got(media bool, track string) counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.data
	if media {
		m = s.media
	}
	if c := m[track]; c != nil {
		return *c
	}
	return counts{}
}
