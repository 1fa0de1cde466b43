package trackstats

// #include "trackstats.h"
import "C"

import "errors"

// ResultError is a trackstats_result code other than OK. Compare with
// errors.Is against the Err* values; unknown codes (from a newer library)
// still print their name.
type ResultError uint32

func (e ResultError) Error() string { return "trackstats: " + cResultString(uint32(e)) }

// The codes a Go caller can meet (the C header lists them all).
const (
	ErrInvalidUTF8     ResultError = C.TRACKSTATS_RESULT_INVALID_UTF8
	ErrEmptyID         ResultError = C.TRACKSTATS_RESULT_EMPTY_ID
	ErrIDTooLong       ResultError = C.TRACKSTATS_RESULT_ID_TOO_LONG
	ErrInvalidInterval ResultError = C.TRACKSTATS_RESULT_INVALID_INTERVAL
	ErrRegistryClosed  ResultError = C.TRACKSTATS_RESULT_REGISTRY_CLOSED
	ErrWrongMode       ResultError = C.TRACKSTATS_RESULT_WRONG_MODE
	ErrTooManyTracks   ResultError = C.TRACKSTATS_RESULT_TOO_MANY_TRACKS
	ErrThreadSpawn     ResultError = C.TRACKSTATS_RESULT_THREAD_SPAWN_FAILED
	ErrPanic           ResultError = C.TRACKSTATS_RESULT_PANIC
)

// ErrListenerRequired: a registry made WithDispatcher delivers every report
// to its track's listener, so it only opens tracks that have one.
var ErrListenerRequired = errors.New("trackstats: a WithDispatcher registry opens only tracks with a listener")

// ErrNotPull: Drain on a registry whose reports a goroutine delivers.
var ErrNotPull = errors.New("trackstats: Drain on a registry made WithReportChannel or WithDispatcher")

func resultErr(code uint32) error {
	if code == resultOK {
		return nil
	}
	return ResultError(code)
}
