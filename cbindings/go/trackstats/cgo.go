package trackstats

// The only file with cgo flags: the header from the repository's include/
// and the static library that `make lib` builds, linked statically so a Go
// binary needs no libtrackstats.so at run time. The Rust standard library
// inside the archive needs libm, libdl and libpthread.
//
// On Linux the archive is found by name (-l:libtrackstats.a, never the .so
// next to it), so a CGO_LDFLAGS=-L<dir> and CGO_CFLAGS=-I<dir> from the
// environment, which come first on the command line, select an installed
// copy instead of the checkout's.
//
// The helpers below exist so that each Go operation is ONE cgo call (open
// plus the window-word address, a drain plus the batch view) and so that no
// Go pointer to an out-parameter ever has to escape to the heap.

/*
#cgo CFLAGS: -I${SRCDIR}/../../../include -Wall -Wextra
#cgo linux LDFLAGS: -L${SRCDIR}/../../../target/release -l:libtrackstats.a -lm -ldl -lpthread
#cgo !linux LDFLAGS: ${SRCDIR}/../../../target/release/libtrackstats.a -lm -lpthread
#include <malloc.h>
#include <string.h>
#include "trackstats.h"

typedef struct {
	trackstats_result res;
	trackstats_track *track;
	uint64_t *words;
} tsgo_open_result;

static tsgo_open_result tsgo_open(trackstats_registry *r,
		const char *p, size_t pl, const char *t, size_t tl,
		const char *c, size_t cl, uint64_t user_data) {
	tsgo_open_result o = {0, NULL, NULL};
	o.res = trackstats_track_open(r, p, pl, t, tl, c, cl, user_data, &o.track);
	if (o.res == TRACKSTATS_RESULT_OK) {
		o.words = trackstats_track_window_words(o.track);
	}
	return o;
}

typedef struct {
	trackstats_result res;
	const trackstats_report *reports;
	size_t len;
} tsgo_fill;

// wait_ms < 0: drain without blocking.
static tsgo_fill tsgo_take(trackstats_registry *r, trackstats_batch *b, int64_t wait_ms) {
	tsgo_fill f = {0, NULL, 0};
	f.res = wait_ms < 0 ? trackstats_registry_drain(r, b)
	                    : trackstats_registry_wait(r, b, (uint32_t)wait_ms);
	f.reports = trackstats_batch_reports(b, &f.len);
	return f;
}

static trackstats_totals tsgo_totals(const trackstats_track *t) {
	trackstats_totals out = {0};
	trackstats_track_totals(t, &out);
	return out;
}

typedef struct {
	trackstats_result res;
	trackstats_stats stats;
} tsgo_stats_result;

static tsgo_stats_result tsgo_stats(const trackstats_registry *r) {
	tsgo_stats_result o;
	o.res = trackstats_registry_stats(r, &o.stats);
	return o;
}

typedef struct {
	trackstats_result res;
	trackstats_registry *registry;
} tsgo_registry_result;

static tsgo_registry_result tsgo_registry_new(uint64_t interval_ms, uint32_t mode) {
	tsgo_registry_result o = {0, NULL};
	trackstats_config cfg = trackstats_config_default();
	cfg.interval_ms = interval_ms;
	cfg.mode = mode;
	o.res = trackstats_registry_new(&cfg, &o.registry);
	return o;
}

typedef struct {
	trackstats_result res;
	trackstats_batch *batch;
} tsgo_batch_result;

static tsgo_batch_result tsgo_batch_new(size_t capacity) {
	tsgo_batch_result o = {0, NULL};
	o.res = trackstats_batch_new(capacity, &o.batch);
	return o;
}

// One packet record through C: sizes above TRACKSTATS_MAX_INLINE_BYTES (the
// whole packet goes to C), or a track whose sequence block could not be
// allocated.
static void tsgo_record_up_packet(trackstats_track *t, uint64_t n, uint16_t seq, bool eof) {
	trackstats_record_up_packet(t, n, seq, eof);
}

typedef struct {
	trackstats_result res;
	size_t len;
} tsgo_prometheus_result;

// Renders the exposition and copies it into buf (Go memory, cap bytes) when
// it fits, so that Go gets it with one cgo call; either way the C string is
// freed here and len is its length. The options are built here, on the C
// stack, from scalars: a Go struct holding the node id's Go pointer could
// not be passed to C.
static tsgo_prometheus_result tsgo_prometheus(const trackstats_registry *r,
		bool per_track, uint32_t max_series, const char *node, size_t node_len,
		char *buf, size_t cap) {
	tsgo_prometheus_result o = {0, 0};
	trackstats_prometheus_options opts = {0};
	opts.per_track = per_track;
	opts.max_track_series = max_series;
	opts.node_id = node;
	opts.node_id_len = node_len;
	char *s = NULL;
	o.res = trackstats_registry_prometheus(r, &opts, &s, &o.len);
	if (o.res == TRACKSTATS_RESULT_OK) {
		if (o.len > 0 && o.len <= cap) {
			memcpy(buf, s, o.len);
		}
		trackstats_string_free(s);
	}
	return o;
}

typedef struct {
	trackstats_result res;
	trackstats_figures *figures;
	const trackstats_figures_view *view;
} tsgo_figures_result;

static tsgo_figures_result tsgo_figures(const trackstats_registry *r) {
	tsgo_figures_result o = {0, NULL, NULL};
	o.res = trackstats_registry_figures(r, &o.figures, &o.view);
	return o;
}

// Bytes the C allocator holds (heap plus mmapped chunks), for the memory
// benchmark: the Rust core allocates with malloc, which Go's MemStats
// cannot see.
static uint64_t tsgo_c_heap_bytes(void) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
	struct mallinfo2 m = mallinfo2();
	return (uint64_t)m.uordblks + (uint64_t)m.hblkhd;
#else
	return 0;
#endif
}
*/
import "C"

