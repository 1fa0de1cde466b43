#!/usr/bin/env bash
# Installs Debian packages a make target needs, the way `make test` gets what
# a fresh machine lacks: apt-get as root (or through sudo). Fails with the
# command to run when neither is possible.
#
# usage: scripts/apt_install.sh WHY PACKAGE...
set -euo pipefail

why=$1
shift
echo "$why: installing $* with apt-get" >&2
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  apt=(apt-get)
elif command -v sudo >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  apt=(sudo apt-get)
else
  echo "error: $why needs $*; install them (Debian: apt-get install $*) and rerun" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${apt[@]}" -o DPkg::Lock::Timeout=300 update -qq
"${apt[@]}" -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "$@" >/dev/null
