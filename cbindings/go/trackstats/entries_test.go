package trackstats

import (
	"testing"
	"unsafe"
)

// The slab reuses a freed index under a new id: a report naming the old id
// finds nothing, and the new id finds the new Track.
func TestEntriesReuseUnderANewID(t *testing.T) {
	es := entries{owner: &Registry{}}
	const n = entryChunk + 3 // two chunks
	all := make([]*Track, n)
	for i := range all {
		all[i] = &Track{userData: uint64(i)}
		es.add(all[i])
	}
	old := all[entryChunk+1]
	oldID := old.id()
	es.retire([]*Track{old})
	if es.len() != n-1 || es.lookup(oldID) != nil {
		t.Fatalf("after retire: %d entries, lookup(old) = %p", es.len(), es.lookup(oldID))
	}
	reused := &Track{userData: 99}
	newID := es.add(reused)
	if newID == oldID || uint32(newID) != uint32(oldID) {
		t.Errorf("reused id %#x, old %#x: same index, new generation expected", newID, oldID)
	}
	if es.lookup(oldID) != nil {
		t.Error("a stale id finds the index's new Track")
	}
	if got := es.lookup(newID); got != reused {
		t.Errorf("lookup(new id) = %p, want %p", got, reused)
	}
	if es.lookup(0) != nil || es.lookup(uint64(n+5)) != nil {
		t.Error("ids never handed out find a Track")
	}
	// The registry is held while it holds a Track, and only then.
	if !isHeld(es.owner) {
		t.Error("a registry holding Tracks is not held")
	}
	es.retire(append([]*Track(nil), all[:entryChunk+1]...))
	es.retire(append([]*Track{reused}, all[entryChunk+2:]...))
	if es.len() != 0 || isHeld(es.owner) {
		t.Errorf("after retiring all: %d entries, held %v", es.len(), isHeld(es.owner))
	}
}

func isHeld(r *Registry) bool {
	registries.Lock()
	defer registries.Unlock()
	_, ok := registries.held[r]
	return ok
}

// The Go allocator rounds a large object up to whole 8 KiB pages: a chunk
// that is not a whole number of pages wastes memory.
func TestEntryChunkIsWholePages(t *testing.T) {
	const page = 8 << 10
	if size := unsafe.Sizeof([entryChunk]*Track{}); size%page != 0 {
		t.Errorf("a chunk is %d B, %d B past a whole number of 8 KiB pages: pick entryChunkBits so it is whole",
			size, size%page)
	}
}

type nopReportListener struct{}

func (nopReportListener) OnReport(Report) {}
