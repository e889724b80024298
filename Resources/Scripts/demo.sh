#!/usr/bin/env bash
# The demonstration: installs and builds what is missing, then starts on loopback
#   nginx (TLS, self-signed certificate) -> Orthanc with Orthanc Inbound (Standalone role)
# and prints the addresses to open. Ctrl-C stops everything it started.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)

"$root/Resources/Scripts/install-dependencies.sh"
INBOUND_WARNINGS_AS_ERRORS=OFF "$root/Resources/Scripts/build.sh" >/dev/null

work=$(mktemp -d /tmp/inbound-demo.XXXXXX)
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
orthanc_port=$(free_port)
https_port=${INBOUND_DEMO_HTTPS_PORT:-$(free_port)}

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "Stopped. Data left in $work"
}
trap cleanup EXIT INT TERM

# Orthanc with the plugin: the sample configuration of the repository, pointed at
# temporary folders and a free loopback port.
"$root/Resources/Scripts/configtool.py" "$root/Configuration.json" "$work/orthanc.json" \
  "StorageDirectory=\"$work/db\"" "IndexDirectory=\"$work/db\"" "HttpPort=$orthanc_port" \
  "Plugins=[\"$root/build/libOrthancInbound.so\"]" "DicomServerEnabled=false" \
  'RegisteredUsers={"admin": "demo"}' "Inbound.DataDirectory=\"$work/inbound\""
/usr/sbin/Orthanc "$work/orthanc.json" >"$work/orthanc.log" 2>&1 &
pids+=($!)

openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=localhost" \
  -keyout "$work/tls.key" -out "$work/tls.crt" 2>/dev/null
"$root/Resources/Scripts/render-nginx-site.sh" "127.0.0.1:$https_port" localhost \
  "$work/tls.crt" "$work/tls.key" "127.0.0.1:$orthanc_port" 512m "127.0.0.1" "127.0.0.1" \
  >"$work/site.conf"
cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
daemon off;
events { worker_connections 256; }
http {
  access_log $work/nginx-access.log;
  client_body_temp_path $work/nginx-body;
  proxy_temp_path $work/nginx-proxy;
  include $work/site.conf;
}
NGINX
nginx -c "$work/nginx.conf" &
pids+=($!)

for _ in $(seq 1 50); do
  curl -skf "https://127.0.0.1:$https_port/inbound/api/info" >/dev/null 2>&1 && break
  sleep 0.2
done

cat <<TXT

Orthanc Inbound demonstration (Standalone role) is running.

  Upload page (senders):      https://127.0.0.1:$https_port/inbound/
  Orthanc Explorer (admins):  https://127.0.0.1:$https_port/     user "admin", password "demo"
  Upload list (admin API):    https://127.0.0.1:$https_port/inbound/admin/uploads
  Orthanc directly (no TLS):  http://127.0.0.1:$orthanc_port/

The certificate is self-signed: accept it in the browser. Logs and data: $work
Press Ctrl-C to stop.
TXT
wait -n "${pids[@]}"
