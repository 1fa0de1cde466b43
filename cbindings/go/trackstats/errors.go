package trackstats

import (
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/trackstats/trackstats/cbindings/go/internal/clib"
)

// ResultError is a trackstats_result code other than OK. Compare with
// errors.Is against the Err* values; unknown codes (from a newer library)
// still print their name.
type ResultError uint32

func (e ResultError) Error() string {
	if l, err := loadLib(); err == nil {
		return "trackstats: " + l.ResultString(uint32(e))
	}
	return "trackstats: result " + strconv.FormatUint(uint64(e), 10)
}

// The codes a Go caller can meet (the C header lists them all).
const (
	ErrInvalidUTF8     ResultError = clib.ResultInvalidUTF8
	ErrEmptyID         ResultError = clib.ResultEmptyID
	ErrIDTooLong       ResultError = clib.ResultIDTooLong
	ErrInvalidInterval ResultError = clib.ResultInvalidInterval
	ErrRegistryClosed  ResultError = clib.ResultRegistryClosed
	ErrWrongMode       ResultError = clib.ResultWrongMode
	ErrTooManyTracks   ResultError = clib.ResultTooManyTracks
	ErrThreadSpawn     ResultError = clib.ResultThreadSpawnFailed
	ErrPanic           ResultError = clib.ResultPanic
	// ErrForked: the registry was made before a fork(), in the parent; in
	// the child it is inert (records count nowhere, nothing is reported).
	ErrForked ResultError = clib.ResultForked
)

// ErrNoLibrary: NewRegistry found no libtrackstats. The error it returns
// wraps this one and says what was looked for and how to fix it: build with
// cgo, or import the loader module
// (github.com/trackstats/trackstats/cbindings/go/tsnocgo) in a binary built
// without cgo.
var ErrNoLibrary = errors.New("trackstats: no libtrackstats")

// ErrListenerRequired: a registry made WithDispatcher delivers every report
// to its track's listener, so it only opens tracks that have one.
var ErrListenerRequired = errors.New("trackstats: a WithDispatcher registry opens only tracks with a listener")

// ErrNotPull: Drain on a registry whose reports a goroutine delivers.
var ErrNotPull = errors.New("trackstats: Drain on a registry made WithReportChannel or WithDispatcher")

// ErrNilRegistry: a method called on a nil *Registry (a NewRegistry that
// failed, or a registry never made). Every method of a nil *Registry that
// returns an error returns this one and does nothing else; the others return
// their zero value (Done: a closed channel). A nil registry acts as a closed
// one, so errors.Is(ErrNilRegistry, ErrRegistryClosed) holds too.
var ErrNilRegistry error = nilRegistryError{}

type nilRegistryError struct{}

func (nilRegistryError) Error() string { return "trackstats: nil *Registry" }

func (nilRegistryError) Is(target error) bool { return target == ErrRegistryClosed }

// ErrInvalidOption: NewRegistry was given an option out of its range (the
// error wraps this one and names the option and its range) or a nil Option.
// WithInterval out of range is ErrInvalidInterval, the library's code.
var ErrInvalidOption = errors.New("trackstats: invalid option")

func resultErr(code uint32) error {
	if code == clib.ResultOK {
		return nil
	}
	return ResultError(code)
}

// loadLib is the library's table of calls (internal/clib): the one cgo
// linked, or the one the loader opened at the first call. NewRegistry
// returns its error; everything else only runs once a registry exists.
var loadLib = sync.OnceValues(func() (*clib.Lib, error) {
	l, err := clib.Get()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoLibrary, err)
	}
	return l, nil
})

// lib is the library, for calls made on a registry or track: one exists,
// so loadLib succeeded.
func lib() *clib.Lib {
	l, _ := loadLib()
	return l
}

// Version is the library's version, e.g. "0.1.0", or "" when there is no
// library (see ErrNoLibrary).
func Version() string {
	if l, err := loadLib(); err == nil {
		return l.Version()
	}
	return ""
}
