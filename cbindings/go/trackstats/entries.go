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

// entries holds the registry's Tracks and maps report ids to them. A Track
// is held from before the library gets its block's address (open) until the
// registry has read the library's let-go mark and then taken every report
// queued before it (retire): exactly the span in which the library may touch
// the block or name the Track in a report. Holding it keeps the Track's
// memory, which the library uses, reachable (the Go heap never moves
// objects, so its address stays valid); and while the registry holds any
// Track, the registry itself is held (registries), so that a registry and
// its Tracks, unreachable from the program, are never collected while the
// library may still touch them.
//
// It is a slab of pointers: chunks that never move, and indices reused
// through a free list. A report id is the index plus a generation that grows
// at each reuse of the index (Track.state), so a report can never be
// attributed to a later Track of the same index (by exactly-once and the
// retire rule there is no such report anyway).
type entries struct {
	mu     sync.Mutex
	chunks []*[entryChunk]*Track
	used   uint32   // indices handed out so far; chunks hold them all
	free   []uint64 // indices ready for reuse, each with its next generation
	count  int      // Tracks held
	orphan uint64   // reports whose id had no Track: a bug if ever non-zero
	// overflow receives overflow reports (WithOverflowListener); without
	// it a dispatch-only registry drops them (dropOverflow), counting them
	// in undelivered (Stats.ReportsUndelivered, read without mu).
	overflow     ReportListener
	dropOverflow bool
	undelivered  atomic.Uint64
	// owner is the registry, held in registries while count > 0.
	owner *Registry
}

// entryChunkBits sizes the slab's chunks: 1024 pointers, one 8 KiB page.
const (
	entryChunkBits = 10
	entryChunk     = 1 << entryChunkBits
)

// A report id, in Track.state: generation<<32 | index. The generation has
// 24 bits, never 0, so no id is 0 (the user data of overflow reports).
const (
	idIndexMask = 1<<32 - 1
	idGenShift  = 32
	idGenMask   = 1<<24 - 1
	idMask      = 1<<56 - 1
)

// id is the report id of t.
func (t *Track) id() uint64 { return t.state.Load() & idMask }

// registries holds every registry that holds a Track (see entries).
var registries struct {
	sync.Mutex
	held map[*Registry]struct{}
}

func holdRegistry(r *Registry, hold bool) {
	registries.Lock()
	if hold {
		if registries.held == nil {
			registries.held = make(map[*Registry]struct{})
		}
		registries.held[r] = struct{}{}
	} else {
		delete(registries.held, r)
	}
	registries.Unlock()
}

// add holds t under a new id, which it returns (and stores in t.state).
func (es *entries) add(t *Track) uint64 {
	es.mu.Lock()
	defer es.mu.Unlock()
	var idx, gen uint32
	if n := len(es.free); n > 0 {
		f := es.free[n-1]
		es.free = es.free[:n-1]
		idx, gen = uint32(f&idIndexMask), uint32(f>>idGenShift)
	} else {
		idx, gen = es.used, 1
		if idx>>entryChunkBits == uint32(len(es.chunks)) {
			es.chunks = append(es.chunks, new([entryChunk]*Track))
		}
		es.used++
	}
	id := uint64(gen)<<idGenShift | uint64(idx)
	t.state.Store(id)
	*es.at(idx) = t
	if es.count++; es.count == 1 {
		holdRegistry(es.owner, true)
	}
	return id
}

func (es *entries) at(idx uint32) **Track {
	return &es.chunks[idx>>entryChunkBits][idx&(entryChunk-1)]
}

// lookup is the Track with this id, or nil. The caller holds mu.
func (es *entries) lookup(id uint64) *Track {
	idx := uint32(id & idIndexMask)
	if idx >= es.used {
		return nil
	}
	if t := *es.at(idx); t != nil && t.id() == id {
		return t
	}
	return nil
}

// drop lets go of t. The caller holds mu.
func (es *entries) drop(t *Track) {
	id := t.id()
	idx := uint32(id & idIndexMask)
	if p := es.at(idx); *p == t {
		*p = nil
		gen := uint32(id>>idGenShift)&idGenMask + 1
		if gen > idGenMask {
			gen = 1
		}
		es.free = append(es.free, uint64(gen)<<idGenShift|uint64(idx))
		if es.count--; es.count == 0 {
			holdRegistry(es.owner, false)
		}
	}
}

// remove undoes add for a Track that failed to open.
func (es *entries) remove(t *Track) {
	es.mu.Lock()
	es.drop(t)
	es.mu.Unlock()
}

// retire lets go of Tracks whose let-go mark was read before a drain that
// then emptied the library's queue: every report naming them has been
// taken. It clears ts.
func (es *entries) retire(ts []*Track) {
	if len(ts) == 0 {
		return
	}
	es.mu.Lock()
	for i, t := range ts {
		es.drop(t)
		ts[i] = nil
	}
	es.mu.Unlock()
}

// forEach calls f on every Track held. The caller holds mu.
func (es *entries) forEach(f func(*Track)) {
	for i := uint32(0); i < es.used; i++ {
		if t := *es.at(i); t != nil {
			f(t)
		}
	}
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
	keys.reset(batch)
	for i := range batch {
		c := &batch[i]
		r := goReport(c, &keys)
		t := es.lookup(c.UserData)
		if t == nil {
			r.UserData = 0
			switch {
			case c.Flags&clib.FlagOverflow == 0:
				es.orphan++
				plain = append(plain, r)
			case es.overflow != nil:
				routed = append(routed, routedReport{Report: r, to: es.overflow})
			case es.dropOverflow:
				es.undelivered.Add(1)
			default:
				plain = append(plain, r)
			}
			continue
		}
		r.UserData = t.userData
		if x := t.x.Load(); x != nil && x.l != nil {
			routed = append(routed, routedReport{Report: r, to: x.l})
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

// closingQueue is the Tracks closed (released after their grace), in the
// order the library got their releases, which is the order of their let-go
// marks (graces end oldest first): the drainer reads the marks from the
// head. Guarded by Registry.closeMu.
type closingQueue struct {
	ts   []*Track
	head int
}

func (q *closingQueue) push(t *Track) { q.ts = append(q.ts, t) }

// takeLetGo appends to dst the Tracks at the head whose let-go mark is set.
func (q *closingQueue) takeLetGo(dst []*Track) []*Track {
	for q.head < len(q.ts) {
		t := q.ts[q.head]
		if !t.letGo() {
			break
		}
		t.state.Or(trackLetGo)
		dst = append(dst, t)
		q.ts[q.head] = nil
		q.head++
	}
	// Keep the backing array from growing: move the rest down once the
	// head has passed half of it.
	if q.head > 0 && q.head >= len(q.ts)/2 {
		n := copy(q.ts, q.ts[q.head:])
		clear(q.ts[n:])
		q.ts, q.head = q.ts[:n], 0
	}
	return dst
}
