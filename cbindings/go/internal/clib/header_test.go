package clib

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// header is the package's copy of include/trackstats.h, which the cgo build
// compiles and a release carries.
const header = "../../trackstats/trackstats.h"

// constants are the Go mirror of every TRACKSTATS_ constant of the header.
var constants = map[string]uint64{
	"TRACKSTATS_VERSION_MAJOR":              VersionMajor,
	"TRACKSTATS_VERSION_MINOR":              VersionMinor,
	"TRACKSTATS_VERSION_PATCH":              VersionPatch,
	"TRACKSTATS_INTERVAL_MIN_MS":            IntervalMinMS,
	"TRACKSTATS_INTERVAL_MAX_MS":            IntervalMaxMS,
	"TRACKSTATS_INTERVAL_DEFAULT_MS":        IntervalDefaultMS,
	"TRACKSTATS_MODE_THREAD":                ModeThread,
	"TRACKSTATS_MODE_MANUAL":                ModeManual,
	"TRACKSTATS_QUARANTINE_DEFAULT_MS":      QuarantineDefaultMS,
	"TRACKSTATS_QUARANTINE_DEFAULT_SLOTS":   QuarantineDefaultSlots,
	"TRACKSTATS_GRACE_DEFAULT_MS":           GraceDefaultMS,
	"TRACKSTATS_GRACE_DEFAULT_SLOTS":        GraceDefaultSlots,
	"TRACKSTATS_PENDING_CLOSED_DEFAULT":     PendingClosedDefault,
	"TRACKSTATS_MAX_TRACKS":                 MaxTracks,
	"TRACKSTATS_CONFIG_NEVER_REUSE":         ConfigNeverReuse,
	"TRACKSTATS_FLAG_FINAL":                 FlagFinal,
	"TRACKSTATS_FLAG_LATE":                  FlagLate,
	"TRACKSTATS_FLAG_MERGED":                FlagMerged,
	"TRACKSTATS_FLAG_OVERFLOW":              FlagOverflow,
	"TRACKSTATS_DIRECTION_UP":               DirectionUp,
	"TRACKSTATS_DIRECTION_DOWN":             DirectionDown,
	"TRACKSTATS_MAX_ID_BYTES":               MaxIDBytes,
	"TRACKSTATS_WORD_BYTES_BITS":            WordBytesBits,
	"TRACKSTATS_WORD_MESSAGE_ONE":           WordMessageOne,
	"TRACKSTATS_WORD_BYTES_MASK":            WordBytesMask,
	"TRACKSTATS_WORD_SPILL_MASK":            WordSpillMask,
	"TRACKSTATS_WORD_SEALED":                WordSealed,
	"TRACKSTATS_MAX_INLINE_BYTES":           MaxInlineBytes,
	"TRACKSTATS_MAX_RECORD_BYTES":           MaxRecordBytes,
	"TRACKSTATS_PACKET_WORD_STATE":          PacketWordState,
	"TRACKSTATS_PACKET_WORD_LOST":           PacketWordLost,
	"TRACKSTATS_PACKET_WORD_RECOVERED":      PacketWordRecovered,
	"TRACKSTATS_PACKET_WORD_OUT_OF_ORDER":   PacketWordOutOfOrder,
	"TRACKSTATS_PACKET_WORD_DUPLICATED":     PacketWordDuplicated,
	"TRACKSTATS_PACKET_WORD_FRAMES":         PacketWordFrames,
	"TRACKSTATS_PACKET_WORDS":               PacketWords,
	"TRACKSTATS_PACKET_STARTED":             PacketStarted,
	"TRACKSTATS_HOSTED_WORDS":               HostedWords,
	"TRACKSTATS_HOSTED_WORD_UP":             HostedWordUp,
	"TRACKSTATS_HOSTED_WORD_DOWN":           HostedWordDown,
	"TRACKSTATS_HOSTED_WORD_LET_GO":         HostedWordLetGo,
	"TRACKSTATS_HOSTED_WORD_TOTAL_UP_BYTES": HostedWordTotalUpBytes,
	"TRACKSTATS_HOSTED_LET_GO":              HostedLetGo,
	"TRACKSTATS_HOSTED_PACKET_WORDS":        HostedPacketWords,

	"TRACKSTATS_RESULT_OK":                  ResultOK,
	"TRACKSTATS_RESULT_NULL_ARGUMENT":       ResultNullArgument,
	"TRACKSTATS_RESULT_INVALID_UTF8":        ResultInvalidUTF8,
	"TRACKSTATS_RESULT_EMPTY_ID":            ResultEmptyID,
	"TRACKSTATS_RESULT_ID_TOO_LONG":         ResultIDTooLong,
	"TRACKSTATS_RESULT_INVALID_INTERVAL":    ResultInvalidInterval,
	"TRACKSTATS_RESULT_INVALID_CAPACITY":    ResultInvalidCapacity,
	"TRACKSTATS_RESULT_INVALID_ARGUMENT":    ResultInvalidArgument,
	"TRACKSTATS_RESULT_REGISTRY_CLOSED":     ResultRegistryClosed,
	"TRACKSTATS_RESULT_WRONG_MODE":          ResultWrongMode,
	"TRACKSTATS_RESULT_REENTRANT_CALL":      ResultReentrantCall,
	"TRACKSTATS_RESULT_TOO_MANY_TRACKS":     ResultTooManyTracks,
	"TRACKSTATS_RESULT_THREAD_SPAWN_FAILED": ResultThreadSpawnFailed,
	"TRACKSTATS_RESULT_PANIC":               ResultPanic,
	"TRACKSTATS_RESULT_FORKED":              ResultForked,
}

