package trackstats

import "time"

// The LiveKit-shaped drop-in. LiveKit's BytesTrackStats (pkg/rtc,
// signalanddatastats.go) starts a goroutine with a 5 s ticker per object and
// does four atomic adds per message; this one is a Track: one atomic add per
// message, and the registry's one sampler thread and one dispatcher
// goroutine for every track. The method set is LiveKit's (AddBytes, Stop,
// GetTrafficTotals, SetTelemetryListener), and reports reach the listener
// with LiveKit's keys: the receive side as UPSTREAM, the send side as
// DOWNSTREAM, keyed by (country, stream type, participant, track). No
// LiveKit module is imported: the key and stat are this package's own
// types, with the same fields.

// StreamType is LiveKit's livekit.StreamType, with the same values.
type StreamType int32

const (
	// StreamTypeUpstream: bytes received from the publisher (AddBytes with
	// isSend false).
	StreamTypeUpstream StreamType = 0
	// StreamTypeDownstream: bytes sent to a subscriber (isSend true).
	StreamTypeDownstream StreamType = 1
)

func (s StreamType) String() string {
	switch s {
	case StreamTypeUpstream:
		return "UPSTREAM"
	case StreamTypeDownstream:
		return "DOWNSTREAM"
	}
	return "UNKNOWN"
}

// StatsKey is the key LiveKit's telemetry.StatsKeyForData builds for data
// tracks. For a subscriber's copy of a track it holds the subscriber's
// country and participant ID with the publisher's track ID.
type StatsKey struct {
	Country       string
	StreamType    StreamType
	ParticipantID string
	TrackID       string
}

// StatsKeyForData builds a key as LiveKit's telemetry.StatsKeyForData does.
func StatsKeyForData(country string, streamType StreamType, participantID, trackID string) StatsKey {
	return StatsKey{Country: country, StreamType: streamType, ParticipantID: participantID, TrackID: trackID}
}

// TrackStat is one window of one side: what LiveKit puts in an
// AnalyticsStat's single stream (PrimaryBytes, PrimaryPackets), plus the
// window's bounds and flags, which LiveKit does not report, and the
// sequence counts of AddDataPacket (UPSTREAM only), which LiveKit's legacy
// dataTrackStats only logs at close. LiveKit's "packets lost" is
// PacketsLost - PacketsRecovered; within one window it can be negative (a
// packet counted lost in an earlier window arrived in this one), so the two
// are reported apart. See Report for each count.
type TrackStat struct {
	Bytes     uint64
	Messages  uint64
	StartTime time.Time
	EndTime   time.Time
	Flags     Flags

	PacketsLost       uint64
	PacketsRecovered  uint64
	PacketsOutOfOrder uint64
	PacketsDuplicated uint64
	Frames            uint64
}

// TelemetryListener receives the windows of a BytesTrackStats, as LiveKit's
// ParticipantTelemetryListener.OnTrackStats. It is called from one goroutine
// (the registry's dispatcher, or whoever calls Drain); it must not call
// Drain or Close on the registry.
type TelemetryListener interface {
	OnTrackStats(key StatsKey, stat *TrackStat)
}

// TrafficTotals are LiveKit's TrafficTotals (At, and messages as uint32 as
// there), plus StartTime: when the stats object was created, and the
// cumulative sequence counts of AddDataPacket (the received side; net loss
// is RecvPacketsLost - RecvPacketsRecovered).
type TrafficTotals struct {
	At           time.Time
	StartTime    time.Time
	SendBytes    uint64
	SendMessages uint32
	RecvBytes    uint64
	RecvMessages uint32

	RecvPacketsLost       uint64
	RecvPacketsRecovered  uint64
	RecvPacketsOutOfOrder uint64
	RecvPacketsDuplicated uint64
	RecvFrames            uint64
}

// BytesTrackStats has the method set of LiveKit's BytesTrackStats. A nil
// *BytesTrackStats is a no-op for every method (the relay case).
//
// One allocation per object: a Track and its registry. The Track's
// finalizer (which releases the slot) is set on the Track, the object's
// start, so it runs once the BytesTrackStats is unreachable. The listener
// and the creation time live in the track's entry in the registry, which
// holds no reference to the BytesTrackStats, so a dropped one is still
// released (and flushed).
type BytesTrackStats struct {
	track Track
	reg   *Registry // whose entries lock guards the listener (SetTelemetryListener)
}

