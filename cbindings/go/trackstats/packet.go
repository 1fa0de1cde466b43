package trackstats

import (
	"math"
	"sync/atomic"

	"github.com/trackstats/trackstats/cbindings/go/internal/clib"
)

// RecordUpPacket records one data-track packet of n bytes received from the
// publisher: RecordUp(n) plus its 16-bit sequence number against the highest
// seen so far (mod 2^16). The same number again is a duplicate; 1 to 32767
// behind is out of order (and recovers one packet counted lost, if any is
// outstanding); 1 to 32768 ahead advances the highest, the numbers skipped
// counted lost. The first packet starts the stream. endOfFrame counts a
// frame (not on a duplicate). The counts are in each Up report and in
// Totals (docs/seq.md has the window semantics).
//
// Like RecordUp it never blocks and never allocates, and calls into the
// library only at a window's first record, as RecordUp, and for n >
// MaxInlineBytes. A track's first packet allocates its 128-byte packet
// words (Go memory, which the library reads). The counts are exact with one
// goroutine at a time recording packets on a track (a track's packets
// normally come off one read loop); concurrent callers on one track keep
// bytes and messages exact and stay memory-safe, but may under-count the
// sequence counts (docs/seq.md says how). A Track whose first packet comes
// after Close counts its packets' bytes and messages only.
func (t *Track) RecordUpPacket(n uint64, seq uint16, endOfFrame bool) {
	if t == nil {
		return
	}
	x := t.x.Load()
	if x == nil || x.pkt == nil || n > MaxInlineBytes {
		t.packetSlow(n, seq, endOfFrame)
		return
	}
	p := (*[clib.PacketWords]uint64)(x.pkt[:clib.PacketWords])
	// The common case, the next number (nothing lost), inline; the rest of
	// the rule out of line.
	if st := atomic.LoadUint64(&p[clib.PacketWordState]); st&clib.PacketStarted != 0 && seq-uint16(st) == 1 {
		storeWord(&p[clib.PacketWordState], clib.PacketStarted|uint64(seq))
		if endOfFrame {
			bump(&p[clib.PacketWordFrames], 1)
		}
	} else {
		applyPacket(p, st, seq, endOfFrame)
	}
	// Then the bytes, as RecordUp. The add is sequentially consistent, so
	// it also publishes the stores above to the sampler, which takes the
	// word and then, after an acquire fence, the counts (the header's
	// "stores before the add" rule; the pair is Slot::take_seq in the core).
	if old := atomic.AddUint64(&t.w[Up], clib.WordMessageOne|n) - (clib.WordMessageOne | n); old == 0 || old&clib.WordSpillMask != 0 {
		t.slowPath(Up, old)
	}
}

// applyPacket is the packet rule of include/trackstats.h
// (trackstats_track_packet_words) on the packet words p, from the track's
// one writer: loads and stores, no read-modify-write. st is the state word,
// as the caller loaded it.
func applyPacket(p *[clib.PacketWords]uint64, st uint64, seq uint16, endOfFrame bool) {
	if st&clib.PacketStarted == 0 {
		storeWord(&p[clib.PacketWordState], clib.PacketStarted|uint64(seq))
	} else {
		switch d := seq - uint16(st); {
		case d == 0:
			bump(&p[clib.PacketWordDuplicated], 1)
			return // a duplicate is not a frame
		case d > 1<<15:
			bump(&p[clib.PacketWordOutOfOrder], 1)
			// The outstanding loss is lost - recovered.
			if atomic.LoadUint64(&p[clib.PacketWordLost]) > atomic.LoadUint64(&p[clib.PacketWordRecovered]) {
				bump(&p[clib.PacketWordRecovered], 1)
			}
		default:
			if d > 1 {
				bump(&p[clib.PacketWordLost], uint64(d-1))
			}
			storeWord(&p[clib.PacketWordState], clib.PacketStarted|uint64(seq))
		}
	}
	if endOfFrame {
		bump(&p[clib.PacketWordFrames], 1)
	}
}

// bump is the header's bump: store(w, load(w) + k), saturating. A load and
// a store rather than an atomic add: the word has one writer, and the
// sampler only reads it.
func bump(w *uint64, k uint64) {
	v := atomic.LoadUint64(w)
	if v > math.MaxUint64-k {
		v = math.MaxUint64 - k
	}
	storeWord(w, v+k)
}

// wordIs64 is true where uint64 is the machine word.
const wordIs64 = ^uintptr(0)>>63 == 1

// storeWord is the rule's relaxed atomic store of one packet word.
//
// sync/atomic has only sequentially consistent stores, an XCHG on amd64
// that costs as much as the window word's add: two of them made an in-order
// packet 2.9x a RecordUp (bench_test.go). The rule needs no ordering of its
// own (the add that follows publishes the stores), only a store that is
// not torn, and where uint64 is the machine word a plain store is that: the
// Go memory model requires that a word-sized access is never split and
// never observes an invented value, even in a race, and the
// sequentially consistent add after it keeps it ordered before the add
// (what Go's own memory model needs for plain writes before an atomic
// operation). On amd64 and arm64 this is the same MOV/STR a C compiler
// emits for a relaxed atomic store. Elsewhere (32-bit platforms), and
// under the race detector (which would report the plain store racing the
// loads of another writer or the library), the store is atomic.
func storeWord(p *uint64, v uint64) {
	if wordIs64 && !raceEnabled {
		*p = v
	} else {
		atomic.StoreUint64(p, v)
	}
}

// packetSlow is RecordUpPacket's rare paths: the first packet attaches
// the packet words and then takes the inline path; a packet too large for
// the window word goes to the library whole (counted stale once the library
// has let go); a packet the packet words cannot take (the first after
// Close) counts as RecordUp.
//
//go:noinline
func (t *Track) packetSlow(n uint64, seq uint16, endOfFrame bool) {
	if x := t.x.Load(); (x == nil || x.pkt == nil) && t.attachPacketWords() {
		t.RecordUpPacket(n, seq, endOfFrame)
		return
	}
	if n <= MaxInlineBytes {
		t.RecordUp(n)
		return
	}
	if !t.letGo() {
		lib().RecordUpPacket(t.h, n, seq, endOfFrame)
	} else if n <= MaxRecordBytes {
		lib().CountStale(t.r.core, n, 1)
	}
}

// attachPacketWords gives the Track its packet words: Go memory the
// library reads until its let-go mark (trackstats_track_attach_packet_words,
// which must not race the release: both hold closeMu). False if the Track
// was closed first.
func (t *Track) attachPacketWords() bool {
	r := t.r
	r.closeMu.Lock()
	defer r.closeMu.Unlock()
	x := t.x.Load()
	if x != nil && x.pkt != nil {
		return true // a concurrent first packet attached them
	}
	if t.has(trackClosed) {
		return false
	}
	nx := &trackExtra{pkt: new([clib.HostedPacketWords]uint64)}
	if x != nil {
		nx.l = x.l
	}
	if lib().AttachPacketWords(t.h, nx.pkt) != clib.ResultOK {
		return false
	}
	t.x.Store(nx)
	return true
}
