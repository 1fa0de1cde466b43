package trackstats

import (
	"sync"
	"sync/atomic"
)

// ReportListener receives the reports of one track (OpenTrackWithListener).
// It is called on the goroutine that takes reports from the registry: the
// registry's one dispatcher goroutine (WithReportChannel, WithDispatcher) or
// the caller of Drain or Close. It must not call Drain or Close on its own
// registry.
type ReportListener interface {
	OnReport(r Report)
}

// entry is the Go side of one track: its key, as Go strings, so that reports
// need no string allocation, its listener, and its library handle. The C
// report carries the entry's id as user_data.
//
// An entry must not point to its Track: the Track's cleanup (which releases
// the slot) can only run once nothing reaches the Track. The Track points to
// its entry, so the entry outlives it; the entry is reused only after the
// Track's cleanup released the slot and every message it recorded has been
// reported.
type entry struct {
	h        *cTrack
	id       uint64 // generation<<32 | index in the slab; see entries
	userData uint64

	participantID string
	trackID       string
	country       string
	listener      ReportListener

	// owed is the track's recorded messages minus its reported messages
	// (mod 2^64): the drainer subtracts each report, the release adds the
	// final total. Once released and 0, no report can name this id again
	// (reports are exactly once), so the entry can be reused.
	owed uint64

	// closed makes Track.Close idempotent (the Track's only mutable state,
	// kept here so that a Track is three words).
	closed atomic.Bool
	// released and live are guarded by entries.mu.
	released bool
	live     bool
}

// entryChunkBits sizes the slab's chunks: 1024 entries of 104 bytes, 104
// KiB, allocated together. A chunk over 32 KiB is rounded up to whole 8 KiB
// pages; 104 B x 1024 is 13 pages exactly (512 would waste 8 B per entry),
// which TestEntryChunkIsWholePages checks.
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

// add takes an entry for a new track, with its key and listener set, and
// returns it with its id.
func (es *entries) add(participantID, trackID, country string, userData uint64, l ReportListener) *entry {
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
	gen := e.id>>32 + 1
	// Reset every field: the entry may hold a previous track's values.
	*e = entry{
		id:            gen<<32 | uint64(idx),
		userData:      userData,
		participantID: participantID,
		trackID:       trackID,
		country:       country,
		listener:      l,
		live:          true,
	}
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
	if !e.live || e.id != id {
		return nil
	}
	return e
}

// drop frees e for reuse, clearing what it references so that a free entry
// keeps no strings or listener alive. The caller holds mu.
func (es *entries) drop(e *entry) {
	*e = entry{id: e.id}
	es.count--
	es.free = append(es.free, uint32(e.id))
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
	e.released = true
	if e.owed == 0 {
		es.drop(e)
	}
	es.mu.Unlock()
}

// convert turns a batch of C reports into Go reports, appending plain ones to
// plain and listener ones to routed (with their listener in to). One lock
// per batch.
func (es *entries) convert(batch []cReport, plain, routed []Report, to []ReportListener) ([]Report, []Report, []ReportListener) {
	es.mu.Lock()
	defer es.mu.Unlock()
	for i := range batch {
		c := &batch[i]
		e := es.lookup(reportID(c))
		r := goReport(c, e)
		if e == nil {
			es.orphan++
			plain = append(plain, r)
			continue
		}
		l := e.listener
		e.owed -= r.Messages
		if e.released && e.owed == 0 {
			es.drop(e)
		}
		if l != nil {
			routed = append(routed, r)
			to = append(to, l)
		} else {
			plain = append(plain, r)
		}
	}
	return plain, routed, to
}

func (es *entries) len() int {
	es.mu.Lock()
	defer es.mu.Unlock()
	return es.count
}
