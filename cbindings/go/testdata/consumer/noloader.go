//go:build (!cgo || trackstats_purego) && consumer_noloader

package main

// A program built without cgo that forgot the loader: NewRegistry must
// say what is missing.
const mode, noLibraryExpected = "no cgo, no loader", true
