package tslivekit

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/livekit/protocol/livekit"
	"github.com/trackstats/trackstats/cbindings/go/trackstats"
)

// TrafficTotals are LiveKit's TrafficTotals, field for field (LiveKit can
// alias its type to this one).
type TrafficTotals struct {
	At           time.Time
	SendBytes    uint64
	SendMessages uint32
	RecvBytes    uint64
	RecvMessages uint32
}

// BytesTrackStats counts one participant's data or signal bytes, both
// directions, with LiveKit's BytesTrackStats methods (AddBytes,
// GetTrafficTotals, Stop) and what LiveKit's signal stats need (Bind,
// Reset, Wait). All methods are safe for concurrent use; a nil
// *BytesTrackStats is a no-op for every method (the relay case).
//
// Its key is bound once (NewBytesTrackStats, or Bind after
// NewUnboundBytesTrackStats). Each key is one trackstats track; until the
// first Bind, and between Reset and the next Bind, messages are counted in
// the object and handed to the next key's track when it opens, so every
// message is reported once, under the key bound after it (LiveKit's signal
// stats do the same with their counters).
type BytesTrackStats struct {
	// cur is the bound key's track: nil while unbound. After Stop it stays,
	// so that bytes added later reach the stopped track (reported late, or
	// dropped by its relay with DropAfterStop).
	cur atomic.Pointer[trackstats.Track]
	// failed is err != nil, read without mu on the unbound path.
	failed atomic.Bool

	mu sync.Mutex
	// pending is what was added while unbound, per direction.
	pending [2]counts
	// base is what the ended keys counted, for GetTrafficTotals.
	base [2]counts
	// rl is the latest key's relay, which Wait waits for; ended says that
	// key has ended (Stop or Reset).
	rl      *relay
	ended   bool
	stopped bool
	err     error

	reg      *trackstats.Registry
	out      sink // nil drops the stats
	dropLate bool
}

// counts are bytes and messages of one direction.
type counts struct{ bytes, messages uint64 }

func (c counts) plus(o counts) counts { return counts{c.bytes + o.bytes, c.messages + o.messages} }

// sub is c - o, each field at least 0.
func (c counts) sub(o counts) counts {
	return counts{c.bytes - min(o.bytes, c.bytes), c.messages - min(o.messages, c.messages)}
}

func (c counts) min(o counts) counts {
	return counts{min(c.bytes, o.bytes), min(c.messages, o.messages)}
}

func (c counts) covers(o counts) bool { return c.bytes >= o.bytes && c.messages >= o.messages }

func (c counts) zero() bool { return c.bytes == 0 && c.messages == 0 }

// NewBytesTrackStats is LiveKit's NewBytesTrackStats for the counting: the
// same key arguments (the participant's country, the track id, the
// participant id: for a subscriber's copy of a track, the subscriber's
// country and id with the publisher's track id), LiveKit's telemetry
// listener, and LiveKit's key constructor (telemetry.StatsKeyForData). The
// receive side (AddBytes with isSend false) is reported UPSTREAM, the send
// side DOWNSTREAM, every 5 s (the registry's window) and at Stop.
//
// It cannot fail: if the track cannot be opened (no registry, an empty or
// over-long id, WithRegistry(nil), a nil Option), the object counts nothing
// and Err says why; what it counts nothing of is still safe to call. A nil
// listener or key drops the stats.
func NewBytesTrackStats[K any](country string, trackID livekit.TrackID, pID livekit.ParticipantID,
	listener Listener[K], key KeyFunc[K], opts ...Option) *BytesTrackStats {
	s := NewUnboundBytesTrackStats(listener, key, opts...)
	s.Bind(country, trackID, pID)
	return s
}

