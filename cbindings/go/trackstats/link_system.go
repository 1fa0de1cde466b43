//go:build cgo && !trackstats_purego && trackstats_system

package trackstats

// The trackstats_system tag links an installed libtrackstats through
// pkg-config (the trackstats.pc that `make install` writes; set
// PKG_CONFIG_PATH for a prefix outside pkg-config's search path). The
// linker takes the shared library when the prefix has one. The installed
// version must be the one this module mirrors (NewRegistry checks).

// #cgo pkg-config: trackstats
import "C"

const linkedSource = "the installed libtrackstats (pkg-config trackstats), linked by cgo"
