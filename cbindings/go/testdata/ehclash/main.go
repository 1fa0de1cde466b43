// The rust_eh_personality check of scripts/test_release.sh: a program that
// links trackstats and another Rust static library (package other, built by
// the script with a different Rust compiler), as an SFU linking
// wasmtime-go does. Two Rust standard libraries from different compilers
// in one static link both define rust_eh_personality
// (rust-lang/rust#44322); the build modes that link no trackstats archive
// avoid it.
package main

import (
	"fmt"
	"os"

	"example.com/ehclash/other"
	"github.com/trackstats/trackstats/cbindings/go/trackstats"
)

func main() {
	reg, err := trackstats.NewRegistry(trackstats.WithManualTicking())
	if err != nil {
		fmt.Println("ehclash:", err)
		os.Exit(1)
	}
	defer reg.Close()
	t, err := reg.OpenTrack("PA", "TR", "", 1)
	if err != nil {
		fmt.Println("ehclash:", err)
		os.Exit(1)
	}
	t.RecordUp(1200)
	_ = reg.Tick()
	rs, _ := reg.Drain(nil)
	// other_answer(7) panics inside the other library and catches it: its
	// unwinding (its rust_eh_personality) works beside trackstats.
	if len(rs) != 1 || rs[0].Bytes != 1200 || other.Answer(41) != 42 || other.Answer(7) != 0 {
		fmt.Println("ehclash: wrong results", rs, other.Answer(41), other.Answer(7))
		os.Exit(1)
	}
	fmt.Println("ok: trackstats and another Rust library in one binary")
}
