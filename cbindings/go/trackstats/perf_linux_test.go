package trackstats

// What the SFU-shaped benchmarks read around their timed loops on Linux:
// the calling thread's CPU time and, where the machine has hardware
// counters, its cache misses. The Rust (benches/common/perf.rs) and C++
// (cbindings/cpp/bench/perf_counters.hpp) benches read the same.

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// threadCPUTime is CLOCK_THREAD_CPUTIME_ID of the calling OS thread (lock
// the goroutine to it): on a shared machine, time spent descheduled is not
// the code's.
func threadCPUTime() time.Duration {
	const clockThreadCPUTimeID = 3
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		panic(fmt.Sprintf("clock_gettime(CLOCK_THREAD_CPUTIME_ID): %v", errno))
	}
	return time.Duration(ts.Nano())
}

// perfEventNames are the counted events, in the order perfCounters.stop
// returns them: L1 data cache read misses (perf's L1-dcache-load-misses)
// and the CPU's generic cache misses (perf's cache-misses).
var perfEventNames = [2]string{"L1D-misses", "cache-misses"}

// perfEvents are perf_event_attr (type, config) of each: PERF_TYPE_HW_CACHE
// with L1D | OP_READ<<8 | RESULT_MISS<<16, and PERF_TYPE_HARDWARE with
// PERF_COUNT_HW_CACHE_MISSES.
var perfEvents = [2][2]uint64{{3, 0x10000}, {0, 3}}

// perfCounters count perfEvents on the OS thread that opened them.
type perfCounters struct{ fds [2]int }

const (
	perfIocEnable  = 0x2400
	perfIocDisable = 0x2401
	perfIocReset   = 0x2403
)

// openPerfCounters opens the counters on the calling thread (lock the
// goroutine to it first), or says why the machine has none.
func openPerfCounters() (*perfCounters, error) {
	var p perfCounters
	for i, ev := range perfEvents {
		// perf_event_attr, PERF_ATTR_SIZE_VER0 (64 bytes): type u32 and
		// size u32, config, then flags at byte 40: disabled,
		// exclude_kernel, exclude_hv.
		var attr [8]uint64
		attr[0] = ev[0] | 64<<32
		attr[1] = ev[1]
		attr[5] = 1 | 1<<5 | 1<<6
		fd, _, errno := syscall.Syscall6(syscall.SYS_PERF_EVENT_OPEN, uintptr(unsafe.Pointer(&attr)), 0, ^uintptr(0), ^uintptr(0), 0, 0)
		if errno != 0 {
			for _, f := range p.fds[:i] {
				syscall.Close(f)
			}
			return nil, fmt.Errorf("perf_event_open: %v", errno)
		}
		p.fds[i] = int(fd)
	}
	return &p, nil
}

func (p *perfCounters) ioctl(fd int, req uintptr) {
	syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), req, 0)
}

func (p *perfCounters) start() {
	for _, fd := range p.fds {
		p.ioctl(fd, perfIocReset)
		p.ioctl(fd, perfIocEnable)
	}
}

// stop stops the counters and returns their counts since start.
func (p *perfCounters) stop() [2]uint64 {
	for _, fd := range p.fds {
		p.ioctl(fd, perfIocDisable)
	}
	var out [2]uint64
	for i, fd := range p.fds {
		var b [8]byte
		if n, err := syscall.Read(fd, b[:]); err == nil && n == 8 {
			out[i] = *(*uint64)(unsafe.Pointer(&b[0]))
		}
	}
	return out
}

func (p *perfCounters) close() {
	for _, fd := range p.fds {
		syscall.Close(fd)
	}
}

// processFigures are what the whole-process probe reads of itself: CPU
// seconds (user and system) since the process started, and the resident
// set now, in bytes.
func processFigures() (cpu time.Duration, rss uint64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return cpu, residentBytes()
}

// residentBytes is the process's resident set now (/proc/self/statm).
func residentBytes() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}
