package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/pion/webrtc/v4"
	"github.com/trackstats/trackstats/cbindings/go/trackstats"
	"github.com/trackstats/trackstats/cbindings/go/tspion"
)

// sfu forwards every published media track and data channel to every
// subscriber. Media is counted by the tspion interceptor in each of its
// PeerConnections; data-channel messages by the SFU itself, with RecordUp-
// Packet as they arrive (they carry a sequence number) and RecordDown as
// they are sent on.
type sfu struct {
	reg     *trackstats.Registry
	factory *tspion.Factory

	mu        sync.Mutex
	peers     map[string]*sfuPeer
	published []*publishedTrack
	// binds counts the streams pion bound, per direction, counted or not:
	// the demo starts sending once every stream is bound.
	binds [2]int
}

// sfuPeer is one PeerConnection of the SFU: to a publisher or a subscriber.
type sfuPeer struct {
	id, country string
	// relay: a subscriber that is another SFU node, which counts the
	// track itself: its copies are not counted here (nil tracks).
	relay bool
	pc    *webrtc.PeerConnection
	// ssrcTrack maps the SSRCs of the peer's streams to track ids: a
	// publisher's from its offer, a subscriber's from the RTPSenders the
	// SFU added. Set before negotiation, so before pion binds them.
	ssrcTrack map[uint32]string
	// dataDown are the subscriber's data tracks, closed with the SFU.
	dataDown []*trackstats.Track
}

// publishedTrack is a publisher's media track and data channel, as the SFU
// forwards them.
type publishedTrack struct {
	publisher *sfuPeer
	trackID   string
	dataID    string
	// media is the one local track every subscriber's RTPSender sends.
	media *webrtc.TrackLocalStaticRTP
	// dataUp counts the publisher's data-channel messages (UPSTREAM).
	dataUp *trackstats.Track

	mu sync.Mutex
	// subs are the open data channels to subscribers, each with its
	// DOWNSTREAM track (nil for a relay).
	subs []dataSub
}

type dataSub struct {
	dc    *webrtc.DataChannel
	track *trackstats.Track
}

func newSFU(reg *trackstats.Registry) (*sfu, error) {
	s := &sfu{reg: reg, peers: map[string]*sfuPeer{}}
	f, err := tspion.NewFactory(reg, s.resolve, tspion.WithErrorHandler(func(st tspion.Stream, err error) {
		fmt.Printf("sfu: stream %d of %s not counted: %v\n", st.SSRC, st.PeerConnection, err)
	}))
	if err != nil {
		return nil, err
	}
	s.factory = f
	return s, nil
}

// resolve is the tspion Resolver: a stream's key is its peer's participant
// id and country with the track id the SSRC was signalled with. A relay's
// streams, and SSRCs nobody signalled, are not counted.
func (s *sfu) resolve(st tspion.Stream) *tspion.Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.binds[st.Direction]++
	p := s.peers[st.PeerConnection]
	if p == nil {
		return nil
	}
	trackID, ok := p.ssrcTrack[st.SSRC]
	if !ok || p.relay {
		return nil
	}
	return &tspion.Key{ParticipantID: p.id, TrackID: trackID, Country: p.country}
}

func (s *sfu) bound() (up, down int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.binds[trackstats.Up], s.binds[trackstats.Down]
}

// newPeer makes a PeerConnection whose streams the resolver knows as id's.
func (s *sfu) newPeer(id, country string, relay bool, ssrcTrack map[uint32]string) (*sfuPeer, error) {
	pc, err := newPeerConnection(s.factory.ForPeer(id))
	if err != nil {
		return nil, err
	}
	p := &sfuPeer{id: id, country: country, relay: relay, pc: pc, ssrcTrack: ssrcTrack}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.peers[id] != nil {
		_ = pc.Close()
		return nil, fmt.Errorf("peer %q already connected", id)
	}
	s.peers[id] = p
	return p, nil
}

// publish takes a publisher's offer (one video track and one data channel)
// and returns the SFU's answer. The track ids come from the offer's msid
// lines; the data track's id is the data channel's label.
func (s *sfu) publish(ctx context.Context, id, country string, offer webrtc.SessionDescription) (webrtc.SessionDescription, error) {
	tracks, err := ssrcTracks(offer)
	if err != nil {
		return webrtc.SessionDescription{}, err
	}
	if len(tracks) != 1 {
		return webrtc.SessionDescription{}, fmt.Errorf("publisher %s offers %d tracks, want 1", id, len(tracks))
	}
	p, err := s.newPeer(id, country, false, tracks)
	if err != nil {
		return webrtc.SessionDescription{}, err
	}
	pt := &publishedTrack{publisher: p}
	for _, t := range tracks {
		pt.trackID = t
	}
	// The stream id of the forwarded copies is the publisher's id.
	if pt.media, err = webrtc.NewTrackLocalStaticRTP(videoCodec, pt.trackID, id); err != nil {
		return webrtc.SessionDescription{}, err
	}
	p.pc.OnTrack(func(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { s.forwardMedia(pt, remote) })
	p.pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		// Opened on the publisher's DataChannel, before its first message.
		dataUp, err := s.reg.OpenTrack(id, dc.Label(), country, 0)
		if err != nil {
			fmt.Printf("sfu: data track of %s not counted: %v\n", id, err)
		}
		pt.mu.Lock()
		pt.dataID, pt.dataUp = dc.Label(), dataUp
		pt.mu.Unlock()
		dc.OnMessage(func(m webrtc.DataChannelMessage) { s.forwardData(pt, m.Data) })
	})
	if err := p.pc.SetRemoteDescription(offer); err != nil {
		return webrtc.SessionDescription{}, err
	}
	answer, err := p.pc.CreateAnswer(nil)
	if err != nil {
		return webrtc.SessionDescription{}, err
	}
	if answer, err = setLocal(ctx, p.pc, answer); err != nil {
		return webrtc.SessionDescription{}, err
	}
	s.mu.Lock()
	s.published = append(s.published, pt)
	s.mu.Unlock()
	return answer, nil
}

