//go:build darwin || freebsd || linux || netbsd

package tsnocgo

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
	"github.com/trackstats/trackstats/cbindings/go/internal/clib"
)

// symbols are the library's functions: addresses for purego.SyscallN,
// which passes and returns machine words without the reflection (and the
// allocations) of purego.RegisterFunc.
type symbols struct {
	version, resultStr                                             uintptr
	configDefault, registryNew, registryClose, registryFree        uintptr
	registryTick, registryFlush, registryStats, registryPrometheus uintptr
	stringFree, registryDrain, registryWait                        uintptr
	batchNew, batchFree, batchReports                              uintptr
	trackOpenHosted, trackReleaseAfterGrace, registryCountStale    uintptr
	trackTotals, recordUp, recordDown, trackSlowPath               uintptr
	trackAttachPacketWords, recordUpPacket                         uintptr
	registryFigures, figuresFree, registrySetTrackSeries           uintptr
}

// bind resolves every function the trackstats package calls and returns
// its table.
func bind(h uintptr, source string) (*clib.Lib, error) {
	var s symbols
	for _, sym := range []struct {
		name string
		addr *uintptr
	}{
		{"trackstats_version", &s.version},
		{"trackstats_result_str", &s.resultStr},
		{"trackstats_config_default", &s.configDefault},
		{"trackstats_registry_new", &s.registryNew},
		{"trackstats_registry_close", &s.registryClose},
		{"trackstats_registry_free", &s.registryFree},
		{"trackstats_registry_tick", &s.registryTick},
		{"trackstats_registry_flush", &s.registryFlush},
		{"trackstats_registry_stats", &s.registryStats},
		{"trackstats_registry_prometheus", &s.registryPrometheus},
		{"trackstats_string_free", &s.stringFree},
		{"trackstats_registry_drain", &s.registryDrain},
		{"trackstats_registry_wait", &s.registryWait},
		{"trackstats_batch_new", &s.batchNew},
		{"trackstats_batch_free", &s.batchFree},
		{"trackstats_batch_reports", &s.batchReports},
		{"trackstats_track_open_hosted", &s.trackOpenHosted},
		{"trackstats_track_release_after_grace", &s.trackReleaseAfterGrace},
		{"trackstats_registry_count_stale", &s.registryCountStale},
		{"trackstats_track_totals", &s.trackTotals},
		{"trackstats_record_up", &s.recordUp},
		{"trackstats_record_down", &s.recordDown},
		{"trackstats_track_slow_path", &s.trackSlowPath},
		{"trackstats_track_attach_packet_words", &s.trackAttachPacketWords},
		{"trackstats_record_up_packet", &s.recordUpPacket},
		{"trackstats_registry_figures", &s.registryFigures},
		{"trackstats_figures_free", &s.figuresFree},
		{"trackstats_registry_set_track_series", &s.registrySetTrackSeries},
	} {
		addr, err := purego.Dlsym(h, sym.name)
		if err != nil {
			return nil, fmt.Errorf("%s has no %s: not a libtrackstats %s", source, sym.name, clib.LibraryVersion)
		}
		*sym.addr = addr
	}
	// trackstats_config_default returns a struct by value, which SyscallN cannot
	// receive; RegisterFunc can, and it runs once per registry.
	var configDefault func() clib.Config
	purego.RegisterFunc(&configDefault, s.configDefault)
	return s.lib(source, configDefault), nil
}

// frame is the Go memory of one call: the argument words purego.SyscallN
// reads, and whatever C writes or reads through a pointer (out-parameters,
// the config, the ids). Frames come from a pool, so the calls allocate
// nothing: a frame is a heap object (its address never changes) held by
// its caller until the call has returned, and holds no Go pointer but the
// node id's, which prometheus pins.
type frame struct {
	args   [maxArgs]uintptr
	out, n uintptr // out-parameters: a new handle or string, a count or a view
	totals clib.Totals
	stats  clib.Stats
	cfg    clib.Config
	opts   clib.PrometheusOptions
	// ids holds a track's three ids while it is opened: C reads them from
	// here, so no address of the caller's strings crosses as a uintptr.
	ids [3 * clib.MaxIDBytes]byte
}

