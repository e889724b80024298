#!/bin/bash
# The benchmarks of Orthanc Inbound against native Orthanc 1.10.1, on real Orthanc processes
# with the built plugin. Results go to Benchmarks/results/.
#
#   Benchmarks/run.sh [all]          every benchmark in sequence (about 20 minutes), then the
#                                    summary: results/summary.{json,md,png} and the machine
#   Benchmarks/run.sh ingest [ARGS]  the upload API against POST /instances       (ingest.py)
#   Benchmarks/run.sh pull [ARGS]    the pull, sealed and plain, vs a peer push    (pull.py)
#   Benchmarks/run.sh inbox [ARGS]   latency to the recipient's mail, DMZ path     (inbox.py)
#   Benchmarks/run.sh flood [ARGS]   a legitimate upload through nginx under a flood (flood.py)
#   Benchmarks/run.sh cd [ARGS]      a CD of 2,000 x 200 KB as the upload page sends it, through
#                                    nginx, vs native POST /instances behind it    (cd.py)
#   Benchmarks/run.sh stow [ARGS]    a partner's STOW-RS vs the DICOMweb plugin's  (stow.py)
#   Benchmarks/run.sh reconcile [ARGS]  a reconciled release and a candidates round vs the
#                                    same by hand with Orthanc alone (reconcile.py)
#   Benchmarks/run.sh bigfile [ARGS] one 300 MB and one 1 GiB multi-frame file in parts to a
#                                    Standalone and through a sealing Gateway + Internal, peak
#                                    memory of every Orthanc vs native POST /instances and peer
#                                    push (bigfile.py)
#   Benchmarks/run.sh scaleout [ARGS]  the pull with one and with two Internals sharing one
#                                    PostgreSQL index, storage and ledger, and one Internal on the
#                                    PostgreSQL ledger vs the SQLite ledger (scaleout.py; not in
#                                    "all")
#   Benchmarks/run.sh ledger [ARGS]  the ingest with the PostgreSQL ledger vs the SQLite ledger
#                                    vs native POST /instances (ledger.py; not in "all")
#   Benchmarks/run.sh summary        the summary again, from the results of the last "all"
#
# ARGS go to the script (--help lists them), e.g.  Benchmarks/run.sh ingest --repeats 5
#   INBOUND_PLUGIN      the plugin (default: <repository>/build/libOrthancInbound.so)
#   INBOUND_BENCH_WORK  cache of the generated study and the servers' temporary directories
#                       (default: /var/tmp/orthanc-inbound-bench; put it on the disk to measure)
# Exits non-zero when something went wrong (an answer that is not 2xx, an instance missing, a
# server dying, no mail within the timeout); timings are never asserted.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
export INBOUND_PLUGIN="${INBOUND_PLUGIN:-$REPO/build/libOrthancInbound.so}"
PYTHON=/usr/bin/python3

WHAT="${1:-all}"
case "$WHAT" in
    all|ingest|pull|inbox|flood|cd|stow|reconcile|bigfile|scaleout|ledger|summary) if [ $# -gt 0 ]; then shift; fi ;;
    -*) WHAT=all ;;
    *) echo "usage: $0 [all|ingest|pull|inbox|flood|cd|stow|reconcile|bigfile|scaleout|ledger|summary] [ARGS]" >&2; exit 2 ;;
