package trackstats

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trackstats/trackstats/cbindings/go/internal/clib"
)

// DefaultInterval is the window length without WithInterval (as LiveKit's
// ticker).
const DefaultInterval = clib.IntervalDefaultMS * time.Millisecond

// batchCapacity is the reports one call into the library moves.
const batchCapacity = 1024

// feederWait bounds one blocking wait in C; the feeder loops until the
// registry is closed and drained, so this only limits how long one call
// holds its thread.
const feederWaitMS = 1000

// Registry owns tracks, one sampler thread (none when manual) and the queue
// of reports. Reports reach Go in one of three ways, chosen at construction:
//
//   - pull (the default): call Drain;
//   - WithReportChannel: one goroutine waits in the library and sends each
//     report on Reports();
//   - WithDispatcher: that goroutine only calls track listeners.
//
// Whatever the way, a report of a track opened with a listener
// (OpenTrackWithListener) goes to its listener and nowhere else. No registry starts
// a goroutine per track.
//
// Close the registry when done: it final-flushes every track, delivers
// what tracks closed earlier recorded since (flagged late), and releases
// every Track still open. Records on its Tracks after Registry.Close are
// not counted.
type Registry struct {
	// mu guards h, the registry for the API's calls (nil once closed):
	// they hold mu for reading; Close takes it for writing to release the
	// Tracks still open and to end the API's use of h.
	mu sync.RWMutex
	h  *clib.Registry
	// core is the same registry for the calls a Track makes (the slow path,
	// stale records, totals) without a lock: it is freed only once r is
	// unreachable (cleanup), and every Track reaches r, so no such call can
	// outlive it.
	core *clib.Registry

	entries entries
	// closeMu orders the releases of Track.Close (and the packet words'
	// attach) and guards closing.
	closeMu sync.Mutex
	closing closingQueue
	// retiring is the Tracks whose let-go mark the drainer has read; they
	// are let go after the next drain that empties the library's queue.
	// Owned by the drainer: Drain and Close under drainMu, or the feeder.
	retiring []*Track

	// promSize is the length of the last Prometheus exposition: the next
	// one's buffer starts there, so one call usually suffices.
	promSize atomic.Int64

	manual       bool
	dispatchOnly bool

	// pull mode: Drain's batch, serialised by drainMu, what Close drained
	// for later Drain calls, and the listener reports of the last drain
	// (reused, so a drain allocates nothing for them).
	drainMu  sync.Mutex
	batch    *clib.Batch
	leftover []Report
	routed   []routedReport

	// push mode: the feeder goroutine, its batch and channel.
	push     bool
	ch       chan Report
	feedDone chan struct{}

	closeOnce sync.Once
	closeErr  error
	// done is closed when Close has delivered the last report (Done).
	done chan struct{}
}

type config struct {
	interval   time.Duration
	manual     bool
	channel    bool
	chanBuffer int
	dispatcher bool
	// overflow is WithOverflowListener's listener; overflowSet tells a nil
	// one (an error) from none.
	overflow    ReportListener
	overflowSet bool
	// graceMS is trackstats_config.grace_ms (tests shorten it).
	graceMS uint32
}

// Option configures NewRegistry.
type Option func(*config)

// WithInterval sets the window length (1 ms to 1 hour; default 5 s).
// Windows end on absolute deadlines, start + k*interval.
func WithInterval(d time.Duration) Option { return func(c *config) { c.interval = d } }

// WithManualTicking runs no sampler thread: the caller ends each window with
// Tick and delivers close/release flushes with Flush (tests, simulations,
// hosts with their own clock).
func WithManualTicking() Option { return func(c *config) { c.manual = true } }

// MaxReportChannelBuffer is the largest buffer WithReportChannel takes (about
// 200 bytes a report): a larger one only holds memory, since the library
// merges a track's pending windows while nobody receives.
const MaxReportChannelBuffer = 1 << 20

// WithReportChannel delivers reports on Reports(), a channel with this buffer
// (0 to MaxReportChannelBuffer; NewRegistry returns ErrInvalidOption
// otherwise) fed by one goroutine. Keep receiving until the channel is closed
// (by Registry.Close): while nobody receives, the library merges each track's
// pending windows instead of growing, and Close waits for the consumer.
func WithReportChannel(buffer int) Option {
	return func(c *config) {
		c.channel = true
		c.chanBuffer = buffer
	}
}

