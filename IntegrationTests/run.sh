#!/bin/bash
# Runs the integration tests against a real Orthanc with the built plugin.
#   INBOUND_PLUGIN   the plugin to test (default: <repository>/build/libOrthancInbound.so)
#   INBOUND_KEEP_TMP set to keep the servers' temporary directories (logs, storage)
# Extra arguments go to pytest, e.g.  IntegrationTests/run.sh -k transfer_syntax
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
export INBOUND_PLUGIN="${INBOUND_PLUGIN:-$REPO/build/libOrthancInbound.so}"
PYTHON=/usr/bin/python3

if [ ! -f "$INBOUND_PLUGIN" ]; then
    echo "run.sh: no plugin at $INBOUND_PLUGIN (build it first, or set INBOUND_PLUGIN)" >&2
    exit 2
fi
if [ ! -x /usr/sbin/Orthanc ]; then
    echo "run.sh: /usr/sbin/Orthanc is missing (Debian package: orthanc)" >&2
    exit 2
fi

# The tests use Debian's Python packages only.
if ! "$PYTHON" -c 'import pytest, pydicom, requests, cryptography' 2>/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get install -y --no-install-recommends python3-pytest python3-pydicom python3-requests \
            python3-cryptography
    else
        echo "run.sh: install the Debian packages python3-pytest python3-pydicom python3-requests" \
            "python3-cryptography" >&2
        exit 2
    fi
fi

export INBOUND_PLUGIN="$(cd "$(dirname "$INBOUND_PLUGIN")" && pwd)/$(basename "$INBOUND_PLUGIN")"
export PYTHONDONTWRITEBYTECODE=1
cd "$HERE"
exec "$PYTHON" -m pytest -q -ra "$@"
