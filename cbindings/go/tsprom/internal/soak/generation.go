package main

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/trackstats/trackstats/cbindings/go/trackstats"
	"github.com/trackstats/trackstats/cbindings/go/tsprom"
)

// The three ways reports reach Go, one registry each per generation.
type delivery int

const (
	pull delivery = iota
	channel
	dispatch
)

func (d delivery) String() string { return [...]string{"pull", "channel", "dispatch"}[d] }

// countries are the tracks' countries, so that figures and overflow reports
// have several rows.
var countries = [...]string{"DE", "FR", "US", "BR", ""}

// ledger is one track's recorded and reported traffic, per direction: the
// recorders add before they record (so a report never runs ahead of the
// ledger), the report consumer adds what reports carry.
type ledger struct {
	country           string
	recBytes, recMsgs [2]atomic.Uint64
	repBytes, repMsgs [2]atomic.Uint64
}

func (l *ledger) record(dir trackstats.Direction, messages, bytes uint64) {
	l.recBytes[dir].Add(bytes)
	l.recMsgs[dir].Add(messages)
	stats.bytesRecorded.Add(bytes)
}

// reg is one registry of a generation and what the soak knows about it.
type reg struct {
	name string
	mode delivery
	r    *trackstats.Registry
	prom *prometheus.Registry // the tsprom collector of r

	mu      sync.Mutex
	tracks  map[uint64]*ledger      // by user data
	overRep map[[2]string][2]uint64 // overflow reports by (country, direction): bytes, messages

	consumed chan struct{} // the consumer goroutine ended
	// lastTotal is the figures' last total (bytes up + down), for the
	// monotonic check (the scraper's only).
	lastTotal uint64
}

// nextID numbers tracks over the whole run: a track's user data, never 0
// (the library's overflow reports carry 0).
var nextID atomic.Uint64

// stalled says whether consumers and listeners stop taking reports now:
// for 3 s in the middle of every 20 s of the generation (of the whole
// generation when shorter), never once it is stopping.
func (g *generation) stalled() bool {
	select {
	case <-g.stop:
		return false
	default:
	}
	period := min(20*time.Second, g.cfg.restart)
	phase := time.Since(g.start) % period
	return phase >= period/2 && phase < period/2+3*time.Second
}

type generation struct {
	n     int
	cfg   config
	start time.Time
	regs  []*reg
	stop  chan struct{}
	work  sync.WaitGroup // workers and the held-track recorders
	held  [][]*trackstats.Track
	// heldLedgers are the held tracks' ledgers, per registry.
	heldLedgers [][]*ledger
}

func startGeneration(n int, cfg config) (*generation, error) {
	g := &generation{n: n, cfg: cfg, start: time.Now(), stop: make(chan struct{})}
	for _, mode := range []delivery{pull, channel, dispatch} {
		opts := []trackstats.Option{trackstats.WithInterval(100 * time.Millisecond)}
		switch mode {
		case channel:
			opts = append(opts, trackstats.WithReportChannel(64))
		case dispatch:
			opts = append(opts, trackstats.WithDispatcher())
		}
		r, err := trackstats.NewRegistry(opts...)
		if err != nil {
			g.abort()
			return nil, err
		}
		c, err := tsprom.New(r)
		if err != nil {
			_ = r.Close()
			g.abort()
			return nil, err
		}
		pr := prometheus.NewRegistry()
		pr.MustRegister(c)
		g.regs = append(g.regs, &reg{
			name: fmt.Sprintf("g%d/%v", n, mode), mode: mode, r: r, prom: pr,
			tracks: map[uint64]*ledger{}, overRep: map[[2]string][2]uint64{},
			consumed: make(chan struct{}),
		})
	}
	for _, rg := range g.regs {
		go g.consume(rg)
		tks, ls := g.openHeld(rg)
		g.held = append(g.held, tks)
		g.heldLedgers = append(g.heldLedgers, ls)
		g.work.Add(1 + cfg.workers)
		go g.recordHeld(rg, tks, ls)
		for w := range cfg.workers {
			go g.churn(rg, uint64(n)<<32|uint64(w))
		}
	}
	return g, nil
}

