#!/usr/bin/env bash
# Orthanc Inbound in a container (Docker/Dockerfile). Builds Orthanc's configuration for the
# role INBOUND_ROLE from the shipped sample (share/orthanc-inbound/configurations/) with
# configtool.py and the environment, renders the shipped nginx site (Standalone, Gateway) with
# render-nginx-site.sh, then runs nginx and Orthanc: SIGTERM is passed on to both, and when
# either of them ends the other is stopped and the container exits. The variables are
# described in Docker/README.md.
#
#   inbound-entrypoint               render, then run
#   inbound-entrypoint healthcheck   GET /inbound/api/info: through nginx (Standalone, Gateway),
#                                    with the admin's password from Orthanc (Internal)
#
# With INBOUND_RENDER_ONLY=1 it stops after writing the configuration; with the paths below
# set elsewhere, the integration tests run this very start-up outside Docker.
set -euo pipefail

share=${INBOUND_SHARE:-/usr/share/orthanc-inbound}
plugin=${INBOUND_PLUGIN:-/usr/share/orthanc/plugins/libOrthancInbound.so}
data=${INBOUND_DATA_DIR:-/var/lib/orthanc}
config=${INBOUND_CONFIG_DIR:-/etc/orthanc-inbound}
run=${INBOUND_RUN_DIR:-/run/orthanc-inbound}
role=${INBOUND_ROLE:-standalone}
role=${role,,}
orthanc_port=${INBOUND_ORTHANC_PORT:-8042}
dicom_port=${INBOUND_DICOM_PORT:-4242}
listen=${INBOUND_HTTPS_LISTEN:-443}
server_name=${INBOUND_SERVER_NAME:-localhost}
# The certificate's folder can be shared (the internal Orthanc trusts a self-signed gateway
# certificate from it); the key stays in a folder of its own.
certificate=${INBOUND_TLS_CERTIFICATE:-$config/tls/inbound.crt}
certificate_key=${INBOUND_TLS_KEY:-$config/private/inbound.key}
admin_user=${INBOUND_ADMIN_USER:-admin}
run_as=${INBOUND_RUN_AS-orthanc}
python=/usr/bin/python3

fail() { echo "inbound-entrypoint: $*" >&2; exit 2; }
log() { echo "inbound-entrypoint: $*" >&2; }

# secret NAME: the variable NAME, or the content of the file named by NAME_FILE (Docker secrets).
secret() {
  local name=$1 file_var="${1}_FILE"
  if [[ -n "${!file_var:-}" ]]; then
    [[ -r "${!file_var}" ]] || fail "$file_var: cannot read ${!file_var}"
    printf '%s' "$(<"${!file_var}")"   # without the file's final newline
  else
    printf '%s' "${!name:-}"
  fi
}

json_string() { "$python" -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1"; }
# json_list "a b c": a JSON list of the space-separated words.
json_list() { "$python" -c 'import json, sys; print(json.dumps(sys.argv[1].split()))' "$1"; }

case "$role" in
  standalone) sample=Standalone.json; proxy=1 ;;
  gateway) sample=Gateway.json; proxy=1 ;;
  internal) sample=Internal.json; proxy=0 ;;
  *) fail "INBOUND_ROLE must be standalone, gateway or internal, not \"$role\"" ;;
esac

