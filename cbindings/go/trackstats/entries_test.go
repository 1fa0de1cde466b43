package trackstats

import (
	"testing"
	"unsafe"
)

// The slab reuses a freed entry under a new id: a report naming the old id
// finds nothing, and the new id finds the new key.
func TestEntriesReuseUnderANewID(t *testing.T) {
	var es entries
	const n = entryChunk + 3 // two chunks
	all := make([]*entry, n)
	for i := range all {
		all[i] = es.add(uint64(i), nil)
	}
	old := all[entryChunk+1]
	oldID := old.id()
	es.released(old, 0) // nothing owed: freed at once
	if es.len() != n-1 || es.lookup(oldID) != nil {
		t.Fatalf("after release: %d entries, lookup(old) = %p", es.len(), es.lookup(oldID))
	}
	reused := es.add(99, nopReportListener{})
	if reused != old {
		t.Fatalf("the freed entry was not reused")
	}
	if reused.id() == oldID || uint32(reused.id()) != uint32(oldID) {
		t.Errorf("reused id %#x, old %#x: same index, new generation expected", reused.id(), oldID)
	}
	if es.lookup(oldID) != nil {
		t.Error("a stale id finds the entry's new track")
	}
	if e := es.lookup(reused.id()); e == nil || e.userData != 99 || e.listener == nil {
		t.Errorf("lookup(new id) = %+v", e)
	}
	// An entry released with messages still owed stays until reported.
	e := all[3]
	es.released(e, 2)
	if es.lookup(e.id()) != e {
		t.Fatal("released with 2 messages owed, the entry is gone")
	}
	if es.lookup(0) != nil || es.lookup(uint64(n+5)) != nil {
		t.Error("ids never handed out find an entry")
	}
}

// The Go allocator rounds a large object up to whole 8 KiB pages: a chunk
// that is not a whole number of pages wastes memory on every entry.
func TestEntryChunkIsWholePages(t *testing.T) {
	const page = 8 << 10
	if size := unsafe.Sizeof([entryChunk]entry{}); size%page != 0 {
		t.Errorf("a chunk is %d B, %d B past a whole number of 8 KiB pages: pick entryChunkBits so it is whole",
			size, size%page)
	}
}

type nopReportListener struct{}

func (nopReportListener) OnReport(Report) {}
