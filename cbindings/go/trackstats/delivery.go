package trackstats

import (
	"time"

	"github.com/trackstats/trackstats/cbindings/go/internal/clib"
)

// Drain appends every pending report to dst without blocking and returns it
// (one call into the library per batch of up to 1024 reports). Reports of tracks with a
// listener are passed to their listener instead, on this goroutine, before
// Drain returns. After Close, Drain returns what Close collected, then
// nothing. Safe for concurrent use (calls are serialised).
func (r *Registry) Drain(dst []Report) ([]Report, error) {
	if r == nil {
		return dst, ErrNilRegistry
	}
	if r.push {
		return dst, ErrNotPull
	}
	r.drainMu.Lock()
	defer r.drainMu.Unlock()
	if len(r.leftover) > 0 {
		dst = append(dst, r.leftover...)
		r.leftover = nil
	}
	return r.drainLocked(dst)
}

// drainLocked empties the library's queue into dst (listener reports go to
// their listeners). The caller holds drainMu.
func (r *Registry) drainLocked(dst []Report) ([]Report, error) {
	routed := r.routed[:0]
	var err error
	// Tracks let go before this drain: every report naming them is queued
	// (the library queues a track's last reports before its let-go mark),
	// so once the queue is empty they can go.
	r.takeLetGo()
	r.mu.RLock()
	for r.h != nil {
		batch, code := lib().FillBatch(r.h, r.batch, -1)
		if code != clib.ResultOK {
			err = ResultError(code)
			break
		}
		dst, routed = r.entries.convert(batch, dst, routed)
		if len(batch) < batchCapacity {
			r.retireTaken()
			break
		}
	}
	r.mu.RUnlock()
	// Outside the registry lock, so a listener may open or close tracks.
	for i := range routed {
		routed[i].deliver()
		routed[i] = routedReport{} // keep no listener or ids reachable until the next drain
	}
	r.routed = routed
	return dst, err
}

// feed is the registry's one dispatcher goroutine (push mode): it blocks in
// the library until reports are queued, converts a batch with one lock,
// then hands each report to its listener or the channel. It exits once the
// library reports the registry closed and fully drained, after which Close
// frees the handles.
func (r *Registry) feed() {
	defer close(r.feedDone)
	if r.ch != nil {
		defer close(r.ch)
	}
	var plain []Report
	var routed []routedReport
	for {
		// As in drainLocked: the Tracks let go before this fill go once a
		// fill has emptied the queue (the wait returns at most every
		// feederWaitMS, so they go within two of those).
		r.takeLetGo()
		// Close does not free h or the batch before this goroutine ends.
		batch, code := lib().FillBatch(r.h, r.batch, feederWaitMS)
		plain, routed = r.entries.convert(batch, plain[:0], routed[:0])
		if code == clib.ResultOK && len(batch) < batchCapacity {
			r.retireTaken()
		}
		for i := range routed {
			routed[i].deliver()
			routed[i].to = nil // drop the reference until the next batch
		}
		// A dispatch-only registry opens no plain track, and its overflow
		// reports go to the overflow listener or are counted and dropped
		// (convert); only a report whose id has no entry (counted in
		// entries.orphan) could be plain there.
		if r.ch != nil {
			for i := range plain {
				r.ch <- plain[i]
			}
		}
		switch code {
		case clib.ResultOK:
		case clib.ResultRegistryClosed:
			return
		default:
			// Only a caught panic in the library gets here; do not spin.
			time.Sleep(10 * time.Millisecond)
		}
	}
}
