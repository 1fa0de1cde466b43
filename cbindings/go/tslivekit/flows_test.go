package tslivekit

import (
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/trackstats/trackstats/cbindings/go/internal/tstest"
	"github.com/trackstats/trackstats/cbindings/go/trackstats"
)

// A published data track (NewDataTrack's stats in LiveKit): the bytes
// received from the publisher are one UPSTREAM stat keyed (publisher's
// country, UPSTREAM, publisher id, data track id), with the window's bounds.
func TestPublishedDataTrackIsUpstream(t *testing.T) {
	r := tstest.Manual(t)
	l := &recorder{}
	var lk participantTelemetryListener = l
	before := time.Now()
	s := NewBytesTrackStats("DE", "DTR_pub", "PA_pub", lk, statsKeyForData, WithRegistry(r))
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		s.AddBytes(100, false)
	}
	tickDrain(t, r)
	calls := l.take()
	if len(calls) != 1 {
		t.Fatalf("%d stats, want 1: %+v", len(calls), calls)
	}
	c := calls[0]
	if want := statsKeyForData("DE", livekit.StreamType_UPSTREAM, "PA_pub", "DTR_pub"); c.key != want {
		t.Errorf("key %+v, want %+v", c.key, want)
	}
	st := c.stat.Streams[0]
	if len(c.stat.Streams) != 1 || st.PrimaryBytes != 300 || st.PrimaryPackets != 3 {
		t.Errorf("stat %v, want one stream of 300 bytes in 3 packets", c.stat)
	}
	start, end := st.StartTime.AsTime(), st.EndTime.AsTime()
	if st.StartTime == nil || st.EndTime == nil || start.Before(before.Add(-time.Millisecond)) || end.Before(start) || end.After(time.Now()) {
		t.Errorf("window %v .. %v, made at %v", start, end, before)
	}
}

// One stats object per subscriber (DataTrack.AddSubscriber), DOWNSTREAM,
// keyed with the subscriber's country and id and the publisher's track id;
// the participant's data channel (track "TR_DT"+participant id) counts both
// directions. Every key gets exactly its own bytes.
func TestSubscribersAreDownstreamWithThePublishersTrack(t *testing.T) {
	r := tstest.Manual(t)
	l := &recorder{}
	pub := NewBytesTrackStats("DE", "DTR_pub", "PA_pub", l, statsKeyForData, WithRegistry(r))
	sub1 := NewBytesTrackStats("US", "DTR_pub", "PA_sub1", l, statsKeyForData, WithRegistry(r))
	sub2 := NewBytesTrackStats("JP", "DTR_pub", "PA_sub2", l, statsKeyForData, WithRegistry(r))
	dc := NewBytesTrackStats("US", "TR_DTPA_sub1", "PA_sub1", l, statsKeyForData, WithRegistry(r))
	pub.AddBytes(1000, false)
	sub1.AddBytes(1000, true)
	sub2.AddBytes(1000, true)
	sub2.AddBytes(24, true)
	dc.AddBytes(7, false)
	dc.AddBytes(9, true)
	tickDrain(t, r)
	checkSums(t, sums(l.take()), map[statsKey]total{
		statsKeyForData("DE", livekit.StreamType_UPSTREAM, "PA_pub", "DTR_pub"):         {1000, 1},
		statsKeyForData("US", livekit.StreamType_DOWNSTREAM, "PA_sub1", "DTR_pub"):      {1000, 1},
		statsKeyForData("JP", livekit.StreamType_DOWNSTREAM, "PA_sub2", "DTR_pub"):      {1024, 2},
		statsKeyForData("US", livekit.StreamType_UPSTREAM, "PA_sub1", "TR_DTPA_sub1"):   {7, 1},
		statsKeyForData("US", livekit.StreamType_DOWNSTREAM, "PA_sub1", "TR_DTPA_sub1"): {9, 1},
	})
}

// A relay's copy keeps a nil pointer: every method is a no-op, nothing is
// opened or reported.
func TestRelayNilObjectCountsNothing(t *testing.T) {
	r := tstest.Manual(t)
	var relay *BytesTrackStats
	relay.AddBytes(1200, false)
	relay.AddBytes(1200, true)
	relay.AddDataPacket(1200, 1, true)
	relay.Bind("DE", "DTR_pub", "PA_pub")
	relay.Reset()
	relay.Stop()
	relay.Wait()
	if tt := relay.GetTrafficTotals(); tt.RecvBytes != 0 || tt.SendBytes != 0 || tt.RecvMessages != 0 || tt.SendMessages != 0 || tt.At.IsZero() {
		t.Errorf("nil GetTrafficTotals = %+v", tt)
	}
	if relay.Err() != nil {
		t.Errorf("nil Err = %v", relay.Err())
	}
	if st, _ := r.Stats(); st.LiveSlots != 0 {
		t.Errorf("%d tracks opened", st.LiveSlots)
	}
}

