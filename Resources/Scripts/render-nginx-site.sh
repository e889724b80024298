#!/usr/bin/env bash
# Fills in the nginx site of Orthanc Inbound (Resources/Nginx/inbound-site.conf). Used by the
# demonstration, the tests and the Docker image, so that all of them run the very site that
# admins deploy. Works from the source tree and from the installed layout
# (share/orthanc-inbound/scripts/ next to share/orthanc-inbound/nginx/).
#
# render-nginx-site.sh LISTEN SERVER_NAME CERTIFICATE KEY ORTHANC MAX_BODY "ADMIN_NETS" "PEER_NETS" [ACCESS_LOG]
#   ADMIN_NETS / PEER_NETS: space-separated networks, e.g. "127.0.0.1 10.0.0.0/8" ("" for none)
#   ACCESS_LOG: the site's access log (default /var/log/nginx/access.log), written with the
#   tokens of request links masked
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[[ $# -eq 8 || $# -eq 9 ]] || { echo "usage: $0 LISTEN SERVER_NAME CERT KEY ORTHANC MAX_BODY ADMIN_NETS PEER_NETS [ACCESS_LOG]" >&2; exit 2; }
access_log=${9:-/var/log/nginx/access.log}
template=""
for candidate in "$here/../nginx/inbound-site.conf" "$here/../Nginx/inbound-site.conf"; do
  if [[ -f "$candidate" ]]; then template=$candidate; break; fi
done
[[ -n "$template" ]] || { echo "$0: inbound-site.conf not found next to $here" >&2; exit 1; }
allow() { local out=""; for n in $1; do out+="allow $n; "; done; printf '%s' "$out"; }
sed -e "s|@LISTEN@|$1|" -e "s|@SERVER_NAME@|$2|" -e "s|@CERTIFICATE@|$3|" \
    -e "s|@CERTIFICATE_KEY@|$4|" -e "s|@ORTHANC@|$5|" -e "s|@MAX_BODY@|$6|" \
    -e "s|@ADMIN_ALLOW@|$(allow "$7")|" -e "s|@PEER_ALLOW@|$(allow "$8")|" \
    -e "s|@ACCESS_LOG@|$access_log|" \
    "$template"
