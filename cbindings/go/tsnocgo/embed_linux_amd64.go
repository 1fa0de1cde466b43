package tsnocgo

import "embed"

// lib is lib/linux_amd64: libtrackstats.so in a release, a README otherwise.
//
//go:embed lib/linux_amd64
var lib embed.FS

// sysMemfdCreate is memfd_create's system call number on linux/amd64 (the
// syscall package does not define it on every platform).
const sysMemfdCreate = 319
