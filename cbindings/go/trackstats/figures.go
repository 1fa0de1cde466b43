package trackstats

import (
	"errors"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/trackstats/trackstats/cbindings/go/internal/clib"
)

// Traffic is a cumulative count of bytes and messages.
type Traffic struct {
	Bytes, Messages uint64
}

// Add returns the sum of t and o.
func (t Traffic) Add(o Traffic) Traffic {
	return Traffic{t.Bytes + o.Bytes, t.Messages + o.Messages}
}

// CountryFigures is the traffic of every track opened with one country,
// released tracks included.
type CountryFigures struct {
	// Country as given to OpenTrack; empty when unknown.
	Country string
	// Up is what publishers sent (UPSTREAM), Down what subscribers were
	// sent (DOWNSTREAM).
	Up, Down Traffic
}

// TrackFigures is one per-track series: the traffic of one track in one
// direction, for a (track, direction) admitted under the limit of
// Registry.SetTrackSeries.
type TrackFigures struct {
	ParticipantID, TrackID, Country string
	Direction                       Direction
	Traffic
	// Start is when the series was admitted: a series of the same ids with
	// another Start is another track. Its first value may hold what the
	// track recorded before (series asked for late).
	Start time.Time
	// Ended: the track was released and this is the series' final value,
	// kept for one to two intervals before the series goes.
	Ended bool
}

// Figures is one read of a registry's cumulative figures (ReadFigures): the
// traffic the sampler has published, and the health counters as they stood
// at the read.
//
// The traffic figures hold every window the sampler has taken, that is
// exactly what the reports delivered so far add up to, and not the window
// still open: they lag the records by at most one interval, and a closed
// track's bytes are in within milliseconds. (Track.Totals adds the open
// window for one track.) They never go back: a released track's bytes stay
// in its country's sums, and the overflow keeps every series not admitted,
// released ones included. A read never waits for the sampler, a window pass
// or a report consumer.
type Figures struct {
	// Publication counts the sampler's publications: two reads with the
	// same number have the same traffic figures. 0 before the first report.
	Publication uint64
	// AsOf is the end of the latest window included (zero before the first).
	AsOf time.Time
	// Started is when the registry started: every cumulative figure counts
	// from there.
	Started time.Time
	// Countries holds every country reported so far, sorted by Country.
	Countries []CountryFigures
	// Tracks holds the per-track series while SetTrackSeries is on: one per
	// admitted (track, direction), in a stable order; a released track's
	// series stay, Ended, for one to two intervals.
	Tracks []TrackFigures
	// Overflow, indexed by Direction, sums every (track, direction) that
	// moved without being admitted to a series of its own.
	Overflow [2]Traffic
	// TrackSeries says whether per-track series are on, under
	// TrackSeriesLimit.
	TrackSeries      bool
	TrackSeriesLimit int
	// TickTime is the time the sampler spent in window passes, LastTick
	// the latest pass's.
	TickTime, LastTick time.Duration
	// Stats are the registry's health counters.
	Stats Stats
}

// Total is the traffic of every country in direction d: zero for an
// unknown direction or a nil Figures.
func (f *Figures) Total(d Direction) Traffic {
	var t Traffic
	if f == nil {
		return t
	}
	for _, c := range f.Countries {
		switch d {
		case Up:
			t = t.Add(c.Up)
		case Down:
			t = t.Add(c.Down)
		}
	}
	return t
}

// errNilFigures: ReadFigures needs somewhere to write.
var errNilFigures = errors.New("trackstats: ReadFigures into a nil *Figures")

// ReadFigures reads the registry's figures into dst, reusing its slices
// and, where a row's ids did not change, its strings: a collector that
// keeps one Figures reads without allocating. Safe for concurrent use with
// everything but other uses of the same dst. ErrRegistryClosed after Close.
func (r *Registry) ReadFigures(dst *Figures) error {
	if dst == nil {
		return errNilFigures
	}
	return r.call(func(h *clib.Registry) uint32 { return readFigures(h, dst) })
}