// Exact totals: goroutines add messages on both sides while 1 ms windows
// end under them; after Stop and Wait the stats add up to what was added,
// and so do GetTrafficTotals.
func TestStatsAreExactRacingWindows(t *testing.T) {
	r := liveRegistry(t, time.Millisecond)
	l := &recorder{}
	s := NewBytesTrackStats("FR", "DTR_x", "PA_x", l, statsKeyForData, WithRegistry(r))
	var mu sync.Mutex
	var want [2]total
	var wg sync.WaitGroup
	until := time.Now().Add(200 * time.Millisecond)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine [2]total
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for i := 0; time.Now().Before(until) || i < 10_000; i++ {
				n, send := rng.Uint64N(1500), rng.IntN(2) == 0
				s.AddBytes(n, send)
				d := 0
				if send {
					d = 1
				}
				mine[d] = total{mine[d].bytes + n, mine[d].packets + 1}
			}
			mu.Lock()
			for d := range want {
				want[d] = total{want[d].bytes + mine[d].bytes, want[d].packets + mine[d].packets}
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	s.Stop()
	s.Wait()
	calls := l.take()
	checkSums(t, sums(calls), map[statsKey]total{
		statsKeyForData("FR", livekit.StreamType_UPSTREAM, "PA_x", "DTR_x"):   want[0],
		statsKeyForData("FR", livekit.StreamType_DOWNSTREAM, "PA_x", "DTR_x"): want[1],
	})
	tt := s.GetTrafficTotals()
	if tt.RecvBytes != want[0].bytes || uint64(tt.RecvMessages) != want[0].packets || tt.SendBytes != want[1].bytes || uint64(tt.SendMessages) != want[1].packets {
		t.Errorf("GetTrafficTotals %+v, want recv %+v send %+v", tt, want[0], want[1])
	}
	if len(calls) < 20 {
		t.Errorf("only %d stats: the windows did not race the adds", len(calls))
	}
}

// Stop gives one final stat per side, within milliseconds although the
// window is an hour, and Wait returns once the listener has had them.
func TestStopGivesOneFinalStatPerSide(t *testing.T) {
	r := liveRegistry(t, time.Hour)
	// A slow listener: Wait must wait for it to return.
	l := &recorder{onStats: func(statsKey) { time.Sleep(20 * time.Millisecond) }}
	s := NewBytesTrackStats("BR", "DTR_x", "PA_x", l, statsKeyForData, WithRegistry(r))
	s.AddBytes(300, false)
	s.AddBytes(100, true)
	s.AddBytes(50, true)
	start := time.Now()
	s.Stop()
	s.Stop()
	s.Wait()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Wait took %v", d)
	}
	calls := l.take()
	if len(calls) != 2 {
		t.Fatalf("%d stats after Stop, want one per side: %+v", len(calls), calls)
	}
	checkSums(t, sums(calls), map[statsKey]total{
		statsKeyForData("BR", livekit.StreamType_UPSTREAM, "PA_x", "DTR_x"):   {300, 1},
		statsKeyForData("BR", livekit.StreamType_DOWNSTREAM, "PA_x", "DTR_x"): {150, 2},
	})
}

// Each window's stat carries its bounds: consecutive windows of a key
// follow each other, and the final one ends at Stop.
func TestWindowsCarryStartAndEndTime(t *testing.T) {
	r := tstest.Manual(t)
	l := &recorder{}
	s := NewBytesTrackStats("SE", "DTR_x", "PA_x", l, statsKeyForData, WithRegistry(r))
	var prevEnd time.Time
	for w := range 4 {
		s.AddBytes(10, false)
		if w == 3 {
			s.Stop()
			flushDrain(t, r)
		} else {
			time.Sleep(2 * time.Millisecond)
			tickDrain(t, r)
		}
		calls := l.take()
		if len(calls) != 1 {
			t.Fatalf("window %d: %d stats", w, len(calls))
		}
		st := calls[0].stat.Streams[0]
		start, end := st.StartTime.AsTime(), st.EndTime.AsTime()
		if !end.After(start) || (w > 0 && !start.Equal(prevEnd)) {
			t.Errorf("window %d: %v .. %v, previous ended %v", w, start, end, prevEnd)
		}
		prevEnd = end
	}
}