// NewUnboundBytesTrackStats is a stats object whose key is not known yet
// (LiveKit's signal stats, before the room and participant are resolved):
// it counts from now, and Bind gives it its key. It cannot fail (see
// NewBytesTrackStats).
func NewUnboundBytesTrackStats[K any](listener Listener[K], key KeyFunc[K], opts ...Option) *BytesTrackStats {
	var cfg config
	for i, o := range opts {
		if o == nil {
			cfg.err = fmt.Errorf("tslivekit: option %d is nil: %w", i, trackstats.ErrInvalidOption)
			break
		}
		o(&cfg)
	}
	s := &BytesTrackStats{reg: cfg.reg, out: newSink(listener, key), dropLate: cfg.dropLate}
	if cfg.err != nil {
		s.failLocked(cfg.err)
	} else if s.reg == nil {
		var err error
		if s.reg, err = DefaultRegistry(); err != nil {
			s.failLocked(err)
		}
	}
	return s
}

// Err is why the object counts nothing (nil while it counts): the registry
// could not be made or was closed, or the bound key was refused (an empty
// participant or track id, one over trackstats.MaxIDBytes, invalid UTF-8).
func (s *BytesTrackStats) Err() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// failLocked makes s count nothing from now on; what it held is dropped.
func (s *BytesTrackStats) failLocked(err error) {
	s.err = errors.Join(errors.New("tslivekit: counting nothing"), err)
	s.failed.Store(true)
	s.pending = [2]counts{}
}

// AddBytes counts one message: received (isSend false, UPSTREAM) or sent
// (isSend true, DOWNSTREAM). Bound, it is one atomic add on the track
// (trackstats.Track.RecordUp or RecordDown): no lock, no allocation, no
// cgo call but the track's first in each window. Unbound, it takes the
// object's mutex. LiveKit's per-message roomobs reporter is not called here:
// it stays in LiveKit's AddBytes.
func (s *BytesTrackStats) AddBytes(bytes uint64, isSend bool) {
	if s == nil {
		return
	}
	if t := s.cur.Load(); t != nil {
		if isSend {
			t.RecordDown(bytes)
		} else {
			t.RecordUp(bytes)
		}
		return
	}
	dir := trackstats.Up
	if isSend {
		dir = trackstats.Down
	}
	s.addUnbound(dir, counts{bytes, 1})
}

// AddDataPacket counts one data-track packet received from the publisher:
// AddBytes(bytes, false) plus its 16-bit sequence number and end-of-frame
// mark (trackstats.Track.RecordUpPacket), which fill the UPSTREAM stat's
// PacketsLost, PacketsOutOfOrder and Frames. Exact with one goroutine at a
// time adding a track's packets. Unbound, only the bytes are counted.
func (s *BytesTrackStats) AddDataPacket(bytes uint64, seq uint16, endOfFrame bool) {
	if s == nil {
		return
	}
	if t := s.cur.Load(); t != nil {
		t.RecordUpPacket(bytes, seq, endOfFrame)
		return
	}
	s.addUnbound(trackstats.Up, counts{bytes, 1})
}

// addUnbound counts c on side dir of whatever is bound now: the bound track
// if a Bind came first (under mu, so the hand-over in Bind and this add are
// ordered), else pending.
func (s *BytesTrackStats) addUnbound(dir trackstats.Direction, c counts) {
	if s.failed.Load() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.cur.Load(); t != nil {
		t.RecordBatch(dir, c.messages, c.bytes)
	} else if s.err == nil {
		s.pending[dir] = s.pending[dir].plus(c)
	}
}

// Bind gives an unbound object its key, as NewBytesTrackStats takes it:
// it opens the key's track and hands it what was counted since the object
// was made or Reset, in one add per direction (so in one window). A bound
// object ignores Bind. After Stop, Bind still binds, and ends the binding at
// once: its final stats are what was counted before.
func (s *BytesTrackStats) Bind(country string, trackID livekit.TrackID, pID livekit.ParticipantID) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil || s.cur.Load() != nil {
		return
	}
	rl := &relay{owner: weak.Make(s), dropLate: s.dropLate}
	tk, err := s.reg.OpenTrackWithListener(string(pID), string(trackID), country, 0, rl)
	if err != nil {
		s.failLocked(err)
		return
	}
	for dir, p := range s.pending {
		tk.RecordBatch(trackstats.Direction(dir), p.messages, p.bytes)
	}
	s.pending = [2]counts{}
	s.rl, s.ended = rl, false
	s.cur.Store(tk)
	// An object dropped without Stop ends its track (a trackstats Track
	// stays open until it is closed): a cleanup, not a finalizer, because a
	// listener may reach the object (a finalizer never runs on an object in
	// a cycle). The Track reaches the object only through the relay's weak
	// pointer (or its pin, once the track has ended), so an object LiveKit
	// let go of is collected and the cleanup runs.
	runtime.AddCleanup(s, closeTrack, tk)
	if s.stopped {
		s.endLocked(tk, false)
	}
}