// abort closes what a failed start made.
func (g *generation) abort() {
	for _, rg := range g.regs {
		_ = rg.r.Close()
	}
}

// open opens a track on rg with a fresh ledger (a listener on the
// dispatcher, and on every fourth track elsewhere).
func (g *generation) open(rg *reg, rnd *rand.Rand) (*trackstats.Track, *ledger, error) {
	id := nextID.Add(1)
	l := &ledger{country: countries[rnd.IntN(len(countries))]}
	p, t := fmt.Sprintf("PA_%d", id), fmt.Sprintf("TR_%d", id)
	var tk *trackstats.Track
	var err error
	if rg.mode == dispatch || id%4 == 0 {
		tk, err = rg.r.OpenTrackWithListener(p, t, l.country, id, &listener{g: g, rg: rg, l: l, slow: id%8 == 0})
	} else {
		rg.mu.Lock()
		rg.tracks[id] = l
		rg.mu.Unlock()
		tk, err = rg.r.OpenTrack(p, t, l.country, id)
	}
	if err != nil {
		return nil, nil, err
	}
	rg.mu.Lock()
	rg.tracks[id] = l // the listener's too, for the final check
	rg.mu.Unlock()
	stats.opened.Add(1)
	return tk, l, nil
}

func (g *generation) openHeld(rg *reg) ([]*trackstats.Track, []*ledger) {
	rnd := rand.New(rand.NewPCG(uint64(g.n), 1))
	tks := make([]*trackstats.Track, 0, g.cfg.held)
	ls := make([]*ledger, 0, g.cfg.held)
	for range g.cfg.held {
		tk, l, err := g.open(rg, rnd)
		if err != nil {
			violate("open: %s: a held track: %v", rg.name, err)
			continue
		}
		tks = append(tks, tk)
		ls = append(ls, l)
	}
	return tks, ls
}

// recordHeld records one message on every held track every 50 ms, both
// directions in turn, until the generation stops; then it closes half of
// them and leaves the rest to Registry.Close.
func (g *generation) recordHeld(rg *reg, tks []*trackstats.Track, ls []*ledger) {
	defer g.work.Done()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-g.stop:
			for j, tk := range tks {
				if j%2 == 0 {
					_ = tk.Close()
					stats.closed.Add(1)
				}
			}
			if g.cfg.inject == "sum" && len(tks) > 0 {
				tks[0].RecordUp(1) // unknown to the ledger
			}
			return
		case <-tick.C:
		}
		dir := trackstats.Direction(i % 2)
		for j, tk := range tks {
			n := uint64(100 + j%1000)
			ls[j].record(dir, 1, n)
			if dir == trackstats.Up {
				tk.RecordUp(n)
			} else {
				tk.RecordDown(n)
			}
		}
	}
}

