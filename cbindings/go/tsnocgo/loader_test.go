package tsnocgo

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/trackstats/trackstats/cbindings/go/internal/clib"
)

// libraryFile writes the embedded library to a file and returns its path.
func libraryFile(t *testing.T) string {
	t.Helper()
	so := embedded()
	if so == nil {
		t.Skip("no embedded libtrackstats.so (run `make go-lib`)")
	}
	file := filepath.Join(t.TempDir(), "libtrackstats.so")
	if err := os.WriteFile(file, so, 0o755); err != nil {
		t.Fatal(err)
	}
	return file
}

// loadWith runs load with this SetLibrary path and TRACKSTATS_LIBRARY.
func loadWith(t *testing.T, setLibrary, env string) (*clib.Lib, error) {
	t.Helper()
	t.Setenv(EnvLibrary, env)
	SetLibrary(setLibrary)
	t.Cleanup(func() { SetLibrary("") })
	return load()
}

// exercise makes every call of l once, or more, and checks what the
// library says back: the loader's table against the library itself.
func exercise(t *testing.T, l *clib.Lib) {
	t.Helper()
	if v := l.Version(); v != clib.LibraryVersion {
		t.Errorf("Version() = %q", v)
	}
	if s := l.ResultString(clib.ResultEmptyID); !strings.Contains(s, "empty") {
		t.Errorf("ResultString(EMPTY_ID) = %q", s)
	}
	r, res := l.RegistryNew(1000, clib.ModeManual, clib.GraceDefaultMS)
	if res != clib.ResultOK {
		t.Fatalf("RegistryNew: %d", res)
	}
	defer l.RegistryFree(r)
	// The hosted blocks: Go memory the library uses until it lets go,
	// kept reachable to the end.
	words, pkt := new([clib.HostedWords]uint64), new([clib.HostedPacketWords]uint64)
	defer runtime.KeepAlive(pkt)
	defer runtime.KeepAlive(words)
	if _, res := l.TrackOpen(r, "", "t", "", 0, words); res != clib.ResultEmptyID {
		t.Errorf("TrackOpen with an empty id: %d", res)
	}
	tk, res := l.TrackOpen(r, "PA", "TR", "SE", 42, words)
	if res != clib.ResultOK || tk == nil {
		t.Fatalf("TrackOpen: %v %d", tk, res)
	}
	// The window-word rule by hand: 3 up records of 100 bytes.
	for i := 0; i < 3; i++ {
		if old := atomic.AddUint64(&words[clib.DirectionUp], clib.WordMessageOne|100) - (clib.WordMessageOne | 100); old == 0 {
			l.SlowPath(tk, clib.DirectionUp, old)
		}
	}
	l.Record(tk, clib.DirectionDown, clib.MaxInlineBytes+1)
	if res := l.AttachPacketWords(tk, pkt); res != clib.ResultOK {
		t.Errorf("AttachPacketWords: %d", res)
	}
	if res := l.AttachPacketWords(tk, pkt); res != clib.ResultInvalidArgument {
		t.Errorf("AttachPacketWords a second time: %d, want INVALID_ARGUMENT", res)
	}
	l.RecordUpPacket(tk, clib.MaxInlineBytes+1, 7, true)
	want := clib.Totals{UpBytes: 300 + clib.MaxInlineBytes + 1, UpMessages: 4, DownBytes: clib.MaxInlineBytes + 1,
		DownMessages: 1, UpFrames: 1}
	if got := l.TrackTotals(tk); got != want {
		t.Errorf("TrackTotals = %+v, want %+v", got, want)
	}
	if res := l.RegistryTick(r); res != clib.ResultOK {
		t.Errorf("RegistryTick: %d", res)
	}
	b, res := l.BatchNew(16)
	if res != clib.ResultOK {
		t.Fatalf("BatchNew: %d", res)
	}
	defer l.BatchFree(b)
	reports, res := l.FillBatch(r, b, -1)
	if res != clib.ResultOK || len(reports) != 2 {
		t.Fatalf("FillBatch: %d reports, %d", len(reports), res)
	}
	for _, rep := range reports {
		id := unsafe.String(rep.ParticipantID, int(rep.ParticipantIDLen)) + "/" +
			unsafe.String(rep.TrackID, int(rep.TrackIDLen)) + "/" + unsafe.String(rep.Country, int(rep.CountryLen))
		if rep.UserData != 42 || id != "PA/TR/SE" {
			t.Errorf("report of %s, user data %d", id, rep.UserData)
		}
		if rep.Direction == clib.DirectionUp && (rep.Bytes != want.UpBytes || rep.Messages != 4 || rep.Frames != 1) {
			t.Errorf("up report %+v", rep)
		}
	}
	l.TrackReleaseAfterGrace(tk) // the slot stays live for its grace
	if res := l.RegistryFlush(r); res != clib.ResultOK {
		t.Errorf("RegistryFlush: %d", res)
	}
	st, res := l.RegistryStats(r)
	if res != clib.ResultOK || st.OpenTracks != 0 || st.LiveSlots != 1 || st.Ticks != 1 {
		t.Errorf("RegistryStats = %+v, %d", st, res)
	}
	if res := l.RegistrySetTrackSeries(r, 10); res != clib.ResultOK {
		t.Errorf("RegistrySetTrackSeries: %d", res)
	}
	if res := l.RegistryTick(r); res != clib.ResultOK {
		t.Errorf("RegistryTick: %d", res)
	}
	fig, view, res := l.RegistryFigures(r)
	if res != clib.ResultOK || fig == nil || view == nil {
		t.Fatalf("RegistryFigures: %v %v %d", fig, view, res)
	}
	if view.CountriesLen != 1 || view.Stats.Ticks != 2 || !view.TrackSeriesOn || view.TrackSeriesLimit != 10 {
		t.Errorf("RegistryFigures view = %+v", *view)
	} else if c := unsafe.Slice(view.Countries, 1)[0]; c.UpBytes != want.UpBytes || c.DownMessages != 1 ||
		unsafe.String(c.Country, int(c.CountryLen)) != "SE" {
		t.Errorf("the country's figures = %+v", c)
	}
	l.FiguresFree(fig)
	buf := make([]byte, 1<<16)
	n, res := l.RegistryPrometheus(r, true, 10, "node-7", buf)
	if text := string(buf[:min(n, len(buf))]); res != clib.ResultOK || !strings.Contains(text, `node_id="node-7"`) ||
		!strings.Contains(text, "trackstats_bytes_total") {
		t.Errorf("RegistryPrometheus: %d bytes, %d:\n%s", n, res, text)
	}
	if atomic.LoadUint64(&words[clib.HostedWordLetGo]) != 0 {
		t.Error("the library let go of the block during its grace")
	}
	if res := l.RegistryClose(r); res != clib.ResultOK {
		t.Errorf("RegistryClose: %d", res)
	}
	// The close ended the grace: the block is let go, its totals in it.
	if atomic.LoadUint64(&words[clib.HostedWordLetGo]) != clib.HostedLetGo ||
		words[clib.HostedWordTotalUpBytes] != want.UpBytes || words[clib.HostedWordTotalUpBytes+3] != 1 {
		t.Errorf("after the close, the block is %v", *words)
	}
	if res := l.CountStale(r, 5, 1); res != clib.ResultOK {
		t.Errorf("CountStale: %d", res)
	}
	if st, _ := l.RegistryStats(r); st.StaleRecords != 1 || st.StaleBytes != 5 {
		t.Errorf("after CountStale: %d stale records, %d bytes", st.StaleRecords, st.StaleBytes)
	}
	if _, res := l.FillBatch(r, b, 10); res != clib.ResultRegistryClosed {
		t.Errorf("FillBatch after close and drain: %d, want REGISTRY_CLOSED", res)
	}
	_ = l.CHeapBytes()
}

