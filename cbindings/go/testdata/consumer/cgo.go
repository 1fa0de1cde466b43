//go:build cgo && !trackstats_purego && !trackstats_system

package main

const mode, noLibraryExpected = "cgo, the module's static archive", false
