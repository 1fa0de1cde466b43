package trackstats

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// seqCounts are the five sequence counts, cumulative or of one window.
type seqCounts struct {
	lost, recovered, outOfOrder, duplicated, frames uint64
}

func (c seqCounts) sub(o seqCounts) seqCounts {
	return seqCounts{c.lost - o.lost, c.recovered - o.recovered, c.outOfOrder - o.outOfOrder,
		c.duplicated - o.duplicated, c.frames - o.frames}
}

func (c seqCounts) add(o seqCounts) seqCounts {
	return seqCounts{c.lost + o.lost, c.recovered + o.recovered, c.outOfOrder + o.outOfOrder,
		c.duplicated + o.duplicated, c.frames + o.frames}
}

func reportCounts(r Report) seqCounts {
	return seqCounts{r.PacketsLost, r.PacketsRecovered, r.PacketsOutOfOrder, r.PacketsDuplicated, r.Frames}
}

func totalsCounts(t Totals) seqCounts {
	return seqCounts{t.UpPacketsLost, t.UpPacketsRecovered, t.UpPacketsOutOfOrder, t.UpPacketsDuplicated, t.UpFrames}
}

// seqModel is the reference rule of issue 7 written plainly, the way
// LiveKit's dataTrackStats keeps it: a signed count of outstanding loss
// that a late packet reduces (rather than the header's comparison of two
// cumulative counters), plus the gross lost and recovered counts that
// trackstats reports.
type seqModel struct {
	started     bool
	highest     uint16
	outstanding int64 // LiveKit's "packets lost": lost - recovered
	c           seqCounts
	bytes, msgs uint64
}

func (m *seqModel) packet(n uint64, seq uint16, eof bool) {
	m.bytes += n
	m.msgs++
	if !m.started {
		m.started, m.highest = true, seq
	} else {
		diff := seq - m.highest // mod 2^16
		switch {
		case diff == 0:
			m.c.duplicated++
			return
		case diff > 1<<15:
			m.c.outOfOrder++
			if m.outstanding > 0 {
				m.outstanding--
				m.c.recovered++
			}
		default:
			m.outstanding += int64(diff) - 1
			m.c.lost += uint64(diff) - 1
			m.highest = seq
		}
	}
	if eof {
		m.c.frames++
	}
}

// step is one packet, or a window end (tick) when tick is set.
type step struct {
	seq  uint16
	eof  bool
	size uint64 // 0: 100 bytes
	tick bool
}

func pk(seqs ...uint16) []step {
	s := make([]step, len(seqs))
	for i, q := range seqs {
		s[i] = step{seq: q, eof: true}
	}
	return s
}

var tick = []step{{tick: true}}

func cat(parts ...[]step) []step {
	var s []step
	for _, p := range parts {
		s = append(s, p...)
	}
	return s
}

// runSteps records steps on one track of a manual registry and checks, at
// every tick and at the end, the up report of the window against the
// model's window, and the Totals against the model's cumulative counts. It
// returns the model's cumulative counts.
func runSteps(t *testing.T, steps []step) seqCounts {
	t.Helper()
	r := newRegistry(t, WithManualTicking())
	tk := mustOpen(t, r, "PA_seq", "TR_seq", "SE", 9)
	var m seqModel
	var atTick seqModel // the model at the last tick
	window := 0
	endWindow := func() {
		t.Helper()
		if err := r.Tick(); err != nil {
			t.Fatal(err)
		}
		want := m.c.sub(atTick.c)
		wantBytes, wantMsgs := m.bytes-atTick.bytes, m.msgs-atTick.msgs
		var got seqCounts
		var gotBytes, gotMsgs uint64
		for _, rep := range drainAll(t, r) {
			if rep.Direction != Up {
				t.Errorf("window %d: a %v report from up packets: %+v", window, rep.Direction, rep)
				continue
			}
			got = got.add(reportCounts(rep))
			gotBytes += rep.Bytes
			gotMsgs += rep.Messages
		}
		if got != want || gotBytes != wantBytes || gotMsgs != wantMsgs {
			t.Errorf("window %d: reported %+v, %d B / %d msgs; model %+v, %d B / %d msgs",
				window, got, gotBytes, gotMsgs, want, wantBytes, wantMsgs)
		}
		atTick = m
		window++
	}
	for i, s := range steps {
		if s.tick {
			endWindow()
			continue
		}
		n := s.size
		if n == 0 {
			n = 100
		}
		tk.RecordUpPacket(n, s.seq, s.eof)
		m.packet(n, s.seq, s.eof)
		if got := totalsCounts(tk.Totals()); got != m.c {
			t.Fatalf("after step %d (seq %d): Totals %+v, model %+v", i, s.seq, got, m.c)
		}
	}
	endWindow()
	tot := tk.Totals()
	if tot.UpBytes != m.bytes || tot.UpMessages != m.msgs || tot.DownMessages != 0 {
		t.Errorf("Totals %+v: model %d B / %d msgs up", tot, m.bytes, m.msgs)
	}
	return m.c
}

