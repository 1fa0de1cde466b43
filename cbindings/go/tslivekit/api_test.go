package tslivekit

import (
	"errors"
	"strings"
	"testing"

	"github.com/livekit/protocol/livekit"
	"github.com/trackstats/trackstats/cbindings/go/internal/apitest"
	"github.com/trackstats/trackstats/cbindings/go/internal/tstest"
	"github.com/trackstats/trackstats/cbindings/go/trackstats"
)

// apiRows holds one row per exported function and method: each calls it with
// nil receivers and bad values and checks the documented error or no-op
// (the main package's rule, cbindings/go/README.md: Guarantees).
var apiRows = map[string]tstest.Row{
	"NewBytesTrackStats": func(t *testing.T, r *trackstats.Registry) {
		s := NewBytesTrackStats("DE", "DTR_x", "PA_x", &recorder{}, statsKeyForData, WithRegistry(nil))
		if err := s.Err(); !errors.Is(err, trackstats.ErrNilRegistry) || !strings.Contains(err.Error(), "WithRegistry(nil)") {
			t.Errorf("WithRegistry(nil): Err = %v", err)
		}
		s.AddBytes(1, true)
		if tt := s.GetTrafficTotals(); tt.SendBytes != 0 {
			t.Errorf("a failed object counted %+v", tt)
		}
		s.Stop()
		s.Wait()
	},
	"NewUnboundBytesTrackStats": func(t *testing.T, r *trackstats.Registry) {
		own := tstest.Manual(t)
		s := NewUnboundBytesTrackStats(&recorder{}, statsKeyForData, nil, WithRegistry(own))
		if !errors.Is(s.Err(), trackstats.ErrInvalidOption) {
			t.Errorf("a nil Option: Err = %v", s.Err())
		}
		s.Bind("DE", "DTR_x", "PA_x")
		if st, _ := own.Stats(); st.OpenTracks != 0 {
			t.Error("a failed object opened a track")
		}
	},
	"WithRegistry": func(t *testing.T, r *trackstats.Registry) {
		// Not the default registry: a nil one is a mistake, said by Err.
		s := NewUnboundBytesTrackStats(&recorder{}, statsKeyForData, WithRegistry(nil))
		if !errors.Is(s.Err(), trackstats.ErrNilRegistry) {
			t.Errorf("WithRegistry(nil): Err = %v", s.Err())
		}
	},
	"DropAfterStop": func(t *testing.T, r *trackstats.Registry) {
		if s := NewBytesTrackStats("DE", "DTR_x", "PA_x", &recorder{}, statsKeyForData, WithRegistry(r), DropAfterStop(), DropAfterStop()); s.Err() != nil {
			t.Error(s.Err())
		} else {
			s.Stop()
		}
	},
	"DefaultRegistry": func(t *testing.T, r *trackstats.Registry) {
		// No input; SetDefaultRegistry's row checks nil.
	},
	"SetDefaultRegistry": func(t *testing.T, r *trackstats.Registry) {
		t.Cleanup(func() { SetDefaultRegistry(nil) })
		SetDefaultRegistry(nil) // documented: the next object makes a new default
		d, err := DefaultRegistry()
		if err != nil || d == nil {
			t.Fatalf("DefaultRegistry after SetDefaultRegistry(nil) = %v, %v", d, err)
		}
		_ = d.Close()
	},
	"StreamType": func(t *testing.T, r *trackstats.Registry) {
		if StreamType(trackstats.Direction(7)) != livekit.StreamType_UPSTREAM {
			t.Error("an unknown direction is not UPSTREAM")
		}
	},
	"ToAnalyticsStat": func(t *testing.T, r *trackstats.Registry) {
		if ToAnalyticsStat(nil, nil) != nil {
			t.Error("ToAnalyticsStat(nil) is not nil")
		}
	},
	"NetLoss.Next": func(t *testing.T, r *trackstats.Registry) {
		var nl *NetLoss
		if nl.Next(&trackstats.Report{PacketsLost: 3}) != 0 || new(NetLoss).Next(nil) != 0 {
			t.Error("Next of a nil NetLoss or report is not 0")
		}
	},
	"Adapt": func(t *testing.T, r *trackstats.Registry) {
		// A nil listener or key drops the reports.
		Adapt[statsKey](nil, nil).OnReport(trackstats.Report{Bytes: 1, Messages: 1})
		Adapt[statsKey](&recorder{}, nil).OnReport(trackstats.Report{Bytes: 1, Messages: 1})
	},
}

// The methods of a nil *BytesTrackStats are no-ops (the relay case).
func init() {
	var s *BytesTrackStats
	for name, f := range map[string]func(){
		"AddBytes":      func() { s.AddBytes(1, true) },
		"AddDataPacket": func() { s.AddDataPacket(1, 1, true) },
		"Bind":          func() { s.Bind("DE", "DTR_x", "PA_x") },
		"Err":           func() { _ = s.Err() },
		"GetTrafficTotals": func() {
			if tt := s.GetTrafficTotals(); tt == nil || tt.SendBytes != 0 {
				panic("GetTrafficTotals of a nil object")
			}
		},
		"Reset": func() { s.Reset() },
		"Stop":  func() { s.Stop() },
		"Wait":  func() { s.Wait() },
	} {
		apiRows["BytesTrackStats."+name] = func(t *testing.T, r *trackstats.Registry) { f() }
	}
}

// TestAPIBadInput runs every row; a new export without a row fails it.
func TestAPIBadInput(t *testing.T) {
	apitest.Table(t, apiRows, 15, tstest.Manual(t))
}
