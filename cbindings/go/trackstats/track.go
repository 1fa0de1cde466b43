package trackstats

import (
	"sync/atomic"

	"github.com/trackstats/trackstats/cbindings/go/internal/clib"
)

// Track is the stats handle of one (participant, track, country) key.
// RecordUp and RecordDown are safe from any number of goroutines, never
// block and never allocate. A nil *Track is a valid no-op handle for every
// method: give a relayed copy of a track a nil Track so its bytes are not
// counted twice across nodes.
//
// Close every Track when its track ends: Close releases it. Its final
// reports come within milliseconds; records made after Close are still
// reported, flagged late, for a grace (5 s, or until 4096 Tracks closed
// later are in theirs), after which the library lets go of the Track and
// later records are counted in Stats.StaleRecords and StaleBytes instead
// of being reported. They are never counted into another track: a Track's
// counters are its own memory, never reused. A Track that is dropped
// without Close stays open (and keeps its memory, about 300 bytes) until
// Registry.Close.
type Track struct {
	// w is the hosted block of include/trackstats.h
	// (trackstats_track_open_hosted): the two window words the records
	// add to, then the let-go mark and the final totals. First in the
	// struct, so the window words never share a cache line with another
	// Track's window words (a Track is 112 B, and each object starts at a
	// multiple of 16 B).
	w [clib.HostedWords]uint64
	// h is the library's handle: named in calls until the let-go mark.
	h *clib.Track
	// r is the registry, which keeps this Track reachable while the
	// library may touch w (entries).
	r *Registry
	// x holds what few Tracks need: a listener, packet words.
	x atomic.Pointer[trackExtra]
	// userData is OpenTrack's, given back in every report.
	userData uint64
	// state is the report id (see entries) and the track* flags.
	state atomic.Uint64
}

// trackExtra is a Track's rare parts, immutable once published.
type trackExtra struct {
	// l receives the track's reports (OpenTrackWithListener).
	l ReportListener
	// pkt is the hosted packet block (RecordUpPacket), attached at the
	// first packet; nil before.
	pkt *[clib.HostedPacketWords]uint64
}

const (
	// trackClosed: the library has been told to release the Track (Close,
	// or Registry.Close for a Track still open).
	trackClosed uint64 = 1 << (63 - iota)
	// trackLetGo: the registry has read the let-go mark.
	trackLetGo
)

func (t *Track) has(flag uint64) bool { return t.state.Load()&flag != 0 }

// letGo is the let-go mark (the header's load_acquire: Go's atomic loads
// are sequentially consistent, stronger than acquire; pairs with the
// library's release store in HostedWords::let_go).
func (t *Track) letGo() bool { return atomic.LoadUint64(&t.w[clib.HostedWordLetGo]) != 0 }

// RecordUp records one message of n bytes received from the publisher
// (UPSTREAM).
func (t *Track) RecordUp(n uint64) {
	// The window-word rule of include/trackstats.h: one atomic add of
	// (one message | n bytes) on the Track's own word. The sampler takes
	// the word with an atomic swap, which reads the latest value in the
	// word's modification order; no other synchronisation is needed.
	var old uint64
	if t != nil && n <= MaxInlineBytes {
		old = atomic.AddUint64(&t.w[Up], clib.WordMessageOne|n) - (clib.WordMessageOne | n)
		if old != 0 && old&clib.WordSpillMask == 0 {
			return
		}
	}
	t.recordSlow(Up, n, old)
}

// RecordDown records one message of n bytes sent to a subscriber
// (DOWNSTREAM).
func (t *Track) RecordDown(n uint64) {
	// As RecordUp.
	var old uint64
	if t != nil && n <= MaxInlineBytes {
		old = atomic.AddUint64(&t.w[Down], clib.WordMessageOne|n) - (clib.WordMessageOne | n)
		if old != 0 && old&clib.WordSpillMask == 0 {
			return
		}
	}
	t.recordSlow(Down, n, old)
}

// The sizes of include/trackstats.h.
const (
	// MaxInlineBytes is the largest record done with one atomic add in Go;
	// larger ones take one call into the library.
	MaxInlineBytes = clib.MaxInlineBytes
	// MaxRecordBytes: larger records are rejected (counted in
	// Stats.RecordsRejected) because they can only come from a bug.
	MaxRecordBytes = clib.MaxRecordBytes
	// MaxIDBytes is the longest participant, track or country id.
	MaxIDBytes = clib.MaxIDBytes
)

