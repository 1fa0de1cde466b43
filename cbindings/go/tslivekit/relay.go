package tslivekit

import (
	"sync"
	"weak"

	"github.com/trackstats/trackstats/cbindings/go/trackstats"
)

// binding is one key of a stats object: its track and the state of its
// stats. The object holds it (cur, last); the registry reaches it only
// through its relay.
type binding struct {
	track *trackstats.Track
	owner *BytesTrackStats
	relay *relay
	// loss is the track's net loss for the stats (the delivering goroutine's).
	loss NetLoss
	// ended and limit are set under owner.mu by endLocked: limit is the
	// track's totals at the end, what the listener gets for this key.
	ended bool
	limit [2]counts
	// done is closed once the binding has ended and the listener has had
	// limit (Wait).
	done chan struct{}
}

// relay is a binding's trackstats.ReportListener, the one thing of the
// binding the registry holds (until the track is released). It reaches the
// binding weakly: LiveKit's listener may reach the stats object (the signal
// stats are their own listener), and a strong path from the registry to the
// track would keep the track, and so the whole object, alive forever. From
// the end until the final stats are out, it pins the binding, so that an
// object dropped right after Stop still delivers them.
type relay struct {
	b weak.Pointer[binding]

	mu        sync.Mutex
	pin       *binding
	ended     bool
	reset     bool // ended by Reset, or Reset after Stop: the excess goes back
	dropLate  bool // DropAfterStop
	closed    bool // done is closed
	limit     [2]counts
	delivered [2]counts
}

func (rl *relay) bind(b *binding) { rl.b = weak.Make(b) }

// end starts the end of b: from now on the listener gets at most b.limit
// for this key (in reset and drop modes), and done closes once it has had
// it.
func (rl *relay) end(b *binding, reset bool) {
	rl.mu.Lock()
	rl.ended, rl.reset, rl.limit = true, reset, b.limit
	finished := rl.finishLocked()
	if !finished && !rl.closed {
		rl.pin = b
	}
	rl.mu.Unlock()
	if finished {
		close(b.done)
	}
}

// redirect sends what the ended track counts past its limit back to the
// object (Reset after Stop).
func (rl *relay) redirect() {
	rl.mu.Lock()
	rl.reset = true
	rl.mu.Unlock()
}

// finishLocked reports whether done must close now: the binding has ended,
// the listener has had the limit, and done is still open.
func (rl *relay) finishLocked() bool {
	if !rl.ended || rl.closed || !rl.delivered[0].covers(rl.limit[0]) || !rl.delivered[1].covers(rl.limit[1]) {
		return false
	}
	rl.closed, rl.pin = true, nil
	return true
}

// OnReport splits a report of the track into what the listener gets and
// the excess past the end's limit, and hands each on. Called on the
// registry's delivering goroutine, one report at a time.
func (rl *relay) OnReport(r trackstats.Report) {
	dir := r.Direction & 1
	got := counts{r.Bytes, r.Messages}
	rl.mu.Lock()
	b := rl.pin
	if b == nil {
		b = rl.b.Value()
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
	finished := rl.finishLocked()
	back := rl.reset
	rl.mu.Unlock()

	if b == nil {
		// The object was dropped without Stop: nobody is left to tell.
		return
	}
	if deliver && b.owner.out != nil {
		r.Bytes, r.Messages = give.bytes, give.messages
		b.owner.out.send(&r, ToAnalyticsStat(&r, &b.loss))
	}
	if excess := got.sub(give); back && !excess.zero() {
		b.owner.addUnbound(dir, excess)
	}
	if finished {
		close(b.done)
	}
}
