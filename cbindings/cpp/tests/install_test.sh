#!/usr/bin/env bash
# The packaging test (make test-cpp-install): `make install` into a temporary
# prefix, then build the consumer project against it with find_package (static
# and shared) and with pkg-config, and run each. Usage: install_test.sh [make]
set -euo pipefail
cd "$(dirname "$0")/../../.."
MAKE_CMD=${1:-make}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/trackstats-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# CMake and ld.so print paths normalized (no "//", symlinks resolved by some),
# so compare against the canonical path: TMPDIR=/tmp/ made "/tmp//..." once.
tmp=$(cd "$tmp" && pwd -P)
prefix="$tmp/prefix"

$MAKE_CMD --no-print-directory install PREFIX="$prefix" >/dev/null
for f in lib/libtrackstats.a lib/libtrackstats.so include/trackstats.h include/trackstats.hpp \
         lib/cmake/trackstats/trackstatsConfig.cmake lib/cmake/trackstats/trackstatsConfigVersion.cmake \
         lib/pkgconfig/trackstats.pc; do
  test -f "$prefix/$f" || { echo "install test: $f was not installed"; exit 1; }
done

# find_package, from a copy of the consumer project outside the source tree.
cp -r cbindings/cpp/tests/consumer "$tmp/src"
cmake -S "$tmp/src" -B "$tmp/build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$tmp/build" >/dev/null
"$tmp/build/consumer"
# The shared consumer must find the installed library by its own RUNPATH, so an
# LD_LIBRARY_PATH inherited from the caller's shell is not allowed to help.
env -u LD_LIBRARY_PATH "$tmp/build/consumer_shared"
loaded=$(env -u LD_LIBRARY_PATH ldd "$tmp/build/consumer_shared" | awk '$1 == "libtrackstats.so" { print $3 }')
if [ -z "$loaded" ] || [ "$(realpath "$loaded")" != "$(realpath "$prefix/lib/libtrackstats.so")" ]; then
  echo "install test: consumer_shared does not load the installed libtrackstats.so"
  env -u LD_LIBRARY_PATH ldd "$tmp/build/consumer_shared"
  exit 1
fi
if ldd "$tmp/build/consumer" | grep -q libtrackstats; then
  echo "install test: the static consumer depends on libtrackstats.so"; exit 1
fi

# A version the package does not satisfy must be refused.
cp -r "$tmp/src" "$tmp/src99"
sed -i 's/find_package(trackstats 0\.1 /find_package(trackstats 99.0 /' "$tmp/src99/CMakeLists.txt"
grep -q 'find_package(trackstats 99.0 ' "$tmp/src99/CMakeLists.txt"
if cmake -S "$tmp/src99" -B "$tmp/build99" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null 2>&1; then
  echo "install test: find_package(trackstats 99.0) accepted the installed version"; exit 1
fi

# pkg-config, with a plain compiler command line.
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
test "$(pkg-config --modversion trackstats)" = "$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)"
c++ -std=c++17 -Wall -Wextra -Werror cbindings/cpp/tests/consumer/main.cpp $(pkg-config --cflags --libs trackstats) \
  -Wl,-rpath,"$prefix/lib" -o "$tmp/consumer_pc"
"$tmp/consumer_pc"
echo "install test: find_package (static, shared) and pkg-config consumers built and ran"