func TestLoadsFromEachPlace(t *testing.T) {
	file := libraryFile(t)
	t.Run("embedded", func(t *testing.T) {
		l, err := loadWith(t, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(l.Source, "embedded") {
			t.Errorf("Source = %q", l.Source)
		}
		exercise(t, l)
	})
	t.Run("TRACKSTATS_LIBRARY", func(t *testing.T) {
		l, err := loadWith(t, "", file)
		if err != nil {
			t.Fatal(err)
		}
		if l.Source != file {
			t.Errorf("Source = %q, want %q", l.Source, file)
		}
		exercise(t, l)
	})
	t.Run("SetLibrary over TRACKSTATS_LIBRARY", func(t *testing.T) {
		l, err := loadWith(t, file, "/nowhere/libtrackstats.so")
		if err != nil {
			t.Fatal(err)
		}
		if l.Source != file {
			t.Errorf("Source = %q, want %q", l.Source, file)
		}
	})
	if linked := clib.Linked(); linked != nil {
		// The same checks on the cgo table: they hold for the library
		// itself, not only for the loader.
		t.Run("linked by cgo", func(t *testing.T) { exercise(t, linked) })
	}
}

func TestLoadErrorsSayWhatWasTried(t *testing.T) {
	t.Run("a named file that is missing", func(t *testing.T) {
		_, err := loadWith(t, "", "/nowhere/libtrackstats.so")
		if err == nil || !strings.Contains(err.Error(), "/nowhere/libtrackstats.so") || !strings.Contains(err.Error(), EnvLibrary) {
			t.Errorf("load() = %v", err)
		}
	})
	t.Run("a library that is not libtrackstats", func(t *testing.T) {
		_, err := loadWith(t, "libc.so.6", "")
		if err == nil || !strings.Contains(err.Error(), "has no trackstats_") {
			t.Errorf("load() = %v", err)
		}
	})
	t.Run("nothing anywhere", func(t *testing.T) {
		// In a fresh process: dlopen by name also finds a library this
		// process has loaded already (by its SONAME).
		cmd := exec.Command(os.Args[0], "-test.run=^TestNothingAnywhere$", "-test.v")
		cmd.Env = append(os.Environ(), nothingAnywhereEnv+"=1", "LD_LIBRARY_PATH="+t.TempDir(), EnvLibrary+"=")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestNothingAnywhere") &&
			!strings.Contains(string(out), "--- SKIP: TestNothingAnywhere") {
			t.Errorf("%v\n%s", err, out)
		}
		t.Logf("%s", out)
	})
}

const nothingAnywhereEnv = "TSNOCGO_TEST_NOTHING_ANYWHERE"

// TestNothingAnywhere is TestLoadErrorsSayWhatWasTried's "nothing
// anywhere", in the fresh process it starts.
func TestNothingAnywhere(t *testing.T) {
	if os.Getenv(nothingAnywhereEnv) == "" {
		t.Skip("run by TestLoadErrorsSayWhatWasTried in a fresh process")
	}
	findEmbedded = func() []byte { return nil }
	l, err := load()
	if err == nil {
		t.Skipf("the dynamic loader found %s", l.Source)
	}
	for _, want := range []string{"$" + EnvLibrary + " (not set)", "embedded", soname(), "SetLibrary"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not mention %q:\n%v", want, err)
		}
	}
}

func TestSonameIsTheLibrarys(t *testing.T) {
	so := embedded()
	if so == nil {
		t.Skip("no embedded libtrackstats.so (run `make go-lib`)")
	}
	f, err := elf.NewFile(bytes.NewReader(so))
	if err != nil {
		t.Fatal(err)
	}
	names, err := f.DynString(elf.DT_SONAME)
	if err != nil || len(names) != 1 {
		t.Fatalf("the library's SONAME: %v %v", names, err)
	}
	if names[0] != soname() {
		t.Errorf("the library's SONAME is %s, the loader looks for %s", names[0], soname())
	}
}
