package clib

// Go mirrors of the C structs the binding reads or writes, field for field
// (the tag names the C field). TestLayoutsMatchTheHeader compiles the
// header and checks each struct's size and every field's offset and size,
// so a change of the C side fails the test rather than misreading memory.
// Pointers into C memory are Go pointer types, as cgo declares them: the
// collector ignores addresses outside the Go heap.

// Report is trackstats_report.
type Report struct {
	UserData         uint64  `c:"user_data"`
	Bytes            uint64  `c:"bytes"`
	Messages         uint64  `c:"messages"`
	StartUnixNS      uint64  `c:"start_unix_ns"`
	EndUnixNS        uint64  `c:"end_unix_ns"`
	ParticipantID    *byte   `c:"participant_id"`
	ParticipantIDLen uintptr `c:"participant_id_len"`
	TrackID          *byte   `c:"track_id"`
	TrackIDLen       uintptr `c:"track_id_len"`
	Country          *byte   `c:"country"`
	CountryLen       uintptr `c:"country_len"`
	Direction        uint32  `c:"direction"`
	Flags            uint32  `c:"flags"`

	PacketsLost       uint64 `c:"packets_lost"`
	PacketsRecovered  uint64 `c:"packets_recovered"`
	PacketsOutOfOrder uint64 `c:"packets_out_of_order"`
	PacketsDuplicated uint64 `c:"packets_duplicated"`
	Frames            uint64 `c:"frames"`
}

// Stats is trackstats_stats.
type Stats struct {
	OpenTracks      uint64 `c:"open_tracks"`
	LiveSlots       uint64 `c:"live_slots"`
	ReportsEmitted  uint64 `c:"reports_emitted"`
	ReportsMerged   uint64 `c:"reports_merged"`
	ReportsPending  uint64 `c:"reports_pending"`
	Ticks           uint64 `c:"ticks"`
	LateTicks       uint64 `c:"late_ticks"`
	RecordsRejected uint64 `c:"records_rejected"`
	SamplerPanics   uint64 `c:"sampler_panics"`
	SinkPanics      uint64 `c:"sink_panics"`

	StaleRecords      uint64 `c:"stale_records"`
	StaleBytes        uint64 `c:"stale_bytes"`
	SlotsQuarantined  uint64 `c:"slots_quarantined"`
	SlotsInGrace      uint64 `c:"slots_in_grace"`
	SegmentsResident  uint64 `c:"segments_resident"`
	SegmentsReturned  uint64 `c:"segments_returned"`
	ReportsOverflowed uint64 `c:"reports_overflowed"`
	ReportsLateTicks  uint64 `c:"reports_late_ticks"`
}

// Totals is trackstats_totals.
type Totals struct {
	UpBytes      uint64 `c:"up_bytes"`
	UpMessages   uint64 `c:"up_messages"`
	DownBytes    uint64 `c:"down_bytes"`
	DownMessages uint64 `c:"down_messages"`

	UpPacketsLost       uint64 `c:"up_packets_lost"`
	UpPacketsRecovered  uint64 `c:"up_packets_recovered"`
	UpPacketsOutOfOrder uint64 `c:"up_packets_out_of_order"`
	UpPacketsDuplicated uint64 `c:"up_packets_duplicated"`
	UpFrames            uint64 `c:"up_frames"`
}

// Config is trackstats_config (the loader takes it from
// trackstats_config_default and sets the interval and mode; a Go registry
// has no sink, so Sink and SinkCtx stay 0).
type Config struct {
	IntervalMS       uint64  `c:"interval_ms"`
	Mode             uint32  `c:"mode"`
	Sink             uintptr `c:"sink"`
	SinkCtx          uintptr `c:"sink_ctx"`
	QuarantineMS     uint32  `c:"quarantine_ms"`
	QuarantineSlots  uint32  `c:"quarantine_slots"`
	MaxTracks        uint32  `c:"max_tracks"`
	Flags            uint32  `c:"flags"`
	GraceMS          uint32  `c:"grace_ms"`
	GraceSlots       uint32  `c:"grace_slots"`
	PendingClosedMax uint32  `c:"pending_closed_max"`
}

// PrometheusOptions is trackstats_prometheus_options (the loader builds it).
type PrometheusOptions struct {
	PerTrack       bool    `c:"per_track"`
	MaxTrackSeries uint32  `c:"max_track_series"`
	NodeID         *byte   `c:"node_id"`
	NodeIDLen      uintptr `c:"node_id_len"`
}

// CountryFigures is trackstats_country_figures.
type CountryFigures struct {
	Country      *byte   `c:"country"`
	CountryLen   uintptr `c:"country_len"`
	UpBytes      uint64  `c:"up_bytes"`
	UpMessages   uint64  `c:"up_messages"`
	DownBytes    uint64  `c:"down_bytes"`
	DownMessages uint64  `c:"down_messages"`
}

// TrackFigures is trackstats_track_figures.
type TrackFigures struct {
	UserData         uint64  `c:"user_data"`
	Bytes            uint64  `c:"bytes"`
	Messages         uint64  `c:"messages"`
	StartUnixNS      uint64  `c:"start_unix_ns"`
	Ended            bool    `c:"ended"`
	ParticipantID    *byte   `c:"participant_id"`
	ParticipantIDLen uintptr `c:"participant_id_len"`
	TrackID          *byte   `c:"track_id"`
	TrackIDLen       uintptr `c:"track_id_len"`
	Country          *byte   `c:"country"`
	CountryLen       uintptr `c:"country_len"`
	Direction        uint32  `c:"direction"`
}

// FiguresView is trackstats_figures_view.
type FiguresView struct {
	Publication          uint64          `c:"publication"`
	AsOfUnixNS           uint64          `c:"as_of_unix_ns"`
	StartedUnixNS        uint64          `c:"started_unix_ns"`
	Countries            *CountryFigures `c:"countries"`
	CountriesLen         uintptr         `c:"countries_len"`
	Tracks               *TrackFigures   `c:"tracks"`
	TracksLen            uintptr         `c:"tracks_len"`
	OverflowUpBytes      uint64          `c:"overflow_up_bytes"`
	OverflowUpMessages   uint64          `c:"overflow_up_messages"`
	OverflowDownBytes    uint64          `c:"overflow_down_bytes"`
	OverflowDownMessages uint64          `c:"overflow_down_messages"`
	TrackSeriesOn        bool            `c:"track_series_on"`
	TrackSeriesLimit     uint32          `c:"track_series_limit"`
	TickNSTotal          uint64          `c:"tick_ns_total"`
	LastTickNS           uint64          `c:"last_tick_ns"`
	Stats                Stats           `c:"stats"`
}
