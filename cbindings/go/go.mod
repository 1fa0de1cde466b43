module github.com/trackstats/trackstats/cbindings/go

// Go 1.24: runtime.AddCleanup frees the library's registry once the
// Registry and its Tracks are unreachable.
go 1.24