// churn opens a track, records on it from two goroutines (one of them
// going on past Close), closes it or drops it, checks its Totals, and
// again until the generation stops.
func (g *generation) churn(rg *reg, seed uint64) {
	defer g.work.Done()
	rnd := rand.New(rand.NewPCG(seed, 2))
	for k := 0; ; k++ {
		select {
		case <-g.stop:
			return
		default:
		}
		tk, l, err := g.open(rg, rnd)
		if err != nil {
			violate("open: %s: %v", rg.name, err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		drop := k%3 == 2
		closed := make(chan struct{})
		var rec sync.WaitGroup
		for w := range 2 {
			rec.Add(1)
			go func() {
				defer rec.Done()
				recordSome(tk, l, rand.New(rand.NewPCG(seed^uint64(k), uint64(w))), 64)
				if w == 1 && !drop {
					<-closed
					recordSome(tk, l, rnd2(seed, k), 8) // late: after Close
				}
			}()
		}
		if !drop {
			// Close races the first goroutine's records.
			time.Sleep(time.Duration(rnd.IntN(200)) * time.Microsecond)
			if err := tk.Close(); err != nil {
				violate("close: %s: %v", rg.name, err)
			}
			stats.closed.Add(1)
			close(closed)
		}
		rec.Wait()
		checkTotals(rg, tk, l)
		if drop {
			stats.dropped.Add(1)
		}
		runtime.KeepAlive(tk)
		time.Sleep(time.Millisecond)
	}
}

func rnd2(seed uint64, k int) *rand.Rand { return rand.New(rand.NewPCG(seed, uint64(k)<<8)) }

// recordSome records n messages of random sizes, every record call in turn.
func recordSome(tk *trackstats.Track, l *ledger, rnd *rand.Rand, n int) {
	seq := uint16(rnd.Uint32())
	for i := range n {
		size := uint64(1 + rnd.IntN(1400))
		switch i % 4 {
		case 0:
			l.record(trackstats.Up, 1, size)
			tk.RecordUp(size)
		case 1:
			l.record(trackstats.Down, 1, size)
			tk.RecordDown(size)
		case 2:
			l.record(trackstats.Down, 3, 3*size)
			tk.RecordBatch(trackstats.Down, 3, 3*size)
		case 3:
			seq++
			l.record(trackstats.Up, 1, size)
			tk.RecordUpPacket(size, seq, i%8 == 3)
		}
	}
}

// checkTotals compares a track's Totals with its ledger once nothing
// records on it.
func checkTotals(rg *reg, tk *trackstats.Track, l *ledger) {
	t := tk.Totals()
	if t.UpBytes != l.recBytes[trackstats.Up].Load() || t.UpMessages != l.recMsgs[trackstats.Up].Load() ||
		t.DownBytes != l.recBytes[trackstats.Down].Load() || t.DownMessages != l.recMsgs[trackstats.Down].Load() {
		violate("totals: %s: a track's Totals %+v differ from what it recorded (up %d/%d, down %d/%d)", rg.name, t,
			l.recBytes[trackstats.Up].Load(), l.recMsgs[trackstats.Up].Load(),
			l.recBytes[trackstats.Down].Load(), l.recMsgs[trackstats.Down].Load())
	}
}

// listener takes a track's reports on the dispatcher (or Drain's caller):
// one in eight is slow (1 ms a report), and every one stops while the
// generation's consumers stall.
type listener struct {
	g    *generation
	rg   *reg
	l    *ledger
	slow bool
}

func (x *listener) OnReport(r trackstats.Report) {
	if x.slow {
		time.Sleep(time.Millisecond)
	}
	for x.rg.mode == dispatch && x.g.stalled() {
		time.Sleep(100 * time.Millisecond)
	}
	x.rg.add(x.l, r)
}

// add counts a report in its track's ledger; one that claims more than was
// recorded is a violation at once.
func (rg *reg) add(l *ledger, r trackstats.Report) {
	d := r.Direction
	if d > trackstats.Down {
		violate("report: %s: direction %d", rg.name, d)
		return
	}
	b, m := l.repBytes[d].Add(r.Bytes), l.repMsgs[d].Add(r.Messages)
	stats.bytesRep.Add(r.Bytes)
	if b > l.recBytes[d].Load() || m > l.recMsgs[d].Load() {
		violate("exactly once: %s: track %s/%s %v reported %d bytes / %d messages, more than recorded (%d / %d)",
			rg.name, r.ParticipantID, r.TrackID, d, b, m, l.recBytes[d].Load(), l.recMsgs[d].Load())
	}
}

// addPlain counts a report of a track without a listener (Drain, the
// report channel): by user data, or an overflow report by country.
func (rg *reg) addPlain(r trackstats.Report) {
	if r.Flags&trackstats.FlagOverflow != 0 {
		rg.mu.Lock()
		k := [2]string{r.Country, r.Direction.String()}
		v := rg.overRep[k]
		rg.overRep[k] = [2]uint64{v[0] + r.Bytes, v[1] + r.Messages}
		rg.mu.Unlock()
		stats.bytesRep.Add(r.Bytes)
		return
	}
	rg.mu.Lock()
	l := rg.tracks[r.UserData]
	rg.mu.Unlock()
	if l == nil {
		violate("report: %s: user data %d names no track opened here (%+v)", rg.name, r.UserData, r)
		return
	}
	rg.add(l, r)
}

// consume is the registry's report consumer until it is closed: Drain
// every 20 ms, or receive from the channel, pausing while stalled. The
// dispatcher's listeners stall themselves.
func (g *generation) consume(rg *reg) {
	defer close(rg.consumed)
	switch rg.mode {
	case pull:
		var buf []trackstats.Report
		for {
			select {
			case <-rg.r.Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
			if g.stalled() {
				continue
			}
			var err error
			buf, err = rg.r.Drain(buf[:0])
			if err != nil {
				violate("drain: %s: %v", rg.name, err)
			}
			for _, r := range buf {
				rg.addPlain(r)
			}
		}
	case channel:
		for r := range rg.r.Reports() {
			for g.stalled() {
				time.Sleep(100 * time.Millisecond)
			}
			rg.addPlain(r)
		}
	case dispatch:
		<-rg.r.Done()
	}
}

// finish stops the generation: the recorders end, each registry closes
// (delivering everything), the consumers end; then every track's ledger
// must balance.
func (g *generation) finish() {
	close(g.stop)
	g.work.Wait()
	for _, rg := range g.regs {
		// Nothing the soak does is rejected, panics or reaches a released
		// slot.
		if st, err := rg.r.Stats(); err != nil {
			violate("stats: %s: %v", rg.name, err)
		} else if st.RecordsRejected+st.SamplerPanics+st.SinkPanics+st.StaleRecords != 0 {
			violate("stats: %s: rejected %d, sampler panics %d, sink panics %d, stale records %d", rg.name,
				st.RecordsRejected, st.SamplerPanics, st.SinkPanics, st.StaleRecords)
		}
		closeStart := time.Now()
		done := make(chan error, 1)
		go func() { done <- rg.r.Close() }()
		select {
		case err := <-done:
			if err != nil {
				violate("close: %s: Registry.Close: %v", rg.name, err)
			}
		case <-time.After(60 * time.Second):
			violate("close: %s: Registry.Close has not returned after 60 s", rg.name)
			buf := make([]byte, 1<<20)
			fmt.Printf("%s\n", buf[:runtime.Stack(buf, true)])
			return
		}
		<-rg.consumed
		if rg.mode == pull {
			rs, err := rg.r.Drain(nil) // what Close kept
			if err != nil {
				violate("drain: %s: after Close: %v", rg.name, err)
			}
			for _, r := range rs {
				rg.addPlain(r)
			}
		}
		if d := time.Since(closeStart); d > 10*time.Second {
			violate("close: %s: Registry.Close took %v", rg.name, d)
		}
		rg.balance()
	}
	// Nothing of this generation stays reachable from the soak.
	g.held, g.heldLedgers, g.regs = nil, nil, nil
}

// balance checks, once rg is closed and drained, that each track's reports
// add up to what it recorded, except what overflow reports hold (by
// country and direction), which must then be exactly the difference.
func (rg *reg) balance() {
	rg.mu.Lock()
	defer rg.mu.Unlock()
	short := map[[2]string][2]uint64{}
	for id, l := range rg.tracks {
		for d := trackstats.Up; d <= trackstats.Down; d++ {
			rb, rm := l.recBytes[d].Load(), l.recMsgs[d].Load()
			pb, pm := l.repBytes[d].Load(), l.repMsgs[d].Load()
			if pb > rb || pm > rm {
				violate("exactly once: %s: track %d %v reported %d / %d, recorded %d / %d", rg.name, id, d, pb, pm, rb, rm)
				continue
			}
			if pb != rb || pm != rm {
				k := [2]string{l.country, d.String()}
				v := short[k]
				short[k] = [2]uint64{v[0] + rb - pb, v[1] + rm - pm}
			}
		}
	}
	for k, v := range short {
		if o := rg.overRep[k]; o != v {
			violate("exactly once: %s: country %q %s: tracks are short of %d bytes / %d messages, overflow reports hold %d / %d",
				rg.name, k[0], k[1], v[0], v[1], o[0], o[1])
		}
	}
	for k, o := range rg.overRep {
		if _, ok := short[k]; !ok {
			violate("exactly once: %s: country %q %s: overflow reports hold %d / %d that no track is short of", rg.name, k[0], k[1], o[0], o[1])
		}
	}
	rg.tracks = nil
}
