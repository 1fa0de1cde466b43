package trackstats

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"
)

// consumer collects every report of a registry, by Drain or from the
// channel, until stopped.
type consumer struct {
	mu      sync.Mutex
	got     sums
	reports int
	merged  int
	bad     []Report // reports failing the per-report check
	check   func(Report) bool
	stop    chan struct{}
	done    chan struct{}
}

func startConsumer(t *testing.T, r *Registry, check func(Report) bool) *consumer {
	c := &consumer{got: sums{}, check: check, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		if ch := r.Reports(); ch != nil {
			for rep := range ch { // until Close closes the channel
				c.take([]Report{rep})
			}
			return
		}
		var buf []Report
		for {
			var err error
			buf, err = r.Drain(buf[:0])
			if err != nil {
				t.Errorf("Drain: %v", err)
				return
			}
			c.take(buf)
			select {
			case <-c.stop:
				return
			default:
				// A consumer that is sometimes late, so pending reports merge.
				time.Sleep(time.Duration(rand.IntN(1500)) * time.Microsecond)
			}
		}
	}()
	return c
}

func (c *consumer) take(rs []Report) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got.addReports(rs)
	c.reports += len(rs)
	for _, r := range rs {
		if r.Flags&FlagMerged != 0 {
			c.merged++
		}
		if c.check != nil && !c.check(r) && len(c.bad) < 10 {
			c.bad = append(c.bad, r)
		}
	}
}

// finish closes the registry and collects what is left.
func (c *consumer) finish(t *testing.T, r *Registry) {
	t.Helper()
	if r.Reports() == nil {
		close(c.stop)
		<-c.done
		if err := r.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		c.take(drainAll(t, r)) // what Close collected
	} else {
		if err := r.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		<-c.done
	}
	if r.Reports() == nil {
		if rs := drainAll(t, r); len(rs) != 0 {
			t.Errorf("a second Drain after Close returned %d reports", len(rs))
		}
	}
}

// finishAndCompare closes the registry (which releases the tracks still
// open) and takes what is left (finish), then checks the reports against
// want (what each recording goroutine recorded), exactly, and that the Go
// side holds no Track and met no report it could not place.
func (c *consumer) finishAndCompare(t *testing.T, r *Registry, want []sums) {
	t.Helper()
	c.finish(t, r)
	all := sums{}
	for _, s := range want {
		all.merge(s)
	}
	compareSums(t, c.got, all)
	if n := r.entries.len(); n != 0 {
		t.Errorf("the registry still holds %d Tracks after its Close", n)
	}
	if r.entries.orphan != 0 {
		t.Errorf("%d reports named no known track", r.entries.orphan)
	}
}

// Exactly once with records racing Close, late records, window ticks every 2 ms, a lagging consumer
// and the registry's shutdown: per track (user data) and direction, the
// reports add up to what was recorded, bytes and messages.
func TestExactlyOnceRacingClose(t *testing.T) {
	for _, mode := range []string{"drain", "channel"} {
		t.Run(mode, func(t *testing.T) {
			opts := []Option{WithInterval(2 * time.Millisecond)}
			if mode == "channel" {
				opts = append(opts, WithReportChannel(64))
			}
			r := newRegistry(t, opts...)
			c := startConsumer(t, r, nil)

			const workers, rounds, tracksPerRound, recorders, messages = 4, 60, 3, 2, 4000
			want := make([]sums, workers*recorders)
			for i := range want {
				want[i] = sums{}
			}
			var wg sync.WaitGroup
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					for round := 0; round < rounds; round++ {
						tracks := make([]*Track, tracksPerRound)
						ids := make([]uint64, tracksPerRound)
						for k := range tracks {
							ids[k] = uint64(w*1_000_000 + round*tracksPerRound + k)
							tracks[k] = mustOpen(t, r, "PA", "TR", "", ids[k])
						}
						var rw sync.WaitGroup
						for g := 0; g < recorders; g++ {
							rw.Add(1)
							go func(mine sums, seed uint64) {
								defer rw.Done()
								rng := rand.New(rand.NewPCG(seed, 7))
								for i := 0; i < messages; i++ {
									k := rng.IntN(tracksPerRound)
									n := uint64(rng.IntN(1500))
									if rng.IntN(500) == 0 {
										n = MaxInlineBytes + uint64(rng.IntN(1000)) // the C path
									}
									if rng.IntN(3) == 0 {
										tracks[k].RecordDown(n)
										mine.add(ids[k], Down, n, 1)
									} else {
										tracks[k].RecordUp(n)
										mine.add(ids[k], Up, n, 1)
									}
								}
							}(want[w*recorders+g], uint64(w*rounds+round*recorders+g))
						}
						// The closer races the recorders.
						for _, tk := range tracks {
							time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
							if err := tk.Close(); err != nil {
								t.Errorf("Close: %v", err)
							}
						}
						rw.Wait()
					}
				}(w)
			}
			wg.Wait()
			c.finishAndCompare(t, r, want)
			t.Logf("%d tracks, %d reports (%d merged)", workers*rounds*tracksPerRound, c.reports, c.merged)
		})
	}
}