// WithDispatcher delivers every report to its track's listener from one
// goroutine; such a registry only opens tracks with a listener
// (OpenTrackWithListener).
func WithDispatcher() Option { return func(c *config) { c.dispatcher = true } }

// WithOverflowListener passes overflow reports (FlagOverflow) to l: when a
// consumer falls so far behind that the reports of closed tracks pass the
// library's bound (65,536 by default), they fold into one report per country
// and direction, with ids "__overflow__" and user data 0, which belongs to no
// Track and so to no track's listener. Without this option they are returned
// by Drain or sent on the report channel like any report of a track without
// a listener; a WithDispatcher registry has neither, so there it counts
// them in Stats.ReportsUndelivered and drops them (their bytes stay in
// Figures and the Prometheus exposition). l is called where listeners are:
// on the dispatcher goroutine, or in Drain. A nil l is ErrInvalidOption.
func WithOverflowListener(l ReportListener) Option {
	return func(c *config) { c.overflow, c.overflowSet = l, true }
}

// NewRegistry creates a registry. An option out of its range, or a nil
// Option, is an error (ErrInvalidInterval, ErrInvalidOption) and makes
// nothing.
func NewRegistry(opts ...Option) (*Registry, error) {
	cfg := config{interval: DefaultInterval, graceMS: clib.GraceDefaultMS}
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: option %d is nil", ErrInvalidOption, i)
		}
		o(&cfg)
	}
	if cfg.chanBuffer < 0 || cfg.chanBuffer > MaxReportChannelBuffer {
		return nil, fmt.Errorf("%w: WithReportChannel(%d): the buffer is 0 to %d reports",
			ErrInvalidOption, cfg.chanBuffer, MaxReportChannelBuffer)
	}
	if cfg.overflowSet && cfg.overflow == nil {
		return nil, fmt.Errorf("%w: WithOverflowListener(nil)", ErrInvalidOption)
	}
	if cfg.interval < clib.IntervalMinMS*time.Millisecond || cfg.interval > clib.IntervalMaxMS*time.Millisecond ||
		cfg.interval%time.Millisecond != 0 {
		return nil, ErrInvalidInterval
	}
	l, err := loadLib()
	if err != nil {
		return nil, err
	}
	mode := uint32(clib.ModeThread)
	if cfg.manual {
		mode = clib.ModeManual
	}
	h, code := l.RegistryNew(uint64(cfg.interval/time.Millisecond), mode, cfg.graceMS)
	if code != clib.ResultOK {
		return nil, ResultError(code)
	}
	b, code := l.BatchNew(batchCapacity)
	if code != clib.ResultOK {
		l.RegistryFree(h)
		return nil, ResultError(code)
	}
	r := &Registry{
		h:            h,
		core:         h,
		manual:       cfg.manual,
		batch:        b,
		push:         cfg.channel || cfg.dispatcher,
		dispatchOnly: cfg.dispatcher && !cfg.channel,
		done:         make(chan struct{}),
	}
	r.entries.owner = r
	r.entries.overflow = cfg.overflow
	r.entries.dropOverflow = r.dispatchOnly && cfg.overflow == nil
	if r.push {
		if cfg.channel {
			r.ch = make(chan Report, cfg.chanBuffer)
		}
		r.feedDone = make(chan struct{})
		go r.feed()
	}
	// The library's registry is freed once r is unreachable, which it can
	// only be while it holds no Track (entries: the library then touches
	// no Go memory) and no Track is reachable (each reaches r); a push
	// registry is reachable from its goroutine until Close.
	runtime.AddCleanup(r, freeUnreachable, regHandles{h, b})
	return r, nil
}

type regHandles struct {
	h *clib.Registry
	b *clib.Batch
}

func freeUnreachable(rh regHandles) {
	l := lib()
	l.BatchFree(rh.b)
	l.RegistryFree(rh.h)
}

// Done is closed once Close has returned: every report the registry will
// ever deliver has been delivered (to its listener or the report channel,
// or, in pull mode, kept for Drain). A host waiting for a track's reports
// selects on it too, so that it does not wait for reports of bytes recorded
// after the registry closed, which are never delivered. A nil Registry's is
// closed: it delivers nothing.
func (r *Registry) Done() <-chan struct{} {
	if r == nil {
		return closedDone
	}
	return r.done
}

