//go:build linux && (amd64 || arm64)

package tsnocgo

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"unsafe"

	"github.com/trackstats/trackstats/cbindings/go/internal/clib"
)

// embedded is the library a release embeds for this platform
// (lib/<GOOS>_<GOARCH>/libtrackstats.so, in embed_<GOOS>_<GOARCH>.go), or
// nil.
func embedded() []byte {
	so, err := lib.ReadFile("lib/" + runtime.GOOS + "_" + runtime.GOARCH + "/libtrackstats.so")
	if err != nil {
		return nil
	}
	return so
}

// openEmbedded loads the embedded library from an anonymous memory file
// (memfd_create), so nothing is written to disk and a noexec /tmp does not
// matter.
func openEmbedded(so []byte) (*clib.Lib, error) {
	name, _ := syscall.BytePtrFromString("libtrackstats.so")
	fd, _, errno := syscall.Syscall(sysMemfdCreate, uintptr(unsafe.Pointer(name)), mfdCloexec, 0)
	if errno != 0 {
		return nil, fmt.Errorf("memfd_create: %w", errno)
	}
	f := os.NewFile(fd, "memfd:libtrackstats.so")
	// The mapping dlopen makes outlives the descriptor.
	defer f.Close()
	if _, err := f.Write(so); err != nil {
		return nil, err
	}
	return open(fmt.Sprintf("/proc/self/fd/%d", fd), fmt.Sprintf("the libtrackstats.so embedded in tsnocgo for %s/%s", runtime.GOOS, runtime.GOARCH))
}

const mfdCloexec = 1 // MFD_CLOEXEC
