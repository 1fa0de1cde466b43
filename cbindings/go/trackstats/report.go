package trackstats

import (
	"math"
	"time"

	"github.com/trackstats/trackstats/cbindings/go/internal/clib"
)

// Direction is the side of a track a report covers.
type Direction uint32

const (
	// Up is traffic received from the publisher (RecordUp): LiveKit's UPSTREAM.
	Up Direction = clib.DirectionUp
	// Down is traffic sent to a subscriber (RecordDown): LiveKit's DOWNSTREAM.
	Down Direction = clib.DirectionDown
)

func (d Direction) String() string {
	switch d {
	case Up:
		return "up"
	case Down:
		return "down"
	}
	return "unknown"
}

// Flags qualify a report.
type Flags uint32

const (
	// FlagFinal: produced by the track's Close (or its release): no regular
	// report follows.
	FlagFinal Flags = clib.FlagFinal
	// FlagLate: bytes recorded after the track was closed.
	FlagLate Flags = clib.FlagLate
	// FlagMerged: several windows folded into one because the consumer
	// lagged or the sampler missed deadlines; Start..End spans them all.
	FlagMerged Flags = clib.FlagMerged
	// FlagOverflow: reports of closed tracks folded into one per country and
	// direction because too many of them were pending (a consumer that does
	// not drain); ParticipantID and TrackID are "__overflow__".
	FlagOverflow Flags = clib.FlagOverflow
)

// Report is one (track, direction, window) delta. Only non-zero deltas are
// reported, and over a track's life each recorded byte and message is in
// exactly one report.
type Report struct {
	// UserData is the value given to OpenTrack.
	UserData      uint64
	ParticipantID string
	TrackID       string
	Country       string
	Direction     Direction
	Bytes         uint64
	Messages      uint64
	// Start and End bound the window (wall clock, from the sampler's
	// monotonic deadlines).
	Start, End time.Time
	Flags      Flags

	// Sequence counts of the packets recorded with RecordUpPacket in this
	// window (Up reports only; zero otherwise). Each is non-negative and
	// they add up across windows (and merged reports) to the Totals; see
	// docs/seq.md. A report whose only non-zero figures are these is still
	// delivered.

	// PacketsLost: packets missing from gaps in the sequence numbers (never
	// decremented; at most 32767 per packet).
	PacketsLost uint64
	// PacketsRecovered: late packets that filled a gap counted lost, maybe
	// in an earlier window. Net loss over a span is PacketsLost -
	// PacketsRecovered (LiveKit's "lost"); for one window it can be
	// negative.
	PacketsRecovered uint64
	// PacketsOutOfOrder: packets behind the highest sequence number seen,
	// recovered or not.
	PacketsOutOfOrder uint64
	// PacketsDuplicated: packets repeating the highest sequence number seen.
	PacketsDuplicated uint64
	// Frames: packets marked end of frame, duplicates excluded.
	Frames uint64
}

// Totals are a track's cumulative counts: every reported window plus the
// open one.
type Totals struct {
	UpBytes, UpMessages     uint64
	DownBytes, DownMessages uint64

	// The up side's sequence counts (RecordUpPacket), as in Report:
	// cumulative, every reported window plus the open one. The net loss is
	// UpPacketsLost - UpPacketsRecovered.
	UpPacketsLost       uint64
	UpPacketsRecovered  uint64
	UpPacketsOutOfOrder uint64
	UpPacketsDuplicated uint64
	UpFrames            uint64
}

// Stats are a registry's counters (see the top README for each field).
type Stats struct {
	// OpenTracks: opened and not yet closed.
	OpenTracks uint64
	// LiveSlots: open tracks plus closed ones the library has not yet let
	// go of (their grace not over).
	LiveSlots       uint64
	ReportsEmitted  uint64
	ReportsMerged   uint64
	ReportsPending  uint64
	Ticks           uint64
	LateTicks       uint64
	RecordsRejected uint64
	SamplerPanics   uint64
	SinkPanics      uint64
	// StaleRecords and StaleBytes: records that reached a track after its
	// release, caught and never reported nor given to another track.
	StaleRecords uint64
	StaleBytes   uint64
	// SlotsQuarantined: released slots waiting before they may be reused.
	SlotsQuarantined uint64
	// SlotsInGrace: tracks released after a grace, still in it.
	SlotsInGrace uint64
	// SegmentsResident and SegmentsReturned: slab segments (1024 slots)
	// whose memory is resident, and those whose memory went back to the
	// system.
	SegmentsResident uint64
	SegmentsReturned uint64
	// ReportsOverflowed: reports of closed tracks folded into an overflow
	// report (FlagOverflow).
	ReportsOverflowed uint64
	// ReportsLateTicks: reports of a window pass after missed deadlines.
	ReportsLateTicks uint64
	// ReportsUndelivered: overflow reports a WithDispatcher registry without
	// WithOverflowListener had nowhere to deliver (their bytes stay in the
	// figures). Counted by this package, not the library.
	ReportsUndelivered uint64
}

func unixNano(ns uint64) time.Time {
	if ns > math.MaxInt64 {
		ns = math.MaxInt64
	}
	return time.Unix(0, int64(ns))
}
