package trackstats

import (
	"math"
	"runtime"
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
// library only at a track's first packet (the library then allocates the
// track's 128-byte sequence block), at a window's first record, as
// RecordUp, and for n > MaxInlineBytes. The counts are exact with one
// goroutine at a time recording packets on a track (a track's
// packets normally come off one read loop); concurrent callers on one track
// keep bytes and messages exact and stay memory-safe, but may under-count
// the sequence counts (docs/seq.md says how).
func (t *Track) RecordUpPacket(n uint64, seq uint16, endOfFrame bool) {
	if t == nil {
		return
	}
	p := t.pkt.Load()
	if p == nil || n > MaxInlineBytes {
		t.packetSlow(n, seq, endOfFrame)
		return
	}
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
	if old := atomic.AddUint64(&t.words[Up], clib.WordMessageOne|n) - (clib.WordMessageOne | n); needsSlowPath(old) {
		t.slowPath(Up, old)
	}
	// As in RecordUp: the words are C memory that the Track's finalizer frees.
	runtime.KeepAlive(t)
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
// emits for a relaxed atomic store. The words are C memory, which the race
// detector does not track. Elsewhere (32-bit platforms) the store is
// atomic.
func storeWord(p *uint64, v uint64) {
	if wordIs64 {
		*p = v
	} else {
		atomic.StoreUint64(p, v)
	}
}

// packetSlow is RecordUpPacket's rare paths: a packet too large for the
// window word goes to C whole; the first packet gets the packet words from
// the library (one call, which allocates the sequence block) and then
// takes the inline path; if the block could not be allocated, C counts the
// packet (as a plain record, and tries again at the next packet).
//
//go:noinline
func (t *Track) packetSlow(n uint64, seq uint16, endOfFrame bool) {
	if n <= MaxInlineBytes {
		if p := lib().PacketWords(t.e.h); p != nil {
			// Concurrent first packets all get the same address.
			t.pkt.Store(p)
			t.RecordUpPacket(n, seq, endOfFrame)
			return
		}
	}
	lib().RecordUpPacket(t.e.h, n, seq, endOfFrame)
	runtime.KeepAlive(t)
}
