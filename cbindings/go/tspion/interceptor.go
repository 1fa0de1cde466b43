package tspion

import (
	"encoding/binary"
	"sync"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/trackstats/trackstats/cbindings/go/trackstats"
)

// Interceptor counts one PeerConnection's RTP streams. pion makes it through
// Factory.NewInterceptor; its RTCP methods pass everything through. A nil
// *Interceptor, or a nil StreamInfo, binds nothing: the stream's reader or
// writer comes back as it is, and Unbind and Close do nothing.
type Interceptor struct {
	interceptor.NoOp

	f  *Factory
	pc string

	// mu guards the bindings below; only Bind, Unbind and Close take it.
	mu sync.Mutex
	// remote and local are the tracks bound per SSRC, one entry per bind
	// (nil for a stream not counted), so that each Unbind releases one.
	// pion unbinds by a StreamInfo that may be another copy than the one it
	// bound, so the SSRC is the key.
	remote, local map[uint32][]*sharedTrack
	closed        bool
}

// BindRemoteStream wraps the reader of a stream received from the peer: each
// packet read is recorded UPSTREAM. A stream resolved to nil gets reader
// itself back.
func (i *Interceptor) BindRemoteStream(info *interceptor.StreamInfo, reader interceptor.RTPReader) interceptor.RTPReader {
	if i == nil || info == nil {
		return reader
	}
	s := Stream{PeerConnection: i.pc, Direction: trackstats.Up, SSRC: info.SSRC, Repair: isRepair(info), Info: info}
	st := i.bind(i.remote, s)
	if st == nil {
		return reader
	}
	return &remoteReader{next: reader, track: st.track, repair: s.Repair}
}

// UnbindRemoteStream releases what BindRemoteStream bound for info.SSRC.
func (i *Interceptor) UnbindRemoteStream(info *interceptor.StreamInfo) {
	if i == nil || info == nil {
		return
	}
	i.unbind(i.remote, info.SSRC)
}

// BindLocalStream wraps the writer of a stream sent to the peer: each packet
// the writer below accepts is recorded DOWNSTREAM. A stream resolved to nil
// gets writer itself back.
func (i *Interceptor) BindLocalStream(info *interceptor.StreamInfo, writer interceptor.RTPWriter) interceptor.RTPWriter {
	if i == nil || info == nil {
		return writer
	}
	s := Stream{PeerConnection: i.pc, Direction: trackstats.Down, SSRC: info.SSRC, Info: info}
	st := i.bind(i.local, s)
	if st == nil {
		return writer
	}
	return &localWriter{next: writer, track: st.track}
}

// UnbindLocalStream releases what BindLocalStream bound for info.SSRC.
func (i *Interceptor) UnbindLocalStream(info *interceptor.StreamInfo) {
	if i == nil || info == nil {
		return
	}
	i.unbind(i.local, info.SSRC)
}

// Close releases every stream still bound (pion closes the interceptor with
// its PeerConnection). Idempotent.
func (i *Interceptor) Close() error {
	if i == nil {
		return nil
	}
	i.mu.Lock()
	var held []*sharedTrack
	for _, m := range []map[uint32][]*sharedTrack{i.remote, i.local} {
		for ssrc, sts := range m {
			held = append(held, sts...)
			delete(m, ssrc)
		}
	}
	i.closed = true
	i.mu.Unlock()
	for _, st := range held {
		if st != nil {
			i.f.tracks.release(st)
		}
	}
	return nil
}

// bind resolves s and remembers the result under its SSRC. A bind after
// Close counts nothing.
func (i *Interceptor) bind(m map[uint32][]*sharedTrack, s Stream) *sharedTrack {
	i.mu.Lock()
	closed := i.closed
	i.mu.Unlock()
	if closed {
		return nil
	}
	st := i.f.open(s)
	i.mu.Lock()
	if i.closed {
		// Closed while the resolver ran.
		i.mu.Unlock()
		if st != nil {
			i.f.tracks.release(st)
		}
		return nil
	}
	m[s.SSRC] = append(m[s.SSRC], st)
	i.mu.Unlock()
	return st
}

// unbind releases the latest bind of ssrc; an SSRC not bound is a no-op.
func (i *Interceptor) unbind(m map[uint32][]*sharedTrack, ssrc uint32) {
	i.mu.Lock()
	sts := m[ssrc]
	if len(sts) == 0 {
		i.mu.Unlock()
		return
	}
	st := sts[len(sts)-1]
	if len(sts) == 1 {
		delete(m, ssrc)
	} else {
		m[ssrc] = sts[:len(sts)-1]
	}
	i.mu.Unlock()
	if st != nil {
		i.f.tracks.release(st)
	}
}

// The fixed RTP header (RFC 3550, section 5.1).
const (
	rtpHeaderLen = 12
	rtpVersion   = 2
	rtpMarker    = 0x80
)

// remoteReader records a remote stream's packets UPSTREAM: a media
// stream's with their sequence numbers, a repair stream's (RTX, FEC) as
// bytes and messages only. pion reads a stream from one goroutine (the
// track's read loop), which keeps the sequence counts exact.
type remoteReader struct {
	next   interceptor.RTPReader
	track  *trackstats.Track
	repair bool
}

func (r *remoteReader) Read(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
	n, a, err := r.next.Read(b, a)
	// A reader that claims more than b holds is broken: count nothing.
	if err == nil && n > 0 && n <= len(b) {
		p := b[:n]
		if r.repair || len(p) < rtpHeaderLen || p[0]>>6 != rtpVersion {
			r.track.RecordUp(uint64(n))
		} else {
			r.track.RecordUpPacket(uint64(n), binary.BigEndian.Uint16(p[2:4]), p[1]&rtpMarker != 0)
		}
	}
	return n, a, err
}

// localWriter records a local stream's packets DOWNSTREAM once the writer
// below (SRTP, or an inner interceptor) accepted them.
type localWriter struct {
	next  interceptor.RTPWriter
	track *trackstats.Track
}

func (w *localWriter) Write(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
	n, err := w.next.Write(h, payload, a)
	if err == nil {
		// The size SRTP marshals and encrypts (srtp's WriteRTP uses the
		// same function); n is not it: SRTP returns the encrypted length.
		w.track.RecordDown(uint64(rtp.PacketMarshalSize(h, payload))) //nolint:staticcheck // pion's own rule until v5
	}
	return n, err
}
