package tslivekit

import (
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/trackstats/trackstats/cbindings/go/trackstats"
)

// statsKey is LiveKit's telemetry.StatsKey for data: unexported fields, so
// a test can only build one with statsKeyForData, as LiveKit does.
type statsKey struct {
	country       string
	streamType    livekit.StreamType
	participantID livekit.ParticipantID
	trackID       livekit.TrackID
}

// statsKeyForData has the signature of LiveKit's telemetry.StatsKeyForData.
func statsKeyForData(country string, streamType livekit.StreamType, participantID livekit.ParticipantID, trackID livekit.TrackID) statsKey {
	return statsKey{country: country, streamType: streamType, participantID: participantID, trackID: trackID}
}

// participantTelemetryListener stands for LiveKit's
// types.ParticipantTelemetryListener: an interface with OnTrackStats among
// other methods. Handing a value of this interface type to the
// constructors checks that a LiveKit listener fits Listener[statsKey].
type participantTelemetryListener interface {
	OnTrackPublishRequested(participantID livekit.ParticipantID, identity livekit.ParticipantIdentity, track *livekit.TrackInfo, isMigrated bool)
	OnTrackStats(key statsKey, stat *livekit.AnalyticsStat)
}

type statCall struct {
	key  statsKey
	stat *livekit.AnalyticsStat
}

// recorder is a LiveKit-style listener that keeps every call.
type recorder struct {
	mu    sync.Mutex
	calls []statCall
	// onStats, when set, runs inside each call (to check ordering).
	onStats func(key statsKey)
}

func (l *recorder) OnTrackPublishRequested(livekit.ParticipantID, livekit.ParticipantIdentity, *livekit.TrackInfo, bool) {
}

func (l *recorder) OnTrackStats(key statsKey, stat *livekit.AnalyticsStat) {
	if l.onStats != nil {
		l.onStats(key)
	}
	l.mu.Lock()
	l.calls = append(l.calls, statCall{key, stat})
	l.mu.Unlock()
}

func (l *recorder) take() []statCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.calls
	l.calls = nil
	return c
}

// total is what a key's stats add up to.
type total struct{ bytes, packets uint64 }

// sums adds up the calls per key.
func sums(calls []statCall) map[statsKey]total {
	m := map[statsKey]total{}
	for _, c := range calls {
		s := c.stat.Streams[0]
		t := m[c.key]
		m[c.key] = total{t.bytes + s.PrimaryBytes, t.packets + uint64(s.PrimaryPackets)}
	}
	return m
}

func checkSums(t *testing.T, got, want map[statsKey]total) {
	t.Helper()
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%+v: stats add up to %+v, want %+v", k, got[k], w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%+v: stats of %+v for a key that counted nothing", k, g)
		}
	}
}

// liveRegistry is a server's registry: a sampler thread ending windows
// every interval and a dispatcher goroutine calling the listeners.
func liveRegistry(t *testing.T, interval time.Duration) *trackstats.Registry {
	t.Helper()
	r, err := trackstats.NewRegistry(trackstats.WithDispatcher(), trackstats.WithInterval(interval))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// tickDrain ends the window and delivers its stats (a manual registry).
func tickDrain(t *testing.T, r *trackstats.Registry) {
	t.Helper()
	if err := r.Tick(); err != nil {
		t.Fatal(err)
	}
	flushDrain(t, r)
}

// flushDrain delivers pending closes' final stats (a manual registry).
func flushDrain(t *testing.T, r *trackstats.Registry) {
	t.Helper()
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	if rest, err := r.Drain(nil); err != nil || len(rest) != 0 {
		t.Fatalf("Drain: %d reports outside the listeners, %v", len(rest), err)
	}
}
