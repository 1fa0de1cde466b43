package trackstats

import "sync"

// ReportListener receives the reports of one track (OpenTrackWithListener).
// It is called on the goroutine that takes reports from the registry: the
// registry's one dispatcher goroutine (WithReportChannel, WithDispatcher) or
// the caller of Drain or Close. It must not call Drain or Close on its own
// registry.
type ReportListener interface {
	OnReport(r Report)
}

// entry is the Go side of one open track: its key, as Go strings, so that
// reports need no string allocation, and its listener. The C report carries
// the entry's id as user_data.
//
// An entry must not point to its Track: the Track's cleanup (which releases
// the slot) can only run once nothing reaches the Track.
type entry struct {
	reg           *Registry
	h             *cTrack
	id            uint64
	userData      uint64
	participantID string
	trackID       string
	country       string
	listener      ReportListener

	// owed is the track's recorded messages minus its reported messages
	// (mod 2^64): the drainer subtracts each report, the release adds the
	// final total. Once released and 0, no report can name this id again
	// (reports are exactly once), so the entry can go.
	owed     uint64
	released bool
}

// entries maps report ids to entries. Ids are never reused, so a stale
// report can never be attributed to a newer track.
type entries struct {
	mu     sync.Mutex
	next   uint64
	byID   map[uint64]*entry
	orphan uint64 // reports whose id had no entry: a bug if ever non-zero
}

func (es *entries) add(e *entry) {
	es.mu.Lock()
	es.next++
	e.id = es.next
	if es.byID == nil {
		es.byID = make(map[uint64]*entry)
	}
	es.byID[e.id] = e
	es.mu.Unlock()
}

func (es *entries) remove(id uint64) {
	es.mu.Lock()
	delete(es.byID, id)
	es.mu.Unlock()
}

// released records that e's slot was released after recording `messages`
// in all; it drops e when every one of them has been reported.
func (es *entries) released(e *entry, messages uint64) {
	es.mu.Lock()
	e.owed += messages
	e.released = true
	if e.owed == 0 {
		delete(es.byID, e.id)
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
		e := es.byID[reportID(c)]
		r := goReport(c, e)
		if e == nil {
			es.orphan++
			plain = append(plain, r)
			continue
		}
		e.owed -= r.Messages
		if e.released && e.owed == 0 {
			delete(es.byID, e.id)
		}
		if e.listener != nil {
			routed = append(routed, r)
			to = append(to, e.listener)
		} else {
			plain = append(plain, r)
		}
	}
	return plain, routed, to
}

func (es *entries) len() int {
	es.mu.Lock()
	defer es.mu.Unlock()
	return len(es.byID)
}