// MaxBatchMessages is the most messages one add of RecordBatch carries.
// With at most this many messages and MaxInlineBytes bytes per add, the
// window word keeps the headroom the rule is built on: a field half full
// spills, and filling the other half takes more than 2^15 adds stalled
// between their add and their spill, as for single records.
const MaxBatchMessages = 255

// RecordBatch records messages messages of bytes bytes in all on side dir,
// counted elsewhere first: a host that counted a connection's traffic
// before it knew the track's key hands it over once the key is known. A
// batch of at most MaxBatchMessages messages and MaxInlineBytes bytes is one
// atomic add, so it lands whole in one window (invariant 2 for the batch);
// a larger one is split into such adds, which a window's end may separate.
// Either way every byte and message is reported exactly once. Zero messages
// with zero bytes do nothing; bytes with no message count bytes only. Never
// blocks, never allocates; an unknown direction or a nil Track does nothing.
func (t *Track) RecordBatch(dir Direction, messages, bytes uint64) {
	if t == nil || dir > Down {
		return
	}
	for messages > 0 || bytes > 0 {
		m, n := min(messages, MaxBatchMessages), min(bytes, MaxInlineBytes)
		messages, bytes = messages-m, bytes-n
		// The window-word rule of include/trackstats.h with m messages in
		// one add: each field of the increment is within the limits above.
		inc := m*clib.WordMessageOne | n
		if old := atomic.AddUint64(&t.w[dir], inc) - inc; old == 0 || old&clib.WordSpillMask != 0 {
			t.slowPath(dir, old)
		}
	}
}

// recordSlow is what the add does not finish, out of line so that RecordUp
// and RecordDown stay small enough to inline: a nil Track does nothing; a
// record too large for the word goes to the library whole (or, once the
// library has let go, is counted stale); otherwise old is the word before
// the add, 0 or with a spill bit set.
//
//go:noinline
func (t *Track) recordSlow(dir Direction, n, old uint64) {
	switch {
	case t == nil:
	case n > MaxInlineBytes:
		t.recordLarge(dir, n)
	default:
		t.slowPath(dir, old)
	}
}

// recordLarge is a record above MaxInlineBytes: the header's "larger
// records": through the handle while the library holds the block, counted
// stale after.
func (t *Track) recordLarge(dir Direction, n uint64) {
	if !t.letGo() {
		lib().Record(t.h, uint32(dir), n)
	} else if n <= MaxRecordBytes {
		lib().CountStale(t.r.core, n, 1)
	}
}

// slowPath is the rest of the header's hosted rule, given old, the word
// before the add: the library's slow path while it holds the block; once
// the let-go mark is set, the records left on the sealed word are taken
// off it and counted stale (a slow-path call racing the let-go is safe,
// and the check after it finds the record). No lock: the calls name the
// Track's handle and its registry's core, which outlives every Track.
func (t *Track) slowPath(dir Direction, old uint64) {
	if !t.letGo() {
		lib().SlowPath(t.h, uint32(dir), old)
	}
	if t.letGo() {
		if v := atomic.SwapUint64(&t.w[dir], clib.WordSealed) - clib.WordSealed; v != 0 {
			lib().CountStale(t.r.core, v&clib.WordBytesMask, v>>clib.WordBytesBits)
		}
	}
}

// Close releases the track: its final reports (FlagFinal) are produced
// within milliseconds (a manual registry: at its next Flush or Tick).
// Records after Close are still reported, flagged late, until the grace
// ends; after it they are counted as stale (see Track). Close is idempotent
// and safe to race with records and with other calls; a nil Track, or one
// whose registry is closed, returns nil. It always returns nil.
func (t *Track) Close() error {
	if t == nil || t.has(trackClosed) {
		return nil
	}
	r := t.r
	r.closeMu.Lock()
	// Under closeMu: one release per Track (Registry.Close releases the
	// Tracks still open under it too), in the order of the closing queue,
	// and never racing the packet words' attach.
	if t.state.Or(trackClosed)&trackClosed == 0 {
		lib().TrackReleaseAfterGrace(t.h)
		r.closing.push(t)
	}
	r.closeMu.Unlock()
	return nil
}

