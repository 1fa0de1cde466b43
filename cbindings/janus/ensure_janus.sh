#!/usr/bin/env bash
# Makes sure Debian's janus and janus-dev (with the glib and jansson headers
# janus-dev depends on) and pkg-config are installed: installs what is missing
# with apt-get (as root). The packaged Janus service is not started: while
# installing, a policy-rc.d denies service starts, unless the machine has one.
set -euo pipefail
have() {
  command -v janus >/dev/null && test -f /usr/include/janus/plugins/plugin.h && command -v pkg-config >/dev/null \
    && pkg-config --exists glib-2.0 jansson
}
have && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "error: Janus is missing and cannot be installed here (needs root and apt-get): apt-get install janus janus-dev pkg-config"
  exit 1
fi
echo "test-janus: installing Debian's janus, janus-dev and pkg-config"
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod 755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends janus janus-dev pkg-config >/dev/null
have || { echo "error: janus, janus-dev or pkg-config still missing after apt-get install"; exit 1; }
