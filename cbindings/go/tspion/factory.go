package tspion

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/pion/interceptor"
	"github.com/trackstats/trackstats/cbindings/go/trackstats"
)

// Key is what a stream is counted under: a trackstats track key and the
// user data its reports carry.
type Key struct {
	ParticipantID string
	TrackID       string
	Country       string
	UserData      uint64
}

// Stream is a stream pion is binding, as the Resolver sees it.
type Stream struct {
	// PeerConnection is the id of the stream's PeerConnection: the one
	// given to Factory.ForPeer, else the one pion gave NewInterceptor.
	PeerConnection string
	// Direction is trackstats.Up for a remote stream (received from the
	// peer) and trackstats.Down for a local one (sent to it).
	Direction trackstats.Direction
	// SSRC is the stream's SSRC (Info.SSRC).
	SSRC uint32
	// Repair is true for a remote retransmission (RTX) or FEC stream,
	// which counts bytes and messages but no sequence numbers.
	Repair bool
	// Info is pion's description of the stream. Read it during the call
	// only; pion owns it.
	Info *interceptor.StreamInfo
}

// Resolver gives the Key a stream is counted under, or nil to count nothing
// (a relayed copy of a track). It runs once per bind, on pion's goroutine,
// while pion sets the stream up: it must not call back into that
// PeerConnection, and should answer from the host's own state (the tracks
// it has signalled, the SSRCs of the SDP it received, the RTPSenders it
// added).
type Resolver func(s Stream) *Key

// ErrNoRegistry and ErrNoResolver: NewFactory needs both (ErrNoRegistry
// wraps trackstats.ErrNilRegistry). ErrNilFactory: NewInterceptor on a nil
// *Factory.
var (
	ErrNoRegistry = fmt.Errorf("tspion: nil registry: %w", trackstats.ErrNilRegistry)
	ErrNoResolver = errors.New("tspion: nil resolver")
	ErrNilFactory = errors.New("tspion: nil *Factory")
)

// Factory is an interceptor.Factory: one Interceptor per PeerConnection, all
// counting into one trackstats.Registry. Safe for concurrent use.
type Factory struct {
	reg     *trackstats.Registry
	resolve Resolver
	onError func(Stream, error)
	// peerID, when set, replaces the id pion gives NewInterceptor.
	peerID string
	// tracks is shared by the factory and every ForPeer copy of it.
	tracks *trackTable
}

// Option configures NewFactory.
type Option func(*Factory)

// WithErrorHandler calls f when a resolved stream's track cannot be opened
// (the registry is closed, an id is invalid, ...); that stream is then not
// counted. Without it, or with a nil f, such a stream is skipped silently.
func WithErrorHandler(f func(Stream, error)) Option { return func(x *Factory) { x.onError = f } }

// NewFactory makes a factory counting into reg, resolving streams with
// resolve. A nil Option is trackstats.ErrInvalidOption.
func NewFactory(reg *trackstats.Registry, resolve Resolver, opts ...Option) (*Factory, error) {
	if reg == nil {
		return nil, ErrNoRegistry
	}
	if resolve == nil {
		return nil, ErrNoResolver
	}
	f := &Factory{reg: reg, resolve: resolve, tracks: &trackTable{m: map[Key]*sharedTrack{}}}
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("tspion: option %d is nil: %w", i, trackstats.ErrInvalidOption)
		}
		o(f)
	}
	return f, nil
}

// ForPeer is the factory for a PeerConnection the host knows as id: its
// streams reach the Resolver with Stream.PeerConnection == id (pion's own
// PeerConnection id is not visible to the host). Use it with one
// interceptor.Registry (and so one webrtc.API) per PeerConnection. The copy
// shares the original's registry, resolver and tracks. A nil Factory's is
// nil.
func (f *Factory) ForPeer(id string) *Factory {
	if f == nil {
		return nil
	}
	c := *f
	c.peerID = id
	return &c
}

// NewInterceptor is interceptor.Factory's: pion calls it once per
// PeerConnection, with that PeerConnection's id. ErrNilFactory on a nil
// Factory.
func (f *Factory) NewInterceptor(id string) (interceptor.Interceptor, error) {
	if f == nil {
		return nil, ErrNilFactory
	}
	if f.peerID != "" {
		id = f.peerID
	}
	return &Interceptor{
		f:      f,
		pc:     id,
		remote: map[uint32][]*sharedTrack{},
		local:  map[uint32][]*sharedTrack{},
	}, nil
}

// open resolves s and returns its shared track, or nil when it is not
// counted.
func (f *Factory) open(s Stream) *sharedTrack {
	// The host's code runs outside every lock of ours.
	k := f.resolve(s)
	if k == nil {
		return nil
	}
	st, err := f.tracks.acquire(f.reg, *k)
	if err != nil {
		if f.onError != nil {
			f.onError(s, err)
		}
		return nil
	}
	return st
}

// trackTable is the open tracks by Key: streams of one Key (a media stream
// and its RTX stream, or two PeerConnections of one participant) share one
// trackstats.Track. Only binds and unbinds take its lock, never a packet.
type trackTable struct {
	mu sync.Mutex
	m  map[Key]*sharedTrack
}

type sharedTrack struct {
	key   Key
	track *trackstats.Track
	// refs is the binds holding the track; guarded by trackTable.mu.
	refs int
}

func (tt *trackTable) acquire(reg *trackstats.Registry, k Key) (*sharedTrack, error) {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	if st := tt.m[k]; st != nil {
		st.refs++
		return st, nil
	}
	t, err := reg.OpenTrack(k.ParticipantID, k.TrackID, k.Country, k.UserData)
	if err != nil {
		return nil, err
	}
	st := &sharedTrack{key: k, track: t, refs: 1}
	tt.m[k] = st
	return st, nil
}

// release drops one bind; the last one closes the track (its final reports
// follow within milliseconds). A packet still in flight on a wrapper of it
// is counted all the same, reported flagged late.
func (tt *trackTable) release(st *sharedTrack) {
	tt.mu.Lock()
	st.refs--
	last := st.refs == 0
	if last {
		delete(tt.m, st.key)
	}
	tt.mu.Unlock()
	if last {
		// Close only fails once the registry is closed, which has then
		// final-flushed the track already.
		_ = st.track.Close()
	}
}

// isRepair tells a retransmission or FEC stream by its MIME subtype:
// "rtx" (RFC 4588), "ulpfec" (RFC 5109), "flexfec" and "flexfec-03".
func isRepair(info *interceptor.StreamInfo) bool {
	_, sub, ok := strings.Cut(info.MimeType, "/")
	if !ok {
		return false
	}
	sub = strings.ToLower(sub)
	return sub == "rtx" || sub == "ulpfec" || strings.HasPrefix(sub, "flexfec")
}
