//go:build !cgo || trackstats_purego

package main

import _ "github.com/trackstats/trackstats/cbindings/go/tsnocgo"
