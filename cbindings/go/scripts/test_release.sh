#!/usr/bin/env bash
# The Go modules as a user gets them (make test-go-release):
#
#   1. a fresh consumer module, no replace, `go get`s both modules at VERSION
#      from a file-based module proxy (what `make go-module` assembles; the
#      checksum database off for them), builds with cgo and runs
#      testdata/consumer, which checks every count against its ground truth;
#   2. the same after `go mod vendor`, from the vendor tree alone (no module
#      cache, no proxy);
#   3. CGO_ENABLED=0, with the loader module: from the module cache and from
#      the vendor tree; and without the loader, where NewRegistry must say
#      what is missing;
#   4. the system-library mode: -tags trackstats_system against a
#      `make install` prefix (pkg-config), and the no-cgo loader pointed at
#      that prefix's library;
#   5. another Rust static library in the same binary (rust-lang/rust#44322):
#      which build modes link (see the README's table);
#   6. when the release carries linux/arm64 (make test-go-release-all): the
#      consumer cross-built for it, with and without cgo, and run under qemu.
#
# Usage: test_release.sh REPO PROXY VERSION PREFIX
set -euo pipefail
repo=$(cd "$1" && pwd) proxy=$(cd "$2" && pwd) version=$3 prefix=$(cd "$4" && pwd)
GO=${GO:-go}
mod=github.com/trackstats/trackstats/cbindings/go
platform=$($GO env GOOS)_$($GO env GOARCH)

