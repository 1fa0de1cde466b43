package trackstats

import (
	"sync"
	"sync/atomic"

	"github.com/trackstats/trackstats/cbindings/go/internal/clib"
)

// ReportListener receives the reports of one track (OpenTrackWithListener).
// It is called on the goroutine that takes reports from the registry: the
// registry's one dispatcher goroutine (WithReportChannel, WithDispatcher) or
// the caller of Drain or Close. It must not call Drain or Close on its own
// registry.
type ReportListener interface {
	OnReport(r Report)
}

// entry is the Go side of one track: its library handle, its user data and
// where its reports go. The ids are not kept here: reports carry them from
// the library's copy of the key (one string per report, see keyCopier), so a
// track costs Go no string headers. The C report carries the entry's id as
// user_data.
//
// An entry must not point to its Track: the Track's finalizer (which
// releases the slot) can only run once nothing reaches the Track. The Track
// points to its entry, so the entry outlives it; the entry is reused only
// after the Track's finalizer released the slot and every message it
// recorded has been reported.
type entry struct {
	h *clib.Track
	// userData is OpenTrack's user data, given back in every report.
	userData uint64
	// owed is the track's recorded messages minus its reported messages
	// (mod 2^64): the drainer subtracts each report, the release adds the
	// final total. Once released and 0, no report can name this id again
	// (reports are exactly once), so the entry can be reused.
	owed uint64
	// listener is where reports go: nil (Drain or the report channel) or
	// the track's ReportListener. Set before the entry is live, read under
	// entries.mu.
	listener ReportListener

	idx uint32 // index in the slab
	// state packs the generation, which grows at each reuse of the index
	// (high 24 bits; see id), and the entry* flags, in one word so that an
	// entry is 48 bytes. entryClosed is set by Track.Close with an atomic
	// Or (Close is idempotent without a lock); the rest change under
	// entries.mu.
	state atomic.Uint32
}

const (
	// entryClosed: Track.Close was called (kept here so that a Track is
	// three words).
	entryClosed uint32 = 1 << iota
	// entryReleased: the finalizer released the slot; the entry goes once
	// nothing is owed.
	entryReleased
	// entryLive: the entry holds a track (lookup finds it).
	entryLive

	entryGenShift = 8
)

func (e *entry) has(flag uint32) bool { return e.state.Load()&flag != 0 }

func (e *entry) gen() uint32 { return e.state.Load() >> entryGenShift }

// id names the entry's current track in C reports: generation<<32 | index.
func (e *entry) id() uint64 { return uint64(e.gen())<<32 | uint64(e.idx) }

// entryChunkBits sizes the slab's chunks: 1024 entries of 48 bytes, 48 KiB,
// allocated together. A chunk over 32 KiB is rounded up to whole 8 KiB
// pages; 48 B x 1024 is 6 pages exactly, which TestEntryChunkIsWholePages
// checks.
const (
	entryChunkBits = 10
	entryChunk     = 1 << entryChunkBits
)

// entries maps report ids to entries. It is a slab: entries live in chunks
// that never move (a Track holds a pointer to its entry) and are reused
// through a free list, so a track costs its entry's bytes and no map slot or
// separate allocation. An id is the entry's index plus a generation that
// grows at each reuse, so a report can never be attributed to a later track
// of the same entry (by exactly-once there is no such report anyway).
type entries struct {
	mu     sync.Mutex
	chunks []*[entryChunk]entry
	used   uint32   // indices handed out so far; chunks hold them all
	free   []uint32 // indices of entries ready for reuse
	count  int      // live entries
	orphan uint64   // reports whose id had no entry: a bug if ever non-zero
}

// add takes an entry for a new track, with its user data and listener set.
func (es *entries) add(userData uint64, l ReportListener) *entry {
	es.mu.Lock()
	defer es.mu.Unlock()
	var idx uint32
	if n := len(es.free); n > 0 {
		idx = es.free[n-1]
		es.free = es.free[:n-1]
	} else {
		idx = es.used
		if idx>>entryChunkBits == uint32(len(es.chunks)) {
			es.chunks = append(es.chunks, new([entryChunk]entry))
		}
		es.used++
	}
	e := es.at(idx)
	state := (e.gen()+1)<<entryGenShift | entryLive
	// Reset every field: the entry may hold a previous track's values.
	*e = entry{idx: idx, userData: userData, listener: l}
	e.state.Store(state)
	es.count++
	return e
}

func (es *entries) at(idx uint32) *entry {
	return &es.chunks[idx>>entryChunkBits][idx&(entryChunk-1)]
}

// lookup is the live entry with this id, or nil. The caller holds mu.
func (es *entries) lookup(id uint64) *entry {
	idx := uint32(id)
	if idx >= es.used {
		return nil
	}
	e := es.at(idx)
	if !e.has(entryLive) || e.id() != id {
		return nil
	}
	return e
}

// drop frees e for reuse, clearing what it references so that a free entry
// keeps no listener alive. The caller holds mu.
func (es *entries) drop(e *entry) {
	gen := e.gen()
	*e = entry{idx: e.idx}
	e.state.Store(gen << entryGenShift)
	es.count--
	es.free = append(es.free, e.idx)
}

// remove undoes add for a track that failed to open.
func (es *entries) remove(e *entry) {
	es.mu.Lock()
	es.drop(e)
	es.mu.Unlock()
}

// released records that e's slot was released after recording `messages`
// in all; it frees e when every one of them has been reported.
func (es *entries) released(e *entry, messages uint64) {
	es.mu.Lock()
	e.owed += messages
	e.state.Or(entryReleased)
	if e.owed == 0 {
		es.drop(e)
	}
	es.mu.Unlock()
}

// routedReport is a report bound for a listener, taken under entries.mu and
// delivered outside it.
type routedReport struct {
	Report
	to ReportListener
}

func (x *routedReport) deliver() { x.to.OnReport(x.Report) }

// convert turns a batch of C reports into Go reports, appending plain ones to
// plain and listener ones to routed. One lock per batch.
func (es *entries) convert(batch []clib.Report, plain []Report, routed []routedReport) ([]Report, []routedReport) {
	es.mu.Lock()
	defer es.mu.Unlock()
	var keys keyCopier
	for i := range batch {
		c := &batch[i]
		r := goReport(c, &keys)
		e := es.lookup(c.UserData)
		if e == nil {
			es.orphan++
			plain = append(plain, r)
			continue
		}
		r.UserData = e.userData
		e.owed -= r.Messages
		l := e.listener
		if e.has(entryReleased) && e.owed == 0 {
			es.drop(e)
		}
		if l != nil {
			routed = append(routed, routedReport{Report: r, to: l})
		} else {
			plain = append(plain, r)
		}
	}
	return plain, routed
}

func (es *entries) len() int {
	es.mu.Lock()
	defer es.mu.Unlock()
	return es.count
}