// Data-track packets (AddDataPacket) fill the UPSTREAM stat's
// PacketsLost, net of the late packets that recovered a loss and never
// negative, PacketsOutOfOrder and Frames; DOWNSTREAM stats have none.
func TestDataPacketsFillLossOutOfOrderAndFrames(t *testing.T) {
	r := tstest.Manual(t)
	l := &recorder{}
	s := NewBytesTrackStats("NO", "DTR_x", "PA_x", l, statsKeyForData, WithRegistry(r))
	// Window 0: 3 and 4 lost (net loss 2). Window 1: 3 comes late (out of
	// order, recovers one), 7 and 8 lost (net 3). Window 2: 4 comes late
	// (net 2). The stats report how far the net loss rose: 2, 1, 0. The
	// first packet of each window ends a frame.
	windows := [][]uint16{{1, 2, 5}, {3, 6, 9}, {4}}
	type want struct{ lost, outOfOrder, frames uint32 }
	wants := []want{{2, 0, 1}, {1, 1, 1}, {0, 1, 1}}
	for w, seqs := range windows {
		for i, q := range seqs {
			s.AddDataPacket(100, q, i == 0)
		}
		s.AddBytes(5, true)
		tickDrain(t, r)
		for _, c := range l.take() {
			st := c.stat.Streams[0]
			got := want{st.PacketsLost, st.PacketsOutOfOrder, st.Frames}
			switch c.key.streamType {
			case livekit.StreamType_UPSTREAM:
				if got != wants[w] || st.PrimaryPackets != uint32(len(seqs)) {
					t.Errorf("window %d: UPSTREAM %+v in %d packets, want %+v in %d", w, got, st.PrimaryPackets, wants[w], len(seqs))
				}
			default:
				if got != (want{}) {
					t.Errorf("window %d: DOWNSTREAM stat with packet counts %+v", w, got)
				}
			}
		}
	}
}

// Bytes added after Stop: reported late by default (after the final
// stat), dropped with DropAfterStop (LiveKit's behaviour); counted in
// GetTrafficTotals either way.
func TestBytesAfterStop(t *testing.T) {
	for _, drop := range []bool{false, true} {
		r := tstest.Manual(t)
		l := &recorder{}
		var opts []Option
		if drop {
			opts = append(opts, DropAfterStop())
		}
		opts = append(opts, WithRegistry(r))
		s := NewBytesTrackStats("IT", "DTR_x", "PA_x", l, statsKeyForData, opts...)
		s.AddBytes(10, true)
		s.Stop()
		flushDrain(t, r)
		if calls := l.take(); len(calls) != 1 || calls[0].stat.Streams[0].PrimaryBytes != 10 {
			t.Fatalf("drop %v: final stats %+v", drop, calls)
		}
		s.AddBytes(4, true)
		tickDrain(t, r)
		calls := l.take()
		switch {
		case drop && len(calls) != 0:
			t.Errorf("DropAfterStop: stats after Stop: %+v", calls)
		case !drop && (len(calls) != 1 || calls[0].stat.Streams[0].PrimaryBytes != 4):
			t.Errorf("late bytes: %+v, want one stat of 4 bytes", calls)
		}
		if tt := s.GetTrafficTotals(); tt.SendBytes != 14 || tt.SendMessages != 2 {
			t.Errorf("drop %v: GetTrafficTotals %+v, want 14 bytes in 2", drop, tt)
		}
	}
}

// The constructors cannot fail: a refused key or a closed registry gives
// an object that counts nothing and says why; a nil listener counts and
// drops the stats.
func TestFailuresDegradeToAnObjectThatCountsNothing(t *testing.T) {
	r := tstest.Manual(t)
	l := &recorder{}
	closed, err := trackstats.NewRegistry(trackstats.WithManualTicking())
	if err != nil {
		t.Fatal(err)
	}
	_ = closed.Close()
	for name, c := range map[string]struct {
		s    *BytesTrackStats
		want error
	}{
		"empty participant id": {NewBytesTrackStats("DE", "DTR_x", "", l, statsKeyForData, WithRegistry(r)), trackstats.ErrEmptyID},
		"closed registry":      {NewBytesTrackStats("DE", "DTR_x", "PA_x", l, statsKeyForData, WithRegistry(closed)), trackstats.ErrRegistryClosed},
		"nil registry":         {NewBytesTrackStats("DE", "DTR_x", "PA_x", l, statsKeyForData, WithRegistry(nil)), trackstats.ErrNilRegistry},
		"nil option":           {NewBytesTrackStats("DE", "DTR_x", "PA_x", l, statsKeyForData, WithRegistry(r), nil), trackstats.ErrInvalidOption},
		"bound later, refused": {func() *BytesTrackStats {
			s := NewUnboundBytesTrackStats(l, statsKeyForData, WithRegistry(r))
			s.AddBytes(5, false)
			s.Bind("", "", "PA_x")
			return s
		}(), trackstats.ErrEmptyID},
	} {
		s := c.s
		if s == nil || !errors.Is(s.Err(), c.want) {
			t.Errorf("%s: Err = %v, want %v", name, s.Err(), c.want)
			continue
		}
		s.AddBytes(10, true)
		s.AddDataPacket(10, 1, true)
		s.Bind("DE", "DTR_y", "PA_y")
		s.Reset()
		s.Bind("DE", "DTR_y", "PA_y")
		if tt := s.GetTrafficTotals(); tt.SendBytes != 0 || tt.RecvBytes != 0 {
			t.Errorf("%s: counted %+v", name, tt)
		}
		s.Stop()
		s.Wait()
	}
	nl := NewBytesTrackStats[statsKey]("DE", "DTR_x", "PA_x", nil, statsKeyForData, WithRegistry(r))
	nl.AddBytes(3, false)
	tickDrain(t, r)
	if tt := nl.GetTrafficTotals(); tt.RecvBytes != 3 || nl.Err() != nil {
		t.Errorf("nil listener: %+v, %v", tt, nl.Err())
	}
	if calls := l.take(); len(calls) != 0 {
		t.Errorf("stats reached a listener: %+v", calls)
	}
	if st, _ := r.Stats(); st.OpenTracks != 1 {
		t.Errorf("%d open tracks, want the nil-listener one only", st.OpenTracks)
	}
}

