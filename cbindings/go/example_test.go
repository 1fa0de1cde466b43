package trackstats_test

import (
	"fmt"
	"sort"

	trackstats "github.com/trackstats/trackstats/cbindings/go"
)

func Example() {
	// Manual ticking makes the example deterministic; a server would use
	// the default sampler thread and call Drain every few seconds.
	reg, err := trackstats.NewRegistry(trackstats.WithManualTicking())
	if err != nil {
		panic(err)
	}
	defer reg.Close()

	track, err := reg.OpenTrack("PA_alice", "TR_camera", "DE", 7)
	if err != nil {
		panic(err)
	}
	track.RecordUp(1200) // received from the publisher
	track.RecordUp(800)
	track.RecordDown(1200) // sent to a subscriber

	var relay *trackstats.Track // a relayed copy: not counted here
	relay.RecordUp(1200)

	_ = reg.Tick() // end the window (the sampler thread does this itself)
	reports, _ := reg.Drain(nil)
	sort.Slice(reports, func(i, j int) bool { return reports[i].Direction < reports[j].Direction })
	for _, r := range reports {
		fmt.Printf("%s %s %s user=%d %v: %d bytes in %d messages\n",
			r.ParticipantID, r.TrackID, r.Country, r.UserData, r.Direction, r.Bytes, r.Messages)
	}
	// Output:
	// PA_alice TR_camera DE user=7 up: 2000 bytes in 2 messages
	// PA_alice TR_camera DE user=7 down: 1200 bytes in 1 messages
}

type printListener struct{}

func (printListener) OnTrackStats(key trackstats.StatsKey, stat *trackstats.TrackStat) {
	fmt.Printf("%s %v %s %s: %d bytes, %d messages\n",
		key.Country, key.StreamType, key.ParticipantID, key.TrackID, stat.Bytes, stat.Messages)
}

func ExampleNewBytesTrackStats() {
	// A server uses trackstats.WithDispatcher(): one goroutine calls every
	// listener. Here Drain calls them, to keep the output in order.
	reg, err := trackstats.NewRegistry(trackstats.WithManualTicking())
	if err != nil {
		panic(err)
	}
	defer reg.Close()

	// Was: rtc.NewBytesTrackStats(country, trackID, pID, ...)
	stats, err := trackstats.NewBytesTrackStats(reg, "FR", "TR_data", "PA_bob", printListener{})
	if err != nil {
		panic(err)
	}
	stats.AddBytes(300, false) // received: UPSTREAM
	stats.AddBytes(100, true)  // sent: DOWNSTREAM
	stats.Stop()               // final stats within milliseconds

	_ = reg.Flush()
	_, _ = reg.Drain(nil)
	t := stats.GetTrafficTotals()
	fmt.Printf("totals: recv %d/%d, send %d/%d\n", t.RecvBytes, t.RecvMessages, t.SendBytes, t.SendMessages)
	// Unordered output:
	// FR UPSTREAM PA_bob TR_data: 300 bytes, 1 messages
	// FR DOWNSTREAM PA_bob TR_data: 100 bytes, 1 messages
	// totals: recv 300/1, send 100/1
}
