#!/usr/bin/env bash
# Fills in the nginx site of Orthanc Inbound (Resources/Nginx/inbound-site.conf). Used by the
# demonstration, the tests and the Docker image, so that all of them run the very site that
# admins deploy. Works from the source tree and from the installed layout
# (share/orthanc-inbound/scripts/ next to share/orthanc-inbound/nginx/).
#
# render-nginx-site.sh LISTEN SERVER_NAME CERTIFICATE KEY ORTHANC MAX_BODY "ADMIN_NETS" "PEER_NETS" [ACCESS_LOG ["PARTNER_NETS" [PARTNER_MAX_BODY]]]
#   ADMIN_NETS / PEER_NETS / PARTNER_NETS: space-separated networks, e.g. "127.0.0.1 10.0.0.0/8"
#   ("" for none; PARTNER_NETS defaults to none: the partner route is closed)
#   ACCESS_LOG: the site's access log (default /var/log/nginx/access.log), written with the
#   tokens of request links masked
#   PARTNER_MAX_BODY: nginx's cap on one partner request (default 0: none, the plugin caps parts)
#   ORTHANC: the Orthanc's address, e.g. 127.0.0.1:8042; several gateways: their addresses,
#   space-separated ("10.0.1.5:8042 10.0.1.6:8042"): requests are routed by upload id, and the
#   internal Orthancs name gateway n (1, 2, ... in this order) with "X-Inbound-Gateway: n"
#   (Resources/Nginx/inbound-site.conf; doc/Operations.md, "Scale-out"). With one address the
#   site is the single-Orthanc site, unchanged.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[[ $# -ge 8 && $# -le 11 ]] || { echo "usage: $0 LISTEN SERVER_NAME CERT KEY ORTHANC MAX_BODY ADMIN_NETS PEER_NETS [ACCESS_LOG [PARTNER_NETS [PARTNER_MAX_BODY]]]" >&2; exit 2; }
access_log=${9:-/var/log/nginx/access.log}
partner_nets=${10:-}
partner_max_body=${11:-0}
[[ "$partner_max_body" =~ ^[0-9]+[kKmMgG]?$ ]] || { echo "$0: PARTNER_MAX_BODY must be a size like 0, 512m or 2g" >&2; exit 2; }
template=""
for candidate in "$here/../nginx/inbound-site.conf" "$here/../Nginx/inbound-site.conf"; do
  if [[ -f "$candidate" ]]; then template=$candidate; break; fi
done
[[ -n "$template" ]] || { echo "$0: inbound-site.conf not found next to $here" >&2; exit 1; }
read -r -a orthancs <<<"$5"
((${#orthancs[@]} >= 1)) || { echo "$0: ORTHANC names no address" >&2; exit 2; }
for address in "${orthancs[@]}"; do
  [[ "$address" =~ ^[A-Za-z0-9.:_-]+$|^\[[0-9A-Fa-f:.]+\](:[0-9]+)?$ ]] || {
    echo "$0: ORTHANC address \"$address\" is not host:port" >&2; exit 2; }
done
allow() { local out=""; for n in $1; do out+="allow $n; "; done; printf '%s' "$out"; }
# The blocks between "#@GATEWAYS{@" and "#@}GATEWAYS@" are for several gateways only: dropped
# with their marks for one Orthanc (the site stays byte for byte the single-Orthanc one), else
# kept without the marks, with the gateways' upstreams and the pullers' map filled in.
gateways() {
  awk -v list="${orthancs[*]}" '
    BEGIN { n = split(list, address, " "); several = n > 1 }
    /^#@GATEWAYS\{@/ { inside = 1; next }
    /^#@\}GATEWAYS@/ { inside = 0; next }
    inside && !several { next }
    several && /^ *server @ORTHANC@;$/ {
      for (i = 1; i <= n; i++) printf "    server %s;\n", address[i]
      next
    }
    /^@PEER_MAP@$/ {
      for (i = 1; i <= n; i++) printf "    \"%d\" inbound_gateway_%d;\n", i, i
      next
    }
    /^@GATEWAY_UPSTREAMS@$/ {
      for (i = 1; i <= n; i++) {
        printf "upstream inbound_gateway_%d {\n    server %s;\n    keepalive 4;\n", i, address[i]
        printf "    keepalive_timeout 500ms;\n}\n"
      }
      next
    }
    {
      if (several) gsub(/@PEER_UPSTREAM@/, "$inbound_peer_upstream")
      else gsub(/@PEER_UPSTREAM@/, "inbound_orthanc")
      print
    }' "$template"
}
gateways | sed -e "s|@LISTEN@|$1|" -e "s|@SERVER_NAME@|$2|" -e "s|@CERTIFICATE@|$3|" \
    -e "s|@CERTIFICATE_KEY@|$4|" -e "s|@ORTHANC@|${orthancs[*]}|" -e "s|@MAX_BODY@|$6|" \
    -e "s|@ADMIN_ALLOW@|$(allow "$7")|" -e "s|@PEER_ALLOW@|$(allow "$8")|" \
    -e "s|@ACCESS_LOG@|$access_log|" -e "s|@PARTNER_ALLOW@|$(allow "$partner_nets")|" \
    -e "s|@PARTNER_MAX_BODY@|$partner_max_body|"