esac
if [ "$WHAT" = all ] && [ $# -gt 0 ]; then
    echo "run.sh all takes no arguments (each benchmark alone does: run.sh ingest --help)" >&2
    exit 2
fi

if [ ! -f "$INBOUND_PLUGIN" ]; then
    echo "run.sh: no plugin at $INBOUND_PLUGIN (build it first: cmake --build build, or set INBOUND_PLUGIN)" >&2
    exit 2
fi
if [ ! -x /usr/sbin/Orthanc ]; then
    echo "run.sh: /usr/sbin/Orthanc is missing (Debian package: orthanc)" >&2
    exit 2
fi
if { [ "$WHAT" = stow ] || [ "$WHAT" = all ]; } && [ ! -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so ]; then
    echo "run.sh: Orthanc's DICOMweb plugin is missing (Debian package: orthanc-dicomweb)" >&2
    exit 2
fi
if [ "$WHAT" = reconcile ] || [ "$WHAT" = all ]; then
    for tool in dcmqrscp dcmqridx wlmscpfs storescp; do
        if ! command -v "$tool" >/dev/null; then
            echo "run.sh: $tool is missing (Debian package: dcmtk)" >&2
            exit 2
        fi
    done
fi
if [ "$WHAT" = flood ] || [ "$WHAT" = cd ] || [ "$WHAT" = all ]; then
    for tool in /usr/sbin/nginx /usr/bin/openssl; do
        if [ ! -x "$tool" ]; then
            echo "run.sh: $tool is missing (Debian packages: nginx, openssl)" >&2
            exit 2
        fi
    done
fi
if [ "$WHAT" = scaleout ] || [ "$WHAT" = ledger ]; then
    # A real PostgreSQL server started as the postgres user (IntegrationTests/postgres.py).
    if [ ! -e /usr/share/orthanc/plugins/libOrthancPostgreSQLIndex.so ] \
        || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
        echo "run.sh: PostgreSQL is missing (Debian packages: postgresql, orthanc-postgresql)" >&2
        exit 2
    fi
    if [ "$(id -u)" != 0 ]; then
        echo "run.sh: $WHAT starts PostgreSQL as the postgres user: run it as root" >&2
        exit 2
    fi
fi

# Debian's Python packages only.
if ! "$PYTHON" -c 'import pydicom, numpy, matplotlib, requests, aiosmtpd, cryptography' 2>/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get install -y --no-install-recommends \
            python3-pydicom python3-numpy python3-matplotlib python3-requests python3-aiosmtpd \
            python3-cryptography
    else
        echo "run.sh: install the Debian packages python3-pydicom python3-numpy python3-matplotlib python3-requests python3-aiosmtpd python3-cryptography" >&2
        exit 2
    fi
fi

export INBOUND_PLUGIN="$(cd "$(dirname "$INBOUND_PLUGIN")" && pwd)/$(basename "$INBOUND_PLUGIN")"
export PYTHONDONTWRITEBYTECODE=1

case "$WHAT" in
    ingest|pull|inbox|flood|cd|stow|reconcile|bigfile|scaleout|ledger) exec "$PYTHON" "$HERE/$WHAT.py" "$@" ;;
    summary) exec "$PYTHON" "$HERE/summary.py" report --machine "$HERE/results/machine.json" --readme "$HERE/README.md" ;;
esac

# all: one invocation, one run id in every result; the summary refuses results of another one.
export INBOUND_BENCH_RUN_ID="$(date -u +%Y%m%dT%H%M%SZ)-$$"
mkdir -p "$HERE/results"
started=$(date +%s)
"$PYTHON" "$HERE/summary.py" machine "$HERE/results/machine.json"
"$PYTHON" "$HERE/ingest.py"
"$PYTHON" "$HERE/pull.py"
"$PYTHON" "$HERE/inbox.py"
# The flood with AutoBan as shipped and native Orthanc behind the same nginx, 2 runs of each
# kind: the longest part (run.sh flood alone: also AutoBan off, 3 runs each).
"$PYTHON" "$HERE/flood.py" --scenarios shipped,native --repeats 2
# A CD of 2,000 MR images of 200 KB through nginx, 2 runs each (about 3 minutes: nginx's 50
# requests/s pace both).
"$PYTHON" "$HERE/cd.py" --repeats 2
# A partner's STOW-RS: 3 runs per receiver and transfer mode (run.sh stow alone: 5).
"$PYTHON" "$HERE/stow.py" --repeats 3
# A release under the hospital's identity and the candidates round (about 1 minute).
"$PYTHON" "$HERE/reconcile.py"
# One 300 MB and one 1 GiB multi-frame file in parts (the 300 MB one also whole), peak memory
# of every Orthanc (about 3 min; 1.4 GB of disk under INBOUND_BENCH_WORK for the cached files,
# up to 5 GB more while it runs).
"$PYTHON" "$HERE/bigfile.py" --whole-too
"$PYTHON" "$HERE/summary.py" report --machine "$HERE/results/machine.json" --readme "$HERE/README.md" \
    --seconds "$(( $(date +%s) - started ))"
echo "run.sh all: $(( $(date +%s) - started )) s; results in $HERE/results/summary.md"