healthcheck() {
  if ((proxy)); then
    local port=${listen##*:} host=127.0.0.1
    [[ "$listen" =~ ^([0-9.]+):[0-9]+$ && "${BASH_REMATCH[1]}" != 0.0.0.0 ]] && host=${BASH_REMATCH[1]}
    # The certificate names the public host, not 127.0.0.1: this checks that nginx and
    # Orthanc answer, not the certificate.
    curl -fsS -k -o /dev/null --max-time 8 "https://$host:$port/inbound/api/info"
  else
    # The Internal role has no public side: its routes need the admin. The password goes to
    # curl on stdin, not on its command line.
    local password
    password=$(secret INBOUND_ADMIN_PASSWORD)
    password=${password//\\/\\\\}
    password=${password//\"/\\\"}
    printf 'user = "%s:%s"\n' "$admin_user" "$password" |
      curl -fsS -K - -o /dev/null --max-time 8 "http://127.0.0.1:$orthanc_port/inbound/api/info"
  fi
}

# Sealed staging (doc/Operations.md, "Sealed staging"): the gateway seals for the public key
# in this file; the internal Orthanc holds the private key, never the DMZ.
sealing_private=${INBOUND_SEALING_PRIVATE_KEY:-$data/inbound/sealing-key.pem}
sealing_public=${INBOUND_SEALING_PUBLIC_KEY_FILE:-$config/sealing/inbound-sealing.pub}

# "sealing-keys": the internal Orthanc's key pair for the DMZ compose file, run once before
# the gateway starts: the private key made if missing (mode 600, for the internal Orthanc's
# volume), its public key written for the gateway.
sealing_keys() {
  mkdir -p "$(dirname "$sealing_private")" "$(dirname "$sealing_public")"
  if [[ ! -s "$sealing_private" ]]; then
    (umask 077 && openssl genpkey -algorithm X25519 -out "$sealing_private") ||
      fail "cannot make the sealing key $sealing_private"
    log "made the sealing key $sealing_private"
  fi
  if [[ $(id -u) == 0 && -n "$run_as" ]]; then
    chown "$run_as:" "$(dirname "$sealing_private")" "$sealing_private"
  fi
  openssl pkey -in "$sealing_private" -pubout -out "$sealing_public.tmp" &&
    chmod 644 "$sealing_public.tmp" && mv "$sealing_public.tmp" "$sealing_public" ||
    fail "cannot write the public key $sealing_public"
  log "the gateway seals for $sealing_public"
}

if [[ "${1:-}" == healthcheck ]]; then
  healthcheck
  exit
elif [[ "${1:-}" == sealing-keys ]]; then
  sealing_keys
  exit
elif (($#)); then
  exec "$@"   # another command in the image, e.g. a shell
fi

# ----------------------------------------------------------------------- the configuration

source_config="$share/configurations/$sample"
[[ -f "$source_config" ]] || fail "no sample configuration at $source_config"
admin_password=$(secret INBOUND_ADMIN_PASSWORD)
[[ -n "$admin_password" ]] || fail "set INBOUND_ADMIN_PASSWORD (or INBOUND_ADMIN_PASSWORD_FILE)"
[[ "$admin_password" != change-me* ]] || fail "INBOUND_ADMIN_PASSWORD is still the sample's"

settings=(
  "StorageDirectory=$(json_string "$data/db")"
  "IndexDirectory=$(json_string "$data/db")"
  "Inbound.DataDirectory=$(json_string "$data/inbound")"
  "Plugins=[$(json_string "$plugin")]"
  "HttpPort=$orthanc_port"
  "DicomPort=$dicom_port"
  "RegisteredUsers={$(json_string "$admin_user"): $(json_string "$admin_password")}"
)

if [[ "$role" != standalone ]]; then
  puller_user=${INBOUND_PULLER_USER:-inside}
  puller_password=$(secret INBOUND_PULLER_PASSWORD)
  [[ -n "$puller_password" ]] || fail "set INBOUND_PULLER_PASSWORD (or INBOUND_PULLER_PASSWORD_FILE)"
  [[ "$puller_password" != change-me* ]] || fail "INBOUND_PULLER_PASSWORD is still the sample's"
fi
if [[ "$role" == gateway ]]; then
  # Only the internal Orthanc, from its own address, reaches the outbox: in the plugin
  # (Pullers) and in nginx (PEER_NETS) alike.
  [[ -n "${INBOUND_PULLER_NETWORKS:-}" ]] ||
    fail "set INBOUND_PULLER_NETWORKS (the internal Orthanc's address)"
  puller="{\"Username\": $(json_string "$puller_user"),"
  puller+=" \"Password\": $(json_string "$puller_password"),"
  puller+=" \"Networks\": $(json_list "$INBOUND_PULLER_NETWORKS")}"
  settings+=("Inbound.Pullers=[$puller]")
  # Missing, the plugin refuses to start and names the file: never plain text by default.
  settings+=("Inbound.Sealing.PublicKeys=[$(json_string "$sealing_public")]")
fi
if [[ "$role" == internal ]]; then
  [[ -n "${INBOUND_GATEWAY_URL:-}" ]] || fail "set INBOUND_GATEWAY_URL (https://the-gateway/)"
  settings+=(
    "OrthancPeers.dmz.Url=$(json_string "$INBOUND_GATEWAY_URL")"
    "OrthancPeers.dmz.Username=$(json_string "$puller_user")"
    "OrthancPeers.dmz.Password=$(json_string "$puller_password")"
  )
  [[ -z "${INBOUND_SEALING_PRIVATE_KEY:-}" ]] ||
    settings+=("Inbound.Sealing.PrivateKey=$(json_string "$INBOUND_SEALING_PRIVATE_KEY")")
  if [[ -n "${INBOUND_GATEWAY_CA:-}" ]]; then
    [[ -r "$INBOUND_GATEWAY_CA" ]] || fail "INBOUND_GATEWAY_CA: cannot read $INBOUND_GATEWAY_CA"
    settings+=("HttpsCACertificates=$(json_string "$INBOUND_GATEWAY_CA")")
  fi
fi
if [[ "$role" != gateway && -n "${INBOUND_PACS:-}" ]]; then
  # AET@HOST:PORT, the PACS that releases and auto-forwards go to.
  [[ "$INBOUND_PACS" =~ ^([^@]+)@(.+):([0-9]+)$ ]] || fail "INBOUND_PACS must be AET@HOST:PORT"
  aet=$(json_string "${BASH_REMATCH[1]}") host=$(json_string "${BASH_REMATCH[2]}") port=${BASH_REMATCH[3]}
  settings+=("DicomModalities.pacs=[$aet, $host, $port]")
fi
[[ -z "${INBOUND_SITE_NAME:-}" ]] || settings+=("Inbound.SiteName=$(json_string "$INBOUND_SITE_NAME")")
# Set and empty: no e-mail at all (the plugin says so in its log); unset: the sample's relay.
if [[ -n "${INBOUND_SMTP_HOST+set}" && -z "$INBOUND_SMTP_HOST" ]]; then
  settings+=('Inbound.Smtp.Host=""')
elif [[ -n "${INBOUND_SMTP_HOST:-}" ]]; then
  settings+=(
    "Inbound.Smtp.Host=$(json_string "$INBOUND_SMTP_HOST")"
    "Inbound.Smtp.Port=${INBOUND_SMTP_PORT:-587}"
    "Inbound.Smtp.Security=$(json_string "${INBOUND_SMTP_SECURITY:-StartTls}")"
    "Inbound.Smtp.Username=$(json_string "${INBOUND_SMTP_USERNAME:-}")"
    "Inbound.Smtp.Password=$(json_string "$(secret INBOUND_SMTP_PASSWORD)")"
  )
  [[ -z "${INBOUND_SMTP_FROM:-}" ]] || settings+=("Inbound.Smtp.From=$(json_string "$INBOUND_SMTP_FROM")")
fi
# The base of the links in the mails: a Standalone server's Orthanc Explorer is behind its nginx.
orthanc_url=${INBOUND_ORTHANC_URL:-}
[[ -n "$orthanc_url" || "$role" != standalone ]] || orthanc_url="https://$server_name"
[[ -z "$orthanc_url" ]] || settings+=("Inbound.Notifications.OrthancUrl=$(json_string "$orthanc_url")")
[[ -z "${INBOUND_ADMIN_EMAILS:-}" ]] ||
  settings+=("Inbound.Notifications.AdminEmails=$(json_list "$INBOUND_ADMIN_EMAILS")")
# Anything else of the site, one KEY=JSON per line, as configtool.py takes it; last, so it wins.
while IFS= read -r line; do
  line=${line#"${line%%[![:space:]]*}"}
  [[ -z "$line" || "$line" == \#* ]] || settings+=("$line")
done <<<"${INBOUND_SETTINGS:-}"

mkdir -p "$config" "$data"
# The configuration holds the passwords: readable by Orthanc's user only.
if ! (umask 027 && "$python" "$share/scripts/configtool.py" "$source_config" \
        "$config/orthanc.json.tmp" "${settings[@]}"); then
  rm -f "$config/orthanc.json.tmp"
  fail "cannot write the configuration: is every KEY=JSON of INBOUND_SETTINGS JSON?"
fi
if [[ $(id -u) == 0 && -n "$run_as" ]]; then
  chgrp "$run_as" "$config/orthanc.json.tmp"
  mkdir -p "$data/db" "$data/inbound"
  chown "$run_as:" "$data" "$data/db" "$data/inbound"
fi
mv "$config/orthanc.json.tmp" "$config/orthanc.json"
log "role $role: Orthanc configuration $config/orthanc.json from $source_config"

# ----------------------------------------------------------------------- nginx (public roles)

if ((proxy)); then
  if [[ ! -f "$certificate" && ! -f "$certificate_key" ]]; then
    log "no certificate at $certificate: making a self-signed one for $server_name"
    mkdir -p "$(dirname "$certificate")" "$(dirname "$certificate_key")"
    chmod 700 "$(dirname "$certificate_key")"
    if [[ "$server_name" =~ ^[0-9.]+$ ]]; then san="IP:$server_name"; else san="DNS:$server_name"; fi
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 825 -subj "/CN=$server_name" \
      -addext "subjectAltName=$san" -keyout "$certificate_key" -out "$certificate" 2>/dev/null
    chmod 600 "$certificate_key"
    chmod 644 "$certificate"
  fi
  [[ -r "$certificate" && -r "$certificate_key" ]] || fail "certificate $certificate or key $certificate_key missing"

  # nginx's cap on a body is the plugin's largest file.
  max_body=$("$python" - "$share/scripts" "$config/orthanc.json" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import configtool
print(configtool.load(sys.argv[2])["Inbound"]["Upload"]["MaxFileBytes"])
PY
)
  peer_nets=""
  [[ "$role" != gateway ]] || peer_nets=$INBOUND_PULLER_NETWORKS
  mkdir -p "$config/nginx" "$run/nginx"
  "$share/scripts/render-nginx-site.sh" "$listen" "$server_name" "$certificate" "$certificate_key" \
    "127.0.0.1:$orthanc_port" "$max_body" "${INBOUND_ADMIN_NETWORKS:-127.0.0.1}" "$peer_nets" \
    >"$config/nginx/inbound-site.conf"
  user_line=""
  if [[ $(id -u) == 0 ]]; then
    user_line="user ${INBOUND_NGINX_USER:-www-data};"
  fi
  for temp in body proxy fastcgi uwsgi scgi; do
    mkdir -p "$run/nginx/$temp"
    [[ -z "$user_line" ]] || chown "${INBOUND_NGINX_USER:-www-data}" "$run/nginx/$temp"
  done
  cat >"$config/nginx/nginx.conf" <<NGINX
# Written by inbound-entrypoint: nginx around the shipped site, logging to the container's output.
$user_line
daemon off;
worker_processes auto;
pid $run/nginx.pid;
error_log stderr;
events { worker_connections 1024; }
http {
    access_log /dev/stdout;
    client_body_temp_path $run/nginx/body;
    proxy_temp_path $run/nginx/proxy;
    fastcgi_temp_path $run/nginx/fastcgi;
    uwsgi_temp_path $run/nginx/uwsgi;
    scgi_temp_path $run/nginx/scgi;
    include $config/nginx/inbound-site.conf;
}
NGINX
  nginx -e stderr -t -q -c "$config/nginx/nginx.conf" || fail "nginx refuses $config/nginx/nginx.conf"
  log "nginx site $config/nginx/inbound-site.conf on $listen for $server_name"
fi

if [[ "${INBOUND_RENDER_ONLY:-}" == 1 ]]; then
  exit 0
fi

# ----------------------------------------------------------------------- run both

# SIGTERM (docker stop) and SIGINT go to both; set before they start, so none is left behind.
stopping=0
signalled=0
pids=()
orthanc_pid=""
# One SIGTERM each, never two: Orthanc restores the default action once it has begun to stop,
# so a second one would kill it in the middle of stopping.
stop() {
  local pid
  ((!signalled)) || return 0
  signalled=1
  for pid in "${pids[@]}"; do
    [[ "$pid" != "$orthanc_pid" ]] || wait_for_sigterm_handler "$pid"
    kill -TERM "$pid" 2>/dev/null || true
  done
}
# Orthanc catches SIGTERM only once it has started: before, the signal would kill it in the
# middle of its start-up (a database upgrade, say). Up to 60 s for its handler to be there.
wait_for_sigterm_handler() {
  local status mask i
  for ((i = 0; i < 600; i++)); do
    status=$(cat "/proc/$1/status" 2>/dev/null) || return 0
    [[ "$status" =~ State:[[:space:]]+[RSDTt] ]] || return 0   # gone, or a zombie
    [[ "$status" =~ SigCgt:[[:space:]]+([0-9a-f]+) ]] || return 0
    mask=${BASH_REMATCH[1]}
    (((16#$mask >> 14) & 1)) && return 0   # bit 14: SIGTERM (15)
    sleep 0.1
  done
}
trap 'stopping=1; stop' TERM INT

orthanc=(/usr/sbin/Orthanc)
[[ -z "${INBOUND_VERBOSE:-}" ]] || orthanc+=(--verbose)
if [[ $(id -u) == 0 && -n "$run_as" ]]; then
  orthanc=(setpriv "--reuid=$run_as" "--regid=$run_as" --init-groups "${orthanc[@]}")
fi
mkdir -p "$run"
declare -A names=()
"${orthanc[@]}" "$config/orthanc.json" &
orthanc_pid=$!
pids+=("$orthanc_pid")
names[$orthanc_pid]=Orthanc
echo "$orthanc_pid" >"$run/orthanc.pid"
if ((proxy)); then
  nginx -e stderr -c "$config/nginx/nginx.conf" &
  pids+=("$!")
  names[$!]=nginx
fi

# Whichever ends first (or a signal), the other is stopped too: a container without its
# Orthanc or without its nginx must not look alive.
declare -A codes=()
ended=""
first=0
wait -n -p ended "${pids[@]}" || first=$?
ended=${ended:-}   # unset when a signal interrupted the wait
[[ -z "$ended" ]] || codes[$ended]=$first
((stopping)) || log "${names[$ended]:-a process} ended (exit code $first): stopping the rest"
stop
for pid in "${pids[@]}"; do
  [[ -z "${codes[$pid]+set}" ]] || continue
  while :; do
    code=0
    wait "$pid" || code=$?
    kill -0 "$pid" 2>/dev/null || break   # a signal interrupted the wait: wait again
  done
  codes[$pid]=$code
done
if ((stopping)); then
  log "stopped (Orthanc's exit code ${codes[$orthanc_pid]})"
  exit "${codes[$orthanc_pid]}"
fi
exit 1
