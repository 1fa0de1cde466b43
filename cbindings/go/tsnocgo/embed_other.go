//go:build !linux || !(amd64 || arm64)

package tsnocgo

import (
	"errors"

	"github.com/trackstats/trackstats/cbindings/go/internal/clib"
)

// A release embeds the library for linux/amd64 and linux/arm64 only; here
// it is found by path (TRACKSTATS_LIBRARY, SetLibrary, or the dynamic
// loader's search path).
func embedded() []byte { return nil }

func openEmbedded([]byte) (*clib.Lib, error) { return nil, errors.New("no embedded library here") }
