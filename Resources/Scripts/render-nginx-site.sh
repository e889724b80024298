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
#   space-separated, each optionally after its Inbound.UploadIdPrefix ("A=10.0.1.5:8042
#   B=10.0.1.6:8042"): the requests of an upload go to the gateway of its id's prefix, the
#   others are hashed by the client's address, and the internal Orthancs name gateway n (1, 2,
#   ... in this order) with "X-Inbound-Gateway: n" (Resources/Nginx/inbound-site.conf;
#   doc/Operations.md, "Scale-out"). A gateway written "~A=10.0.1.7:8042" is draining: it
#   keeps its number and its prefix's uploads but gets no new opens (remove it once its outbox
#   is empty). With one address the site is the single-Orthanc site.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[[ $# -ge 8 && $# -le 11 ]] || { echo "usage: $0 LISTEN SERVER_NAME CERT KEY ORTHANC MAX_BODY ADMIN_NETS PEER_NETS [ACCESS_LOG [PARTNER_NETS [PARTNER_MAX_BODY]]]" >&2; exit 2; }
access_log=${9:-/var/log/nginx/access.log}
partner_nets=${10:-}
peer_nets=$8
partner_max_body=${11:-0}
[[ "$partner_max_body" =~ ^[0-9]+[kKmMgG]?$ ]] || { echo "$0: PARTNER_MAX_BODY must be a size like 0, 512m or 2g" >&2; exit 2; }
template=""
for candidate in "$here/../nginx/inbound-site.conf" "$here/../Nginx/inbound-site.conf"; do
  if [[ -f "$candidate" ]]; then template=$candidate; break; fi
done
[[ -n "$template" ]] || { echo "$0: inbound-site.conf not found next to $here" >&2; exit 1; }
read -r -a gateways <<<"$5"
((${#gateways[@]} >= 1)) || { echo "$0: ORTHANC names no address" >&2; exit 2; }
orthancs=() prefixes=() draining=() open=0
for gateway in "${gateways[@]}"; do
  if [[ "$gateway" == "~"* ]]; then gateway=${gateway#"~"} draining+=(1); else draining+=(0) open=$((open + 1)); fi
  prefix="" address=$gateway
  if [[ "$gateway" == *=* ]]; then prefix=${gateway%%=*} address=${gateway#*=}; fi
  [[ "$address" =~ ^[A-Za-z0-9.:_-]+$|^\[[0-9A-Fa-f:.]+\](:[0-9]+)?$ ]] || {
    echo "$0: ORTHANC address \"$address\" is not host:port" >&2; exit 2; }
  [[ -z "$prefix" || "$prefix" =~ ^[2-9A-HJ-NP-Z]{1,4}$ ]] || {
    echo "$0: upload id prefix \"$prefix\" is not 1-4 of 23456789ABCDEFGHJKLMNPQRSTUVWXYZ" >&2; exit 2; }
  for other in "${prefixes[@]}"; do
    [[ -z "$prefix" || -z "$other" || ( "$prefix" != "$other"* && "$other" != "$prefix"* ) ]] || {
      echo "$0: upload id prefixes \"$other\" and \"$prefix\": one starts the other" >&2; exit 2; }
  done
  [[ -n "$prefix" || ${draining[-1]} == 0 ]] || {
    echo "$0: draining gateway $address has no upload id prefix: its open uploads could not reach it" >&2; exit 2; }
  orthancs+=("$address") prefixes+=("$prefix")
done
((${#orthancs[@]} > 1)) || [[ -z "${prefixes[0]}" && ${draining[0]} == 0 ]] || {
  echo "$0: an upload id prefix or a draining gateway is for several gateways only" >&2; exit 2; }
prefixed=0
for prefix in "${prefixes[@]}"; do [[ -z "$prefix" ]] || prefixed=$((prefixed + 1)); done
((prefixed == 0 || prefixed == ${#prefixes[@]})) || {
  echo "$0: some gateways have an upload id prefix and some not: give every gateway one (a gateway without mints ids that may start with another's prefix)" >&2; exit 2; }
((open >= 1)) || { echo "$0: every gateway is draining: none would take new uploads" >&2; exit 2; }
allow() { local out=""; for n in $1; do out+="allow $n; "; done; printf '%s' "$out"; }
# The blocks between "#@GATEWAYS{@" and "#@}GATEWAYS@" are for several gateways only: dropped
# with their marks for one Orthanc (the site stays byte for byte the single-Orthanc one), else
# kept without the marks, with the gateways' upstreams and the pullers' map filled in.
gateways() {
  awk -v list="${orthancs[*]}" -v prefix_list="${prefixes[*]/#/=}" -v draining_list="${draining[*]}" \
      -v peer_nets="$peer_nets" -v partner_nets="$partner_nets" '
    BEGIN {
      n = split(list, address, " "); several = n > 1
      split(prefix_list, prefix, " ")
      split(draining_list, draining, " ")
    }
    /^#@GATEWAYS\{@/ { inside = 1; next }
    /^#@\}GATEWAYS@/ { inside = 0; next }
    inside && !several { next }
    several && /^ *server @ORTHANC@;$/ {
      for (i = 1; i <= n; i++) if (draining[i] == 0) printf "    server %s;\n", address[i]
      next
    }
    /^@UPLOAD_MAP@$/ {
      for (i = 1; i <= n; i++)
        if (prefix[i] != "=")
          printf "    \"~^/inbound/api/uploads/%s[A-Za-z0-9]*(/|$)\" inbound_gateway_%d;\n", substr(prefix[i], 2), i
      next
    }
    /^@(PEER|PARTNER)_GEO@$/ {
      m = split($0 == "@PEER_GEO@" ? peer_nets : partner_nets, net, " ")
      for (i = 1; i <= m; i++)
        if (net[i] == "all") printf "    0.0.0.0/0 1;\n    ::/0 1;\n"
        else printf "    %s 1;\n", net[i]
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
      if (several) {
        gsub(/@PEER_UPSTREAM@/, "$inbound_peer_upstream")
        gsub(/@PUBLIC_UPSTREAM@/, "$inbound_public_upstream")
      } else {
        gsub(/@PEER_UPSTREAM@|@PUBLIC_UPSTREAM@/, "inbound_orthanc")
      }
      print
    }' "$template"
}
gateways | sed -e "s|@LISTEN@|$1|" -e "s|@SERVER_NAME@|$2|" -e "s|@CERTIFICATE@|$3|" \
    -e "s|@CERTIFICATE_KEY@|$4|" -e "s|@ORTHANC@|${orthancs[*]}|" -e "s|@MAX_BODY@|$6|" \
    -e "s|@ADMIN_ALLOW@|$(allow "$7")|" -e "s|@PEER_ALLOW@|$(allow "$8")|" \
    -e "s|@ACCESS_LOG@|$access_log|" -e "s|@PARTNER_ALLOW@|$(allow "$partner_nets")|" \
    -e "s|@PARTNER_MAX_BODY@|$partner_max_body|"
