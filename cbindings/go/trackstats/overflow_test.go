package trackstats

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// overflowTracks closes more tracks than the library keeps pending for a
// consumer that does not take them (TRACKSTATS_PENDING_CLOSED_DEFAULT,
// 65,536), so the rest fold into overflow reports.
const overflowTracks = 70_000

// byteSum is a listener adding up the bytes it receives, and the overflow
// reports among them.
type byteSum struct {
	bytes, overflow atomic.Uint64
}

func (s *byteSum) OnReport(r Report) {
	s.bytes.Add(r.Bytes)
	if r.Flags&FlagOverflow != 0 {
		s.overflow.Add(1)
	}
}

// blocker is a listener that holds the dispatcher goroutine in its first
// call until release is closed.
type blocker struct {
	entered, release chan struct{}
	once             sync.Once
	sum              byteSum
}

func (b *blocker) OnReport(r Report) {
	b.once.Do(func() {
		close(b.entered)
		<-b.release
	})
	b.sum.OnReport(r)
}

// A dispatcher stuck in a listener while 70,000 tracks close: the library
// folds the closed tracks' reports past its bound into overflow reports,
// which name no Track. With WithOverflowListener they reach it, and every
// recorded byte is delivered once; without it the dispatcher registry
// counts them as undelivered instead of losing them silently.
func TestOverflowReportsOfADispatcherRegistry(t *testing.T) {
	for _, withListener := range []bool{true, false} {
		t.Run(fmt.Sprintf("overflow listener %v", withListener), func(t *testing.T) {
			var over byteSum
			opts := []Option{WithDispatcher(), WithManualTicking(), withGrace(0)}
			if withListener {
				opts = append(opts, WithOverflowListener(&over))
			}
			r := newRegistry(t, opts...)
			b := &blocker{entered: make(chan struct{}), release: make(chan struct{})}
			hold, err := r.OpenTrackWithListener("PA_hold", "TR_hold", "SE", 0, b)
			if err != nil {
				t.Fatal(err)
			}
			hold.RecordUp(1)
			if err := r.Tick(); err != nil {
				t.Fatal(err)
			}
			<-b.entered // the dispatcher is stuck from here on

			var tracks byteSum
			recorded := uint64(1)
			for i := range overflowTracks {
				tk, err := r.OpenTrackWithListener("PA_"+fmt.Sprint(i), "TR_data", "SE", 0, &tracks)
				if err != nil {
					t.Fatal(err)
				}
				n := uint64(1 + i%100)
				tk.RecordDown(n)
				recorded += n
				if err := tk.Close(); err != nil {
					t.Fatal(err)
				}
			}
			if err := r.Flush(); err != nil { // the close flushes, past the bound
				t.Fatal(err)
			}
			st, err := r.Stats()
			if err != nil {
				t.Fatal(err)
			}
			if st.ReportsOverflowed == 0 {
				t.Fatalf("no report overflowed (%d pending): the test no longer reaches the bound", st.ReportsPending)
			}
			close(b.release)
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			delivered := b.sum.bytes.Load() + tracks.bytes.Load() + over.bytes.Load()
			undelivered := r.entries.undelivered.Load()
			if withListener {
				if delivered != recorded || over.overflow.Load() == 0 || undelivered != 0 {
					t.Errorf("delivered %d bytes of %d recorded, %d overflow reports to the listener, %d undelivered",
						delivered, recorded, over.overflow.Load(), undelivered)
				}
				return
			}
			if delivered >= recorded || undelivered == 0 {
				t.Errorf("without an overflow listener: delivered %d of %d bytes, %d reports counted undelivered",
					delivered, recorded, undelivered)
			}
		})
	}
}
