package tslivekit

import (
	"sync"
	"weak"

	"github.com/trackstats/trackstats/cbindings/go/trackstats"
)

// relay is one key's trackstats.ReportListener: it turns the reports of
// the key's track into LiveKit stats, and holds what the end of the key
// needs. The registry holds it until the track is released.
//
// It reaches its stats object weakly: LiveKit's listener may reach the
// object (the signal stats are their own listener), and a strong path from
// the registry to the object would keep its track, and so the object,
// alive forever. From the end of the key until its final stats are out, it
// pins the object, so that an object dropped right after Stop still
// delivers them.
type relay struct {
	owner weak.Pointer[BytesTrackStats]
	// loss is the key's net loss for the stats (the delivering goroutine's).
	loss NetLoss

	mu       sync.Mutex
	pin      *BytesTrackStats
	ended    bool
	reset    bool // ended by Reset, or Reset after Stop: the excess goes back
	dropLate bool // DropAfterStop
	finished bool // ended, and the listener has had limit
	// limit is the track's totals at the end, what the listener gets for
	// this key (in reset and drop modes); delivered is what it has had.
	limit     [2]counts
	delivered [2]counts
	// done is made by the first waiter and closed when finished.
	done chan struct{}
}

// end starts the end of the key (under the owner's mutex): from now on
// the listener gets at most limit (in reset and drop modes), and the key
// is finished once it has had it.
func (rl *relay) end(owner *BytesTrackStats, limit [2]counts, reset bool) {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	rl.ended, rl.reset, rl.limit = true, reset, limit
	if !rl.finishLocked() {
		rl.pin = owner
	}
}

// redirect sends what the ended track counts past its limit back to the
// owner (Reset after Stop), and returns the limit.
func (rl *relay) redirect() [2]counts {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	rl.reset = true
	return rl.limit
}

// doneChan is closed once the key is finished.
func (rl *relay) doneChan() <-chan struct{} {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	if rl.done == nil {
		rl.done = make(chan struct{})
		if rl.finished {
			close(rl.done)
		}
	}
	return rl.done
}

// finishLocked finishes the key if it has ended and the listener has had
// the limit: it unpins the owner and wakes the waiters. It reports whether
// the key is finished.
func (rl *relay) finishLocked() bool {
	if rl.finished {
		return true
	}
	if !rl.ended || !rl.delivered[0].covers(rl.limit[0]) || !rl.delivered[1].covers(rl.limit[1]) {
		return false
	}
	rl.finished, rl.pin = true, nil
	if rl.done != nil {
		close(rl.done)
	}
	return true
}

// OnReport splits a report of the track into what the listener gets and
// the excess past the end's limit, and hands each on. Called on the
// registry's delivering goroutine, one report at a time.
func (rl *relay) OnReport(r trackstats.Report) {
	dir := r.Direction & 1
	got := counts{r.Bytes, r.Messages}
	rl.mu.Lock()
	o := rl.pin
	if o == nil {
		o = rl.owner.Value()
	}
	// In reset and drop modes the listener gets the limit and no more; a
	// report only of sequence counts goes with its window until then.
	clip := rl.ended && (rl.reset || rl.dropLate)
	give := got
	if clip {
		give = got.min(rl.limit[dir].sub(rl.delivered[dir]))
	}
	deliver := !give.zero() || (got.zero() && !(clip && rl.delivered[dir].covers(rl.limit[dir])))
	rl.delivered[dir] = rl.delivered[dir].plus(give)
	back := rl.reset
	// Finishing waits for this report to reach the listener: a waiter must
	// not return before it.
	finishing := rl.ended && !rl.finished && rl.delivered[0].covers(rl.limit[0]) && rl.delivered[1].covers(rl.limit[1])
	rl.mu.Unlock()

	if o != nil {
		if deliver && o.out != nil {
			r.Bytes, r.Messages = give.bytes, give.messages
			o.out.send(&r, ToAnalyticsStat(&r, &rl.loss))
		}
		if excess := got.sub(give); back && !excess.zero() {
			o.addUnbound(dir, excess)
		}
	}
	// Else the object was dropped without Stop: nobody is left to tell.
	if finishing {
		rl.mu.Lock()
		rl.finishLocked()
		rl.mu.Unlock()
	}
}
