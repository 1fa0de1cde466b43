#!/usr/bin/env bash
# The shared library's ABI surface (make test-c-abi), from the build tree:
#   - it exports exactly the functions the header declares, all trackstats_*
#     (nm -D: nothing of Rust's standard library or of libc leaks out);
#   - it has a SONAME, libtrackstats.so.<abi> (readelf -d), and the build
#     tree's link by that name lets a program linked against it run;
#   - the header's version macros match trackstats_version().
# Usage: abi_check.sh <libtrackstats.so> <header> <version_check binary>
set -euo pipefail
lib=$1 header=$2 version_check=$3
fail() { echo "abi check: $*"; exit 1; }

exported=$(nm -D --defined-only "$lib" | awk '{ print $NF }' | sort -u)
stray=$(grep -v '^trackstats_' <<<"$exported" || true)
[ -z "$stray" ] || fail "exports symbols outside trackstats_*: $(tr '\n' ' ' <<<"$stray")"
# Declarations only: comment lines may name calls in prose.
declared=$(grep -vE '^[[:space:]]*(//|\*|/\*)' "$header" | grep -oE '\btrackstats_[a-z0-9_]+\(' | tr -d '(' | sort -u)
[ -n "$declared" ] || fail "found no function declarations in $header"
missing=$(comm -23 <(echo "$declared") <(echo "$exported"))
[ -z "$missing" ] || fail "declared in $header but not exported: $(tr '\n' ' ' <<<"$missing")"
extra=$(comm -13 <(echo "$declared") <(echo "$exported"))
[ -z "$extra" ] || fail "exported but not declared in $header: $(tr '\n' ' ' <<<"$extra")"

soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[[ "$soname" =~ ^libtrackstats\.so\.[0-9]+(\.[0-9]+)?$ ]] || fail "SONAME is '$soname', expected libtrackstats.so.<abi>"
needed=$(readelf -d "$version_check" | sed -n 's/.*Shared library: \[\(libtrackstats[^]]*\)\]/\1/p')
[ "$needed" = "$soname" ] || fail "a program linked against $lib records '$needed', not the SONAME $soname"
env -u LD_LIBRARY_PATH "$version_check"
echo "abi check: $(wc -l <<<"$exported") exported symbols, all trackstats_* and all declared; SONAME $soname"
