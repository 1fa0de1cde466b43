package trackstats_test

import (
	"fmt"
	"sort"
	"strings"

	trackstats "github.com/trackstats/trackstats/cbindings/go/trackstats"
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

// printListener prints each report of the tracks it is given.
type printListener struct{}

func (printListener) OnReport(r trackstats.Report) {
	fmt.Printf("%s %s %v: %d bytes, %d messages, final %v\n",
		r.ParticipantID, r.TrackID, r.Direction, r.Bytes, r.Messages, r.Flags&trackstats.FlagFinal != 0)
}

func ExampleRegistry_OpenTrackWithListener() {
	// A server uses trackstats.WithDispatcher(): one goroutine calls every
	// listener. Here Drain calls them, to keep the output in order.
	reg, err := trackstats.NewRegistry(trackstats.WithManualTicking())
	if err != nil {
		panic(err)
	}
	defer reg.Close()

	track, err := reg.OpenTrackWithListener("PA_bob", "TR_data", "FR", 0, printListener{})
	if err != nil {
		panic(err)
	}
	track.RecordUp(300)
	_ = track.Close() // final reports within milliseconds (here: at Flush)

	_ = reg.Flush()
	rest, _ := reg.Drain(nil)
	fmt.Println("left for Drain:", len(rest))
	// Output:
	// PA_bob TR_data up: 300 bytes, 1 messages, final true
	// left for Drain: 0
}

func ExampleTrack_RecordUpPacket() {
	reg, err := trackstats.NewRegistry(trackstats.WithManualTicking())
	if err != nil {
		panic(err)
	}
	defer reg.Close()
	track, err := reg.OpenTrack("PA_alice", "TR_data", "DE", 1)
	if err != nil {
		panic(err)
	}
	// Data packets with 16-bit sequence numbers: 3 is late, 5 is lost,
	// 6 comes twice; packets 2, 4 and 6 end a frame.
	for _, p := range []struct {
		seq uint16
		eof bool
	}{{1, false}, {2, true}, {4, true}, {3, false}, {6, true}, {6, true}} {
		track.RecordUpPacket(500, p.seq, p.eof)
	}
	_ = reg.Tick()
	reports, _ := reg.Drain(nil)
	for _, r := range reports {
		fmt.Printf("%v: %d bytes, %d packets; lost %d, recovered %d, out of order %d, duplicated %d, frames %d\n",
			r.Direction, r.Bytes, r.Messages, r.PacketsLost, r.PacketsRecovered,
			r.PacketsOutOfOrder, r.PacketsDuplicated, r.Frames)
	}
	// Output:
	// up: 3000 bytes, 6 packets; lost 2, recovered 1, out of order 1, duplicated 1, frames 3
}

func ExampleRegistry_Prometheus() {
	reg, err := trackstats.NewRegistry(trackstats.WithManualTicking())
	if err != nil {
		panic(err)
	}
	defer reg.Close()
	track, err := reg.OpenTrack("PA_alice", "TR_camera", "DE", 1)
	if err != nil {
		panic(err)
	}
	track.RecordUp(1200)
	track.RecordDown(700)
	// The exposition shows the windows reported so far: a sampler thread
	// ends one every interval; a manual registry here.
	if err := reg.Tick(); err != nil {
		panic(err)
	}

	// A server serves it: http.Handle("/metrics", reg.MetricsHandler(opts)).
	text, err := reg.Prometheus(trackstats.PrometheusOptions{NodeID: "sfu-1"})
	if err != nil {
		panic(err)
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "trackstats_bytes_total") {
			fmt.Println(line)
		}
	}
	// Output:
	// trackstats_bytes_total{node_id="sfu-1",direction="incoming",country="DE"} 1200
	// trackstats_bytes_total{node_id="sfu-1",direction="outgoing",country="DE"} 700
}

// A registry's cumulative figures, as a metrics collector reads them:
// traffic by country and direction (the windows reported so far), and
// per-track series under a limit.
func ExampleRegistry_Figures() {
	reg, err := trackstats.NewRegistry(trackstats.WithManualTicking())
	if err != nil {
		panic(err)
	}
	defer reg.Close()
	if err := reg.SetTrackSeries(100); err != nil {
		panic(err)
	}
	track, err := reg.OpenTrack("PA_alice", "TR_camera", "DE", 1)
	if err != nil {
		panic(err)
	}
	track.RecordUp(1200)
	if err := reg.Tick(); err != nil { // a sampler thread does this every interval
		panic(err)
	}

	f, err := reg.Figures()
	if err != nil {
		panic(err)
	}
	for _, c := range f.Countries {
		fmt.Printf("%s: up %d bytes in %d messages\n", c.Country, c.Up.Bytes, c.Up.Messages)
	}
	for _, s := range f.Tracks {
		fmt.Printf("%s/%s %v: %d bytes\n", s.ParticipantID, s.TrackID, s.Direction, s.Bytes)
	}
	// Output:
	// DE: up 1200 bytes in 1 messages
	// PA_alice/TR_camera up: 1200 bytes
}
