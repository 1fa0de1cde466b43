package tslivekit

import (
	"testing"

	"github.com/trackstats/trackstats/cbindings/go/internal/tstest"
	"github.com/trackstats/trackstats/cbindings/go/trackstats"
)

// NetLoss never reports a negative window, reports the rise of the net
// loss, keeps what is over a stat's saturation for later windows, and
// treats more recoveries than losses (several writers) as no loss.
func TestNetLoss(t *testing.T) {
	var n NetLoss
	for i, c := range []struct {
		lost, recovered uint64
		want            uint32
	}{
		{5, 0, 5},
		{0, 3, 0}, // net 2: recovered what was reported
		{4, 0, 1}, // net 6: one over the peak of 5
		{0, 0, 0},
		{maxStatCount + 10, 0, maxStatCount}, // over a stat's limit...
		{0, 0, 10},                           // ...the rest next window
		{0, 1 << 40, 0},                      // recoveries past every loss
	} {
		if got := n.Next(&trackstats.Report{PacketsLost: c.lost, PacketsRecovered: c.recovered}); got != c.want {
			t.Errorf("window %d: net loss %d, want %d", i, got, c.want)
		}
	}
	st := ToAnalyticsStat(&trackstats.Report{Messages: 1 << 40, Frames: 7, PacketsOutOfOrder: 1 << 33, Direction: trackstats.Up}, nil)
	if s := st.Streams[0]; s.PrimaryPackets != maxStatCount || s.PacketsOutOfOrder != maxStatCount || s.Frames != 7 || s.PacketsLost != 0 {
		t.Errorf("saturation: %v", s)
	}
}

// Adapt serves a host that opens tracks itself: LiveKit's keys and stats
// from a plain trackstats track.
func TestAdaptOpensWithAnyHost(t *testing.T) {
	r := tstest.Manual(t)
	l := &recorder{}
	tk, err := r.OpenTrackWithListener("PA_x", "DTR_x", "DE", 0, Adapt(l, statsKeyForData))
	if err != nil {
		t.Fatal(err)
	}
	tk.RecordDown(40)
	tickDrain(t, r)
	if calls := l.take(); len(calls) != 1 || calls[0].key != statsKeyForData("DE", StreamType(trackstats.Down), "PA_x", "DTR_x") || calls[0].stat.Streams[0].PrimaryBytes != 40 {
		t.Errorf("stats %+v", calls)
	}
}
