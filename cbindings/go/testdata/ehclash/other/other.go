// Package other is a cgo package over another Rust static library.
package other

// #cgo LDFLAGS: ${SRCDIR}/libother.a -lm -ldl -lpthread
// #include <stdint.h>
// uint64_t other_answer(uint64_t x);
import "C"

// Answer is other_answer: x+1, or 0 for 7 (a panic caught inside Rust).
func Answer(x uint64) uint64 { return uint64(C.other_answer(C.uint64_t(x))) }
