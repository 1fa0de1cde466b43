//go:build !cgo || trackstats_purego

package trackstats

// `make test-go` runs this package's tests without cgo with this file laid
// over the package (go test -overlay): the loader module, imported as a
// program built without cgo imports it. The package itself cannot require
// it (the loader's module requires this one).

import _ "github.com/trackstats/trackstats/cbindings/go/tsnocgo"