# purego, which the loader module requires, from the usual proxy into the
# usual module cache (a no-op once the repository's own build fetched it).
(cd "$repo/cbindings/go/tsnocgo" && $GO mod download github.com/ebitengine/purego)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Hermetic: only the file proxy, a module cache of its own (the fake
# release never lands in the user's), no checksum database for our
# modules. purego comes from the proxy too (copied from the module cache
# the repository's own build filled), checked against tsnocgo's go.sum.
export GOPROXY=file://$proxy GONOSUMDB=$mod GOMODCACHE=$work/modcache GOFLAGS=-modcacherw GOWORK=off
purego=$(sed -n 's|^github.com/ebitengine/purego \(v[^ /]*\) .*|\1|p' "$repo/cbindings/go/tsnocgo/go.sum" | head -n1)
src=$(GOMODCACHE= GOPROXY= GOFLAGS= $GO env GOMODCACHE)/cache/download/github.com/ebitengine/purego/@v
mkdir -p "$proxy/github.com/ebitengine/purego/@v"
for f in info mod zip; do cp "$src/$purego.$f" "$proxy/github.com/ebitengine/purego/@v/"; done
echo "$purego" > "$proxy/github.com/ebitengine/purego/@v/list"

say() { printf '\n== %s\n' "$*"; }
run() { # run NAME ARGS...: runs a built program, which prints "ok: ..." on success
  local name=$1; shift
  "$@" | tee "$work/$name.out" | tail -n1
  grep -q '^ok: ' "$work/$name.out"
}

# A fresh module that takes trackstats by `go get` at VERSION.
new_consumer() { # new_consumer DIR TESTDATA
  mkdir -p "$1" && cp -r "$repo/cbindings/go/testdata/$2/." "$1/"
  (cd "$1" && $GO mod init "example.com/$2" >/dev/null 2>&1 \
    && cat "$repo/cbindings/go/tsnocgo/go.sum" >> go.sum \
    && $GO get "$mod@$version" "$mod/tsnocgo@$version" && $GO mod tidy)
  if grep -q replace "$1/go.mod"; then echo "error: $1/go.mod has a replace"; exit 1; fi
}

c=$work/consumer
say "1. go get $mod@$version from $proxy, cgo build"
new_consumer "$c" consumer
cd "$c"
cat go.mod
$GO build -o consumer-cgo . && run cgo ./consumer-cgo

say "2. go mod vendor, then the build from vendor/ alone"
$GO mod vendor
for f in "trackstats/libtrackstats_$platform.a" trackstats/trackstats.h "tsnocgo/lib/$platform/libtrackstats.so"; do
  test -f "vendor/$mod/$f" || { echo "error: vendor/$mod/$f is missing"; exit 1; }
done
GOMODCACHE=$work/empty GOPROXY=off $GO build -mod=vendor -o consumer-vendored . && run vendored ./consumer-vendored

say "3. CGO_ENABLED=0: the loader module, from the module cache and from vendor/"
CGO_ENABLED=0 $GO build -o consumer-nocgo . && run nocgo ./consumer-nocgo
CGO_ENABLED=0 GOMODCACHE=$work/empty GOPROXY=off $GO build -mod=vendor -o consumer-nocgo-vendored . \
  && run nocgo-vendored ./consumer-nocgo-vendored
CGO_ENABLED=0 $GO build -tags consumer_noloader -o consumer-noloader . && run noloader ./consumer-noloader

say "4. the system library: -tags trackstats_system (pkg-config, $prefix)"
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
$GO build -tags trackstats_system -o consumer-system .
ldd consumer-system | grep -q 'libtrackstats\.so' || { echo "error: consumer-system does not link libtrackstats.so"; exit 1; }
LD_LIBRARY_PATH=$prefix/lib run system ./consumer-system
TRACKSTATS_LIBRARY=$prefix/lib/libtrackstats.so run nocgo-system ./consumer-nocgo

say "5. another Rust static library in the same binary"
e=$work/ehclash
new_consumer "$e" ehclash
cd "$e"
# A second Rust compiler, as another project's prebuilt archive has: a
# rustup toolchain of another version if there is one; otherwise this
# compiler with the mangled names of its standard library renamed, which is
# what another version's archive differs by (its own crate hashes), while
# the unmangled rust_eh_personality stays the same.
own=$(rustc --version)
other=""
if [ -z "${EH_SIMULATE:-}" ] && command -v rustup >/dev/null; then
  for tc in $(rustup toolchain list 2>/dev/null | awk '{print $1}'); do
    v=$(rustup run "$tc" rustc --version 2>/dev/null) || continue
    if [ "$v" != "$own" ]; then other=$tc; break; fi
  done
fi
if [ -n "$other" ]; then
  echo "other library: $(rustup run "$other" rustc --version)"
  rustup run "$other" rustc --edition 2021 -O --crate-type staticlib -o other/libother.a other/other.rs
else
  echo "other library: $own, its standard library's mangled symbols renamed (no second toolchain)"
  rustc --edition 2021 -O --crate-type staticlib -o "$work/libother.a" other/other.rs
  readelf -sW "$work/libother.a" | awk '($5 == "GLOBAL" || $5 == "WEAK") && $8 ~ /^(_R|_ZN)/ {print $8, $8 "_other"}' \
    | sort -u > "$work/redefine.txt"
  objcopy --redefine-syms="$work/redefine.txt" "$work/libother.a" other/libother.a
fi
printf '%-34s %s\n' "build mode" "result"
if $GO build -o eh-static . > "$work/eh-static.log" 2>&1; then
  echo "error: the static archive linked beside another Rust library: the clash this test shows is gone"; exit 1
fi
grep -q "multiple definition of \`rust_eh_personality'" "$work/eh-static.log" \
  || { echo "error: the static build failed for another reason:"; cat "$work/eh-static.log"; exit 1; }
printf '%-34s %s\n' "cgo, static archive (default)" "link fails: multiple definition of rust_eh_personality"
$GO build -tags trackstats_system -o eh-system . && LD_LIBRARY_PATH=$prefix/lib run eh-system ./eh-system >/dev/null
printf '%-34s %s\n' "cgo, -tags trackstats_system" "links and runs"
$GO build -tags trackstats_purego -o eh-purego . && run eh-purego ./eh-purego >/dev/null
printf '%-34s %s\n' "cgo, -tags trackstats_purego" "links and runs"
echo "(CGO_ENABLED=0 links no C library at all)"

if [ -f "$c/vendor/$mod/trackstats/libtrackstats_linux_arm64.a" ]; then
  say "6. linux/arm64: cross builds, run under qemu-aarch64-static when installed"
  cd "$c"
  if command -v aarch64-linux-gnu-gcc >/dev/null; then
    GOARCH=arm64 CGO_ENABLED=1 CC=aarch64-linux-gnu-gcc $GO build -o consumer-arm64-cgo .
  else
    echo "no aarch64-linux-gnu-gcc (Debian: gcc-aarch64-linux-gnu): cgo build for arm64 skipped"
  fi
  GOARCH=arm64 CGO_ENABLED=0 $GO build -o consumer-arm64-nocgo .
  if command -v qemu-aarch64-static >/dev/null && [ -d /usr/aarch64-linux-gnu ]; then
    for b in consumer-arm64-*; do run "$b" qemu-aarch64-static -L /usr/aarch64-linux-gnu "./$b"; done
  else
    echo "no qemu-aarch64-static (Debian: qemu-user-static): built, not run"
  fi
fi

say "test_release.sh: every check passed"
