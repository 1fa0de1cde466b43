package trackstats

import (
	"sync"
	"testing"
)

// A batch within the limits is one add, so it lands whole in one window:
// batches of m messages of windowRecordSize bytes each, on both sides of
// two tracks, while 1 ms windows end under them and the consumer lags.
func TestRecordBatchWindowConsistency(t *testing.T) {
	checkWindowConsistency(t, 3, 5_000, func(tracks []*Track, g, i int, mine sums) {
		k := (i + g) % len(tracks)
		m := uint64(1 + (i*7+g)%MaxBatchMessages)
		dir := Direction(i % 2)
		tracks[k].RecordBatch(dir, m, m*windowRecordSize)
		mine.add(uint64(k+1), dir, m*windowRecordSize, m)
	})
}

// Batches beyond one add's limits, bytes without messages, and the no-ops:
// totals and reports are exact.
func TestRecordBatchLimitsAndNoOps(t *testing.T) {
	r := newRegistry(t, WithManualTicking())
	tk := mustOpen(t, r, "p", "t", "", 1)
	tk.RecordBatch(Down, 1000, 3*MaxInlineBytes+5) // four adds of messages, four of bytes
	tk.RecordBatch(Up, 0, 10)                      // bytes only
	tk.RecordBatch(Up, 2, 0)                       // messages only
	tk.RecordBatch(Up, 0, 0)                       // nothing
	tk.RecordBatch(Direction(7), 1, 1)             // unknown direction: nothing
	var none *Track
	none.RecordBatch(Up, 1, 1)

	checkTotalsAndReports(t, r, tk, 1, Totals{UpBytes: 10, UpMessages: 2, DownBytes: 3*MaxInlineBytes + 5, DownMessages: 1000})
	if a := testing.AllocsPerRun(1000, func() { tk.RecordBatch(Up, 3, 3600) }); a != 0 {
		t.Errorf("RecordBatch allocates %.1f times per call", a)
	}
}

// Done is open until Close returns and closed after, in pull and push mode;
// by then the push registry's listener has had every report.
func TestRegistryDone(t *testing.T) {
	for _, opts := range [][]Option{{WithManualTicking()}, {WithDispatcher()}} {
		r, err := NewRegistry(opts...)
		if err != nil {
			t.Fatal(err)
		}
		l := &countingListener{}
		tk, err := r.OpenTrackWithListener("p", "t", "", 1, l)
		if err != nil {
			t.Fatal(err)
		}
		tk.RecordUp(5)
		select {
		case <-r.Done():
			t.Fatal("Done closed before Close")
		default:
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-r.Done():
		default:
			t.Fatal("Done still open after Close")
		}
		if got := l.bytes(); got != 5 {
			t.Errorf("listener had %d bytes when Done closed, want 5", got)
		}
	}
}

type countingListener struct {
	mu sync.Mutex
	n  uint64
}

func (l *countingListener) OnReport(r Report) {
	l.mu.Lock()
	l.n += r.Bytes
	l.mu.Unlock()
}

func (l *countingListener) bytes() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}
