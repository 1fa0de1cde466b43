// Package tslivekit puts LiveKit's BytesTrackStats (pkg/rtc,
// signalanddatastats.go in livekit/livekit) on trackstats: one atomic add
// per message and one sampler thread and one dispatcher goroutine per
// process, in place of four atomic adds per message and a goroutine with a 5 s
// ticker per stats object. Stats reach LiveKit's own
// ParticipantTelemetryListener.OnTrackStats with LiveKit's keys and a
// *livekit.AnalyticsStat, so nothing downstream changes.
//
// Nothing of livekit-server is imported: LiveKit's listener and its key
// constructor (telemetry.StatsKeyForData) are passed in, typed by generics
// (Listener, KeyFunc). The module depends on github.com/livekit/protocol for
// the stat, stream and id types.
//
// What stays LiveKit's: the per-message roomobs reporter
// (reporter.Tx(...) in LiveKit's AddBytes). This package does not call it;
// LiveKit's AddBytes keeps calling it next to BytesTrackStats.AddBytes.
//
// The handles: NewBytesTrackStats for data channels and data tracks (bound
// to their key at once), NewUnboundBytesTrackStats for signal stats (counted
// before the participant is known, Bind later, Reset on resume). Neither can
// fail: a handle that could not open counts nothing and Err says why. Wait
// returns once the last key's final stats reached the listener, so that
// LiveKit's ParticipantLeft can follow them. A nil *BytesTrackStats is a
// no-op handle, as LiveKit's relay copies keep a nil pointer.
//
// Prometheus: LiveKit counts these bytes in livekit_packet_bytes and
// livekit_packet_total from OnTrackStats; this package registers no series
// of its own (see README.md for what a LiveKit node scrapes).
package tslivekit
