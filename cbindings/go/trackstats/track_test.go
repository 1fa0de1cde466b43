package trackstats

import (
	"errors"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trackstats/trackstats/cbindings/go/internal/clib"
)

func TestRecordTickDrain(t *testing.T) {
	r := newRegistry(t, WithManualTicking())
	tk := mustOpen(t, r, "PA_1", "TR_1", "DE", 42)
	tk.RecordUp(100)
	tk.RecordUp(200)
	tk.RecordDown(7)
	if got, want := tk.Totals(), (Totals{UpBytes: 300, UpMessages: 2, DownBytes: 7, DownMessages: 1}); got != want {
		t.Fatalf("Totals before tick = %+v, want %+v", got, want)
	}
	if err := r.Tick(); err != nil {
		t.Fatal(err)
	}
	rs := drainAll(t, r)
	if len(rs) != 2 {
		t.Fatalf("got %d reports, want 2: %+v", len(rs), rs)
	}
	for _, rep := range rs {
		if rep.UserData != 42 || rep.ParticipantID != "PA_1" || rep.TrackID != "TR_1" || rep.Country != "DE" {
			t.Errorf("report key = %+v", rep)
		}
		if !rep.End.After(rep.Start) && !rep.End.Equal(rep.Start) {
			t.Errorf("window ends before it starts: %v .. %v", rep.Start, rep.End)
		}
		switch rep.Direction {
		case Up:
			if rep.Bytes != 300 || rep.Messages != 2 {
				t.Errorf("up report = %d/%d", rep.Bytes, rep.Messages)
			}
		case Down:
			if rep.Bytes != 7 || rep.Messages != 1 {
				t.Errorf("down report = %d/%d", rep.Bytes, rep.Messages)
			}
		}
		if rep.Flags != 0 {
			t.Errorf("a regular window has flags %b", rep.Flags)
		}
	}
	if got := tk.Totals(); got.UpBytes != 300 || got.DownMessages != 1 {
		t.Errorf("Totals after tick = %+v", got)
	}
}

// Reports carry ids copied from the library's key, one string per key and
// shared by a track's adjacent reports: across several batches, with some
// tracks reporting one side only, every report names its own track.
func TestEveryReportCarriesItsOwnTracksIDs(t *testing.T) {
	r := newRegistry(t, WithManualTicking())
	const n = 2*batchCapacity + 100
	tracks := make([]*Track, n)
	countries := []string{"", "DE", "US", "SE"}
	for i := range tracks {
		tracks[i] = mustOpen(t, r, "PA_"+strconv.Itoa(i/3), "TR_"+strconv.Itoa(i), countries[i%4], uint64(i))
		if i%5 != 0 {
			tracks[i].RecordUp(uint64(i + 1))
		}
		if i%7 != 0 {
			tracks[i].RecordDown(uint64(i + 2))
		}
	}
	if err := r.Tick(); err != nil {
		t.Fatal(err)
	}
	rs := drainAll(t, r)
	want := 0
	for i := range tracks {
		if i%5 != 0 {
			want++
		}
		if i%7 != 0 {
			want++
		}
	}
	if len(rs) != want {
		t.Fatalf("%d reports, want %d", len(rs), want)
	}
	for _, rep := range rs {
		i := int(rep.UserData)
		if rep.ParticipantID != "PA_"+strconv.Itoa(i/3) || rep.TrackID != "TR_"+strconv.Itoa(i) || rep.Country != countries[i%4] {
			t.Fatalf("report of track %d names (%q, %q, %q)", i, rep.ParticipantID, rep.TrackID, rep.Country)
		}
		if b := uint64(i + 1 + int(rep.Direction)); rep.Bytes != b {
			t.Fatalf("track %d %v: %d bytes, want %d", i, rep.Direction, rep.Bytes, b)
		}
	}
	runtime.KeepAlive(tracks)
}

func TestNilTrackIsANoOp(t *testing.T) {
	var tk *Track
	tk.RecordUp(10)
	tk.RecordDown(MaxInlineBytes + 1)
	if err := tk.Close(); err != nil {
		t.Errorf("nil Close = %v", err)
	}
	if got := tk.Totals(); got != (Totals{}) {
		t.Errorf("nil Totals = %+v", got)
	}
}

