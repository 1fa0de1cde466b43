//go:build !linux

package trackstats

import (
	"errors"
	"syscall"
	"time"
)

// Elsewhere than Linux the SFU-shaped benchmarks time with the wall clock
// and count no misses (see perf_linux_test.go).

var benchStart = time.Now()

func threadCPUTime() time.Duration { return time.Since(benchStart) }

var perfEventNames = [2]string{"L1D-misses", "cache-misses"}

type perfCounters struct{}

func openPerfCounters() (*perfCounters, error) {
	return nil, errors.New("hardware counters are read on Linux only")
}

func (p *perfCounters) start()          {}
func (p *perfCounters) stop() [2]uint64 { return [2]uint64{} }
func (p *perfCounters) close()          {}

// processFigures: CPU seconds since the process started, and its peak
// resident set (the current one is Linux's).
func processFigures() (cpu time.Duration, rss uint64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		rss = uint64(ru.Maxrss)
	}
	return cpu, rss
}
