package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// counts is what the client itself sent or received on one stream: RTP
// packets (header and payload, before SRTP on the way out, after it on the
// way in) or data-channel messages (payload).
type counts struct {
	bytes, messages uint64
}

// streamCounts is one stream's ground truth: sent is what trackstats must
// report as UPSTREAM, received as DOWNSTREAM. frames: RTP packets that end a
// frame (every audio packet; a video frame's marked last packet).
type streamCounts struct {
	sent, received counts
	frames         uint64
}

// peer is a WebRTC client of its own: Opus and VP8 without RTCP feedback or
// header extensions (so Janus forwards packets unchanged in size), no
// interceptors (no RTCP, NACK or retransmission of its own), one data
// channel, ICE on the loopback interface only.
type peer struct {
	pc           *webrtc.PeerConnection
	audio, video *webrtc.TrackLocalStaticRTP
	data         *webrtc.DataChannel

	mu      sync.Mutex
	streams map[string]*streamCounts // by "<kind>:<mid>", the plugin's track id

	connected, dataOpen chan struct{}
	failed              chan error
}

func newPeer() (*peer, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		PayloadType:        111,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
		PayloadType:        96,
	}, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, err
	}
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se))

	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	p := &peer{pc: pc, streams: map[string]*streamCounts{},
		connected: make(chan struct{}), dataOpen: make(chan struct{}), failed: make(chan error, 1)}
	if p.audio, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", "e2e"); err != nil {
		return nil, err
	}
	if p.video, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "e2e"); err != nil {
		return nil, err
	}
	for _, t := range []*webrtc.TrackLocalStaticRTP{p.audio, p.video} {
		if _, err := pc.AddTrack(t); err != nil {
			return nil, err
		}
	}
	if p.data, err = pc.CreateDataChannel("e2e", nil); err != nil {
		return nil, err
	}
	var once sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateConnected:
			once.Do(func() { close(p.connected) })
		case webrtc.PeerConnectionStateFailed:
			select {
			case p.failed <- errors.New("PeerConnection failed"):
			default:
			}
		}
	})
	p.data.OnOpen(func() { close(p.dataOpen) })
	p.data.OnMessage(func(msg webrtc.DataChannelMessage) {
		p.count(p.data.Label(), func(s *streamCounts) { s.received.add(len(msg.Data)) })
	})
	pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		label := t.Kind().String()
		buf := make([]byte, 1500)
		for {
			n, _, err := t.Read(buf) // one decrypted RTP packet: header and payload
			if err != nil {
				return
			}
			p.count(label, func(s *streamCounts) { s.received.add(n) })
		}
	})
	return p, nil
}

func (c *counts) add(n int) {
	c.bytes += uint64(n)
	c.messages++
}

// count updates a stream's counts under the lock; label is "audio", "video"
// or the data channel's label until offer() maps them to track ids.
func (p *peer) count(label string, f func(*streamCounts)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.streams[label]
	if s == nil {
		s = &streamCounts{}
		p.streams[label] = s
	}
	f(s)
}

// offer creates the offer with every candidate in it (no trickle) and names
// each stream the way the plugin names its track: "<kind>:<mid>".
func (p *peer) offer() (*jsep, map[string]string, error) {
	o, err := p.pc.CreateOffer(nil)
	if err != nil {
		return nil, nil, err
	}
	gathered := webrtc.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(o); err != nil {
		return nil, nil, err
	}
	select {
	case <-gathered:
	case <-time.After(10 * time.Second):
		return nil, nil, errors.New("ICE gathering did not complete")
	}
	ids := map[string]string{}
	for _, t := range p.pc.GetTransceivers() {
		ids[t.Kind().String()] = fmt.Sprintf("%s:%s", t.Kind(), t.Mid())
	}
	sdp := p.pc.LocalDescription().SDP
	mid, err := applicationMid(sdp)
	if err != nil {
		return nil, nil, err
	}
	ids[p.data.Label()] = "data:" + mid
	return &jsep{Type: "offer", SDP: sdp, Trickle: new(bool)}, ids, nil
}

// applicationMid is the mid of the offer's data-channel m-line.
func applicationMid(sdp string) (string, error) {
	inApplication := false
	for _, line := range strings.Split(sdp, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "m=") {
			inApplication = strings.HasPrefix(line, "m=application")
		} else if mid, ok := strings.CutPrefix(line, "a=mid:"); ok && inApplication {
			return mid, nil
		}
	}
	return "", errors.New("the offer has no data-channel m-line with a mid")
}

func (p *peer) answer(a *jsep) error {
	return p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: a.SDP})
}

func (p *peer) waitConnected(timeout time.Duration) error {
	deadline := time.After(timeout)
	for _, ch := range []chan struct{}{p.connected, p.dataOpen} {
		select {
		case <-ch:
		case err := <-p.failed:
			return err
		case <-deadline:
			return fmt.Errorf("not connected with an open data channel within %v", timeout)
		}
	}
	return nil
}

// send drives the streams for the duration: a 20 ms Opus-sized packet, a
// 1-3 packet video frame every 40 ms (marker on the last), a data message
// every 50 ms, sizes drawn from a fixed seed. Only writes that succeeded
// count.
func (p *peer) send(duration time.Duration) error {
	rng := rand.New(rand.NewPCG(21, 17))
	payload := func(lo, hi int) []byte {
		b := make([]byte, lo+rng.IntN(hi-lo+1))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	var audioSeq, videoSeq uint16
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	end := time.Now().Add(duration)
	for step := 0; time.Now().Before(end); step++ {
		<-tick.C
		if step%2 == 0 {
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: audioSeq, Timestamp: uint32(step) * 480}, Payload: payload(60, 200)}
			audioSeq++
			if err := p.audio.WriteRTP(pkt); err != nil {
				return fmt.Errorf("audio: %w", err)
			}
			p.count("audio", func(s *streamCounts) { s.sent.add(pkt.MarshalSize()); s.frames++ })
		}
		if step%4 == 0 {
			n := 1 + rng.IntN(3)
			for i := 0; i < n; i++ {
				pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: videoSeq, Timestamp: uint32(step) * 900, Marker: i == n-1},
					Payload: payload(300, 1100)}
				videoSeq++
				if err := p.video.WriteRTP(pkt); err != nil {
					return fmt.Errorf("video: %w", err)
				}
				p.count("video", func(s *streamCounts) {
					s.sent.add(pkt.MarshalSize())
					if pkt.Marker {
						s.frames++
					}
				})
			}
		}
		if step%5 == 0 {
			msg := payload(16, 1000)
			if err := p.data.Send(msg); err != nil {
				return fmt.Errorf("data channel: %w", err)
			}
			p.count(p.data.Label(), func(s *streamCounts) { s.sent.add(len(msg)) })
		}
	}
	return nil
}

// waitEchoed waits until every stream received back what it sent (the
// plugin echoes everything), or the timeout passes; the comparison with
// trackstats happens either way.
func (p *peer) waitEchoed(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		done := true
		p.mu.Lock()
		for _, s := range p.streams {
			done = done && s.received == s.sent
		}
		p.mu.Unlock()
		if done {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// snapshot returns the counts by track id.
func (p *peer) snapshot(ids map[string]string) map[string]streamCounts {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]streamCounts{}
	for label, s := range p.streams {
		out[ids[label]] = *s
	}
	return out
}