// deliverTelemetry hands one report to a BytesTrackStats's listener with
// LiveKit's key and stat.
func deliverTelemetry(l TelemetryListener, r *Report) {
	st := StreamTypeUpstream
	if r.Direction == Down {
		st = StreamTypeDownstream
	}
	l.OnTrackStats(
		StatsKeyForData(r.Country, st, r.ParticipantID, r.TrackID),
		&TrackStat{
			Bytes: r.Bytes, Messages: r.Messages, StartTime: r.Start, EndTime: r.End, Flags: r.Flags,
			PacketsLost: r.PacketsLost, PacketsRecovered: r.PacketsRecovered,
			PacketsOutOfOrder: r.PacketsOutOfOrder, PacketsDuplicated: r.PacketsDuplicated, Frames: r.Frames,
		},
	)
}

// NewBytesTrackStats is LiveKit's constructor, NewBytesTrackStats(country,
// trackID, pID, ..., telemetryListener, ...), with the registry first (it
// replaces the goroutine LiveKit starts) and without LiveKit's kind and
// observability reporter arguments. A nil listener drops the reports until
// SetTelemetryListener sets one.
func NewBytesTrackStats(reg *Registry, country string, trackID, participantID string, listener TelemetryListener) (*BytesTrackStats, error) {
	s := &BytesTrackStats{reg: reg}
	// No user data to give back (reports go to the listener as LiveKit
	// keys), so the entry's user data field holds the creation time.
	start := uint64(time.Now().UnixNano())
	if err := reg.openInto(&s.track, participantID, trackID, country, start, listener, true); err != nil {
		return nil, err
	}
	return s, nil
}

// SetTelemetryListener replaces the listener (nil: drop reports). Reports
// taken from the library after it returns go to the new listener.
func (s *BytesTrackStats) SetTelemetryListener(listener TelemetryListener) {
	if s == nil {
		return
	}
	// The Track is reachable (s is), so its entry is live. A nil listener
	// converts to a nil any: reports are dropped.
	s.reg.entries.setListener(s.track.e, listener)
}

// AddBytes records one message: received (isSend false, UPSTREAM) or sent
// (isSend true, DOWNSTREAM). One atomic add; never blocks or allocates.
func (s *BytesTrackStats) AddBytes(bytes uint64, isSend bool) {
	if s == nil {
		return
	}
	if isSend {
		s.track.RecordDown(bytes)
	} else {
		s.track.RecordUp(bytes)
	}
}

// AddDataPacket records one data-track packet received from the publisher
// (UPSTREAM): AddBytes(bytes, false) plus its 16-bit sequence number and
// end-of-frame mark, for the packet loss, out-of-order, duplicate and frame
// counts of every UPSTREAM window (Track.RecordUpPacket). Exact when one
// goroutine at a time adds a track's packets. No cgo call (but at the
// first packet and a window's first record) and no allocation.
func (s *BytesTrackStats) AddDataPacket(bytes uint64, seq uint16, endOfFrame bool) {
	if s == nil {
		return
	}
	s.track.RecordUpPacket(bytes, seq, endOfFrame)
}

// GetTrafficTotals are the cumulative counts, reported windows plus the open
// one. Message counts are uint32 as in LiveKit (they wrap past 2^32; use
// Totals on a Track for 64 bits).
func (s *BytesTrackStats) GetTrafficTotals() *TrafficTotals {
	if s == nil {
		return &TrafficTotals{At: time.Now()}
	}
	t := s.track.Totals()
	return &TrafficTotals{
		At:           time.Now(),
		StartTime:    time.Unix(0, int64(s.track.e.userData)),
		SendBytes:    t.DownBytes,
		SendMessages: uint32(t.DownMessages),
		RecvBytes:    t.UpBytes,
		RecvMessages: uint32(t.UpMessages),

		RecvPacketsLost:       t.UpPacketsLost,
		RecvPacketsRecovered:  t.UpPacketsRecovered,
		RecvPacketsOutOfOrder: t.UpPacketsOutOfOrder,
		RecvPacketsDuplicated: t.UpPacketsDuplicated,
		RecvFrames:            t.UpFrames,
	}
}

// Stop returns at once, as LiveKit's; the final windows reach the listener
// within milliseconds (LiveKit: at its goroutine's next wake-up). Bytes
// added after Stop are still reported, flagged late. Idempotent.
func (s *BytesTrackStats) Stop() {
	if s == nil {
		return
	}
	_ = s.track.Close()
}

// Track is the underlying track (for Totals or Close errors).
func (s *BytesTrackStats) Track() *Track {
	if s == nil {
		return nil
	}
	return &s.track
}