// Totals are the cumulative counts: every reported window plus the open
// one. Once the library has let go of the Track (after Close and its
// grace, or Registry.Close), they are what was reported for it; records
// after that are stale and not in them. A nil Track gives zeros.
func (t *Track) Totals() Totals {
	if t == nil {
		return Totals{}
	}
	if !t.letGo() {
		tot := lib().TrackTotals(t.h)
		// A read that raced the let-go may have found the slot emptied:
		// the block's totals are then the answer.
		if !t.letGo() {
			return goTotals(tot)
		}
	}
	return t.finalTotals()
}

// finalTotals are the totals the library left in the block (and in the
// packet block's reported words) when it let go.
func (t *Track) finalTotals() Totals {
	w := &t.w
	tot := Totals{
		UpBytes:      atomic.LoadUint64(&w[clib.HostedWordTotalUpBytes]),
		UpMessages:   atomic.LoadUint64(&w[clib.HostedWordTotalUpBytes+1]),
		DownBytes:    atomic.LoadUint64(&w[clib.HostedWordTotalUpBytes+2]),
		DownMessages: atomic.LoadUint64(&w[clib.HostedWordTotalUpBytes+3]),
	}
	if x := t.x.Load(); x != nil && x.pkt != nil {
		p := x.pkt
		tot.UpPacketsLost = atomic.LoadUint64(&p[hostedPacketReported+clib.PacketWordLost-1])
		tot.UpPacketsRecovered = atomic.LoadUint64(&p[hostedPacketReported+clib.PacketWordRecovered-1])
		tot.UpPacketsOutOfOrder = atomic.LoadUint64(&p[hostedPacketReported+clib.PacketWordOutOfOrder-1])
		tot.UpPacketsDuplicated = atomic.LoadUint64(&p[hostedPacketReported+clib.PacketWordDuplicated-1])
		tot.UpFrames = atomic.LoadUint64(&p[hostedPacketReported+clib.PacketWordFrames-1])
	}
	return tot
}

// hostedPacketReported is the first of the hosted packet block's words
// that hold what the library reported, in the order of the packet words
// from PacketWordLost (include/trackstats.h: "words 8 to 12 are the
// library's (what it has reported)").
const hostedPacketReported = 8

// OpenTrack opens a track. participantID and trackID must be non-empty;
// country may be empty; each id is at most MaxIDBytes of UTF-8 and is copied
// by the library, not by Go. userData comes back in every report. Close the
// Track when the track ends.
func (r *Registry) OpenTrack(participantID, trackID, country string, userData uint64) (*Track, error) {
	if r != nil && r.dispatchOnly {
		return nil, ErrListenerRequired
	}
	return r.open(participantID, trackID, country, userData, nil)
}

// OpenTrackWithListener opens a track whose reports go to l rather than to
// Drain or the report channel. A nil l is OpenTrack (so ErrListenerRequired
// on a WithDispatcher registry).
func (r *Registry) OpenTrackWithListener(participantID, trackID, country string, userData uint64, l ReportListener) (*Track, error) {
	if l == nil && r != nil && r.dispatchOnly {
		return nil, ErrListenerRequired
	}
	return r.open(participantID, trackID, country, userData, l)
}

func (r *Registry) open(participantID, trackID, country string, userData uint64, l ReportListener) (*Track, error) {
	if r == nil {
		return nil, ErrNilRegistry
	}
	t := &Track{r: r, userData: userData}
	if l != nil {
		t.x.Store(&trackExtra{l: l})
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.h == nil {
		return nil, ErrRegistryClosed
	}
	// Held before the library has the block's address: from here until
	// the registry reads the let-go mark, the registry keeps t reachable.
	id := r.entries.add(t)
	h, code := lib().TrackOpen(r.h, participantID, trackID, country, id, &t.w)
	if code != clib.ResultOK {
		r.entries.remove(t)
		return nil, ResultError(code)
	}
	// Before anyone else sees t (it is returned below; reports name it only
	// after a record; Registry.Close reads h holding mu for writing).
	t.h = h
	return t, nil
}
