// The release tests' consumer (scripts/test_release.sh): a program in a
// module of its own that takes trackstats as a Go user does, from a module
// proxy at a version, records on tracks from several goroutines (sizes
// through the window word and through C, records racing Close, records
// after Close, tracks dropped without Close and released by Registry.Close),
// drains, and checks every track's reported bytes and messages, per
// direction, against what it recorded. Exit status 1 on any difference, 2 if there is no library.
package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/trackstats/trackstats/cbindings/go/trackstats"
)

const tracks, writers, records = 40, 4, 20_000

type key struct {
	userData uint64
	dir      trackstats.Direction
}

type sums map[key][2]uint64

func (s sums) add(k key, bytes, messages uint64) {
	v := s[k]
	s[k] = [2]uint64{v[0] + bytes, v[1] + messages}
}

func main() {
	reg, err := trackstats.NewRegistry(trackstats.WithInterval(5 * time.Millisecond))
	if err != nil {
		fmt.Println("consumer:", mode, "NewRegistry:", err)
		if noLibraryExpected && errors.Is(err, trackstats.ErrNoLibrary) && strings.Contains(err.Error(), "tsnocgo") {
			fmt.Println("ok: no library, and the error says how to get one")
			os.Exit(0)
		}
		os.Exit(2)
	}
	if noLibraryExpected {
		fmt.Println("consumer: NewRegistry succeeded without cgo or the loader")
		os.Exit(1)
	}

	got := sums{}
	reports := 0
	var mu sync.Mutex
	take := func(rs []trackstats.Report) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range rs {
			got.add(key{r.UserData, r.Direction}, r.Bytes, r.Messages)
			reports++
		}
	}
	stop, drained := make(chan struct{}), make(chan struct{})
	go func() { // a consumer draining every few milliseconds
		defer close(drained)
		var buf []trackstats.Report
		for {
			var err error
			if buf, err = reg.Drain(buf[:0]); err != nil {
				fmt.Println("consumer: Drain:", err)
				os.Exit(1)
			}
			take(buf)
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()

	want := make([]sums, writers)
	func() {
		ts := make([]*trackstats.Track, tracks)
		for i := range ts {
			if ts[i], err = reg.OpenTrack(fmt.Sprintf("PA_%d", i/2), fmt.Sprintf("TR_%d", i), "SE", uint64(i)); err != nil {
				fmt.Println("consumer: OpenTrack:", err)
				os.Exit(1)
			}
		}
		var wg sync.WaitGroup
		for w := range want {
			want[w] = sums{}
			wg.Add(1)
			go func(mine sums, rng *rand.Rand) {
				defer wg.Done()
				for j := 0; j < records; j++ {
					i := rng.IntN(tracks)
					n := uint64(rng.IntN(1500))
					if rng.IntN(1000) == 0 {
						n += trackstats.MaxInlineBytes // through C
					}
					if rng.IntN(2) == 0 {
						ts[i].RecordUp(n)
						mine.add(key{uint64(i), trackstats.Up}, n, 1)
					} else {
						ts[i].RecordDown(n)
						mine.add(key{uint64(i), trackstats.Down}, n, 1)
					}
				}
			}(want[w], rand.New(rand.NewPCG(uint64(w), 99)))
		}
		// Half the tracks are closed while the writers run (records after
		// Close are reported late); the other half are dropped unclosed.
		for i := 0; i < tracks; i += 2 {
			time.Sleep(time.Millisecond)
			if err := ts[i].Close(); err != nil {
				fmt.Println("consumer: Close:", err)
				os.Exit(1)
			}
		}
		wg.Wait()
	}()
	// The unclosed half is unreachable now, but still open: Registry.Close
	// final-flushes and releases it.
	close(stop)
	<-drained
	if err := reg.Close(); err != nil {
		fmt.Println("consumer: Close:", err)
		os.Exit(1)
	}
	rest, _ := reg.Drain(nil)
	take(rest)

	all := sums{}
	for _, s := range want {
		for k, v := range s {
			all.add(k, v[0], v[1])
		}
	}
	bad := 0
	var bytes, messages uint64
	for k, w := range all {
		bytes, messages = bytes+w[0], messages+w[1]
		if g := got[k]; g != w {
			bad++
			fmt.Printf("consumer: track %d %v: reported %d bytes / %d messages, recorded %d / %d\n", k.userData, k.dir, g[0], g[1], w[0], w[1])
		}
	}
	for k := range got {
		if _, ok := all[k]; !ok {
			bad++
			fmt.Printf("consumer: track %d %v reported, never recorded\n", k.userData, k.dir)
		}
	}
	if bad > 0 {
		os.Exit(1)
	}
	fmt.Printf("ok: %s, libtrackstats %s: %d tracks, %d messages, %d bytes, %d reports, every count exact\n",
		mode, trackstats.Version(), tracks, messages, bytes, reports)
}
