package trackstats

import (
	"errors"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

type statsCall struct {
	key  StatsKey
	stat TrackStat
}

// recordingListener is a LiveKit-style telemetry listener.
type recordingListener struct {
	mu    sync.Mutex
	calls []statsCall
	ch    chan statsCall // optional: also sent here
}

func (l *recordingListener) OnTrackStats(key StatsKey, stat *TrackStat) {
	l.mu.Lock()
	l.calls = append(l.calls, statsCall{key, *stat})
	l.mu.Unlock()
	if l.ch != nil {
		l.ch <- statsCall{key, *stat}
	}
}

func (l *recordingListener) take() []statsCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.calls
	l.calls = nil
	return c
}

// The drop-in reports as LiveKit's BytesTrackStats: the receive side
// (AddBytes isSend=false) keyed UPSTREAM, the send side DOWNSTREAM, with
// StatsKeyForData(country, stream type, participant, track). Here it is a
// subscriber's copy: the subscriber's country and participant, the
// publisher's track.
func TestBytesTrackStatsReportsLiveKitKeys(t *testing.T) {
	r := newRegistry(t, WithManualTicking())
	l := &recordingListener{}
	s, err := NewBytesTrackStats(r, "BR", "TR_publisher", "PA_subscriber", l)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		s.AddBytes(100, false)
	}
	s.AddBytes(40, true)
	s.AddBytes(60, true)

	tt := s.GetTrafficTotals()
	if tt.RecvBytes != 300 || tt.RecvMessages != 3 || tt.SendBytes != 100 || tt.SendMessages != 2 {
		t.Errorf("GetTrafficTotals = %+v", tt)
	}
	if tt.At.Before(tt.StartTime) || tt.StartTime.IsZero() {
		t.Errorf("GetTrafficTotals times: start %v, at %v", tt.StartTime, tt.At)
	}

	if err := r.Tick(); err != nil {
		t.Fatal(err)
	}
	if rs := drainAll(t, r); len(rs) != 0 {
		t.Errorf("listener reports also reached Drain: %+v", rs)
	}
	calls := l.take()
	want := map[StatsKey][2]uint64{
		StatsKeyForData("BR", StreamTypeUpstream, "PA_subscriber", "TR_publisher"):   {300, 3},
		StatsKeyForData("BR", StreamTypeDownstream, "PA_subscriber", "TR_publisher"): {100, 2},
	}
	if len(calls) != len(want) {
		t.Fatalf("listener got %d calls, want %d: %+v", len(calls), len(want), calls)
	}
	for _, c := range calls {
		w, ok := want[c.key]
		if !ok {
			t.Errorf("unexpected key %+v", c.key)
			continue
		}
		if c.stat.Bytes != w[0] || c.stat.Messages != w[1] {
			t.Errorf("%v: %d bytes / %d messages, want %d / %d", c.key.StreamType, c.stat.Bytes, c.stat.Messages, w[0], w[1])
		}
		if c.stat.EndTime.Before(c.stat.StartTime) {
			t.Errorf("window ends before it starts: %+v", c.stat)
		}
	}
	if StreamTypeUpstream.String() != "UPSTREAM" || StreamTypeDownstream.String() != "DOWNSTREAM" {
		t.Errorf("stream type names %v %v", StreamTypeUpstream, StreamTypeDownstream)
	}

	// Stop, then a late message: reported, flagged late, still DOWNSTREAM.
	s.Stop()
	s.Stop()
	if err := r.Flush(); err != nil { // the final flush: nothing new to report
		t.Fatal(err)
	}
	s.AddBytes(5, true)
	if err := r.Tick(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Drain(nil); err != nil {
		t.Fatal(err)
	}
	calls = l.take()
	if len(calls) != 1 || calls[0].key.StreamType != StreamTypeDownstream || calls[0].stat.Bytes != 5 || calls[0].stat.Flags&FlagLate == 0 {
		t.Errorf("after Stop: %+v, want one late DOWNSTREAM stat of 5 bytes", calls)
	}

	// A replaced listener gets the next window; nil drops it, as LiveKit's
	// null listener.
	s.SetTelemetryListener(nil)
	s.AddBytes(1, false)
	_ = r.Tick()
	_, _ = r.Drain(nil)
	if calls := l.take(); len(calls) != 0 {
		t.Errorf("nil listener: the old one still got %+v", calls)
	}
	l2 := &recordingListener{}
	s.SetTelemetryListener(l2)
	s.AddBytes(2, false)
	_ = r.Tick()
	_, _ = r.Drain(nil)
	if calls := l2.take(); len(calls) != 1 || calls[0].stat.Bytes != 2 {
		t.Errorf("new listener got %+v", calls)
	}
}

