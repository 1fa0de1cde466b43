//go:build cgo && !trackstats_purego && !trackstats_system

package trackstats

// The static archive that a release of this module carries for each
// platform, stripped, next to this file: libtrackstats_<GOOS>_<GOARCH>.a.
// In the repository `make go-lib` copies target/release/libtrackstats.a
// there (git-ignored). Linked statically, so a Go binary needs no
// libtrackstats.so at run time; the Rust standard library inside it needs
// libm, libdl and libpthread.

// #cgo linux,amd64 LDFLAGS: ${SRCDIR}/libtrackstats_linux_amd64.a -lm -ldl -lpthread
// #cgo linux,arm64 LDFLAGS: ${SRCDIR}/libtrackstats_linux_arm64.a -lm -ldl -lpthread
import "C"

import "runtime"

const linkedSource = "libtrackstats_" + runtime.GOOS + "_" + runtime.GOARCH + ".a, linked by cgo"
