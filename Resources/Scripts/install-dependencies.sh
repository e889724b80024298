#!/usr/bin/env bash
# Installs everything Orthanc Inbound needs to build, test and run its demonstration on a
# fresh Debian 12 machine (as root). Safe to run again.
#   --build-only   only what building the plugin and its web page needs (Docker/Dockerfile)
set -euo pipefail

packages=(
  # build
  cmake g++ make pkg-config
  orthanc orthanc-dev liborthancframework-dev libdcmtk-dev libjsoncpp-dev libboost-all-dev
  libcurl4-openssl-dev libssl-dev libsqlite3-dev libgtest-dev libpugixml-dev uuid-dev
  libjpeg-dev libpng-dev zlib1g-dev libcivetweb-dev liblua5.3-dev libkainjow-mustache-dev
  libicu-dev
  # the ledger on PostgreSQL (Inbound.Ledger: "PostgreSQL")
  libpq-dev
  # web page bundle
  nodejs npm
)
[[ "${1:-}" == --build-only ]] || packages+=(
  # fuzz targets
  clang libclang-rt-14-dev
  # browser tests; the printed request letter is read back: PDF to image, its QR code decoded
  chromium zbar-tools poppler-utils
  # integration tests, demonstration and benchmarks
  dcmtk nginx-light openssl sslscan curl python3 python3-pytest python3-pydicom python3-numpy
  python3-requests python3-aiosmtpd python3-matplotlib python3-yaml
  # an independent implementation of the sealed envelopes (IntegrationTests/sealing.py)
  python3-cryptography
  # the backup commands of doc/Operations.md (checked by the integration tests)
  sqlite3 rsync
  # the internal archive on PostgreSQL (integration test)
  postgresql orthanc-postgresql
  # a partner clinic's sending Orthanc (Resources/Configurations/Partner.json, its tests and
  # the STOW-RS benchmark)
  orthanc-dicomweb
  # malware scanning: the tests run their own clamd with a signature database made at test
  # time (IntegrationTests/clamd_support.py); sites run Debian's service (doc/Operations.md)
  clamav-daemon
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js may come from elsewhere than Debian (it is on PATH already): keep it then.
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do
    [[ "$p" == nodejs || "$p" == npm ]] || filtered+=("$p")
  done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi

if ((${#missing[@]})); then
  echo "Installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