import (
	"runtime"
	"time"
	"unsafe"
)

// The window-word rule of include/trackstats.h, as Go constants (cgo turns
// the header's integer macros into compile-time constants, so a change in
// the header changes these).
const (
	wordMessageOne = C.TRACKSTATS_WORD_MESSAGE_ONE
	wordSpillMask  = C.TRACKSTATS_WORD_SPILL_MASK

	// MaxInlineBytes is the largest record done with one atomic add in Go;
	// larger ones take one cgo call.
	MaxInlineBytes = C.TRACKSTATS_MAX_INLINE_BYTES
	// MaxRecordBytes: larger records are rejected (counted in
	// Stats.RecordsRejected) because they can only come from a bug.
	MaxRecordBytes = C.TRACKSTATS_MAX_RECORD_BYTES
	// MaxIDBytes is the longest participant, track or country id.
	MaxIDBytes = C.TRACKSTATS_MAX_ID_BYTES

	// The packet words of include/trackstats.h (the sequence rule that
	// RecordUpPacket applies in Go).
	packetWordState      = C.TRACKSTATS_PACKET_WORD_STATE
	packetWordLost       = C.TRACKSTATS_PACKET_WORD_LOST
	packetWordRecovered  = C.TRACKSTATS_PACKET_WORD_RECOVERED
	packetWordOutOfOrder = C.TRACKSTATS_PACKET_WORD_OUT_OF_ORDER
	packetWordDuplicated = C.TRACKSTATS_PACKET_WORD_DUPLICATED
	packetWordFrames     = C.TRACKSTATS_PACKET_WORD_FRAMES
	packetWords          = C.TRACKSTATS_PACKET_WORDS
	packetStarted        = C.TRACKSTATS_PACKET_STARTED

	modeThread = C.TRACKSTATS_MODE_THREAD
	modeManual = C.TRACKSTATS_MODE_MANUAL

	resultOK             = C.TRACKSTATS_RESULT_OK
	resultRegistryClosed = C.TRACKSTATS_RESULT_REGISTRY_CLOSED
)

type (
	cTrack    = C.trackstats_track
	cRegistry = C.trackstats_registry
	cBatch    = C.trackstats_batch
	cReport   = C.trackstats_report
)

// cString is s as (pointer, length) for C, without a copy: every C function
// taking ids copies them before it returns. The caller keeps s alive.
func cString(s string) (*C.char, C.size_t) {
	// SAFETY: C only reads len(s) bytes during the call (a NULL or dangling
	// pointer is fine with length 0); string bytes hold no Go pointers, so
	// cgo's pointer rules allow passing them.
	return (*C.char)(unsafe.Pointer(unsafe.StringData(s))), C.size_t(len(s))
}