// A dispatcher registry: one goroutine delivers every BytesTrackStats's
// stats; opening a thousand of them starts no goroutine; Stop's final stats
// arrive within milliseconds although the window is an hour; dropped stats
// objects are flushed and released.
func TestDispatcherNoGoroutinePerTrack(t *testing.T) {
	r := newRegistry(t, WithDispatcher(), WithInterval(time.Hour))
	if _, err := r.OpenTrack("p", "t", "", 0); !errors.Is(err, ErrListenerRequired) {
		t.Errorf("plain track on a dispatcher registry: %v", err)
	}
	if _, err := r.Drain(nil); !errors.Is(err, ErrNotPull) {
		t.Errorf("Drain on a dispatcher registry: %v", err)
	}
	l := &recordingListener{ch: make(chan statsCall, 4096)}
	const n = 1000
	before := runtime.NumGoroutine()
	stats := make([]*BytesTrackStats, n)
	for i := range stats {
		s, err := NewBytesTrackStats(r, "US", "TR_"+strconv.Itoa(i), "PA_"+strconv.Itoa(i%10), l)
		if err != nil {
			t.Fatal(err)
		}
		s.AddBytes(uint64(i+1), i%2 == 0)
		stats[i] = s
	}
	if d := runtime.NumGoroutine() - before; d > 0 {
		t.Errorf("%d stats objects started %d goroutines", n, d)
	}

	// Stop the first half: their finals must come promptly.
	start := time.Now()
	for _, s := range stats[:n/2] {
		s.Stop()
	}
	got := map[string]statsCall{}
	for len(got) < n/2 {
		select {
		case c := <-l.ch:
			got[c.key.TrackID] = c
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d of %d final stats within 5 s of Stop (interval 1 h)", len(got), n/2)
		}
	}
	t.Logf("%d final stats in %v", n/2, time.Since(start))

	// Drop the rest without Stop: the finalizer flushes and releases them.
	stats = nil
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < n {
		runtime.GC()
		timeout := time.After(10 * time.Millisecond)
	wait:
		for {
			select {
			case c := <-l.ch:
				got[c.key.TrackID] = c
			case <-timeout:
				break wait
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d stats after dropping", len(got), n)
		}
	}
	for i := 0; i < n; i++ {
		c, ok := got["TR_"+strconv.Itoa(i)]
		wantType := StreamTypeUpstream
		if i%2 == 0 {
			wantType = StreamTypeDownstream
		}
		if !ok || c.stat.Bytes != uint64(i+1) || c.stat.Messages != 1 || c.key.StreamType != wantType ||
			c.key.ParticipantID != "PA_"+strconv.Itoa(i%10) || c.key.Country != "US" || c.stat.Flags&FlagFinal == 0 {
			t.Errorf("track %d: %+v (found %v)", i, c, ok)
		}
	}
	collectDropped(t, r)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if d := runtime.NumGoroutine() - before; d > 0 {
		t.Errorf("%d goroutines left after Close", d)
	}
}

// AddDataPacket (the publisher side): the UPSTREAM stats and the traffic
// totals carry the sequence counts, window by window, as the model gives
// them; the DOWNSTREAM side has none.
func TestBytesTrackStatsDataPackets(t *testing.T) {
	r := newRegistry(t, WithManualTicking())
	l := &recordingListener{}
	s, err := NewBytesTrackStats(r, "NO", "TR_data", "PA_pub", l)
	if err != nil {
		t.Fatal(err)
	}
	var m seqModel
	windows := [][]uint16{{100, 101, 104, 104, 102}, {103, 105, 109}, {}, {107, 108, 110}}
	for w, seqs := range windows {
		before := m.c
		for i, q := range seqs {
			s.AddDataPacket(50, q, i%2 == 0)
			m.packet(50, q, i%2 == 0)
		}
		s.AddBytes(7, true) // DOWNSTREAM: no sequence counts
		if err := r.Tick(); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Drain(nil); err != nil {
			t.Fatal(err)
		}
		want := m.c.sub(before)
		var gotUp seqCounts
		for _, c := range l.take() {
			got := seqCounts{c.stat.PacketsLost, c.stat.PacketsRecovered, c.stat.PacketsOutOfOrder,
				c.stat.PacketsDuplicated, c.stat.Frames}
			switch c.key.StreamType {
			case StreamTypeUpstream:
				gotUp = gotUp.add(got)
			case StreamTypeDownstream:
				if got != (seqCounts{}) {
					t.Errorf("window %d: DOWNSTREAM stat with sequence counts %+v", w, got)
				}
			}
		}
		if gotUp != want {
			t.Errorf("window %d: UPSTREAM counts %+v, model %+v", w, gotUp, want)
		}
		tt := s.GetTrafficTotals()
		gotTot := seqCounts{tt.RecvPacketsLost, tt.RecvPacketsRecovered, tt.RecvPacketsOutOfOrder,
			tt.RecvPacketsDuplicated, tt.RecvFrames}
		if gotTot != m.c || tt.RecvBytes != m.bytes || uint64(tt.RecvMessages) != m.msgs {
			t.Errorf("after window %d: totals %+v, model %+v, %d B / %d msgs", w, tt, m.c, m.bytes, m.msgs)
		}
	}
	// The windows cover a loss recovered a window later (103), and the
	// model's net loss is LiveKit's figure.
	if m.c.recovered == 0 || m.c.duplicated == 0 || m.outstanding != int64(m.c.lost-m.c.recovered) {
		t.Errorf("the stream did not exercise the counts: %+v, outstanding %d", m.c, m.outstanding)
	}
}