// maxArgs is the most arguments a call passes (trackstats_track_open_hosted's 10).
const maxArgs = 10

var frames = sync.Pool{New: func() any { return new(frame) }}

func getFrame() *frame  { return frames.Get().(*frame) }
func putFrame(f *frame) { frames.Put(f) }

// call calls fn with args, from the frame's argument words: a variadic
// slice passed on to purego.SyscallN would escape (its //go:uintptrescapes
// treats every argument as a pointer), and allocate once per call.
func (f *frame) call(fn uintptr, args ...uintptr) uintptr {
	n := copy(f.args[:], args)
	r, _, _ := purego.SyscallN(fn, f.args[:n]...)
	return r
}

// addr is the address of a frame's field, for C.
func addr[T any](p *T) uintptr {
	// SAFETY: p is inside a frame, a heap object (the collector never
	// moves those) that the caller holds until the call has returned.
	return uintptr(unsafe.Pointer(p))
}

// caddr is a handle's C address.
func caddr[T clib.Registry | clib.Track | clib.Batch | clib.Figures](h *T) uintptr {
	// SAFETY: h points into C memory, which the collector ignores.
	return uintptr(unsafe.Pointer(h))
}

// call is a call whose arguments are scalars and C addresses.
func call(fn uintptr, args ...uintptr) uintptr {
	f := getFrame()
	r := f.call(fn, args...)
	putFrame(f)
	return r
}

// callGo calls fn with arguments among which are addresses of Go memory
// outside any frame, converted to uintptr in the call expression itself:
// the directive then moves what they point to onto the heap and keeps it
// alive for the call, as for purego.SyscallN. Its argument slice escapes:
// one allocation per call.
//
//go:uintptrescapes
func callGo(fn uintptr, args ...uintptr) uintptr {
	r, _, _ := purego.SyscallN(fn, args...)
	return r
}

// result is a trackstats_result from a call's return word (a uint32 in the
// low half of the register; the upper half is not defined).
func result(r uintptr) uint32 { return uint32(r) }

// ptr is a C address as an unsafe.Pointer.
func ptr(a uintptr) unsafe.Pointer {
	// SAFETY: a is an address in C memory (or 0), which the Go collector
	// neither moves nor frees; reading it through the uintptr's own memory
	// keeps go vet's unsafeptr check, meant for Go memory, out of it.
	return *(*unsafe.Pointer)(unsafe.Pointer(&a))
}

