#!/usr/bin/env bash
# The test command: installs what is missing, builds everything, runs every test
# (unit tests with ctest, then the integration tests against real servers).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

"$root/Resources/Scripts/install-dependencies.sh"
"$root/Resources/Scripts/build.sh"

echo "== Unit tests"
(cd "$root/build" && ctest --output-on-failure -j2)

echo "== Fuzz targets (a short run of each)"
"$root/Resources/Scripts/fuzz.sh" "${INBOUND_FUZZ_SECONDS:-10}"

echo "== Integration tests"
INBOUND_PLUGIN="$root/build/libOrthancInbound.so" "$root/IntegrationTests/run.sh"
