//go:build !cgo || trackstats_purego

package trackstats

import "testing"

// callKind names how the library is called, in benchmark names.
const callKind = "loader"

func BenchmarkRecordNoCgo(b *testing.B) { benchRecord(b) }
