module github.com/trackstats/trackstats/cbindings/go

// Go 1.24: runtime.AddCleanup frees a pull registry nobody closed. (A
// dropped Track is released by its finalizer, runtime.SetFinalizer.)
go 1.24
