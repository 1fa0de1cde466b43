package trackstats

import (
	"io"
	"net/http"
	"strconv"
	"unsafe"

	"github.com/trackstats/trackstats/cbindings/go/internal/clib"
)

// DefaultMaxTrackSeries is the per-track series limit when
// PrometheusOptions.MaxTrackSeries is 0 (as the C++ wrapper's default).
const DefaultMaxTrackSeries = 1000

// PrometheusContentType is the Content-Type of the text exposition format
// that MetricsHandler serves.
const PrometheusContentType = "text/plain; version=0.0.4; charset=utf-8"

// PrometheusOptions choose what Prometheus renders. The zero value renders
// the cumulative counters by direction and country and the registry's
// health, without per-track series or node label.
type PrometheusOptions struct {
	// PerTrack also renders trackstats_track_bytes_total and
	// trackstats_track_messages_total, one series per admitted track and
	// direction (labels direction, country, participant_id, track_id).
	// It calls SetTrackSeries(MaxTrackSeries): series appear from the next
	// window pass on.
	PerTrack bool
	// MaxTrackSeries caps the per-track series; the rest are summed into
	// one series per direction with track_id="__overflow__". 0 means
	// DefaultMaxTrackSeries; a negative value shows no track on its own
	// (only the overflow series).
	MaxTrackSeries int
	// NodeID, when not empty, is a constant node_id label on every series.
	NodeID string
}

// minPromBuffer is the first buffer of a registry's first exposition.
const minPromBuffer = 16 << 10

// Prometheus renders the registry in the Prometheus text exposition format
// (version 0.0.4) from one read of its figures (see Figures for what they
// include): trackstats_bytes_total and trackstats_messages_total by
// direction ("incoming" for UPSTREAM, "outgoing" for DOWNSTREAM, as
// LiveKit's own counters) and country, cumulative over every track the
// registry has had; optionally per-track series; and health (open tracks,
// reports, merges, late ticks, tick duration). One call into the library in
// the common case: the library renders into a buffer sized from the
// previous exposition, and renders again only when the registry has grown
// past it. Never waits for the sampler; safe for concurrent use, also with
// records and ticks. Hosts that serve a client_golang registry use the
// collector of the tsprom module instead.
func (r *Registry) Prometheus(opts PrometheusOptions) (string, error) {
	if r == nil {
		return "", ErrNilRegistry
	}
	maxSeries := uint32(DefaultMaxTrackSeries)
	if opts.MaxTrackSeries != 0 {
		maxSeries = clampSeries(opts.MaxTrackSeries)
	}
	size := max(int(r.promSize.Load()), minPromBuffer)
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.h == nil {
		return "", ErrRegistryClosed
	}
	for {
		// Headroom, so that a registry growing a little between two
		// scrapes still takes one call.
		buf := make([]byte, size+size/8)
		n, code := lib().RegistryPrometheus(r.h, opts.PerTrack, maxSeries, opts.NodeID, buf)
		if code != clib.ResultOK {
			return "", ResultError(code)
		}
		r.promSize.Store(int64(n))
		if n <= len(buf) {
			// SAFETY: buf is this call's own and is never written again;
			// the string takes it over without a copy.
			return unsafe.String(unsafe.SliceData(buf), n), nil
		}
		size = n // grew past the buffer: render again, larger
	}
}

// MetricsHandler serves Prometheus(opts) over HTTP, for example:
//
//	http.Handle("/metrics", reg.MetricsHandler(trackstats.PrometheusOptions{NodeID: "sfu-1"}))
//
// GET and HEAD only (other methods: 405). Each request renders the
// exposition afresh; an error (a closed registry) is a 500 with its text.
func (r *Registry) MetricsHandler(opts PrometheusOptions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		text, err := r.Prometheus(opts)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", PrometheusContentType)
		h.Set("Content-Length", strconv.Itoa(len(text)))
		if req.Method == http.MethodHead {
			return
		}
		_, _ = io.WriteString(w, text)
	})
}