// The default registry is made at first use, once; a host can set its
// own, which later objects use.
func TestDefaultRegistryIsLazyAndSettable(t *testing.T) {
	t.Cleanup(func() { SetDefaultRegistry(nil) })
	SetDefaultRegistry(nil)
	a, err := DefaultRegistry()
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := DefaultRegistry(); a != b {
		t.Error("the default registry was made twice")
	}
	defer a.Close()
	mine := tstest.Manual(t)
	SetDefaultRegistry(mine)
	l := &recorder{}
	s := NewBytesTrackStats("DE", "DTR_x", "PA_x", l, statsKeyForData)
	s.AddBytes(8, false)
	tickDrain(t, mine)
	if calls := l.take(); len(calls) != 1 || calls[0].stat.Streams[0].PrimaryBytes != 8 {
		t.Errorf("stats through the set registry: %+v", calls)
	}
	if st, _ := a.Stats(); st.LiveSlots != 0 {
		t.Errorf("the replaced default got %d tracks", st.LiveSlots)
	}
}

// selfListener is a listener that reaches its own stats object, as LiveKit's
// signal stats are their own listener.
type selfListener struct {
	recorder
	stats *BytesTrackStats
}

// Objects let go of are released, whatever reaches what: stopped ones
// after their final stats, and ones dropped without Stop, even when the
// listener reaches the object (the registry holds no strong path to it).
func TestDroppedObjectsAreReleased(t *testing.T) {
	r := liveRegistry(t, time.Hour)
	const n = 200
	var delivered sync.WaitGroup
	for i := range n {
		l := &selfListener{}
		s := NewBytesTrackStats("DE", livekit.TrackID("DTR_"+string(rune('a'+i%26))), "PA_x", l, statsKeyForData, WithRegistry(r))
		l.stats = s
		s.AddBytes(10, true)
		if i%2 == 0 {
			s.Stop()
			delivered.Add(1)
			go func() { s.Wait(); delivered.Done() }()
		}
	}
	delivered.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		st, err := r.Stats()
		if err != nil {
			t.Fatal(err)
		}
		// Closed: the library lets go of their slots after the grace.
		if st.OpenTracks == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d tracks still open after their objects were dropped", st.OpenTracks, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// An object stopped and let go of at once (LiveKit drops a closed
// DataDownTrack) still delivers its final stats, then is released.
func TestStoppedObjectDroppedAtOnceStillDeliversItsFinalStats(t *testing.T) {
	r := tstest.Manual(t)
	l := &recorder{}
	func() {
		s := NewBytesTrackStats("DE", "DTR_x", "PA_x", l, statsKeyForData, WithRegistry(r))
		s.AddBytes(10, true)
		s.Stop()
	}()
	runtime.GC()
	runtime.GC()
	flushDrain(t, r)
	checkSums(t, sums(l.take()), map[statsKey]total{
		statsKeyForData("DE", livekit.StreamType_DOWNSTREAM, "PA_x", "DTR_x"): {10, 1},
	})
	for i := 0; ; i++ {
		runtime.GC()
		flushDrain(t, r)
		if st, _ := r.Stats(); st.OpenTracks == 0 {
			break
		}
		if i == 1000 {
			t.Fatal("the stopped object's track was not closed")
		}
		time.Sleep(time.Millisecond)
	}
}
