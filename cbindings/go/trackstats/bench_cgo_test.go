//go:build cgo && !trackstats_purego

package trackstats

import "testing"

// callKind names how the library is called, in benchmark names.
const callKind = "cgo"

func BenchmarkRecord(b *testing.B) { benchRecord(b) }
