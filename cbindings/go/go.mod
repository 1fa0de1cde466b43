module github.com/trackstats/trackstats/cbindings/go

// runtime.AddCleanup (the safety net that releases a dropped Track) is Go 1.24.
go 1.24