// Figures reads the registry's figures into a new Figures (see
// ReadFigures).
func (r *Registry) Figures() (*Figures, error) {
	f := new(Figures)
	if err := r.ReadFigures(f); err != nil {
		return nil, err
	}
	return f, nil
}

// SetTrackSeries keeps per-track series in the figures (Figures.Tracks):
// from the next window pass on, each (track, direction) that moves is
// admitted, once, to a series of its own while fewer than max are
// admitted, or else to the overflow, and stays there until the track is
// released. A track that moved before is admitted with its whole
// cumulative count. A later call changes the limit for series admitted
// afterwards; there is no off. A negative max is 0 (every series in the
// overflow). ErrRegistryClosed after Close.
func (r *Registry) SetTrackSeries(max int) error {
	return r.call(func(h *clib.Registry) uint32 { return lib().RegistrySetTrackSeries(h, clampSeries(max)) })
}

// clampSeries maps a Go series limit onto the library's uint32.
func clampSeries(n int) uint32 {
	switch {
	case n < 0:
		return 0
	case uint64(n) > math.MaxUint32:
		return math.MaxUint32
	}
	return uint32(n)
}

// keep is s when it equals the library's bytes b (so a reused row allocates
// nothing), and a Go copy of b otherwise. b is borrowed C memory.
func keep(s, b string) string {
	if s == b {
		return s
	}
	return strings.Clone(b)
}

// resize is s with length n, keeping its elements (the strings of the
// previous read, compared with the new ones by keep).
func resize[T any](s []T, n int) []T {
	if n <= cap(s) {
		return s[:n]
	}
	return slices.Grow(s[:cap(s)], n-cap(s))[:n]
}

// readFigures reads the registry's figures into f (two calls into the
// library: the read and its free). Rows and strings are copied into Go
// memory, reusing f's rows and strings where they are equal, so nothing is
// allocated per row of a reused f whose ids did not change.
func readFigures(h *clib.Registry, f *Figures) uint32 {
	l := lib()
	read, v, code := l.RegistryFigures(h)
	if code != clib.ResultOK {
		return code
	}
	defer l.FiguresFree(read)
	// The view and everything it points to stay valid until the free;
	// nothing read from them is kept without a copy.
	f.Publication = v.Publication
	f.AsOf = time.Time{}
	if v.AsOfUnixNS != 0 {
		f.AsOf = unixNano(v.AsOfUnixNS)
	}
	f.Started = unixNano(v.StartedUnixNS)
	cs := cArray(v.Countries, v.CountriesLen)
	f.Countries = resize(f.Countries, len(cs))
	for i := range cs {
		c, row := &cs[i], &f.Countries[i]
		row.Country = keep(row.Country, borrowed(c.Country, c.CountryLen))
		row.Up = Traffic{c.UpBytes, c.UpMessages}
		row.Down = Traffic{c.DownBytes, c.DownMessages}
	}
	ts := cArray(v.Tracks, v.TracksLen)
	f.Tracks = resize(f.Tracks, len(ts))
	for i := range ts {
		t, row := &ts[i], &f.Tracks[i]
		row.ParticipantID = keep(row.ParticipantID, borrowed(t.ParticipantID, t.ParticipantIDLen))
		row.TrackID = keep(row.TrackID, borrowed(t.TrackID, t.TrackIDLen))
		row.Country = keep(row.Country, borrowed(t.Country, t.CountryLen))
		row.Direction = Direction(t.Direction)
		row.Traffic = Traffic{t.Bytes, t.Messages}
		row.Start = unixNano(t.StartUnixNS)
		row.Ended = t.Ended
	}
	f.Overflow[Up] = Traffic{v.OverflowUpBytes, v.OverflowUpMessages}
	f.Overflow[Down] = Traffic{v.OverflowDownBytes, v.OverflowDownMessages}
	f.TrackSeries = v.TrackSeriesOn
	f.TrackSeriesLimit = int(v.TrackSeriesLimit)
	f.TickTime = time.Duration(v.TickNSTotal)
	f.LastTick = time.Duration(v.LastTickNS)
	f.Stats = goStats(v.Stats)
	return clib.ResultOK
}