// goString copies the NUL-terminated C string at p.
func goString(p uintptr) string {
	if p == 0 {
		return ""
	}
	// SAFETY: p is one of the library's static strings (trackstats_version,
	// trackstats_result_str), NUL-terminated and valid for the process.
	n := 0
	for *(*byte)(unsafe.Add(ptr(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice((*byte)(ptr(p)), n))
}

func b2u(b bool) uintptr {
	if b {
		return 1
	}
	return 0
}

// lib is the table of calls over s. Handles cross as C addresses; what C
// reads or writes through a pointer into Go memory lives in a frame.
func (s *symbols) lib(source string, configDefault func() clib.Config) *clib.Lib {
	return &clib.Lib{
		Source:       source,
		Version:      func() string { return goString(call(s.version)) },
		ResultString: func(code uint32) string { return goString(call(s.resultStr, uintptr(code))) },

		RegistryNew: func(intervalMS uint64, mode uint32, graceMS uint32) (*clib.Registry, uint32) {
			f := getFrame()
			defer putFrame(f)
			f.cfg = configDefault()
			f.cfg.IntervalMS, f.cfg.Mode, f.cfg.GraceMS = intervalMS, mode, graceMS
			res := result(f.call(s.registryNew, addr(&f.cfg), addr(&f.out)))
			return (*clib.Registry)(ptr(f.out)), res
		},
		RegistryClose: func(r *clib.Registry) uint32 { return result(call(s.registryClose, caddr(r))) },
		RegistryFree:  func(r *clib.Registry) { call(s.registryFree, caddr(r)) },
		RegistryTick:  func(r *clib.Registry) uint32 { return result(call(s.registryTick, caddr(r))) },
		RegistryFlush: func(r *clib.Registry) uint32 { return result(call(s.registryFlush, caddr(r))) },
		RegistryStats: func(r *clib.Registry) (clib.Stats, uint32) {
			f := getFrame()
			defer putFrame(f)
			res := result(f.call(s.registryStats, caddr(r), addr(&f.stats)))
			return f.stats, res
		},
		RegistryPrometheus: s.prometheus,
		FillBatch: func(r *clib.Registry, b *clib.Batch, waitMS int64) ([]clib.Report, uint32) {
			f := getFrame()
			defer putFrame(f)
			var res uint32
			if waitMS < 0 {
				res = result(f.call(s.registryDrain, caddr(r), caddr(b)))
			} else {
				res = result(f.call(s.registryWait, caddr(r), caddr(b), uintptr(uint32(waitMS))))
			}
			reports := f.call(s.batchReports, caddr(b), addr(&f.n))
			if f.n == 0 {
				return nil, res
			}
			// SAFETY: the batch owns n reports at this address until it is
			// filled again or freed; clib.Report mirrors trackstats_report.
			return unsafe.Slice((*clib.Report)(ptr(reports)), int(f.n)), res
		},
		RegistryFigures: func(r *clib.Registry) (*clib.Figures, *clib.FiguresView, uint32) {
			f := getFrame()
			defer putFrame(f)
			res := result(f.call(s.registryFigures, caddr(r), addr(&f.out), addr(&f.n)))
			// SAFETY: the view lives in C memory until trackstats_figures_free;
			// clib.FiguresView mirrors trackstats_figures_view.
			return (*clib.Figures)(ptr(f.out)), (*clib.FiguresView)(ptr(f.n)), res
		},
		FiguresFree: func(fig *clib.Figures) { call(s.figuresFree, caddr(fig)) },
		RegistrySetTrackSeries: func(r *clib.Registry, maxSeries uint32) uint32 {
			return result(call(s.registrySetTrackSeries, caddr(r), uintptr(maxSeries)))
		},
		BatchNew: func(capacity int) (*clib.Batch, uint32) {
			f := getFrame()
			defer putFrame(f)
			res := result(f.call(s.batchNew, uintptr(capacity), addr(&f.out)))
			return (*clib.Batch)(ptr(f.out)), res
		},
		BatchFree: func(b *clib.Batch) { call(s.batchFree, caddr(b)) },

		TrackOpen:              s.openTrack,
		TrackReleaseAfterGrace: func(t *clib.Track) { call(s.trackReleaseAfterGrace, caddr(t)) },
		CountStale: func(r *clib.Registry, bytes, messages uint64) uint32 {
			return result(call(s.registryCountStale, caddr(r), uintptr(bytes), uintptr(messages)))
		},
		TrackTotals: func(t *clib.Track) clib.Totals {
			f := getFrame()
			defer putFrame(f)
			f.call(s.trackTotals, caddr(t), addr(&f.totals))
			return f.totals
		},
		Record: func(t *clib.Track, dir uint32, n uint64) {
			fn := s.recordUp
			if dir == clib.DirectionDown {
				fn = s.recordDown
			}
			call(fn, caddr(t), uintptr(n))
		},
		SlowPath: func(t *clib.Track, dir uint32, old uint64) {
			call(s.trackSlowPath, caddr(t), uintptr(dir), uintptr(old))
		},
		AttachPacketWords: func(t *clib.Track, words *[clib.HostedPacketWords]uint64) uint32 {
			return result(call(s.trackAttachPacketWords, caddr(t), hostedAddr(words)))
		},
		RecordUpPacket: func(t *clib.Track, n uint64, seq uint16, endOfFrame bool) {
			call(s.recordUpPacket, caddr(t), uintptr(n), uintptr(seq), b2u(endOfFrame))
		},
		CHeapBytes: cHeapBytes(),
	}
}

// hostedAddr is the address of a hosted block for C, which keeps it after
// the call.
func hostedAddr[T [clib.HostedWords]uint64 | [clib.HostedPacketWords]uint64](words *T) uintptr {
	// SAFETY: words is a field of a Track (or a block it holds): heap
	// memory, which the collector never moves, holding no Go pointers. The
	// trackstats package keeps the Track reachable from before the call
	// until it has read the library's let-go mark (see its cgo.go), so the
	// address stays valid for as long as the library uses it.
	return uintptr(unsafe.Pointer(words))
}

// openTrack opens a hosted track on words.
func (s *symbols) openTrack(r *clib.Registry, participantID, trackID, country string, userData uint64, words *[clib.HostedWords]uint64) (*clib.Track, uint32) {
	f := getFrame()
	defer putFrame(f)
	var res uint32
	if len(participantID) <= clib.MaxIDBytes && len(trackID) <= clib.MaxIDBytes && len(country) <= clib.MaxIDBytes {
		// The ids, copied into the frame; the library copies them again
		// before it returns.
		p := copy(f.ids[:], participantID)
		t := copy(f.ids[p:], trackID)
		c := copy(f.ids[p+t:], country)
		ids := addr(&f.ids)
		res = result(f.call(s.trackOpenHosted, caddr(r), ids, uintptr(p), ids+uintptr(p), uintptr(t),
			ids+uintptr(p+t), uintptr(c), uintptr(userData), hostedAddr(words), addr(&f.out)))
	} else {
		// Too long: the library says so (after its UTF-8 check), from
		// the caller's strings, which the directive of callGo keeps in
		// place.
		res = result(callGo(s.trackOpenHosted, caddr(r),
			uintptr(unsafe.Pointer(unsafe.StringData(participantID))), uintptr(len(participantID)),
			uintptr(unsafe.Pointer(unsafe.StringData(trackID))), uintptr(len(trackID)),
			uintptr(unsafe.Pointer(unsafe.StringData(country))), uintptr(len(country)),
			uintptr(userData), hostedAddr(words), addr(&f.out)))
	}
	if res != clib.ResultOK {
		return nil, res
	}
	return (*clib.Track)(ptr(f.out)), res
}

// prometheus renders the exposition into buf when it fits (see
// clib.Lib.RegistryPrometheus).
func (s *symbols) prometheus(r *clib.Registry, perTrack bool, maxSeries uint32, nodeID string, buf []byte) (int, uint32) {
	f := getFrame()
	defer putFrame(f)
	f.opts = clib.PrometheusOptions{PerTrack: perTrack, MaxTrackSeries: maxSeries, NodeIDLen: uintptr(len(nodeID))}
	// The options hold a pointer to the node id's bytes: pinned, so that
	// the collector keeps them in place while C reads them, and cleared
	// before the frame goes back to the pool.
	var pin runtime.Pinner
	if len(nodeID) > 0 {
		f.opts.NodeID = unsafe.StringData(nodeID)
		pin.Pin(f.opts.NodeID)
	}
	res := result(f.call(s.registryPrometheus, caddr(r), addr(&f.opts), addr(&f.out), addr(&f.n)))
	pin.Unpin()
	f.opts.NodeID = nil
	if res != clib.ResultOK {
		return 0, res
	}
	n := int(f.n)
	if n > 0 && n <= len(buf) {
		copy(buf, unsafe.Slice((*byte)(ptr(f.out)), n))
	}
	call(s.stringFree, f.out)
	return n, res
}

// cHeapBytes is what glibc's allocator holds (mallinfo2: in use plus
// mmapped), or 0 where there is no mallinfo2.
var cHeapBytes = func() func() uint64 {
	libc, err := purego.Dlopen("libc.so.6", purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return func() uint64 { return 0 }
	}
	fn, err := purego.Dlsym(libc, "mallinfo2")
	if err != nil {
		return func() uint64 { return 0 }
	}
	// struct mallinfo2: ten size_t fields.
	type mallinfo2 struct {
		arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost uintptr
	}
	var mi func() mallinfo2
	purego.RegisterFunc(&mi, fn)
	return func() uint64 {
		m := mi()
		return uint64(m.uordblks) + uint64(m.hblkhd)
	}
}

// open dlopens file and resolves the library's calls; source names it in
// errors and in the table.
func open(file, source string) (*clib.Lib, error) {
	h, err := purego.Dlopen(file, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, err
	}
	l, err := bind(h, source)
	if err != nil {
		_ = purego.Dlclose(h)
		return nil, err
	}
	return l, nil
}