// layouts are the mirrored structs by C type name.
var layouts = map[string]any{
	"trackstats_report":             Report{},
	"trackstats_stats":              Stats{},
	"trackstats_totals":             Totals{},
	"trackstats_config":             Config{},
	"trackstats_prometheus_options": PrometheusOptions{},
	"trackstats_country_figures":    CountryFigures{},
	"trackstats_track_figures":      TrackFigures{},
	"trackstats_figures_view":       FiguresView{},
}

// headerFacts compiles a C program against the header that prints every
// constant it defines (names found in the header's text) and the size of
// each mirrored struct with the offset and size of each mirrored field, and
// returns its output as "name value" lines, parsed.
func headerFacts(t *testing.T) map[string]uint64 {
	t.Helper()
	text, err := os.ReadFile(header)
	if err != nil {
		t.Fatal(err)
	}
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	if _, err := exec.LookPath(cc); err != nil {
		t.Skipf("no C compiler (%s) to read the header with", cc)
	}
	// Object-like macros with a value (not the include guard) and enum
	// members.
	names := regexp.MustCompile(`(?m)^(?:#define (TRACKSTATS_[A-Z0-9_]+) .|\s+(TRACKSTATS_[A-Z0-9_]+) = )`)
	var src strings.Builder
	src.WriteString("#include <stddef.h>\n#include <stdio.h>\n#include \"trackstats.h\"\nint main(void) {\n")
	for _, m := range names.FindAllStringSubmatch(string(text), -1) {
		name := m[1] + m[2]
		fmt.Fprintf(&src, "  printf(\"%s %%llu\\n\", (unsigned long long)(%s));\n", name, name)
	}
	for ctype, mirror := range layouts {
		fmt.Fprintf(&src, "  printf(\"sizeof(%s) %%zu\\n\", sizeof(%s));\n", ctype, ctype)
		rt := reflect.TypeOf(mirror)
		for i := 0; i < rt.NumField(); i++ {
			f := rt.Field(i).Tag.Get("c")
			fmt.Fprintf(&src, "  printf(\"offsetof(%s, %s) %%zu\\n\", offsetof(%s, %s));\n", ctype, f, ctype, f)
			fmt.Fprintf(&src, "  printf(\"sizeof(%s.%s) %%zu\\n\", sizeof(((%s *)0)->%s));\n", ctype, f, ctype, f)
		}
	}
	src.WriteString("  return 0;\n}\n")

	dir := t.TempDir()
	cfile, bin := filepath.Join(dir, "facts.c"), filepath.Join(dir, "facts")
	if err := os.WriteFile(cfile, []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(filepath.Dir(header))
	if out, err := exec.Command(cc, "-std=c11", "-Wall", "-Werror", "-I", abs, "-o", bin, cfile).CombinedOutput(); err != nil {
		t.Fatalf("compiling the header's facts: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	facts := map[string]uint64{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseUint(line[i+1:], 10, 64)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		facts[line[:i]] = v
	}
	return facts
}

func TestConstantsMatchTheHeader(t *testing.T) {
	facts := headerFacts(t)
	seen := 0
	for name, c := range facts {
		if !strings.HasPrefix(name, "TRACKSTATS_") {
			continue
		}
		seen++
		g, ok := constants[name]
		switch {
		case !ok:
			t.Errorf("%s = %d is not mirrored: add it to internal/clib/consts.go and this test's table", name, c)
		case g != c:
			t.Errorf("%s: Go has %d, the header %d", name, g, c)
		}
	}
	for name := range constants {
		if _, ok := facts[name]; !ok {
			t.Errorf("%s is mirrored in Go but not in the header", name)
		}
	}
	if seen < len(constants) {
		t.Errorf("the header defines %d constants, Go mirrors %d", seen, len(constants))
	}
	if v := fmt.Sprintf("%d.%d.%d", VersionMajor, VersionMinor, VersionPatch); v != LibraryVersion {
		t.Errorf("LibraryVersion is %q, the version constants say %s", LibraryVersion, v)
	}
}

func TestLayoutsMatchTheHeader(t *testing.T) {
	facts := headerFacts(t)
	for ctype, mirror := range layouts {
		rt := reflect.TypeOf(mirror)
		if c := facts["sizeof("+ctype+")"]; uint64(rt.Size()) != c {
			t.Errorf("%s is %d bytes, its Go mirror %s %d", ctype, c, rt.Name(), rt.Size())
		}
		for i := 0; i < rt.NumField(); i++ {
			f := rt.Field(i)
			c := f.Tag.Get("c")
			if off := facts["offsetof("+ctype+", "+c+")"]; uint64(f.Offset) != off {
				t.Errorf("%s.%s is at %d, %s.%s at %d", ctype, c, off, rt.Name(), f.Name, f.Offset)
			}
			if size := facts["sizeof("+ctype+"."+c+")"]; uint64(f.Type.Size()) != size {
				t.Errorf("%s.%s is %d bytes, %s.%s %d", ctype, c, size, rt.Name(), f.Name, f.Type.Size())
			}
		}
	}
}
