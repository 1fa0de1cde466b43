package tsprom_test

import (
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/trackstats/trackstats/cbindings/go/trackstats"
	"github.com/trackstats/trackstats/cbindings/go/tsprom"
)

// The collector registered where the host's /metrics already looks, under
// its node's label (the README's snippet).
func ExampleNew() {
	reg, _ := trackstats.NewRegistry(trackstats.WithManualTicking()) // a host's registry (5 s windows without the option)
	defer reg.Close()
	hostRegistry := prometheus.NewRegistry() // prometheus.DefaultRegisterer in most hosts

	c, err := tsprom.New(reg, tsprom.WithTrackSeries(1000)) // per-track series: optional
	if err != nil {
		panic(err)
	}
	node := prometheus.WrapRegistererWith(prometheus.Labels{"node_id": "sfu-1"}, hostRegistry)
	node.MustRegister(c) // the host's /metrics (promhttp) serves it

	track, _ := reg.OpenTrack("PA_alice", "TR_data", "DE", 1)
	track.RecordUp(1200)
	_ = reg.Tick() // a sampler thread ends a window every interval
	families, _ := hostRegistry.Gather()
	for _, mf := range families {
		if strings.HasPrefix(mf.GetName(), "trackstats_") && strings.Contains(mf.GetName(), "bytes") {
			for _, m := range mf.GetMetric() {
				if v := m.GetCounter().GetValue(); v > 0 {
					fmt.Println(mf.GetName(), v, m.GetLabel()[len(m.GetLabel())-1].GetValue())
				}
			}
		}
	}
	// Output:
	// trackstats_bytes_total 1200 sfu-1
	// trackstats_track_bytes_total 1200 TR_data
}