func TestCloseIsIdempotentAndLateBytesAreReported(t *testing.T) {
	r := newRegistry(t, WithManualTicking())
	tk := mustOpen(t, r, "p", "t", "", 1)
	tk.RecordUp(10)
	for i := 0; i < 3; i++ {
		if err := tk.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	rs := drainAll(t, r)
	if len(rs) != 1 || rs[0].Bytes != 10 || rs[0].Flags&FlagFinal == 0 {
		t.Fatalf("after Close: %+v, want one final report of 10 bytes", rs)
	}
	if st, _ := r.Stats(); st.OpenTracks != 0 || st.LiveSlots != 1 {
		t.Errorf("closed, still held: stats %+v", st)
	}
	tk.RecordUp(5) // after Close: counted, flagged late
	if err := r.Tick(); err != nil {
		t.Fatal(err)
	}
	rs = drainAll(t, r)
	if len(rs) != 1 || rs[0].Bytes != 5 || rs[0].Flags&FlagLate == 0 {
		t.Fatalf("late record: %+v, want one late report of 5 bytes", rs)
	}
}

func TestLargeRecordsSpillAndReject(t *testing.T) {
	r := newRegistry(t, WithManualTicking())
	tk := mustOpen(t, r, "p", "t", "", 1)
	// 100k records of the largest inline size is 1.6 TiB: more than the
	// word's 40-bit byte field. Only the spill rule (done by Go on the
	// value the add returned) keeps the count exact.
	const n = 100_000
	for i := 0; i < n; i++ {
		tk.RecordUp(MaxInlineBytes)
	}
	tk.RecordDown(MaxInlineBytes + 1) // too big for the word: the C path
	tk.RecordDown(MaxRecordBytes + 1) // absurd: rejected, counted
	checkTotalsAndReports(t, r, tk, 1, Totals{UpBytes: n * MaxInlineBytes, UpMessages: n, DownBytes: MaxInlineBytes + 1, DownMessages: 1})
	if st, _ := r.Stats(); st.RecordsRejected != 1 {
		t.Errorf("RecordsRejected = %d, want 1", st.RecordsRejected)
	}
}

func TestRecordAllocatesNothing(t *testing.T) {
	r := newRegistry(t, WithManualTicking())
	tk := mustOpen(t, r, "p", "t", "", 1)
	var none *Track
	cases := map[string]func(){
		"RecordUp":        func() { tk.RecordUp(1200) },
		"RecordDown":      func() { tk.RecordDown(1200) },
		"nil RecordUp":    func() { none.RecordUp(1200) },
		"RecordUp(large)": func() { tk.RecordUp(MaxInlineBytes + 1) },
	}
	for name, f := range cases {
		if a := testing.AllocsPerRun(1000, f); a != 0 {
			t.Errorf("%s allocates %.1f times per call", name, a)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	r := newRegistry(t, WithManualTicking())
	for _, c := range badIDs {
		if _, err := r.OpenTrack(c.p, c.tr, c.country, 0); !errors.Is(err, c.want) {
			t.Errorf("OpenTrack(%.10q, %.10q, %.10q) = %v, want %v", c.p, c.tr, c.country, err, c.want)
		}
	}
	if n := r.entries.len(); n != 0 {
		t.Errorf("failed opens left %d entries", n)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.OpenTrack("p", "t", "", 0); !errors.Is(err, ErrRegistryClosed) {
		t.Errorf("OpenTrack after Close = %v", err)
	}
	if _, err := NewRegistry(WithInterval(0)); !errors.Is(err, ErrInvalidInterval) {
		t.Errorf("interval 0: %v", err)
	}
	if _, err := NewRegistry(WithInterval(2 * time.Hour)); !errors.Is(err, ErrInvalidInterval) {
		t.Errorf("interval 2h: %v", err)
	}
	th := newRegistry(t, WithInterval(time.Hour))
	if err := th.Tick(); !errors.Is(err, ErrWrongMode) {
		t.Errorf("Tick on a threaded registry = %v", err)
	}
	if ErrWrongMode.Error() == "" || !strings.HasPrefix(ErrWrongMode.Error(), "trackstats: ") {
		t.Errorf("error text %q", ErrWrongMode.Error())
	}
	// A registry inherited by a forked child (a Go process cannot fork
	// itself; tests/fork.rs provokes the code): the library's name for it.
	if err := resultErr(clib.ResultForked); !errors.Is(err, ErrForked) || !strings.Contains(err.Error(), "fork") {
		t.Errorf("FORKED = %v", err)
	}
	var nilReg *Registry
	if _, err := nilReg.OpenTrack("p", "t", "", 0); !errors.Is(err, ErrRegistryClosed) {
		t.Errorf("nil registry: %v", err)
	}
}

func TestVersion(t *testing.T) {
	if v := Version(); v == "" || !strings.Contains(v, ".") {
		t.Errorf("Version() = %q", v)
	}
}