// Each case checks the library against the model window by window, and the
// model against counts worked out by hand.
func TestRecordUpPacketMatchesTheReferenceRule(t *testing.T) {
	for _, c := range []struct {
		name  string
		steps []step
		want  seqCounts // cumulative, by hand
	}{
		{"in order", pk(1, 2, 3, 4, 5), seqCounts{frames: 5}},
		{"first packet only", pk(40000), seqCounts{frames: 1}},
		{"loss", pk(1, 2, 5, 6), seqCounts{lost: 2, frames: 4}},
		{"reorder", pk(1, 3, 2, 4), seqCounts{lost: 1, recovered: 1, outOfOrder: 1, frames: 4}},
		{"late with nothing outstanding", pk(5, 6, 3), seqCounts{outOfOrder: 1, frames: 3}},
		{"reorder beyond the outstanding loss", pk(1, 3, 2, 0, 2), seqCounts{lost: 1, recovered: 1, outOfOrder: 3, frames: 5}},
		{"duplicate is not a frame", pk(1, 2, 2, 2, 3), seqCounts{duplicated: 2, frames: 3}},
		{"duplicate of an older packet is out of order", pk(1, 2, 3, 2), seqCounts{outOfOrder: 1, frames: 4}},
		{"wrap at 65535", pk(65533, 65534, 65535, 0, 1), seqCounts{frames: 5}},
		{"loss across the wrap", pk(65534, 1), seqCounts{lost: 2, frames: 2}},
		{"reorder across the wrap", pk(65534, 0, 65535), seqCounts{lost: 1, recovered: 1, outOfOrder: 1, frames: 3}},
		{"longest gap", pk(0, 32768), seqCounts{lost: 32767, frames: 2}},
		{"a gap past half is the past", pk(0, 32769), seqCounts{outOfOrder: 1, frames: 2}},
		{"long gaps in a row", pk(0, 30000, 60000, 24464), seqCounts{lost: 3 * 29999, frames: 4}},
		{"frames only where marked", []step{{seq: 1}, {seq: 2, eof: true}, {seq: 3}, {seq: 3, eof: true}, {seq: 5, eof: true}},
			seqCounts{lost: 1, duplicated: 1, frames: 2}},
		{"reorder across a window boundary", cat(pk(1, 3), tick, pk(2)),
			seqCounts{lost: 1, recovered: 1, outOfOrder: 1, frames: 3}},
		{"loss and recovery windows apart", cat(pk(10, 14), tick, pk(15), tick, pk(11, 12), tick, tick, pk(13, 13)),
			seqCounts{lost: 3, recovered: 3, outOfOrder: 4, frames: 7}},
		{"large packets go through C on the same state",
			[]step{{seq: 1, eof: true}, {seq: 2, size: MaxInlineBytes + 1}, {seq: 4, eof: true}, {seq: 3, size: MaxInlineBytes + 5, eof: true}},
			seqCounts{lost: 1, recovered: 1, outOfOrder: 1, frames: 3}},
		{"a large first packet starts the stream", []step{{seq: 7, size: MaxInlineBytes + 1}, {seq: 9}},
			seqCounts{lost: 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var m seqModel
			for _, s := range c.steps {
				if !s.tick {
					m.packet(1, s.seq, s.eof)
				}
			}
			if m.c != c.want {
				t.Fatalf("the model gives %+v, worked out by hand %+v", m.c, c.want)
			}
			if got := runSteps(t, c.steps); got != c.want {
				t.Errorf("cumulative %+v, want %+v", got, c.want)
			}
		})
	}
}

