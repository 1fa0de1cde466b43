//go:build !(darwin || freebsd || linux || netbsd)

package tsnocgo

import (
	"fmt"
	"runtime"

	"github.com/trackstats/trackstats/cbindings/go/internal/clib"
)

// open: purego loads libraries with dlopen, which this system lacks; the
// package still compiles, so that a program importing it builds here too,
// and NewRegistry says why it has no library.
func open(file, _ string) (*clib.Lib, error) {
	return nil, fmt.Errorf("%s: loading a library at run time is not supported on %s", file, runtime.GOOS)
}
