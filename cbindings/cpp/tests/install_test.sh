#!/usr/bin/env bash
# The packaging test (make test-cpp-install): `make install` into a temporary
# prefix, check the shared library's chain and SONAME against the header's
# version macros, then build the consumer project against it with find_package
# (static and shared) and with pkg-config, and run each; the shared consumers
# must record the SONAME and load the installed file by it.
# Usage: install_test.sh [make]
set -euo pipefail
cd "$(dirname "$0")/../../.."
MAKE_CMD=${1:-make}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/trackstats-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# CMake and ld.so print paths normalized (no "//", symlinks resolved by some),
# so compare against the canonical path: TMPDIR=/tmp/ made "/tmp//..." once.
tmp=$(cd "$tmp" && pwd -P)
prefix="$tmp/prefix"

fail() { echo "install test: $*"; exit 1; }

$MAKE_CMD --no-print-directory install PREFIX="$prefix" >/dev/null
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
for f in lib/libtrackstats.a "lib/libtrackstats.so.$version" include/trackstats.h include/trackstats.hpp \
         lib/cmake/trackstats/trackstatsConfig.cmake lib/cmake/trackstats/trackstatsConfigVersion.cmake \
         lib/pkgconfig/trackstats.pc; do
  test -f "$prefix/$f" && ! test -L "$prefix/$f" || fail "$f was not installed as a file"
done

# The SONAME carries the ABI's number: the major version, or 0.MINOR before
# 1.0. It is derived here from the installed header's version macros, so the
# header, Cargo's version and the library cannot disagree.
cat > "$tmp/macros.c" <<'EOF'
#include <stdio.h>
#include <trackstats.h>
int main(void) {
    printf("%d %d %d\n", (int)TRACKSTATS_VERSION_MAJOR, (int)TRACKSTATS_VERSION_MINOR, (int)TRACKSTATS_VERSION_PATCH);
    return 0;
}
EOF
cc -I"$prefix/include" "$tmp/macros.c" -o "$tmp/macros" || fail "trackstats.h lacks TRACKSTATS_VERSION_MAJOR/MINOR/PATCH"
read -r major minor patch < <("$tmp/macros")
[ "$major.$minor.$patch" = "$version" ] || fail "header macros say $major.$minor.$patch, Cargo.toml $version"
if [ "$major" = 0 ]; then soname="libtrackstats.so.0.$minor"; else soname="libtrackstats.so.$major"; fi
lib="$prefix/lib"
got=$(readelf -d "$lib/libtrackstats.so.$version" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$got" = "$soname" ] || fail "SONAME is '$got', expected $soname"
[ "$(readlink "$lib/$soname")" = "libtrackstats.so.$version" ] || fail "$soname is not a link to libtrackstats.so.$version"
[ "$(readlink "$lib/libtrackstats.so")" = "$soname" ] || fail "libtrackstats.so is not a link to $soname"

# A shared consumer: records the SONAME (not a path, not the bare .so) and loads
# the installed file through its own RUNPATH, so an LD_LIBRARY_PATH inherited
# from the caller's shell is not allowed to help.
check_shared() {
  local needed loaded
  needed=$(readelf -d "$1" | sed -n 's/.*Shared library: \[\(libtrackstats[^]]*\)\]/\1/p')
  [ "$needed" = "$soname" ] || fail "$(basename "$1") records '$needed', expected $soname"
  loaded=$(env -u LD_LIBRARY_PATH ldd "$1" | awk -v s="$soname" '$1 == s { print $3 }')
  if [ -z "$loaded" ] || [ "$(realpath "$loaded")" != "$(realpath "$lib/libtrackstats.so.$version")" ]; then
    env -u LD_LIBRARY_PATH ldd "$1"
    fail "$(basename "$1") does not load the installed $soname"
  fi
  env -u LD_LIBRARY_PATH "$1"
}

# find_package, from a copy of the consumer project outside the source tree.
cp -r cbindings/cpp/tests/consumer "$tmp/src"
cmake -S "$tmp/src" -B "$tmp/build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$tmp/build" >/dev/null
"$tmp/build/consumer"
check_shared "$tmp/build/consumer_shared"
if ldd "$tmp/build/consumer" | grep -q libtrackstats; then
  fail "the static consumer depends on libtrackstats.so"
fi

# A version the package does not satisfy must be refused.
cp -r "$tmp/src" "$tmp/src99"
sed -i 's/find_package(trackstats 0\.1 /find_package(trackstats 99.0 /' "$tmp/src99/CMakeLists.txt"
grep -q 'find_package(trackstats 99.0 ' "$tmp/src99/CMakeLists.txt"
if cmake -S "$tmp/src99" -B "$tmp/build99" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null 2>&1; then
  fail "find_package(trackstats 99.0) accepted the installed version"
fi

# pkg-config, with a plain compiler command line: -ltrackstats finds the
# libtrackstats.so link, so this consumer is a shared one too.
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
test "$(pkg-config --modversion trackstats)" = "$version"
c++ -std=c++17 -Wall -Wextra -Werror cbindings/cpp/tests/consumer/main.cpp $(pkg-config --cflags --libs trackstats) \
  -Wl,-rpath,"$prefix/lib" -o "$tmp/consumer_pc"
check_shared "$tmp/consumer_pc"
echo "install test: $soname chain; find_package (static, shared) and pkg-config consumers built and ran"