// forwardMedia reads the publisher's packets (through the interceptor,
// which records them UPSTREAM) and writes each to the local track, which
// sends it to every subscriber (through their interceptors: DOWNSTREAM).
func (s *sfu) forwardMedia(pt *publishedTrack, remote *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	for {
		n, _, err := remote.Read(buf)
		if err != nil {
			return
		}
		// A subscriber that went away fails its write; the others still
		// get the packet.
		_, _ = pt.media.Write(buf[:n])
	}
}

// forwardData counts a publisher's message UPSTREAM, with the sequence
// number its first two bytes carry (each message a frame), and sends it on
// to each subscriber, counted DOWNSTREAM once the data channel took it.
// pion calls it from the publisher's one SCTP read loop, which keeps the
// sequence counts exact.
func (s *sfu) forwardData(pt *publishedTrack, msg []byte) {
	pt.mu.Lock()
	subs, up := pt.subs, pt.dataUp
	pt.mu.Unlock()
	if len(msg) >= 2 {
		up.RecordUpPacket(uint64(len(msg)), binary.BigEndian.Uint16(msg), true)
	} else {
		up.RecordUp(uint64(len(msg)))
	}
	for _, sub := range subs {
		if err := sub.dc.Send(msg); err == nil {
			sub.track.RecordDown(uint64(len(msg)))
		}
	}
}

// subscribe connects a subscriber to every published track and data
// channel: it returns the SFU's offer, which answer completes.
func (s *sfu) subscribe(ctx context.Context, id, country string, relay bool) (webrtc.SessionDescription, error) {
	p, err := s.newPeer(id, country, relay, map[uint32]string{})
	if err != nil {
		return webrtc.SessionDescription{}, err
	}
	s.mu.Lock()
	published := append([]*publishedTrack(nil), s.published...)
	s.mu.Unlock()
	for _, pt := range published {
		sender, err := p.pc.AddTrack(pt.media)
		if err != nil {
			return webrtc.SessionDescription{}, err
		}
		go drainRTCP(sender)
		// pion picks the sender's SSRC now and binds it after negotiation.
		s.mu.Lock()
		p.ssrcTrack[uint32(sender.GetParameters().Encodings[0].SSRC)] = pt.trackID
		s.mu.Unlock()

		pt.mu.Lock()
		dataID := pt.dataID
		pt.mu.Unlock()
		if dataID == "" {
			return webrtc.SessionDescription{}, fmt.Errorf("publisher %s has no data channel yet", pt.publisher.id)
		}
		var down *trackstats.Track
		if !relay {
			if down, err = s.reg.OpenTrack(id, dataID, country, 0); err != nil {
				return webrtc.SessionDescription{}, err
			}
			p.dataDown = append(p.dataDown, down)
		}
		dc, err := p.pc.CreateDataChannel(dataID, nil)
		if err != nil {
			return webrtc.SessionDescription{}, err
		}
		dc.OnOpen(func() {
			pt.mu.Lock()
			pt.subs = append(pt.subs, dataSub{dc: dc, track: down})
			pt.mu.Unlock()
		})
	}
	offer, err := p.pc.CreateOffer(nil)
	if err != nil {
		return webrtc.SessionDescription{}, err
	}
	return setLocal(ctx, p.pc, offer)
}

// answer completes a subscription.
func (s *sfu) answer(id string, answer webrtc.SessionDescription) error {
	s.mu.Lock()
	p := s.peers[id]
	s.mu.Unlock()
	if p == nil {
		return fmt.Errorf("no subscriber %q", id)
	}
	return p.pc.SetRemoteDescription(answer)
}

// dataChannels is the published tracks whose data channel reached the SFU,
// and the data channels open to subscribers over all of them.
func (s *sfu) dataChannels() (published, open int) {
	s.mu.Lock()
	tracks := append([]*publishedTrack(nil), s.published...)
	s.mu.Unlock()
	for _, pt := range tracks {
		pt.mu.Lock()
		if pt.dataID != "" {
			published++
		}
		open += len(pt.subs)
		pt.mu.Unlock()
	}
	return published, open
}

func (s *sfu) peerConnections() []*webrtc.PeerConnection {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*webrtc.PeerConnection
	for _, p := range s.peers {
		out = append(out, p.pc)
	}
	return out
}

// close closes every PeerConnection (pion unbinds their streams: the
// interceptor closes their tracks) and the data tracks.
func (s *sfu) close() error {
	s.mu.Lock()
	peers := make([]*sfuPeer, 0, len(s.peers))
	for _, p := range s.peers {
		peers = append(peers, p)
	}
	published := s.published
	s.mu.Unlock()
	var errs []error
	for _, p := range peers {
		errs = append(errs, p.pc.Close())
		for _, t := range p.dataDown {
			errs = append(errs, t.Close())
		}
	}
	for _, pt := range published {
		pt.mu.Lock()
		up := pt.dataUp
		pt.mu.Unlock()
		errs = append(errs, up.Close())
	}
	return errors.Join(errs...)
}
