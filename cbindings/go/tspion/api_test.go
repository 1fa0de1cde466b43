package tspion_test

import (
	"errors"
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/trackstats/trackstats/cbindings/go/internal/apitest"
	"github.com/trackstats/trackstats/cbindings/go/internal/tstest"
	"github.com/trackstats/trackstats/cbindings/go/trackstats"
	"github.com/trackstats/trackstats/cbindings/go/tspion"
)

func resolveNone(tspion.Stream) *tspion.Key { return nil }

// apiRows holds one row per exported function and method, called with nil
// receivers and bad values (the main package's rule, cbindings/go/README.md:
// Guarantees).
var apiRows = map[string]tstest.Row{
	"NewFactory": func(t *testing.T, r *trackstats.Registry) {
		if f, err := tspion.NewFactory(nil, resolveNone); !errors.Is(err, trackstats.ErrNilRegistry) || f != nil {
			t.Errorf("NewFactory(nil) = %v, %v", f, err)
		}
		if _, err := tspion.NewFactory(r, resolveNone, nil); !errors.Is(err, trackstats.ErrInvalidOption) {
			t.Errorf("NewFactory with a nil Option: %v", err)
		}
	},
	"WithErrorHandler": func(t *testing.T, r *trackstats.Registry) {
		// nil is no handler: a failed open is skipped silently.
		f, err := tspion.NewFactory(r, func(tspion.Stream) *tspion.Key { return &tspion.Key{} }, tspion.WithErrorHandler(nil))
		if err != nil {
			t.Fatal(err)
		}
		i, _ := f.NewInterceptor("pc")
		i.BindRemoteStream(&interceptor.StreamInfo{SSRC: 1}, nil)
		_ = i.Close()
	},
	"Factory.ForPeer": func(t *testing.T, r *trackstats.Registry) {
		var f *tspion.Factory
		if f.ForPeer("pc") != nil {
			t.Error("ForPeer of a nil Factory is not nil")
		}
	},
	"Factory.NewInterceptor": func(t *testing.T, r *trackstats.Registry) {
		var f *tspion.Factory
		if i, err := f.NewInterceptor("pc"); !errors.Is(err, tspion.ErrNilFactory) || i != nil {
			t.Errorf("NewInterceptor of a nil Factory = %v, %v", i, err)
		}
	},
	"Interceptor.BindRemoteStream": func(t *testing.T, r *trackstats.Registry) {
		var reader interceptor.RTPReader = interceptor.RTPReaderFunc(func([]byte, interceptor.Attributes) (int, interceptor.Attributes, error) {
			return 0, nil, nil
		})
		for _, i := range interceptors(t, r) {
			if got := i.BindRemoteStream(nil, reader); got == nil {
				t.Error("a nil StreamInfo lost the reader")
			}
		}
		if (*tspion.Interceptor)(nil).BindRemoteStream(&interceptor.StreamInfo{SSRC: 1}, nil) != nil {
			t.Error("a nil Interceptor wrapped a reader")
		}
	},
	"Interceptor.BindLocalStream": func(t *testing.T, r *trackstats.Registry) {
		var writer interceptor.RTPWriter = interceptor.RTPWriterFunc(func(*rtp.Header, []byte, interceptor.Attributes) (int, error) {
			return 0, nil
		})
		for _, i := range interceptors(t, r) {
			if got := i.BindLocalStream(nil, writer); got == nil {
				t.Error("a nil StreamInfo lost the writer")
			}
		}
	},
	"Interceptor.UnbindRemoteStream": func(t *testing.T, r *trackstats.Registry) {
		for _, i := range interceptors(t, r) {
			i.UnbindRemoteStream(nil)
			i.UnbindRemoteStream(&interceptor.StreamInfo{SSRC: 9})
		}
	},
	"Interceptor.UnbindLocalStream": func(t *testing.T, r *trackstats.Registry) {
		for _, i := range interceptors(t, r) {
			i.UnbindLocalStream(nil)
			i.UnbindLocalStream(&interceptor.StreamInfo{SSRC: 9})
		}
	},
	"Interceptor.Close": func(t *testing.T, r *trackstats.Registry) {
		for _, i := range interceptors(t, r) {
			if err := i.Close(); err != nil {
				t.Error(err)
			}
		}
	},
}

// interceptors are a nil Interceptor and a live one.
func interceptors(t *testing.T, r *trackstats.Registry) []*tspion.Interceptor {
	t.Helper()
	f, err := tspion.NewFactory(r, resolveNone)
	if err != nil {
		t.Fatal(err)
	}
	i, err := f.NewInterceptor("pc")
	if err != nil {
		t.Fatal(err)
	}
	return []*tspion.Interceptor{nil, i.(*tspion.Interceptor)}
}

// TestAPIBadInput runs every row; a new export without a row fails it.
func TestAPIBadInput(t *testing.T) {
	apitest.Table(t, apiRows, 8, tstest.Manual(t))
}
