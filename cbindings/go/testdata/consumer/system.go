//go:build cgo && !trackstats_purego && trackstats_system

package main

const mode, noLibraryExpected = "cgo, the installed library (pkg-config)", false
