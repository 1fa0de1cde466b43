module github.com/trackstats/trackstats/cbindings/go/tsnocgo

// purego v0.11 needs Go 1.25.
go 1.25.0

require (
	github.com/ebitengine/purego v0.11.3
	// A placeholder: a release pins the released version (make go-module),
	// and go.work points it at the checkout.
	github.com/trackstats/trackstats/cbindings/go v0.0.0-00010101000000-000000000000
)