// Long generated streams: loss, bursts, reordering (often across window
// ends), duplicates, wrap-arounds and the odd wild jump, compared with the
// model window by window.
func TestRecordUpPacketRandomizedAgainstModel(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0x5eed))
		var steps []step
		next := uint16(rng.IntN(1 << 16))
		var held []uint16 // packets delayed for reordering
		for i := 0; i < 50_000; i++ {
			switch x := rng.IntN(1000); {
			case x < 3:
				steps = append(steps, step{tick: true})
			case x < 40: // lost (or delayed: it may come back later)
				if rng.IntN(2) == 0 {
					held = append(held, next)
				}
				next++
			case x < 55 && len(held) > 0: // a late one arrives
				j := rng.IntN(len(held))
				steps = append(steps, step{seq: held[j], eof: rng.IntN(4) == 0})
				held = append(held[:j], held[j+1:]...)
			case x < 65: // a duplicate of the last or an older packet
				steps = append(steps, step{seq: next - 1 - uint16(rng.IntN(3)), eof: rng.IntN(4) == 0})
			case x < 67: // a burst of loss, up to the longest gap
				next += uint16(rng.IntN(1 << 15))
			case x < 68: // one wild packet, in the past half
				steps = append(steps, step{seq: next + uint16(1<<15+rng.IntN(1<<15)), eof: true})
			default:
				size := uint64(1 + rng.IntN(1500))
				if rng.IntN(5000) == 0 {
					size = MaxInlineBytes + 1
				}
				steps = append(steps, step{seq: next, eof: rng.IntN(4) == 0, size: size})
				next++
			}
		}
		got := runSteps(t, steps)
		if got.lost == 0 || got.recovered == 0 || got.outOfOrder == 0 || got.duplicated == 0 {
			t.Errorf("seed %d: the stream did not exercise every count: %+v", seed, got)
		}
	}
}

// With a sampler thread closing 1 ms windows underneath, one writer per
// track: the reports add up, per track, to the model's cumulative counts.
func TestRecordUpPacketExactWithSamplerThread(t *testing.T) {
	r := newRegistry(t, WithInterval(time.Millisecond))
	const tracks = 4
	models := make([]seqModel, tracks)
	var wg sync.WaitGroup
	tks := make([]*Track, tracks)
	for i := range tks {
		tks[i] = mustOpen(t, r, "PA", "TR", "", uint64(i))
	}
	// Long enough for dozens of windows to close under the writers.
	deadline := time.Now().Add(60 * time.Millisecond)
	before, _ := r.Stats()
	for i := range tks {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			seq := uint16(rng.IntN(1 << 16))
			for k := 0; k < 20_000 || time.Now().Before(deadline); k++ {
				s := seq
				switch rng.IntN(20) {
				case 0:
					s = seq + 2 // a gap: seq+1 comes next, out of order
				case 1:
					s = seq - 1 // a duplicate, or late
				}
				n := uint64(1 + rng.IntN(1200))
				eof := k%3 == 0
				tks[i].RecordUpPacket(n, s, eof)
				models[i].packet(n, s, eof)
				seq++
			}
		}(i)
	}
	got := make([]seqCounts, tracks)
	bytes := make([]uint64, tracks)
	take := func(rs []Report) {
		for _, rep := range rs {
			got[rep.UserData] = got[rep.UserData].add(reportCounts(rep))
			bytes[rep.UserData] += rep.Bytes
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		case <-time.After(time.Millisecond):
		}
		take(drainAll(t, r))
	}
	after, _ := r.Stats()
	if ticks := after.Ticks - before.Ticks; ticks < 10 {
		t.Errorf("only %d windows closed under the writers", ticks)
	}
	for _, tk := range tks {
		if err := tk.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	take(drainAll(t, r))
	for i := range models {
		if got[i] != models[i].c || bytes[i] != models[i].bytes {
			t.Errorf("track %d: reports add up to %+v, %d B; model %+v, %d B", i, got[i], bytes[i], models[i].c, models[i].bytes)
		}
		if models[i].c.lost == 0 || models[i].c.recovered == 0 || models[i].c.duplicated == 0 {
			t.Errorf("track %d: the stream did not exercise the counts: %+v", i, models[i].c)
		}
	}
}

