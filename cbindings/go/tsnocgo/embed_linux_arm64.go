package tsnocgo

import "embed"

// lib is lib/linux_arm64: libtrackstats.so in a release, a README otherwise.
//
//go:embed lib/linux_arm64
var lib embed.FS

// sysMemfdCreate is memfd_create's system call number on linux/arm64 (the
// syscall package does not define it on every platform).
const sysMemfdCreate = 279
