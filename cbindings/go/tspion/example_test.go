package tspion_test

import (
	"fmt"

	"github.com/pion/interceptor"
	"github.com/trackstats/trackstats/cbindings/go/trackstats"
	"github.com/trackstats/trackstats/cbindings/go/tspion"
)

// A factory counting into a registry, first in pion's interceptor chain.
// The resolver answers from the host's own signalling state; here, one
// known SSRC per peer.
func ExampleNewFactory() {
	reg, _ := trackstats.NewRegistry()
	defer reg.Close()

	tracks := map[string]map[uint32]string{"alice": {1234: "cam"}}
	f, err := tspion.NewFactory(reg, func(s tspion.Stream) *tspion.Key {
		track, ok := tracks[s.PeerConnection][s.SSRC]
		if !ok || s.PeerConnection == "relay" {
			return nil // not counted here
		}
		return &tspion.Key{ParticipantID: s.PeerConnection, TrackID: track, Country: "FR"}
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// One interceptor.Registry (one webrtc.API) per PeerConnection, so the
	// resolver sees the host's name for it; the factory goes in first.
	ir := &interceptor.Registry{}
	ir.Add(f.ForPeer("alice"))
	// webrtc.NewAPI(webrtc.WithInterceptorRegistry(ir), ...).NewPeerConnection(...)
	fmt.Println("ready")
	// Output: ready
}