func cOpen(r *cRegistry, participantID, trackID, country string, id uint64) (*cTrack, *[2]uint64, uint32) {
	p, pl := cString(participantID)
	t, tl := cString(trackID)
	c, cl := cString(country)
	o := C.tsgo_open(r, p, pl, t, tl, c, cl, C.uint64_t(id))
	// The C side has copied the ids; the strings only had to live until here.
	runtime.KeepAlive(participantID)
	runtime.KeepAlive(trackID)
	runtime.KeepAlive(country)
	if o.res != resultOK {
		return nil, nil, uint32(o.res)
	}
	// SAFETY: the C contract makes these two 8-byte-aligned words valid
	// until trackstats_track_release, which only the Track's finalizer calls,
	// once no Go code can reach the Track; C memory is never moved or
	// scanned by the Go GC.
	return o.track, (*[2]uint64)(unsafe.Pointer(o.words)), resultOK
}

// cRecord is the C path of a record: sizes above MaxInlineBytes.
//
//go:noinline
func cRecord(t *cTrack, dir Direction, n uint64) {
	if dir == Up {
		C.trackstats_record_up(t, C.uint64_t(n))
	} else {
		C.trackstats_record_down(t, C.uint64_t(n))
	}
}

// cSlowPath is the slow path of the window-word rule, given the value the
// add returned.
//
//go:noinline
func cSlowPath(t *cTrack, dir Direction, old uint64) {
	C.trackstats_track_slow_path(t, C.uint32_t(dir), C.uint64_t(old))
}

// cPacketWords is the track's packet words (allocating its sequence block
// on the first call), or nil if the block could not be allocated.
//
//go:noinline
func cPacketWords(t *cTrack) *[packetWords]uint64 {
	p := C.trackstats_track_packet_words(t)
	if p == nil {
		return nil
	}
	// SAFETY: the C contract makes the TRACKSTATS_PACKET_WORDS 8-byte words
	// at p valid until trackstats_track_release, which only the Track's
	// finalizer calls once no Go code can reach the Track; C memory is never
	// moved or scanned by the Go GC.
	return (*[packetWords]uint64)(unsafe.Pointer(p))
}

// cRecordUpPacket is the C path of a packet record.
//
//go:noinline
func cRecordUpPacket(t *cTrack, n uint64, seq uint16, endOfFrame bool) {
	C.tsgo_record_up_packet(t, C.uint64_t(n), C.uint16_t(seq), C.bool(endOfFrame))
}

// cPrometheus renders the registry's exposition into buf when it fits (one
// cgo call) and returns its length: when that is more than len(buf),
// nothing was copied and the caller retries with a larger buffer. The node
// id is passed as (pointer, length), without a C copy.
func cPrometheus(r *cRegistry, perTrack bool, maxSeries uint32, nodeID string, buf []byte) (int, uint32) {
	p, pl := cString(nodeID)
	// SAFETY: buf is Go memory holding no Go pointers, so cgo may pass it;
	// it is pinned for the call and C writes at most len(buf) bytes.
	o := C.tsgo_prometheus(r, C.bool(perTrack), C.uint32_t(maxSeries), p, pl,
		(*C.char)(unsafe.Pointer(unsafe.SliceData(buf))), C.size_t(len(buf)))
	runtime.KeepAlive(nodeID)
	return int(o.len), uint32(o.res)
}

// cgoRecordUp is one cgo call per record: the baseline that RecordUp's
// inline atomic add is benchmarked against (bench_test.go).
func cgoRecordUp(t *Track, n uint64) {
	C.trackstats_record_up(t.e.h, C.uint64_t(n))
	runtime.KeepAlive(t)
}

func cClose(t *cTrack) uint32 { return uint32(C.trackstats_track_close(t)) }

func cRelease(t *cTrack) { C.trackstats_track_release(t) }

func cTotals(t *cTrack) Totals {
	o := C.tsgo_totals(t)
	return Totals{
		UpBytes:      uint64(o.up_bytes),
		UpMessages:   uint64(o.up_messages),
		DownBytes:    uint64(o.down_bytes),
		DownMessages: uint64(o.down_messages),

		UpPacketsLost:       uint64(o.up_packets_lost),
		UpPacketsRecovered:  uint64(o.up_packets_recovered),
		UpPacketsOutOfOrder: uint64(o.up_packets_out_of_order),
		UpPacketsDuplicated: uint64(o.up_packets_duplicated),
		UpFrames:            uint64(o.up_frames),
	}
}

