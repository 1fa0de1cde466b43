package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// The one codec every PeerConnection here negotiates: VP8 without RTCP
// feedback. Without NACK nothing is retransmitted, so what a peer wrote is
// exactly what crossed the wire (the publishers' packets carry synthetic
// payloads; nothing decodes them).
var videoCodec = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}

const videoPayloadType = 96

// loopback is the only address ICE gathers and connects on.
var loopback = net.IPv4(127, 0, 0, 1)

// newPeerConnection makes a PeerConnection on an API of its own: VP8 only,
// host candidates on 127.0.0.1 only (no STUN, no mDNS), and first the given
// interceptor factories, then pion's RTCP sender and receiver reports. One
// API per PeerConnection lets the SFU give each its own
// tspion.Factory.ForPeer.
func newPeerConnection(first ...interceptor.Factory) (*webrtc.PeerConnection, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: videoCodec, PayloadType: videoPayloadType},
		webrtc.RTPCodecTypeVideo); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	for _, f := range first {
		ir.Add(f)
	}
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		return nil, err
	}
	var s webrtc.SettingEngine
	s.SetIncludeLoopbackCandidate(true)
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	s.SetIPFilter(func(ip net.IP) bool { return ip.Equal(loopback) })
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(s))
	return api.NewPeerConnection(webrtc.Configuration{})
}

// setLocal sets d as pc's local description and waits for ICE gathering to
// end, so that the description sent holds every candidate (no trickle).
func setLocal(ctx context.Context, pc *webrtc.PeerConnection, d webrtc.SessionDescription) (webrtc.SessionDescription, error) {
	done := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(d); err != nil {
		return webrtc.SessionDescription{}, err
	}
	select {
	case <-done:
	case <-ctx.Done():
		return webrtc.SessionDescription{}, fmt.Errorf("ICE gathering: %w", ctx.Err())
	}
	return *pc.LocalDescription(), nil
}

// ssrcTracks maps each SSRC of an SDP to its track id, from the
// "a=ssrc:<ssrc> msid:<stream> <track>" lines pion writes (RFC 5576, 8830).
func ssrcTracks(d webrtc.SessionDescription) (map[uint32]string, error) {
	parsed, err := d.Unmarshal()
	if err != nil {
		return nil, err
	}
	out := map[uint32]string{}
	for _, md := range parsed.MediaDescriptions {
		for _, a := range md.Attributes {
			if a.Key != "ssrc" {
				continue
			}
			ssrc, rest, ok := strings.Cut(a.Value, " ")
			if !ok || !strings.HasPrefix(rest, "msid:") {
				continue
			}
			fields := strings.Fields(strings.TrimPrefix(rest, "msid:"))
			n, err := strconv.ParseUint(ssrc, 10, 32)
			if err != nil || len(fields) != 2 {
				return nil, fmt.Errorf("bad ssrc line %q", a.Value)
			}
			out[uint32(n)] = fields[1]
		}
	}
	return out, nil
}

// waitUntil polls cond every 5 ms until it holds or the timeout passes.
func waitUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// connected is true once every PeerConnection is connected.
func connected(pcs ...*webrtc.PeerConnection) bool {
	for _, pc := range pcs {
		if pc.ConnectionState() != webrtc.PeerConnectionStateConnected {
			return false
		}
	}
	return true
}

// drainRTCP reads a sender's incoming RTCP until it closes, which pion needs
// for its RTCP interceptors to run.
func drainRTCP(s *webrtc.RTPSender) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := s.Read(buf); err != nil {
			return
		}
	}
}
