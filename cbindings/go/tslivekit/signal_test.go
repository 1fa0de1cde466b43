package tslivekit

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
)

// signalKey is the key LiveKit's signal stats report under once bound:
// country "", the participant, and BytesTrackIDForParticipantID(SG, pID).
func signalKey(st livekit.StreamType, pID livekit.ParticipantID) statsKey {
	return statsKeyForData("", st, pID, livekit.TrackID("TR_SG"+string(pID)))
}

// checkSignalStats checks that the listener got exactly up and down for
// pID's signal key since the last check, and nothing else.
func checkSignalStats(t *testing.T, l *recorder, pID livekit.ParticipantID, up, down total) {
	t.Helper()
	checkSums(t, sums(l.take()), map[statsKey]total{
		signalKey(livekit.StreamType_UPSTREAM, pID):   up,
		signalKey(livekit.StreamType_DOWNSTREAM, pID): down,
	})
}

// LiveKit's BytesSignalStats: counted before the participant is known,
// bound (ResolveRoom, ResolveParticipant), Reset on a room move, bound
// again, stopped. Each key gets exactly what was counted from the last
// unbinding up to its end, and its final stats before Wait returns.
func TestSignalStatsBindResetStop(t *testing.T) {
	r := liveRegistry(t, time.Hour) // only ends deliver: the test sees each step
	l := &recorder{}
	s := NewUnboundBytesTrackStats(l, statsKeyForData, WithRegistry(r), DropAfterStop())
	s.AddBytes(10, false) // the join request, before the participant is known
	s.AddBytes(20, true)  // the join response
	if tt := s.GetTrafficTotals(); tt.RecvBytes != 10 || tt.SendBytes != 20 {
		t.Errorf("unbound totals %+v", tt)
	}
	s.Wait() // never bound: returns at once

	s.Bind("", "TR_SGPA_1", "PA_1")
	s.Bind("", "TR_SGPA_other", "PA_other") // bound: ignored
	s.AddBytes(5, false)
	s.Reset()
	s.Wait()
	checkSignalStats(t, l, "PA_1", total{15, 2}, total{20, 1})

	s.AddBytes(7, true) // the room-moved response, between Reset and the new key
	s.Bind("", "TR_SGPA_2", "PA_2")
	s.AddBytes(1, false)
	s.Stop()
	s.Wait()
	checkSignalStats(t, l, "PA_2", total{1, 1}, total{7, 1})

	s.AddBytes(3, false) // after Stop: dropped, as LiveKit does
	time.Sleep(20 * time.Millisecond)
	if calls := l.take(); len(calls) != 0 {
		t.Errorf("stats after Stop with DropAfterStop: %+v", calls)
	}
	if tt := s.GetTrafficTotals(); tt.RecvBytes != 19 || tt.RecvMessages != 4 || tt.SendBytes != 27 || tt.SendMessages != 2 {
		t.Errorf("totals %+v, want recv 19/4 send 27/2", tt)
	}
}

// Stop before the participant is known (the connection failed early), then
// a late Bind: the key gets what was counted, at once, as LiveKit's worker
// started after Stop reports and ends.
func TestSignalStatsStopBeforeBind(t *testing.T) {
	r := liveRegistry(t, time.Hour)
	l := &recorder{}
	s := NewUnboundBytesTrackStats(l, statsKeyForData, WithRegistry(r), DropAfterStop())
	s.AddBytes(9, true)
	s.Stop()
	s.Bind("", "TR_SGPA_1", "PA_1")
	s.Wait()
	checkSums(t, sums(l.take()), map[statsKey]total{signalKey(livekit.StreamType_DOWNSTREAM, "PA_1"): {9, 1}})
}

// signalStats is LiveKit's BytesSignalStats as the README's patch makes it:
// a worker goroutine per binding waits for the stats and then calls
// ParticipantLeft; Reset waits for that worker.
type signalStats struct {
	*BytesTrackStats
	mu      sync.Mutex
	stopped chan struct{}
	left    func(pID livekit.ParticipantID)
}

func (s *signalStats) bind(pID livekit.ParticipantID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Bind("", livekit.TrackID("TR_SG"+string(pID)), pID)
	s.stopped = make(chan struct{})
	go s.worker(pID, s.stopped)
}

func (s *signalStats) worker(pID livekit.ParticipantID, stopped chan struct{}) {
	s.Wait()
	s.left(pID)
	close(stopped)
}

func (s *signalStats) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped != nil {
		s.BytesTrackStats.Reset()
		<-s.stopped
		s.stopped = nil
	}
}

// Many messages racing binds, resets and 1 ms windows, as the signal
// connection's two goroutines and its room moves do: every message is
// reported exactly once, under one of the keys, and no stat reaches the
// listener for a participant after its ParticipantLeft.
func TestSignalStatsExactAcrossResetsAndNothingAfterParticipantLeft(t *testing.T) {
	r := liveRegistry(t, time.Millisecond)
	var leftMu sync.Mutex
	left := map[livekit.ParticipantID]bool{}
	var after atomic.Int64
	l := &recorder{onStats: func(k statsKey) {
		leftMu.Lock()
		defer leftMu.Unlock()
		if left[k.participantID] {
			after.Add(1)
		}
	}}
	s := &signalStats{
		BytesTrackStats: NewUnboundBytesTrackStats(l, statsKeyForData, WithRegistry(r), DropAfterStop()),
		left: func(pID livekit.ParticipantID) {
			leftMu.Lock()
			left[pID] = true
			leftMu.Unlock()
		},
	}
	var want [2]atomic.Uint64 // bytes per side; one byte at least per message
	var msgs [2]atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for {
				select {
				case <-stop:
					return
				default:
				}
				d := rng.IntN(2)
				n := 1 + rng.Uint64N(500)
				s.AddBytes(n, d == 1)
				want[d].Add(n)
				msgs[d].Add(1)
			}
		}()
	}
	const moves = 30
	for i := range moves {
		time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
		s.bind(livekit.ParticipantID(fmt.Sprintf("PA_%d", i)))
		time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
		if i < moves-1 {
			s.reset()
		}
	}
	close(stop)
	wg.Wait()
	s.Stop() // the last key ends; DropAfterStop: nothing is added after
	<-s.stopped

	var got [2]total
	keys := map[livekit.ParticipantID]bool{}
	for k, v := range sums(l.take()) {
		d := 0
		if k.streamType == livekit.StreamType_DOWNSTREAM {
			d = 1
		}
		got[d] = total{got[d].bytes + v.bytes, got[d].packets + v.packets}
		keys[k.participantID] = true
		if k.country != "" || k.trackID != livekit.TrackID("TR_SG"+string(k.participantID)) {
			t.Errorf("key %+v", k)
		}
	}
	for d := range got {
		if w := (total{want[d].Load(), msgs[d].Load()}); got[d] != w {
			t.Errorf("side %d: stats add up to %+v, recorded %+v", d, got[d], w)
		}
	}
	if n := after.Load(); n != 0 {
		t.Errorf("%d stats reached the listener after their participant left", n)
	}
	if len(keys) < moves/2 {
		t.Errorf("only %d of %d keys got stats: the test did not exercise the moves", len(keys), moves)
	}
}
