// Package trackstats is the Go binding of trackstats: lock-free per-track
// traffic metrics for SFUs, in place of a goroutine and a ticker per track.
//
// A Registry owns tracks and one sampler thread (in the Rust library,
// libtrackstats) that ends a window for every track on absolute deadlines,
// every 5 s by default. Each Track counts the messages received from the
// publisher (RecordUp, LiveKit's UPSTREAM) and sent to a subscriber
// (RecordDown, DOWNSTREAM). A record is one sync/atomic add on a word in
// the Track itself, which the library reads: no lock, no allocation, and no
// call into the library but one per track, direction and window (the
// window's first record). Reports, one per (track, direction, window) with a
// non-zero delta, reach Go by Drain (one call per batch), on a channel, or
// through per-track listeners, from one goroutine per registry at most.
//
// Every recorded byte and message is reported exactly once, a message's bytes
// and count in the same window, including around Close and in the grace
// after it (records later than that are counted as stale, never in another
// track). Close each Track when its track ends: the library's memory and the
// registry's hold on the Track follow Close, not the garbage collector; a
// Track never closed stays open until Registry.Close.
//
// Bad input is an error or a documented no-op, never a panic, and never
// loses what was already recorded. A nil *Track is a no-op handle for every
// method, for relayed copies of a track. Every method of a nil *Registry
// that returns an error returns ErrNilRegistry (which matches
// ErrRegistryClosed too: a nil registry acts as a closed one); the others
// return their zero value, and Done a closed channel. An option out of range
// or a nil Option makes NewRegistry fail. The zero Registry and Track values
// are not handles; NewRegistry and OpenTrack make them.
//
// RecordUpPacket also counts a data track's 16-bit sequence numbers (packets
// lost, recovered, out of order, duplicated, and frames) per window, with the
// same one atomic add plus a few plain stores. Registry.Prometheus and
// Registry.MetricsHandler render the registry's cumulative counters in the
// Prometheus text format.
//
// Integrations with other ecosystems are their own modules: LiveKit's
// BytesTrackStats is replaced by the tslivekit module (cbindings/go/tslivekit),
// built on OpenTrackWithListener.
//
// With cgo the package links the static library that its module carries for
// the platform (linux/amd64, linux/arm64), or an installed one with the
// trackstats_system build tag (pkg-config). Without cgo, or with the
// trackstats_purego tag, a program imports the loader module,
// github.com/trackstats/trackstats/cbindings/go/tsnocgo, which opens
// libtrackstats.so at run time; NewRegistry returns an error wrapping
// ErrNoLibrary when there is no library. The README of the module's
// repository directory (cbindings/go) has the build modes.
package trackstats
