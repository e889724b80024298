#!/usr/bin/env bash
# Builds the plugin, its web page and its unit tests into ./build (or $INBOUND_BUILD_DIR).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${INBOUND_BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DINBOUND_WARNINGS_AS_ERRORS="${INBOUND_WARNINGS_AS_ERRORS:-ON}" >/dev/null
cmake --build "$build" -j"${INBOUND_JOBS:-2}"