// Window consistency: with every message of size S, every report (regular,
// final, late or merged) has bytes == S * messages, because a record's bytes
// and its count are one atomic add.
func TestWindowConsistency(t *testing.T) {
	checkWindowConsistency(t, 4, 30_000, func(tracks []*Track, g, i int, mine sums) {
		k := (i + g) % len(tracks)
		if i%4 == 0 {
			tracks[k].RecordDown(windowRecordSize)
			mine.add(uint64(k+1), Down, windowRecordSize, 1)
		} else {
			tracks[k].RecordUp(windowRecordSize)
			mine.add(uint64(k+1), Up, windowRecordSize, 1)
		}
		if g == 0 && i == 30_000 {
			_ = tracks[0].Close() // final and late reports too
		}
	})
}

// windowRecordSize is the size of every message checkWindowConsistency's
// records carry.
const windowRecordSize = 1000

// checkWindowConsistency runs record(tracks, g, i, mine) on goroutines g =
// 0..goroutines-1 for 300 ms and at least i = 0..minRecords, over two
// tracks (user data 1 and 2) of a registry ending 1 ms windows under a
// lagging consumer; record counts what it recorded into mine, in messages
// of windowRecordSize bytes. Every report must have bytes ==
// windowRecordSize * messages (no window splits what one add recorded), and
// the reports must add up to what was recorded.
func checkWindowConsistency(t *testing.T, goroutines, minRecords int, record func(tracks []*Track, g, i int, mine sums)) {
	t.Helper()
	r := newRegistry(t, WithInterval(time.Millisecond))
	c := startConsumer(t, r, func(rep Report) bool { return rep.Bytes == windowRecordSize*rep.Messages })
	tracks := []*Track{mustOpen(t, r, "p", "a", "", 1), mustOpen(t, r, "p", "b", "", 2)}
	want := make([]sums, goroutines)
	until := time.Now().Add(300 * time.Millisecond)
	var wg sync.WaitGroup
	for g := range want {
		want[g] = sums{}
		wg.Add(1)
		go func(mine sums, g int) {
			defer wg.Done()
			// For a fixed time, so that many 1 ms windows end while recording.
			for i := 0; time.Now().Before(until) || i <= minRecords; i++ {
				record(tracks, g, i, mine)
			}
		}(want[g], g)
	}
	wg.Wait()
	tracks = nil
	c.finishAndCompare(t, r, want)
	for _, b := range c.bad {
		t.Errorf("a window split a record: %d bytes for %d messages of %d (%+v)", b.Bytes, b.Messages, windowRecordSize, b)
	}
	if c.reports < 20 {
		t.Errorf("only %d reports: the windows did not race the records", c.reports)
	}
	t.Logf("%d reports (%d merged)", c.reports, c.merged)
}

func TestRegistryCloseKeepsUndrainedReports(t *testing.T) {
	r := newRegistry(t, WithManualTicking())
	tk := mustOpen(t, r, "p", "t", "", 9)
	tk.RecordUp(11)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	rs := drainAll(t, r)
	if len(rs) != 1 || rs[0].Bytes != 11 || rs[0].Flags&FlagFinal == 0 {
		t.Fatalf("after Close, Drain = %+v, want the final report of 11 bytes", rs)
	}
	if _, err := r.Stats(); err == nil {
		t.Error("Stats after Close succeeded")
	}
	// The Track outlives its registry: records after Registry.Close are
	// harmless and not counted; Totals are what was reported.
	tk.RecordUp(1)
	if got := tk.Totals().UpBytes; got != 11 {
		t.Errorf("Totals after registry Close = %d, want 11", got)
	}
	if err := tk.Close(); err != nil {
		t.Errorf("Track Close after registry Close: %v", err)
	}
}

// Registry.Close delivers what a track closed earlier and still referenced
// recorded since (flagged late), as the final flush of the open ones: the
// library's close flushes every slot it still holds.
func TestRegistryCloseDeliversLateBytesOfReferencedTracks(t *testing.T) {
	r := newRegistry(t, WithManualTicking())
	tk := mustOpen(t, r, "p", "t", "", 5)
	tk.RecordUp(10)
	if err := tk.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	if rs := drainAll(t, r); len(rs) != 1 || rs[0].Bytes != 10 || rs[0].Flags&FlagFinal == 0 {
		t.Fatalf("after Track.Close: %+v, want the final report of 10 bytes", rs)
	}
	tk.RecordUp(7) // late, and the Track is still referenced below
	tk.RecordDown(3)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	got := sums{}
	rs := drainAll(t, r)
	got.addReports(rs)
	compareSums(t, got, sums{{5, uint64(Up)}: {7, 1}, {5, uint64(Down)}: {3, 1}})
	for _, rep := range rs {
		if rep.Flags&FlagLate == 0 {
			t.Errorf("a record after Track.Close reported without FlagLate: %+v", rep)
		}
	}
	runtime.KeepAlive(tk)
}
