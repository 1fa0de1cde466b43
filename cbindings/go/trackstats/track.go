package trackstats

import (
	"runtime"
	"sync/atomic"

	"github.com/trackstats/trackstats/cbindings/go/internal/clib"
)

// Track is the stats handle of one (participant, track, country) key.
// RecordUp and RecordDown are safe from any number of goroutines, never
// block and never allocate. A nil *Track is a valid no-op handle for every
// method: give a relayed copy of a track a nil Track so its bytes are not
// counted twice across nodes.
//
// Close ends the track's reporting (final reports within milliseconds). The
// slot itself is released only when the Track is unreachable, by a finalizer
// the garbage collector runs, so a record racing Close, or coming after it,
// can never touch memory that another track owns: it is reported, flagged
// late.
type Track struct {
	// words are the slot's two window words, [up, down], in C memory; valid
	// until the slot is released, which only happens after this Track is
	// unreachable.
	words *[2]uint64
	// pkt are the slot's packet words (RecordUpPacket), in C memory, got
	// from the library at the first packet; nil before. Valid as words.
	pkt atomic.Pointer[[clib.PacketWords]uint64]
	// e holds the handle, the user data, the listener and the closed flag.
	// It outlives the Track (the finalizer releases the slot through it).
	e *entry
}

// RecordUp records one message of n bytes received from the publisher
// (UPSTREAM).
func (t *Track) RecordUp(n uint64) {
	// The window-word rule of include/trackstats.h: one atomic add of
	// (one message | n bytes). No other synchronisation is needed: the
	// sampler takes the word with an atomic swap (slot.rs `take`), which
	// reads the latest value in the word's modification order.
	if t == nil || n > MaxInlineBytes {
		t.slow(Up, n)
	} else if old := atomic.AddUint64(&t.words[Up], clib.WordMessageOne|n) - (clib.WordMessageOne | n); needsSlowPath(old) {
		t.slowPath(Up, old)
	}
	// The words are C memory the GC does not see: keep the Track (and so
	// the slot, which the Track's finalizer releases) reachable until the add
	// is done.
	runtime.KeepAlive(t)
}

// RecordDown records one message of n bytes sent to a subscriber
// (DOWNSTREAM).
func (t *Track) RecordDown(n uint64) {
	// As RecordUp.
	if t == nil || n > MaxInlineBytes {
		t.slow(Down, n)
	} else if old := atomic.AddUint64(&t.words[Down], clib.WordMessageOne|n) - (clib.WordMessageOne | n); needsSlowPath(old) {
		t.slowPath(Down, old)
	}
	runtime.KeepAlive(t)
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
		if old := atomic.AddUint64(&t.words[dir], inc) - inc; needsSlowPath(old) {
			t.slowPath(dir, old)
		}
	}
	// As in RecordUp: the words are C memory that the Track's finalizer frees.
	runtime.KeepAlive(t)
}

// slow is the records the word does not take, kept out of line so the fast
// path stays small: a nil Track does nothing; a record too large for the
// word goes to C whole.
//
//go:noinline
func (t *Track) slow(dir Direction, n uint64) {
	if t == nil {
		return
	}
	lib().Record(t.e.h, uint32(dir), n)
	runtime.KeepAlive(t)
}

// needsSlowPath is the rule's test on the value before the add: 0 is the
// window's first record (the library marks the track for the sampler's next
// pass: one call into the library per track, direction and window, 5 s by
// default); a set bit of the spill mask is a field at least half full
// (about once per 2^23 messages or 512 GiB in one window: the word moves to
// the wide accumulator).
func needsSlowPath(old uint64) bool {
	return old == 0 || old&clib.WordSpillMask != 0
}

// slowPath is trackstats_track_slow_path, out of line.
//
//go:noinline
func (t *Track) slowPath(dir Direction, old uint64) {
	lib().SlowPath(t.e.h, uint32(dir), old)
	runtime.KeepAlive(t)
}

// Close closes the track: its final reports (FlagFinal) are produced within
// milliseconds (a manual registry: at its next Flush or Tick). Records after
// Close are still counted and reported, flagged late. Close is idempotent and
// safe to race with records; a nil Track returns nil.
func (t *Track) Close() error {
	if t == nil || t.e.state.Or(entryClosed)&entryClosed != 0 {
		return nil
	}
	err := resultErr(lib().TrackClose(t.e.h))
	runtime.KeepAlive(t)
	return err
}

// Totals are the cumulative counts: every reported window plus the open
// one. A nil Track gives zeros.
func (t *Track) Totals() Totals {
	if t == nil {
		return Totals{}
	}
	tot := goTotals(lib().TrackTotals(t.e.h))
	runtime.KeepAlive(t)
	return tot
}

// release is the Track's finalizer (Registry.releaseFn). The Track is
// unreachable, so no record is in flight and none can start: the totals
// read here are final. The release then reports whatever is left (late
// bytes; a final report if the Track was never closed) and lets the slot be
// reused.
func (r *Registry) release(t *Track) {
	e := t.e
	l := lib()
	tot := l.TrackTotals(e.h)
	l.TrackRelease(e.h)
	r.entries.released(e, tot.UpMessages+tot.DownMessages)
}

// OpenTrack opens a track. participantID and trackID must be non-empty;
// country may be empty; each id is at most MaxIDBytes of UTF-8 and is copied
// by the library, not by Go. userData comes back in every report. The
// returned Track needs no Close to be accounted: if dropped, it is flushed
// and released after a garbage collection.
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
	e := r.entries.add(userData, l)
	r.mu.RLock()
	if r.h == nil {
		r.mu.RUnlock()
		r.entries.remove(e)
		return nil, ErrRegistryClosed
	}
	h, words, code := lib().TrackOpen(r.h, participantID, trackID, country, e.id())
	r.mu.RUnlock()
	if code != clib.ResultOK {
		r.entries.remove(e)
		return nil, ResultError(code)
	}
	// Before the Track exists: the finalizer reads it (the runtime orders
	// the finalizer after this goroutine's writes).
	e.h = h
	t := &Track{words: words, e: e}
	// A finalizer rather than runtime.AddCleanup: the runtime's record of
	// one is 56 B against about 80 B for a cleanup (its record plus the
	// boxed argument and the adapter closure it allocates), a fifth of what
	// a track costs Go. The Track holds no pointer back to itself and is
	// reachable from nothing the finalizer needs, so the usual finalizer
	// caveats (cycles, resurrection) do not apply; one function per
	// registry (releaseFn), so registering allocates nothing.
	runtime.SetFinalizer(t, r.releaseFn)
	return t, nil
}
