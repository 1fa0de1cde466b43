// Package tsnocgo loads libtrackstats.so at run time, without cgo, for the
// trackstats package (github.com/trackstats/trackstats/cbindings/go/trackstats).
// Import it for its side effect in a program built with CGO_ENABLED=0 (or
// with the trackstats_purego tag):
//
//	import _ "github.com/trackstats/trackstats/cbindings/go/tsnocgo"
//
// With cgo the trackstats package links the library and this package does
// nothing, so importing it unconditionally is fine.
//
// The library is opened the first time trackstats.NewRegistry runs, from
// the first of:
//
//  1. the file SetLibrary named, or else the one the environment variable
//     TRACKSTATS_LIBRARY names (only that file is tried);
//  2. the copy this module embeds for the platform (a release carries
//     linux/amd64 and linux/arm64);
//  3. the library's SONAME (libtrackstats.so.0.MINOR before 1.0,
//     libtrackstats.so.MAJOR after), then libtrackstats.so, on the dynamic
//     loader's search path (LD_LIBRARY_PATH, ld.so.cache, the system
//     directories), such as a `make install` copy.
//
// If none loads, NewRegistry returns an error that lists what was tried.
// The library's version must be the one the trackstats package mirrors.
//
// Calls go through github.com/ebitengine/purego: only the trackstats
// package's slow paths (open, close, a window's first record, drain, ...);
// a record is a Go atomic add in every mode. A program using this package
// is dynamically linked against the C library (libc), which
// libtrackstats.so needs anyway.
package tsnocgo

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/trackstats/trackstats/cbindings/go/internal/clib"
)

// EnvLibrary is the environment variable naming the library file to load.
const EnvLibrary = "TRACKSTATS_LIBRARY"

var (
	pathMu sync.Mutex
	path   string
)

// SetLibrary names the library file to load (over TRACKSTATS_LIBRARY). It
// has an effect only before the first trackstats.NewRegistry.
func SetLibrary(file string) {
	pathMu.Lock()
	path = file
	pathMu.Unlock()
}

func init() { clib.SetLoader(load) }

// findEmbedded is embedded, but for tests of the search without it.
var findEmbedded = embedded

// load opens the library (see the package comment for the order) and
// builds the table of calls.
func load() (*clib.Lib, error) {
	pathMu.Lock()
	file := path
	pathMu.Unlock()
	if file == "" {
		file = os.Getenv(EnvLibrary)
	}
	if file != "" {
		l, err := open(file, file)
		if err != nil {
			return nil, fmt.Errorf("tsnocgo: loading %s (SetLibrary or $%s): %w", file, EnvLibrary, err)
		}
		return l, nil
	}
	tried := []string{"$" + EnvLibrary + " (not set)"}
	if so := findEmbedded(); so != nil {
		l, err := openEmbedded(so)
		if err == nil {
			return l, nil
		}
		tried = append(tried, fmt.Sprintf("the copy embedded for %s/%s: %v", runtime.GOOS, runtime.GOARCH, err))
	} else {
		tried = append(tried, fmt.Sprintf("a copy embedded for %s/%s (none in this build: a release of "+
			"this module carries one; in a checkout, run `make go-lib`)", runtime.GOOS, runtime.GOARCH))
	}
	for _, name := range []string{soname(), "libtrackstats.so"} {
		l, err := open(name, name+" (the dynamic loader's search path)")
		if err == nil {
			return l, nil
		}
		tried = append(tried, fmt.Sprintf("%s on the dynamic loader's search path: %v", name, err))
	}
	return nil, errors.New("tsnocgo: no libtrackstats.so; tried\n\t" + strings.Join(tried, "\n\t") +
		"\nset " + EnvLibrary + " to the library's path, or call tsnocgo.SetLibrary")
}

// soname is the library's SONAME, which build.rs sets (the rule's one
// definition; TestSonameIsTheLibrarys checks this copy against the
// library): the number whose change breaks the ABI, the major version or
// 0.MINOR before 1.0.
func soname() string {
	if clib.VersionMajor == 0 {
		return fmt.Sprintf("libtrackstats.so.0.%d", clib.VersionMinor)
	}
	return fmt.Sprintf("libtrackstats.so.%d", clib.VersionMajor)
}
