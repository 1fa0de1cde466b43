//go:build (!cgo || trackstats_purego) && !consumer_noloader

package main

// Without cgo the library is loaded at run time by the loader module.
import _ "github.com/trackstats/trackstats/cbindings/go/tsnocgo"

const mode, noLibraryExpected = "no cgo (tsnocgo)", false