// closedDone is the Done channel of a nil Registry.
var closedDone = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// Reports is the channel of a WithReportChannel registry (nil otherwise,
// and for a nil Registry). Close closes it after the last report.
func (r *Registry) Reports() <-chan Report {
	if r == nil {
		return nil
	}
	return r.ch
}

// Tick ends the current window of every track now and queues the reports
// (manual registries only: ErrWrongMode otherwise).
func (r *Registry) Tick() error {
	return r.call(lib().RegistryTick)
}

// Flush processes pending closes and releases now, without ending a window.
// A sampler thread does this by itself within milliseconds; manual registries
// call it for a prompt final flush.
func (r *Registry) Flush() error {
	return r.call(lib().RegistryFlush)
}

func (r *Registry) call(f func(*clib.Registry) uint32) error {
	if r == nil {
		return ErrNilRegistry
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.h == nil {
		return ErrRegistryClosed
	}
	return resultErr(f(r.h))
}

// Stats are the registry's counters.
func (r *Registry) Stats() (Stats, error) {
	if r == nil {
		return Stats{}, ErrNilRegistry
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.h == nil {
		return Stats{}, ErrRegistryClosed
	}
	s, code := lib().RegistryStats(r.h)
	if code != clib.ResultOK {
		return Stats{}, ResultError(code)
	}
	st := goStats(s)
	st.ReportsUndelivered = r.entries.undelivered.Load()
	return st, nil
}

// Close final-flushes every track, releases every Track still open,
// delivers what is left, and stops the dispatcher goroutine (closing
// Reports()). The library's registry is freed once neither the Registry nor
// any of its Tracks is reachable. In pull mode, reports not
// drained before Close are kept: later Drain calls return them. Idempotent;
// must not be called from a listener. A nil Registry returns
// ErrNilRegistry.
func (r *Registry) Close() error {
	if r == nil {
		return ErrNilRegistry
	}
	r.closeOnce.Do(func() {
		r.mu.RLock()
		r.closeErr = resultErr(lib().RegistryClose(r.h))
		r.mu.RUnlock()
		// The library's close ended every grace (letting go of the Tracks
		// closed before); a release now takes effect at once. With mu
		// held for writing no open is in flight (each Track held has its
		// handle); closeMu orders these releases with Track.Close's.
		r.mu.Lock()
		r.closeMu.Lock()
		r.entries.mu.Lock()
		r.entries.forEach(func(t *Track) {
			if t.h != nil && t.state.Or(trackClosed)&trackClosed == 0 {
				lib().TrackReleaseAfterGrace(t.h)
			}
		})
		r.entries.mu.Unlock()
		r.closeMu.Unlock()
		r.mu.Unlock()
		if r.push {
			// The feeder drains until the library says the registry is
			// closed and empty, then exits.
			<-r.feedDone
		} else {
			r.drainMu.Lock()
			r.leftover, _ = r.drainLocked(r.leftover)
			r.drainMu.Unlock()
		}
		// Every Track's block is let go and every report taken: the
		// registry holds none of them any longer. (Only let-go ones: were
		// one still held by the library, keeping it would be a leak, and
		// dropping it a write into freed memory.)
		r.entries.mu.Lock()
		r.entries.forEach(func(t *Track) {
			if t.letGo() {
				r.entries.drop(t)
			}
		})
		r.entries.mu.Unlock()
		r.closeMu.Lock()
		r.closing = closingQueue{}
		r.closeMu.Unlock()
		r.retiring = nil
		r.mu.Lock()
		r.h = nil
		r.mu.Unlock()
		close(r.done)
	})
	return r.closeErr
}

// takeLetGo moves the closed Tracks whose let-go mark is set to retiring
// (the drainer's).
func (r *Registry) takeLetGo() {
	r.closeMu.Lock()
	r.retiring = r.closing.takeLetGo(r.retiring)
	r.closeMu.Unlock()
}

// retireTaken lets go of retiring: called once a drain that started after
// they were taken has emptied the library's queue.
func (r *Registry) retireTaken() {
	r.entries.retire(r.retiring)
	r.retiring = r.retiring[:0]
}
