//go:build cgo && !trackstats_purego && !trackstats_system && !(linux && (amd64 || arm64))

package trackstats

// A release carries archives for linux/amd64 and linux/arm64 only.
// Elsewhere, link an installed library (-tags trackstats_system) or load it
// at run time (-tags trackstats_purego, or CGO_ENABLED=0, with the tsnocgo
// module): the identifier below, undefined, makes the compiler say so.

var _ = no_prebuilt_libtrackstats_for_this_platform__use_tag_trackstats_system_or_trackstats_purego
