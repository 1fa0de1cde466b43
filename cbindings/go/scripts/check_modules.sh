#!/usr/bin/env bash
# The in-repo Go modules hang together (make test-go): every module under
# cbindings/go is in go.work; requires the repository's own modules at the
# placeholder version, which go.work points at the checkout and a release
# pins (make go-module); and has no replace in its go.mod.
# Usage: check_modules.sh GO_DIR
set -euo pipefail
cd "$1"
placeholder=v0.0.0-00010101000000-000000000000
main=github.com/trackstats/trackstats/cbindings/go
status=0
grep -q "^replace $main $placeholder => \./\$" go.work \
  || { echo "error: $1/go.work must replace $main $placeholder with ./"; status=1; }
for mod in $(find . -name go.mod -not -path '*/testdata/*' | sort); do
  dir=$(dirname "$mod"); dir=${dir#./}
  p=${dir#.}
  grep -qE "^[[:space:]]*(use[[:space:]]+)?\./?$p/?[[:space:]]*$" go.work \
    || { echo "error: $1/go.work does not use ./$p"; status=1; }
  if grep -q '^[[:space:]]*replace' "$mod"; then
    echo "error: $1/$mod has a replace (in-repo modules find each other through go.work)"; status=1
  fi
  sed -n "s|^[[:space:]]*\(require[[:space:]]\{1,\}\)\{0,1\}\($main[^[:space:]]*\)[[:space:]]\{1,\}\(v[^[:space:]]*\).*|\2 \3|p" "$mod" |
    while read -r dep v; do
      [ "$v" = "$placeholder" ] || { echo "error: $1/$mod requires $dep $v, not the placeholder $placeholder"; exit 1; }
    done || status=1
done
exit $status