func cRegistryNew(intervalMS uint64, manual bool) (*cRegistry, uint32) {
	mode := C.uint32_t(modeThread)
	if manual {
		mode = modeManual
	}
	o := C.tsgo_registry_new(C.uint64_t(intervalMS), mode)
	return o.registry, uint32(o.res)
}

func cRegistryClose(r *cRegistry) uint32 { return uint32(C.trackstats_registry_close(r)) }
func cRegistryFree(r *cRegistry)         { C.trackstats_registry_free(r) }
func cRegistryTick(r *cRegistry) uint32  { return uint32(C.trackstats_registry_tick(r)) }
func cRegistryFlush(r *cRegistry) uint32 { return uint32(C.trackstats_registry_flush(r)) }

func cRegistryStats(r *cRegistry) (Stats, uint32) {
	o := C.tsgo_stats(r)
	if o.res != resultOK {
		return Stats{}, uint32(o.res)
	}
	return goStats(&o.stats), resultOK
}

func goStats(s *C.trackstats_stats) Stats {
	return Stats{
		OpenTracks:      uint64(s.open_tracks),
		LiveSlots:       uint64(s.live_slots),
		ReportsEmitted:  uint64(s.reports_emitted),
		ReportsMerged:   uint64(s.reports_merged),
		ReportsPending:  uint64(s.reports_pending),
		Ticks:           uint64(s.ticks),
		LateTicks:       uint64(s.late_ticks),
		RecordsRejected: uint64(s.records_rejected),
		SamplerPanics:   uint64(s.sampler_panics),
		SinkPanics:      uint64(s.sink_panics),
	}
}

// cFigures reads the registry's figures into f (two cgo calls: the read and
// its free). Rows and strings are copied into Go memory, reusing f's rows
// and strings where they are equal, so nothing is allocated per row of a
// reused f whose ids did not change.
func cFigures(r *cRegistry, f *Figures) uint32 {
	o := C.tsgo_figures(r)
	if o.res != resultOK {
		return uint32(o.res)
	}
	// SAFETY: the view and everything it points to stay valid until the
	// free below; nothing read from them is kept without a copy.
	v := o.view
	f.Publication = uint64(v.publication)
	f.AsOf = time.Time{}
	if v.as_of_unix_ns != 0 {
		f.AsOf = unixNano(uint64(v.as_of_unix_ns))
	}
	f.Started = unixNano(uint64(v.started_unix_ns))
	cs := unsafe.Slice(v.countries, int(v.countries_len))
	f.Countries = resize(f.Countries, len(cs))
	for i := range cs {
		c, row := &cs[i], &f.Countries[i]
		row.Country = keep(row.Country, cBorrowed(c.country, c.country_len))
		row.Up = Traffic{uint64(c.up_bytes), uint64(c.up_messages)}
		row.Down = Traffic{uint64(c.down_bytes), uint64(c.down_messages)}
	}
	ts := unsafe.Slice(v.tracks, int(v.tracks_len))
	f.Tracks = resize(f.Tracks, len(ts))
	for i := range ts {
		t, row := &ts[i], &f.Tracks[i]
		row.ParticipantID = keep(row.ParticipantID, cBorrowed(t.participant_id, t.participant_id_len))
		row.TrackID = keep(row.TrackID, cBorrowed(t.track_id, t.track_id_len))
		row.Country = keep(row.Country, cBorrowed(t.country, t.country_len))
		row.Direction = Direction(t.direction)
		row.Traffic = Traffic{uint64(t.bytes), uint64(t.messages)}
		row.Start = unixNano(uint64(t.start_unix_ns))
		row.Ended = bool(t.ended)
	}
	f.Overflow[Up] = Traffic{uint64(v.overflow_up_bytes), uint64(v.overflow_up_messages)}
	f.Overflow[Down] = Traffic{uint64(v.overflow_down_bytes), uint64(v.overflow_down_messages)}
	f.TrackSeries = bool(v.track_series_on)
	f.TrackSeriesLimit = int(v.track_series_limit)
	f.TickTime = time.Duration(v.tick_ns_total)
	f.LastTick = time.Duration(v.last_tick_ns)
	f.Stats = goStats(&v.stats)
	C.trackstats_figures_free(o.figures)
	return resultOK
}

