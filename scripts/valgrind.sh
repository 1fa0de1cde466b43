#!/usr/bin/env bash
# Runs one command under valgrind memcheck and fails on any memory error or
# on a definite or indirect leak (what `make test-valgrind` requires: zero
# leaks once the registry is freed). "Possibly lost" blocks are reported but
# not failed: the Rust runtime keeps a thread handle for the calling thread
# in thread-local storage that is released only at that thread's exit.
#
# usage: scripts/valgrind.sh PROGRAM [ARGS...]
set -euo pipefail

if ! command -v valgrind >/dev/null 2>&1; then
  echo "valgrind is not installed; make test-valgrind needs it. Installing it with apt-get..." >&2
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq valgrind >/dev/null
  elif command -v sudo >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo apt-get install -y -qq valgrind >/dev/null
  fi
  command -v valgrind >/dev/null 2>&1 || {
    echo "error: valgrind is required by make test-valgrind: install it (e.g. 'apt-get install valgrind')" >&2
    exit 1
  }
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
  --log-file="$log" "$@" || status=$?
summary=$(grep -E "ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|All heap blocks were freed" "$log" | sed 's/^==[0-9]*== *//')
if [ "$status" -ne 0 ]; then
  cat "$log" >&2
  echo "valgrind: FAILED ($*): exit status $status" >&2
  exit 1
fi
echo "valgrind: $* -- $(echo "$summary" | tr '\n' ';')"
