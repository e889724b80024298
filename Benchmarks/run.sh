#!/bin/bash
# Ingest benchmark: native POST /instances versus the upload API of Orthanc Inbound, on one real
# Orthanc with the built plugin. Results go to Benchmarks/results/ (ingest.json, .md, .png).
#   INBOUND_PLUGIN      the plugin (default: <repository>/build/libOrthancInbound.so)
#   INBOUND_BENCH_WORK  cache of the generated study and Orthanc's temporary directories
#                       (default: /var/tmp/orthanc-inbound-bench; put it on the disk to measure)
# Extra arguments go to ingest.py (--help lists them), e.g.  Benchmarks/run.sh --repeats 5
#
# Benchmarks/run.sh flood [ARGS]: the flood benchmark instead (flood.py: the Gateway sample
# behind the shipped nginx site, a legitimate upload while another address floods; results
# flood.json, .md, .png). It also needs nginx and openssl.
#
# Benchmarks/run.sh pull [ARGS]: the pull benchmark instead (pull.py: a gateway and an internal
# Orthanc on loopback; the plugin's pull of the study against Orthanc's own peer push, and the
# latency of a 1-file upload; results pull.json, .md, .png).
set -euo pipefail

SCRIPT=ingest.py
if [ "${1:-}" = pull ]; then
    SCRIPT=pull.py
    shift
elif [ "${1:-}" = flood ]; then
    SCRIPT=flood.py
    shift
    for tool in /usr/sbin/nginx /usr/bin/openssl; do
        if [ ! -x "$tool" ]; then
            echo "run.sh: $tool is missing (Debian packages: nginx, openssl)" >&2
            exit 2
        fi
    done
fi

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
export INBOUND_PLUGIN="${INBOUND_PLUGIN:-$REPO/build/libOrthancInbound.so}"
PYTHON=/usr/bin/python3

if [ ! -f "$INBOUND_PLUGIN" ]; then
    echo "run.sh: no plugin at $INBOUND_PLUGIN (build it first: cmake --build build, or set INBOUND_PLUGIN)" >&2
    exit 2
fi
if [ ! -x /usr/sbin/Orthanc ]; then
    echo "run.sh: /usr/sbin/Orthanc is missing (Debian package: orthanc)" >&2
    exit 2
fi

# Debian's Python packages only.
if ! "$PYTHON" -c 'import pydicom, numpy, matplotlib, requests' 2>/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get install -y --no-install-recommends \
            python3-pydicom python3-numpy python3-matplotlib python3-requests
    else
        echo "run.sh: install the Debian packages python3-pydicom python3-numpy python3-matplotlib python3-requests" >&2
        exit 2
    fi
fi

export INBOUND_PLUGIN="$(cd "$(dirname "$INBOUND_PLUGIN")" && pwd)/$(basename "$INBOUND_PLUGIN")"
export PYTHONDONTWRITEBYTECODE=1
exec "$PYTHON" "$HERE/$SCRIPT" "$@"