func cSetTrackSeries(r *cRegistry, max uint32) uint32 {
	return uint32(C.trackstats_registry_set_track_series(r, C.uint32_t(max)))
}

func cBatchNew(capacity int) (*cBatch, uint32) {
	o := C.tsgo_batch_new(C.size_t(capacity))
	return o.batch, uint32(o.res)
}

func cBatchFree(b *cBatch) { C.trackstats_batch_free(b) }

// cTake fills b (one cgo call) and returns a view of its reports, valid
// until b is filled again or freed. waitMS < 0 drains without blocking.
func cTake(r *cRegistry, b *cBatch, waitMS int64) ([]cReport, uint32) {
	f := C.tsgo_take(r, b, C.int64_t(waitMS))
	if f.len == 0 {
		return nil, uint32(f.res)
	}
	// SAFETY: the batch owns f.len reports at f.reports until it is filled
	// again or freed; callers convert them (copying what they keep) before
	// either happens, under drainMu or on the one feeder goroutine.
	return unsafe.Slice(f.reports, int(f.len)), uint32(f.res)
}

func cResultString(code uint32) string {
	return C.GoString(C.trackstats_result_str(C.uint32_t(code)))
}

// Version is the linked library's version, e.g. "0.1.0".
func Version() string { return C.GoString(C.trackstats_version()) }

// cHeapBytes is what the C allocator holds, or 0 where that is unknown.
func cHeapBytes() uint64 { return uint64(C.tsgo_c_heap_bytes()) }

// cBorrowed views a report's (pointer, length) string without copying.
func cBorrowed(p *C.char, n C.size_t) string {
	if n == 0 {
		return ""
	}
	// SAFETY: p holds n bytes of UTF-8 owned by the batch; the result is
	// only read (and copied) before the batch is refilled.
	return unsafe.String((*byte)(unsafe.Pointer(p)), int(n))
}

// keyCopier copies the ids of a batch's reports into Go memory (the batch
// is refilled by the next drain): one string per key, which the three ids
// slice, shared by consecutive reports of one key (a track's up and down
// reports of a pass are adjacent). Go keeps no copy of the ids per open
// track; only reports pay for them.
type keyCopier struct {
	last                        *C.char // the previous report's participant id in the batch
	participant, track, country string
}

func (k *keyCopier) ids(c *cReport) (participant, track, country string) {
	// Two keys alive in one batch are distinct allocations, so the same
	// address is the same key.
	if c.participant_id != k.last {
		pl, tl := int(c.participant_id_len), int(c.track_id_len)
		// One allocation: Go copies the three views into a new string (it
		// may skip the copy only when one operand is non-empty, and the
		// participant and track ids never are).
		all := cBorrowed(c.participant_id, c.participant_id_len) +
			cBorrowed(c.track_id, c.track_id_len) + cBorrowed(c.country, c.country_len)
		k.last = c.participant_id
		k.participant, k.track, k.country = all[:pl], all[pl:pl+tl], all[pl+tl:]
	}
	return k.participant, k.track, k.country
}

// goReport converts one C report, but for UserData (the C field holds the
// entry's id). Field access is by name, so fields added to trackstats_report
// later do not break this binding.
func goReport(c *cReport, keys *keyCopier) Report {
	r := Report{
		Direction: Direction(c.direction),
		Bytes:     uint64(c.bytes),
		Messages:  uint64(c.messages),
		Start:     unixNano(uint64(c.start_unix_ns)),
		End:       unixNano(uint64(c.end_unix_ns)),
		Flags:     Flags(c.flags),

		PacketsLost:       uint64(c.packets_lost),
		PacketsRecovered:  uint64(c.packets_recovered),
		PacketsOutOfOrder: uint64(c.packets_out_of_order),
		PacketsDuplicated: uint64(c.packets_duplicated),
		Frames:            uint64(c.frames),
	}
	r.ParticipantID, r.TrackID, r.Country = keys.ids(c)
	return r
}

func reportID(c *cReport) uint64 { return uint64(c.user_data) }
