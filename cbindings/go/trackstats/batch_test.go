package trackstats

import (
	"sync"
	"testing"
	"time"
)

// A batch within the limits is one add, so it lands whole in one window:
// with batches of m messages of size bytes each, every report has
// bytes == size * messages, while 1 ms windows end under the records and
// the consumer lags (merges). The reports add up to what was recorded.
func TestRecordBatchWindowConsistency(t *testing.T) {
	const size = 1000
	r, err := NewRegistry(WithInterval(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	c := startConsumer(t, r, func(rep Report) bool { return rep.Bytes == size*rep.Messages })
	tk := mustOpen(t, r, "p", "batch", "", 1)
	want := make([]sums, 3)
	until := time.Now().Add(300 * time.Millisecond)
	var wg sync.WaitGroup
	for g := range want {
		want[g] = sums{}
		wg.Add(1)
		go func(mine sums, g int) {
			defer wg.Done()
			for i := 0; time.Now().Before(until) || i <= 5_000; i++ {
				m := uint64(1 + (i*7+g)%MaxBatchMessages)
				dir := Direction(i % 2)
				tk.RecordBatch(dir, m, m*size)
				mine.add(1, dir, m*size, m)
			}
		}(want[g], g)
	}
	wg.Wait()
	tk = nil
	collectDropped(t, r)
	c.finish(t, r)
	all := sums{}
	for _, s := range want {
		all.merge(s)
	}
	compareSums(t, c.got, all)
	for _, b := range c.bad {
		t.Errorf("a window split a batch: %d bytes for %d messages of %d (%+v)", b.Bytes, b.Messages, size, b)
	}
	if c.reports < 20 {
		t.Errorf("only %d reports: the windows did not race the batches", c.reports)
	}
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

	want := Totals{UpBytes: 10, UpMessages: 2, DownBytes: 3*MaxInlineBytes + 5, DownMessages: 1000}
	if got := tk.Totals(); got != want {
		t.Errorf("Totals = %+v, want %+v", got, want)
	}
	if err := r.Tick(); err != nil {
		t.Fatal(err)
	}
	got := sums{}
	got.addReports(drainAll(t, r))
	compareSums(t, got, sums{
		{1, uint64(Up)}:   {want.UpBytes, want.UpMessages},
		{1, uint64(Down)}: {want.DownBytes, want.DownMessages},
	})
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