func closeTrack(t *trackstats.Track) { _ = t.Close() }

// endLocked ends the bound key, whose track is t: it reads t's totals, then
// closes t. The totals are the stats the listener gets for the key before
// Wait returns (the final stats, flagged final in the library, come within
// milliseconds); what t counts after them goes back to the object (reset:
// to the next key), or is reported late or dropped (Stop, see
// DropAfterStop). It returns the totals.
func (s *BytesTrackStats) endLocked(t *trackstats.Track, reset bool) [2]counts {
	tot := t.Totals()
	limit := [2]counts{{tot.UpBytes, tot.UpMessages}, {tot.DownBytes, tot.DownMessages}}
	s.ended = true
	_ = t.Close() // a closed registry: nothing more to flush
	s.rl.end(s, limit, reset)
	return limit
}

// Stop ends the object, as LiveKit's Stop: it returns at once, and the
// final stats reach the listener within milliseconds (Wait waits for them).
// Bytes added later are reported late, or dropped with DropAfterStop; they
// count in GetTrafficTotals either way. Idempotent.
func (s *BytesTrackStats) Stop() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.stopped = true
	if t := s.cur.Load(); t != nil && !s.ended {
		s.endLocked(t, false)
	}
}

// Reset ends the bound key, as Stop does, and unbinds the object: what is
// added from now on is counted for the next Bind, and so is what the ended
// track counts past its final stats (records that raced Reset). It also
// undoes Stop. Unbound, it does nothing but that. Returns at once; Wait
// waits for the ended key's final stats.
func (s *BytesTrackStats) Reset() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = false
	t := s.cur.Load()
	if t == nil {
		return
	}
	s.cur.Store(nil)
	var limit [2]counts
	if s.ended {
		// Stopped first: what the stopped track counts from now on goes to
		// the next key too.
		limit = s.rl.redirect()
	} else {
		limit = s.endLocked(t, true)
	}
	for dir := range s.base {
		s.base[dir] = s.base[dir].plus(limit[dir])
	}
}

// Wait returns once the latest key's binding has ended (Stop or Reset) and
// its stats up to the end have reached the listener (the listener has
// returned), or once the registry has closed. At once if the object was
// never bound. With DropAfterStop, or after Reset, the listener gets nothing
// more for that key once Wait has returned. LiveKit's signal stats call
// ParticipantLeft after it. Stats reach the listener only as the registry
// delivers them: a registry in pull mode needs its Drain.
func (s *BytesTrackStats) Wait() {
	if s == nil {
		return
	}
	s.mu.Lock()
	rl, reg := s.rl, s.reg
	s.mu.Unlock()
	if rl == nil {
		return
	}
	select {
	case <-rl.doneChan():
	case <-reg.Done():
	}
}

// GetTrafficTotals are the cumulative counts of the object's life, every
// key and the unbound time included: reported stats plus the open window.
// Message counts are uint32, as LiveKit's. Records that raced a Reset are
// counted once they reach the next key.
func (s *BytesTrackStats) GetTrafficTotals() *TrafficTotals {
	if s == nil {
		return &TrafficTotals{At: time.Now()}
	}
	s.mu.Lock()
	up, down := s.base[trackstats.Up].plus(s.pending[trackstats.Up]), s.base[trackstats.Down].plus(s.pending[trackstats.Down])
	if tk := s.cur.Load(); tk != nil {
		t := tk.Totals()
		up = up.plus(counts{t.UpBytes, t.UpMessages})
		down = down.plus(counts{t.DownBytes, t.DownMessages})
	}
	s.mu.Unlock()
	return &TrafficTotals{
		At:           time.Now(),
		SendBytes:    down.bytes,
		SendMessages: uint32(down.messages),
		RecvBytes:    up.bytes,
		RecvMessages: uint32(up.messages),
	}
}
