//go:build cgo && !trackstats_purego

package trackstats

// The library through cgo: this file fills the package's table of C calls
// (internal/clib.Lib) with cgo calls. Which library is linked is chosen by
// link_static.go (the archive a release carries, the default) or
// link_system.go (the trackstats_system tag: pkg-config). The header is the
// package's own copy of include/trackstats.h, next to this file.
//
// The C helpers below exist so that each Go operation is ONE cgo call (a
// drain plus the batch view, a registry from its config) and so that no
// Go pointer to an out-parameter ever has to escape to the heap.

/*
#cgo CFLAGS: -Wall -Wextra
#include <malloc.h>
#include <string.h>
#include "trackstats.h"

typedef struct {
	trackstats_result res;
	trackstats_track *track;
} tsgo_opened_track;

// words is Go memory that the library keeps using after this returns: see
// cgoTrackOpen for why that is sound.
static tsgo_opened_track tsgo_track_open(trackstats_registry *r,
		const char *p, size_t pl, const char *t, size_t tl,
		const char *c, size_t cl, uint64_t user_data, uint64_t *words) {
	tsgo_opened_track o = {0, NULL};
	o.res = trackstats_track_open_hosted(r, p, pl, t, tl, c, cl, user_data, words, &o.track);
	return o;
}

typedef struct {
	trackstats_result res;
	const trackstats_report *reports;
	size_t len;
} tsgo_batch_view;

// Drains r into b (wait_ms < 0: without blocking) and returns the view of
// b's reports.
static tsgo_batch_view tsgo_fill_batch(trackstats_registry *r, trackstats_batch *b, int64_t wait_ms) {
	tsgo_batch_view v = {0, NULL, 0};
	v.res = wait_ms < 0 ? trackstats_registry_drain(r, b)
	                    : trackstats_registry_wait(r, b, (uint32_t)wait_ms);
	v.reports = trackstats_batch_reports(b, &v.len);
	return v;
}

static trackstats_totals tsgo_track_totals(const trackstats_track *t) {
	trackstats_totals out = {0};
	trackstats_track_totals(t, &out);
	return out;
}

typedef struct {
	trackstats_result res;
	trackstats_stats stats;
} tsgo_registry_stats_result;

static tsgo_registry_stats_result tsgo_registry_stats(const trackstats_registry *r) {
	tsgo_registry_stats_result o;
	memset(&o, 0, sizeof o);
	o.res = trackstats_registry_stats(r, &o.stats);
	return o;
}

typedef struct {
	trackstats_result res;
	trackstats_registry *registry;
} tsgo_new_registry;

static tsgo_new_registry tsgo_registry_new(uint64_t interval_ms, uint32_t mode, uint32_t grace_ms) {
	tsgo_new_registry o = {0, NULL};
	trackstats_config cfg = trackstats_config_default();
	cfg.interval_ms = interval_ms;
	cfg.mode = mode;
	cfg.grace_ms = grace_ms;
	o.res = trackstats_registry_new(&cfg, &o.registry);
	return o;
}

typedef struct {
	trackstats_result res;
	trackstats_batch *batch;
} tsgo_new_batch;

static tsgo_new_batch tsgo_batch_new(size_t capacity) {
	tsgo_new_batch o = {0, NULL};
	o.res = trackstats_batch_new(capacity, &o.batch);
	return o;
}

typedef struct {
	trackstats_result res;
	size_t len;
} tsgo_exposition;

// Renders the exposition and copies it into buf (Go memory, cap bytes) when
// it fits, so that Go gets it with one cgo call; either way the C string is
// freed here and len is its length. The options are built here, on the C
// stack, from scalars: a Go struct holding the node id's Go pointer could
// not be passed to C.
static tsgo_exposition tsgo_registry_prometheus_into(const trackstats_registry *r,
		bool per_track, uint32_t max_series, const char *node, size_t node_len,
		char *buf, size_t cap) {
	tsgo_exposition o = {0, 0};
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
} tsgo_figures_read;

static tsgo_figures_read tsgo_registry_figures(const trackstats_registry *r) {
	tsgo_figures_read o = {0, NULL, NULL};
	o.res = trackstats_registry_figures(r, &o.figures, &o.view);
	return o;
}

// Bytes the C allocator holds (heap plus mmapped chunks).
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
	"unsafe"

	"github.com/trackstats/trackstats/cbindings/go/internal/clib"
)

func init() {
	clib.SetLinked(&clib.Lib{
		Source:       linkedSource,
		Version:      func() string { return C.GoString(C.trackstats_version()) },
		ResultString: func(code uint32) string { return C.GoString(C.trackstats_result_str(C.uint32_t(code))) },

		RegistryNew: func(intervalMS uint64, mode uint32, graceMS uint32) (*clib.Registry, uint32) {
			o := C.tsgo_registry_new(C.uint64_t(intervalMS), C.uint32_t(mode), C.uint32_t(graceMS))
			return (*clib.Registry)(unsafe.Pointer(o.registry)), uint32(o.res)
		},
		RegistryClose:      func(r *clib.Registry) uint32 { return uint32(C.trackstats_registry_close(cRegistry(r))) },
		RegistryFree:       func(r *clib.Registry) { C.trackstats_registry_free(cRegistry(r)) },
		RegistryTick:       func(r *clib.Registry) uint32 { return uint32(C.trackstats_registry_tick(cRegistry(r))) },
		RegistryFlush:      func(r *clib.Registry) uint32 { return uint32(C.trackstats_registry_flush(cRegistry(r))) },
		RegistryStats:      cgoRegistryStats,
		RegistryPrometheus: cgoRegistryPrometheus,
		FillBatch:          cgoFillBatch,
		RegistryFigures: func(r *clib.Registry) (*clib.Figures, *clib.FiguresView, uint32) {
			o := C.tsgo_registry_figures(cRegistry(r))
			// SAFETY: the view lives in C memory until trackstats_figures_free;
			// clib.FiguresView mirrors trackstats_figures_view (internal/clib's
			// layout test).
			return (*clib.Figures)(unsafe.Pointer(o.figures)), (*clib.FiguresView)(unsafe.Pointer(o.view)), uint32(o.res)
		},
		FiguresFree: func(f *clib.Figures) { C.trackstats_figures_free((*C.trackstats_figures)(unsafe.Pointer(f))) },
		RegistrySetTrackSeries: func(r *clib.Registry, maxSeries uint32) uint32 {
			return uint32(C.trackstats_registry_set_track_series(cRegistry(r), C.uint32_t(maxSeries)))
		},
		BatchNew: func(capacity int) (*clib.Batch, uint32) {
			o := C.tsgo_batch_new(C.size_t(capacity))
			return (*clib.Batch)(unsafe.Pointer(o.batch)), uint32(o.res)
		},
		BatchFree: func(b *clib.Batch) { C.trackstats_batch_free((*C.trackstats_batch)(unsafe.Pointer(b))) },

		TrackOpen:              cgoTrackOpen,
		TrackReleaseAfterGrace: func(t *clib.Track) { C.trackstats_track_release_after_grace(cTrack(t)) },
		CountStale: func(r *clib.Registry, bytes, messages uint64) uint32 {
			return uint32(C.trackstats_registry_count_stale(cRegistry(r), C.uint64_t(bytes), C.uint64_t(messages)))
		},
		TrackTotals: func(t *clib.Track) clib.Totals {
			o := C.tsgo_track_totals(cTrack(t))
			// SAFETY: clib.Totals mirrors trackstats_totals field for field
			// (internal/clib's layout test).
			return *(*clib.Totals)(unsafe.Pointer(&o))
		},
		Record:            cgoRecord,
		SlowPath:          cgoSlowPath,
		AttachPacketWords: cgoAttachPacketWords,
		RecordUpPacket:    cgoRecordUpPacket,
		CHeapBytes:        func() uint64 { return uint64(C.tsgo_c_heap_bytes()) },
	})
}

func cRegistry(r *clib.Registry) *C.trackstats_registry {
	return (*C.trackstats_registry)(unsafe.Pointer(r))
}

func cTrack(t *clib.Track) *C.trackstats_track { return (*C.trackstats_track)(unsafe.Pointer(t)) }

// cString is s as (pointer, length) for C, without a copy: every C function
// taking ids copies them before it returns. The caller keeps s alive.
func cString(s string) (*C.char, C.size_t) {
	// SAFETY: C only reads len(s) bytes during the call (a NULL or dangling
	// pointer is fine with length 0); string bytes hold no Go pointers, so
	// cgo's pointer rules allow passing them.
	return (*C.char)(unsafe.Pointer(unsafe.StringData(s))), C.size_t(len(s))
}

func cgoTrackOpen(r *clib.Registry, participantID, trackID, country string, id uint64, words *[clib.HostedWords]uint64) (*clib.Track, uint32) {
	p, pl := cString(participantID)
	t, tl := cString(trackID)
	c, cl := cString(country)
	// SAFETY: words is Go memory that the library keeps using after the
	// call, until it stores the let-go mark (the header's contract for
	// trackstats_track_open_hosted). cgo allows passing it: it holds no Go
	// pointers. Keeping it is sound because the Go heap never moves an
	// object, and the registry keeps the Track (whose field it is)
	// reachable from before this call until it has read the mark
	// (entries.go). runtime.Pinner would state the same to the runtime at
	// about 120 B and 100 ns per Track: a third of what a Track costs.
	o := C.tsgo_track_open(cRegistry(r), p, pl, t, tl, c, cl, C.uint64_t(id), (*C.uint64_t)(unsafe.Pointer(words)))
	// The C side has copied the ids; the strings only had to live until here.
	runtime.KeepAlive(participantID)
	runtime.KeepAlive(trackID)
	runtime.KeepAlive(country)
	return (*clib.Track)(unsafe.Pointer(o.track)), uint32(o.res)
}

// cgoRecord is the C path of a record: sizes above MaxInlineBytes.
func cgoRecord(t *clib.Track, dir uint32, n uint64) {
	if dir == clib.DirectionUp {
		C.trackstats_record_up(cTrack(t), C.uint64_t(n))
	} else {
		C.trackstats_record_down(cTrack(t), C.uint64_t(n))
	}
}

func cgoSlowPath(t *clib.Track, dir uint32, old uint64) {
	C.trackstats_track_slow_path(cTrack(t), C.uint32_t(dir), C.uint64_t(old))
}

func cgoAttachPacketWords(t *clib.Track, words *[clib.HostedPacketWords]uint64) uint32 {
	// SAFETY: as the window block in cgoTrackOpen: Go memory without Go
	// pointers, which the Track keeps reachable (and the registry the Track)
	// until the let-go mark, which covers this block too.
	return uint32(C.trackstats_track_attach_packet_words(cTrack(t), (*C.uint64_t)(unsafe.Pointer(words))))
}

func cgoRecordUpPacket(t *clib.Track, n uint64, seq uint16, endOfFrame bool) {
	C.trackstats_record_up_packet(cTrack(t), C.uint64_t(n), C.uint16_t(seq), C.bool(endOfFrame))
}

func cgoRegistryStats(r *clib.Registry) (clib.Stats, uint32) {
	o := C.tsgo_registry_stats(cRegistry(r))
	// SAFETY: clib.Stats mirrors trackstats_stats field for field
	// (internal/clib's layout test).
	return *(*clib.Stats)(unsafe.Pointer(&o.stats)), uint32(o.res)
}

func cgoRegistryPrometheus(r *clib.Registry, perTrack bool, maxSeries uint32, nodeID string, buf []byte) (int, uint32) {
	p, pl := cString(nodeID)
	// SAFETY: buf is Go memory holding no Go pointers, so cgo may pass it;
	// it is pinned for the call and C writes at most len(buf) bytes.
	o := C.tsgo_registry_prometheus_into(cRegistry(r), C.bool(perTrack), C.uint32_t(maxSeries), p, pl,
		(*C.char)(unsafe.Pointer(unsafe.SliceData(buf))), C.size_t(len(buf)))
	runtime.KeepAlive(nodeID)
	return int(o.len), uint32(o.res)
}

func cgoFillBatch(r *clib.Registry, b *clib.Batch, waitMS int64) ([]clib.Report, uint32) {
	v := C.tsgo_fill_batch(cRegistry(r), (*C.trackstats_batch)(unsafe.Pointer(b)), C.int64_t(waitMS))
	if v.len == 0 {
		return nil, uint32(v.res)
	}
	// SAFETY: the batch owns v.len reports at v.reports until it is filled
	// again or freed; clib.Report mirrors trackstats_report field for field
	// (internal/clib's layout test).
	return unsafe.Slice((*clib.Report)(unsafe.Pointer(v.reports)), int(v.len)), uint32(v.res)
}