// Several goroutines on one track at once (outside the exact contract):
// bytes and messages stay exact, nothing faults, and no count exceeds what
// the writers could have classified.
func TestRecordUpPacketConcurrentWritersStayBounded(t *testing.T) {
	r := newRegistry(t, WithInterval(time.Millisecond))
	tk := mustOpen(t, r, "PA", "TR", "", 1)
	const writers, packets = 4, 20_000
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for k := 0; k < packets; k++ {
				tk.RecordUpPacket(10, uint16(k*writers+w), true)
			}
		}(w)
	}
	wg.Wait()
	tot := tk.Totals()
	const all = writers * packets
	if tot.UpBytes != 10*all || tot.UpMessages != all {
		t.Errorf("bytes/messages %d/%d, want %d/%d", tot.UpBytes, tot.UpMessages, 10*all, all)
	}
	c := totalsCounts(tot)
	if c.outOfOrder+c.duplicated > all || c.recovered+c.duplicated > all || c.frames > all || c.lost > 32767*all {
		t.Errorf("counts beyond what %d packets can classify: %+v", all, c)
	}
	if c.frames == 0 {
		t.Errorf("no frame counted: %+v", c)
	}
}

func TestRecordUpPacketAllocatesNothing(t *testing.T) {
	r := newRegistry(t, WithManualTicking())
	tk := mustOpen(t, r, "p", "t", "", 1)
	var none *Track
	var seq uint16
	cases := map[string]func(){
		"RecordUpPacket":        func() { seq++; tk.RecordUpPacket(1200, seq, seq%2 == 0) },
		"RecordUpPacket(large)": func() { seq++; tk.RecordUpPacket(MaxInlineBytes+1, seq, false) },
		"nil RecordUpPacket":    func() { none.RecordUpPacket(1200, seq, true) },
	}
	for name, f := range cases {
		if a := testing.AllocsPerRun(1000, f); a != 0 {
			t.Errorf("%s allocates %.1f times per call", name, a)
		}
	}
	if x := tk.x.Load(); x == nil || x.pkt == nil {
		t.Error("the packet words were not taken: every packet went through C")
	}
}

// Packets recorded after Close are reported, flagged late, with their counts.
func TestRecordUpPacketAfterCloseIsLate(t *testing.T) {
	r := newRegistry(t, WithManualTicking())
	tk := mustOpen(t, r, "p", "t", "", 1)
	tk.RecordUpPacket(10, 1, true)
	if err := tk.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	rs := drainAll(t, r)
	if len(rs) != 1 || rs[0].Flags&FlagFinal == 0 || rs[0].Frames != 1 {
		t.Fatalf("final: %+v", rs)
	}
	tk.RecordUpPacket(10, 4, false)
	if err := r.Tick(); err != nil {
		t.Fatal(err)
	}
	rs = drainAll(t, r)
	if len(rs) != 1 || rs[0].Flags&FlagLate == 0 || rs[0].PacketsLost != 2 || rs[0].Bytes != 10 {
		t.Fatalf("late: %+v, want one late report with 2 lost", rs)
	}
}
