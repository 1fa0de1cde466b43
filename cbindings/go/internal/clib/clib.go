// Package clib is libtrackstats as the trackstats package sees it: the
// handle types, Go mirrors of the C structs it reads, the header's
// constants, and Lib, the table of the library's calls.
//
// The trackstats package makes every call into C through a Lib, and only
// on its slow paths (open, close, the first record of a window, drain, ...);
// a record is a Go atomic add on a window word in the Track's own memory
// (a hosted track: trackstats_track_open_hosted) in every build. Who
// fills the table depends on the build:
//
//   - with cgo, the trackstats package links the library (the static archive
//     of its release, or a system copy with the trackstats_system tag) and
//     hands its table to SetLinked when it initialises;
//   - without cgo (or with the trackstats_purego tag), the loader module
//     (github.com/trackstats/trackstats/cbindings/go/tsnocgo) registers
//     itself with SetLoader, like a database/sql driver, and opens
//     libtrackstats.so at run time the first time Get is called.
//
// The package imports only the standard library. The mirrors and constants
// are checked against the header by this package's tests, with the C
// compiler.
package clib

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
)

// Handles are C pointers, opaque to Go (as cgo's incomplete struct types).
// They point into C memory, which the Go collector neither scans nor frees.
type (
	// Registry is a trackstats_registry.
	Registry struct{ _ [0]byte }
	// Track is a trackstats_track.
	Track struct{ _ [0]byte }
	// Batch is a trackstats_batch.
	Batch struct{ _ [0]byte }
	// Figures is a trackstats_figures: one read of a registry's figures.
	Figures struct{ _ [0]byte }
)

// Lib is the library's calls, as Go functions. Every field is set; Get
// refuses a table with a nil one, so a loader older than this package fails
// with an error rather than a nil call. Add a field here, in both fillers
// (trackstats/cgo.go and tsnocgo) and in the trackstats package's use of
// it; nothing else needs to know which filler is in use.
type Lib struct {
	// Source says where the library came from, for errors and logs.
	Source string

	// Version is trackstats_version.
	Version func() string
	// ResultString is trackstats_result_str.
	ResultString func(code uint32) string

	// RegistryNew creates a registry from the defaults with this interval,
	// mode and grace (trackstats_config.grace_ms).
	RegistryNew   func(intervalMS uint64, mode uint32, graceMS uint32) (*Registry, uint32)
	RegistryClose func(*Registry) uint32
	RegistryFree  func(*Registry)
	RegistryTick  func(*Registry) uint32
	RegistryFlush func(*Registry) uint32
	RegistryStats func(*Registry) (Stats, uint32)
	// RegistryPrometheus renders the exposition and copies it into buf when
	// it fits; it returns the exposition's length either way (more than
	// len(buf): nothing was copied, call again with a larger buf).
	RegistryPrometheus func(r *Registry, perTrack bool, maxSeries uint32, nodeID string, buf []byte) (int, uint32)
	// FillBatch drains r into b (waitMS < 0: without blocking; otherwise
	// trackstats_registry_wait for up to waitMS) and returns a view of b's
	// reports, valid until b is filled again or freed.
	FillBatch func(r *Registry, b *Batch, waitMS int64) ([]Report, uint32)
	// RegistryFigures reads the registry's figures: the read, to free with
	// FiguresFree, and its view, valid until then.
	RegistryFigures        func(*Registry) (*Figures, *FiguresView, uint32)
	FiguresFree            func(*Figures)
	RegistrySetTrackSeries func(r *Registry, maxSeries uint32) uint32
	BatchNew               func(capacity int) (*Batch, uint32)
	BatchFree              func(*Batch)

	// TrackOpen is trackstats_track_open_hosted: the library uses words,
	// Go memory the caller keeps in place and reachable, until it stores
	// the let-go mark in words[HostedWordLetGo].
	TrackOpen func(r *Registry, participantID, trackID, country string, userData uint64, words *[HostedWords]uint64) (*Track, uint32)
	// TrackReleaseAfterGrace is trackstats_track_release_after_grace.
	TrackReleaseAfterGrace func(*Track)
	TrackTotals            func(*Track) Totals
	// CountStale is trackstats_registry_count_stale.
	CountStale func(r *Registry, bytes, messages uint64) uint32
	// Record is trackstats_record_up (dir 0) or _down (dir 1): the records
	// too large for the window word.
	Record func(t *Track, dir uint32, n uint64)
	// SlowPath is trackstats_track_slow_path.
	SlowPath func(t *Track, dir uint32, old uint64)
	// AttachPacketWords is trackstats_track_attach_packet_words: words, as
	// TrackOpen's, until the let-go mark.
	AttachPacketWords func(t *Track, words *[HostedPacketWords]uint64) uint32
	RecordUpPacket    func(t *Track, n uint64, seq uint16, endOfFrame bool)

	// CHeapBytes is what the C allocator holds (glibc's mallinfo2), or 0
	// where that is unknown: the benchmarks' measure of the core's memory,
	// which Go's MemStats cannot see.
	CHeapBytes func() uint64
}

// missing names the first nil call of l, or "".
func (l *Lib) missing() string {
	v := reflect.ValueOf(l).Elem()
	for i := 0; i < v.NumField(); i++ {
		if f := v.Field(i); f.Kind() == reflect.Func && f.IsNil() {
			return v.Type().Field(i).Name
		}
	}
	return ""
}

// LoaderModule is the import path of the module that loads the library
// without cgo.
const LoaderModule = "github.com/trackstats/trackstats/cbindings/go/tsnocgo"

var (
	linked *Lib
	loader func() (*Lib, error)

	once   sync.Once
	lib    *Lib
	libErr error
)

// SetLinked installs the table of the library linked with cgo. The
// trackstats package calls it from init, before any call of Get.
func SetLinked(l *Lib) { linked = l }

// Linked is the table SetLinked installed, or nil: for benchmarks that
// compare it with a loaded one in one process.
func Linked() *Lib { return linked }

// SetLoader installs the loader (tsnocgo calls it from init). Get calls it
// once, and only when no library is linked.
func SetLoader(load func() (*Lib, error)) { loader = load }

// ErrNoCgoNoLoader: the binary has neither cgo nor the loader.
var ErrNoCgoNoLoader = errors.New("this binary has no libtrackstats: it was built without cgo (or with the " +
	"trackstats_purego tag) and does not import the loader; add\n\timport _ \"" + LoaderModule + "\"\n" +
	"to load libtrackstats.so at run time, or build with CGO_ENABLED=1")

// Get is the library: the linked one, or else the one the loader opens the
// first time Get is called. The error says what was looked for and how to
// fix it. Safe for concurrent use; the result never changes.
func Get() (*Lib, error) {
	once.Do(func() { lib, libErr = resolve() })
	return lib, libErr
}

func resolve() (*Lib, error) {
	l := linked
	if l == nil {
		if loader == nil {
			return nil, ErrNoCgoNoLoader
		}
		var err error
		if l, err = loader(); err != nil {
			return nil, err
		}
	}
	if m := l.missing(); m != "" {
		return nil, fmt.Errorf("%s does not provide %s: use the %s version that matches this module's", l.Source, m, LoaderModule)
	}
	if v := l.Version(); v != LibraryVersion {
		return nil, fmt.Errorf("%s is libtrackstats %s; this Go module mirrors the ABI of %s", l.Source, v, LibraryVersion)
	}
	return l, nil
}
