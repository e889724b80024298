#!/usr/bin/env bash
# The demonstration: installs and builds what is missing, then starts the DMZ topology on
# loopback, from the sample configurations that admins copy:
#   sender's browser -> nginx (TLS, self-signed certificate) -> gateway Orthanc (DMZ)
#   internal Orthanc -> (HTTPS, through the same nginx) -> gateway: pulls every upload in
#   internal Orthanc -> SMTP (a local sink that keeps every mail in a folder): the recipient's
#   notification with the link to the study, and the admins' alerts
#   internal Orthanc -> DICOM (DCMTK's dcmqrscp as the PACS): released studies by C-STORE; its
#   patients by C-FIND, and a worklist (DCMTK's wlmscpfs as the RIS): the reconciliation
#   assistant's candidates in the release dialog
#   gateway -> clamd (ClamAV, a demonstration signature): every file scanned before it is kept
#   partner clinic's Orthanc (Partner.json + Partner.lua, Debian's DICOMweb plugin) -> nginx ->
#   gateway: every stable study sent by itself over DICOMweb STOW-RS with the clinic's token
# and prints the addresses to open. Ctrl-C stops everything it started.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)

# INBOUND_DEMO_PLUGIN: a plugin already built (the integration test's); nothing is installed or built.
plugin=${INBOUND_DEMO_PLUGIN:-$root/build/libOrthancInbound.so}
if [ -z "${INBOUND_DEMO_PLUGIN:-}" ]; then
  "$root/Resources/Scripts/install-dependencies.sh"
  INBOUND_WARNINGS_AS_ERRORS=OFF "$root/Resources/Scripts/build.sh" >/dev/null 2>&1
fi

work=$(mktemp -d /tmp/inbound-demo.XXXXXX)
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "Stopped. Data left in $work"
}
trap cleanup EXIT INT TERM

# The samples ship no working password: the demonstration makes its own.
admin_password=$(openssl rand -hex 12)
puller_password=$(openssl rand -hex 16)
clinic_password=$(openssl rand -hex 12)
# The partner clinic's token, made offline as doc/Operations.md ("Partner sites") tells admins:
# the gateway keeps only its SHA-256 (Inbound.Partners), the clinic's Orthanc sends the token.
partner_token=$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=')
partner_token_sha256=$(printf %s "$partner_token" | sha256sum | cut -d' ' -f1)

openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -keyout "$work/tls.key" -out "$work/tls.crt" 2>/dev/null

# orthanc NAME SAMPLE PORT [KEY=JSON ...]: one Orthanc from SAMPLE, pointed at temporary
# folders and a free loopback port.
orthanc() {
  local name=$1 sample=$2 port=$3 dir="$work/$1"
  shift 3
  mkdir -p "$dir"
  "$root/Resources/Scripts/configtool.py" "$sample" "$dir/orthanc.json" \
    "StorageDirectory=\"$dir/db\"" "IndexDirectory=\"$dir/db\"" "HttpPort=$port" \
    "Plugins=[\"$plugin\"]" "DicomServerEnabled=false" \
    "RegisteredUsers={\"admin\": \"$admin_password\"}" "Inbound.DataDirectory=\"$dir/inbound\"" "$@"
  /usr/sbin/Orthanc "$dir/orthanc.json" >"$dir/orthanc.log" 2>&1 &
  pids+=($!)
}

# start NAME SAMPLE ORTHANC_PORT HTTPS_PORT [KEY=JSON ...]: an Orthanc from SAMPLE behind its
# own nginx with the shipped site (partner route open to loopback: the demonstration's clinic).
start() {
  local name=$1 sample=$2 orthanc_port=$3 https_port=$4 dir="$work/$1"
  shift 4
  orthanc "$name" "$sample" "$orthanc_port" \
    'Inbound.DataMonitor.WarnFreeBytes=0' 'Inbound.DataMonitor.StopFreeBytes=0' \
    "Inbound.Pullers=[{\"Username\": \"inside\", \"Password\": \"$puller_password\", \"Networks\": [\"127.0.0.1\"]}]" "$@"
  "$root/Resources/Scripts/render-nginx-site.sh" "127.0.0.1:$https_port" localhost \
    "$work/tls.crt" "$work/tls.key" "127.0.0.1:$orthanc_port" 512m "127.0.0.1" "127.0.0.1" \
    "$dir/nginx-access.log" "127.0.0.1" >"$dir/site.conf"
  cat >"$dir/nginx.conf" <<NGINX
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log;
daemon off;
events { worker_connections 256; }
http {
  access_log $dir/nginx-access.log;
  client_body_temp_path $dir/nginx-body;
  proxy_temp_path $dir/nginx-proxy;
  include $dir/site.conf;
}
NGINX
  nginx -c "$dir/nginx.conf" &
  pids+=($!)
  for _ in $(seq 1 100); do
    curl -skf "https://127.0.0.1:$https_port/inbound/api/info" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "The $name did not start; see $dir/orthanc.log" >&2
  return 1
}

gateway_port=$(free_port); gateway_https=${INBOUND_DEMO_HTTPS_PORT:-$(free_port)}
internal_port=$(free_port); smtp_port=$(free_port); pacs_port=$(free_port)
clinic_port=$(free_port); clinic_dicom_port=$(free_port); ris_port=$(free_port)

# The hospital's PACS, played by DCMTK's dcmqrscp (AET PACS): it knows a few patients of the
# hospital and answers the reconciliation assistant's patient C-FIND; every released study
# lands in $work/pacs by C-STORE. Among its patients: DOE^PETER, the clinic's patient below
# under the hospital's PatientID, and a near-miss (same name, another birth date).
# hospital_patient ID NAME BIRTH SEX: one small image of a hospital patient in $work/pacs,
# written by DCMTK's dump2dcm from the text in $work/hospital.
hospital_patient() {
  cat >"$work/hospital/$1.dump" <<DUMP
(0008,0016) UI =SecondaryCaptureImageStorage
(0008,0020) DA [20240110]
(0008,0050) SH [$1-1]
(0008,0060) CS [OT]
(0010,0010) PN [$2]
(0010,0020) LO [$1]
(0010,0021) LO [DEMO-HOSPITAL]
(0010,0030) DA [$3]
(0010,0040) CS [$4]
(0020,0010) SH [1]
(0020,0011) IS [1]
(0020,0013) IS [1]
(0028,0002) US 1
(0028,0004) CS [MONOCHROME2]
(0028,0010) US 2
(0028,0011) US 2
(0028,0100) US 8
(0028,0101) US 8
(0028,0102) US 7
(0028,0103) US 0
(7fe0,0010) OB 01\02\03\04
DUMP
  dump2dcm -q +Ug "$work/hospital/$1.dump" "$work/pacs/$1.dcm"
}
mkdir -p "$work/pacs" "$work/hospital"
hospital_patient H-104711 'DOE^PETER' 19560214 M
hospital_patient H-104712 'DOE^PETER' 19610307 M
hospital_patient H-100815 'MUSTERMANN^ERIKA' 19800815 F
hospital_patient DEMO-0001 'DEMO^PATIENT' 19700101 ''
dcmqridx "$work/pacs" "$work"/pacs/*.dcm
cat >"$work/dcmqrscp.cfg" <<CFG
NetworkTCPPort  = $pacs_port
MaxPDUSize      = 16384
MaxAssociations = 16
HostTable BEGIN
HostTable END
VendorTable BEGIN
VendorTable END
AETable BEGIN
PACS  $work/pacs  RW (200, 1024mb)  ANY
AETable END
CFG
# Fork mode (one child per association; never -s: DCMTK 3.6.7's single-process mode crashes
# after the first association); files kept as received (+B).
dcmqrscp -c "$work/dcmqrscp.cfg" -dhl +B "$pacs_port" >"$work/pacs.log" 2>&1 &
pids+=($!)

# The hospital's RIS, played by DCMTK's wlmscpfs (AET RIS): one scheduled procedure of
# DOE^PETER with its accession number. -csk: answers keep the file's character set. A .wl
# file lacking StudyInstanceUID, RequestedProcedureDescription, ScheduledStationAETitle or the
# step's start date or time is skipped without a word: this one has them all.
mkdir -p "$work/worklist/RIS"
touch "$work/worklist/RIS/lockfile"
cat >"$work/hospital/ct-head.dump" <<DUMP
(0008,0005) CS [ISO_IR 192]
(0008,0050) SH [A-DEMO-0001]
(0010,0010) PN [DOE^PETER]
(0010,0020) LO [H-104711]
(0010,0021) LO [DEMO-HOSPITAL]
(0010,0030) DA [19560214]
(0010,0040) CS [M]
(0032,1060) LO [CT head, follow-up]
(0040,0100) SQ
(fffe,e000) -
(0008,0060) CS [CT]
(0040,0001) AE [CT01]
(0040,0002) DA [$(date +%Y%m%d)]
(0040,0003) TM [143000]
(0040,0007) LO [CT head, follow-up]
(0040,0009) SH [SPS-0001]
(fffe,e00d) -
(fffe,e0dd) -
(0040,1001) SH [RP-0001]
DUMP
dump2dcm -q +Ug "$work/hospital/ct-head.dump" "$work/worklist/RIS/ct-head.wl"
wlmscpfs -csk -dfp "$work/worklist" "$ris_port" >"$work/ris.log" 2>&1 &
pids+=($!)

# The hospital's mail relay, played by a real SMTP server on loopback that writes each
# message it receives to $work/mail (<n>.eml as received, <n>.json with the envelope).
/usr/bin/python3 "$root/Resources/Scripts/smtp-sink.py" --host 127.0.0.1 --port "$smtp_port" \
  --dir "$work/mail" >"$work/smtp-sink.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  grep -q "smtp-sink ready" "$work/smtp-sink.log" 2>/dev/null && break
  sleep 0.1
done
grep -q "smtp-sink ready" "$work/smtp-sink.log" || { echo "The SMTP sink did not start; see $work/smtp-sink.log" >&2; exit 1; }

# The malware scanner: Debian's clamd on a socket of the demonstration's own. No signature can
# be downloaded here, so its database holds one demonstration signature: the EICAR test
# string (a file holding it, DICOM or not, is refused 422 "malware"). A real gateway uses
# the system's clamd with freshclam's signatures (doc/Operations.md, "Malware scanning").
mkdir -p "$work/clamd/db" "$work/clamd/tmp"
eicar='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
printf 'Demo.EICAR-Test-File:0:*:%s\n' "$(printf '%s' "$eicar" | od -An -tx1 -v | tr -d ' \n')" \
  >"$work/clamd/db/demo.ndb"
cat >"$work/clamd/clamd.conf" <<CONF
LocalSocket $work/clamd/clamd.ctl
DatabaseDirectory $work/clamd/db
TemporaryDirectory $work/clamd/tmp
LogFile $work/clamd/clamd.log
Foreground yes
User root
StreamMaxLength 512M
MaxFileSize 512M
MaxScanSize 512M
CONF
/usr/sbin/clamd -c "$work/clamd/clamd.conf" >"$work/clamd/clamd.out" 2>&1 &
pids+=($!)
for _ in $(seq 1 150); do
  [ -S "$work/clamd/clamd.ctl" ] && break
  sleep 0.2
done
[ -S "$work/clamd/clamd.ctl" ] || { echo "clamd did not start; see $work/clamd/clamd.out" >&2; exit 1; }

# The internal Orthanc first: it makes its sealing key pair at its first start, and the
# gateway seals everything it stages for the public key (doc/Operations.md, "Sealed staging").
# The internal Orthanc trusts the demo's self-signed certificate as it would the hospital's CA.
orthanc internal "$root/Resources/Configurations/Internal.json" "$internal_port" \
  "OrthancPeers.dmz.Url=\"https://127.0.0.1:$gateway_https/\"" \
  "OrthancPeers.dmz.Password=\"$puller_password\"" \
  "HttpsCACertificates=\"$work/tls.crt\"" "RemoteAccessAllowed=false" \
  'Inbound.Smtp.Host="127.0.0.1"' "Inbound.Smtp.Port=$smtp_port" 'Inbound.Smtp.Security="None"' \
  'Inbound.Smtp.From="Orthanc Inbound demo <inbound@hospital.example>"' \
  "Inbound.Notifications.OrthancUrl=\"http://127.0.0.1:$internal_port\"" \
  "Inbound.PublicUrl=\"https://127.0.0.1:$gateway_https\"" \
  'Inbound.Notifications.AdminEmails=["pacs-admin@hospital.example"]' \
  "DicomModalities={\"pacs\": [\"PACS\", \"127.0.0.1\", $pacs_port], \"ris\": [\"RIS\", \"127.0.0.1\", $ris_port]}" \
  'DefaultEncoding="Utf8"' 'Inbound.Reconciliation.IssuerOfPatientID="DEMO-HOSPITAL"' \
  'Inbound.Reconciliation.Sources=[{"Modality": "pacs", "Query": "Patient"},
    {"Modality": "ris", "Query": "Worklist"}]'
for _ in $(seq 1 100); do
  curl -sf -u "admin:$admin_password" "http://127.0.0.1:$internal_port/inbound/admin/gateways" >/dev/null 2>&1 && break
  sleep 0.2
done
# The admin's hand-over: the internal Orthanc's public key, copied to the gateway's file.
curl -sf -u "admin:$admin_password" "http://127.0.0.1:$internal_port/inbound/admin/sealing" |
  /usr/bin/python3 -c 'import json, sys; sys.stdout.write(json.load(sys.stdin)["publicKey"])' \
  >"$work/inbound-sealing.pub" ||
  { echo "The internal Orthanc did not show its sealing key; see $work/internal/orthanc.log" >&2; exit 1; }
start gateway "$root/Resources/Configurations/Gateway.json" "$gateway_port" "$gateway_https" \
  "Inbound.Sealing.PublicKeys=[\"$work/inbound-sealing.pub\"]" \
  "Inbound.Scan.Clamd=\"unix:$work/clamd/clamd.ctl\"" \
  "Inbound.Partners=[{\"Id\": \"demo-clinic\", \"Name\": \"Demo clinic\",
    \"Institution\": \"Demo Clinic Radiology\", \"TokenSha256\": \"$partner_token_sha256\",
    \"Recipient\": \"neuroradiology\", \"Networks\": [\"127.0.0.1/32\"]}]" \
  'Inbound.PartnerLimits.QuietSeconds=10'

# A request link, as staff make one in the admin page: the hospital asks a practice for the
# images of its patient DEMO^PATIENT. The internal Orthanc pushes it to the gateway at once
# and mails the link to the practice (the SMTP sink); what arrives through it is matched and
# sent on to the PACS under the hospital's identity.
for _ in $(seq 1 100); do
  curl -sfk "https://127.0.0.1:$gateway_https/inbound/api/info" >/dev/null 2>&1 && break
  sleep 0.2
done
request_link=$(curl -sf -u "admin:$admin_password" -H "X-Requested-With: XMLHttpRequest" \
  -H "Content-Type: application/json" "http://127.0.0.1:$internal_port/inbound/admin/requests" \
  --data '{"recipient": "neuroradiology", "patient": {"id": "DEMO-0001", "name": "DEMO^PATIENT",
           "birthDate": "19700101"}, "sender": {"name": "Demo practice", "email": "practice@example.org"},
           "message": "Please send us the MRI of this patient before the appointment.",
           "maxUploads": 3, "challenge": "birthDate", "forwardTo": "pacs"}' |
  /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["url"])') ||
  { echo "The internal Orthanc did not make the demonstration's request link; see $work/internal/orthanc.log" >&2; exit 1; }

# A partner clinic: its own Orthanc from the shipped Partner.json and Partner.lua with Debian's
# DICOMweb plugin, changed only where this machine differs (folders, ports, its password, the
# hospital's URL and the clinic's token, the demo's certificate as the hospital's authority,
# the sample modality on loopback) and quicker (a study is stable after 3 s, retries after 5 s).
# Its modality sends a CT study by DICOM (storescu; a study of pydicom's sample patient CD,
# DOE^PETER, given the birth date the hospital knows him by: dcmodify on a copy); Partner.lua
# sends it to the gateway once stable, the gateway completes the upload after 10 s without a
# new instance, the internal Orthanc pulls it in and mails the partner's recipient.
mkdir -p "$work/clinic"
"$root/Resources/Scripts/configtool.py" "$root/Resources/Configurations/Partner.json" \
  "$work/clinic/orthanc.json" \
  "StorageDirectory=\"$work/clinic/db\"" "IndexDirectory=\"$work/clinic/db\"" \
  "HttpPort=$clinic_port" "DicomPort=$clinic_dicom_port" \
  "RegisteredUsers={\"admin\": \"$clinic_password\"}" \
  "LuaScripts=[\"$root/Resources/Configurations/Partner.lua\"]" 'StableAge=3' \
  'InboundPartner.RetryBaseSeconds=5' 'InboundPartner.RetryMaxSeconds=60' \
  'DicomModalities.ct=["CT1", "127.0.0.1", 104]' \
  "DicomWeb.Servers.hospital.Url=\"https://127.0.0.1:$gateway_https/inbound/dicom-web/\"" \
  "DicomWeb.Servers.hospital.HttpHeaders.Authorization=\"Bearer $partner_token\"" \
  "HttpsCACertificates=\"$work/tls.crt\""
/usr/sbin/Orthanc "$work/clinic/orthanc.json" >"$work/clinic/orthanc.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  curl -sf -u "admin:$clinic_password" "http://127.0.0.1:$clinic_port/system" >/dev/null 2>&1 && break
  sleep 0.2
done
mkdir -p "$work/clinic/modality"
cp /usr/lib/python3/dist-packages/pydicom/data/test_files/dicomdirtests/98892001/*/* \
  "$work/clinic/modality/"
dcmodify -q -nb -i "(0010,0030)=19560214" "$work"/clinic/modality/*
storescu -aet CT1 -aec CLINIC 127.0.0.1 "$clinic_dicom_port" "$work"/clinic/modality/* \
  >"$work/clinic/storescu.log" 2>&1 ||
  { echo "The clinic's Orthanc did not take the sample study; see $work/clinic/orthanc.log" >&2; exit 1; }

cat <<TXT

Orthanc Inbound demonstration is running: a gateway in the "DMZ" behind nginx, and an
internal Orthanc that pulls every completed upload in (the certificate is self-signed).

  Upload page (senders):        https://127.0.0.1:$gateway_https/inbound/
  A request link (the hospital asks for DEMO^PATIENT; the page asks for the birth date,
  1970-01-01; mailed to practice@example.org):
                                $request_link
  Internal Orthanc Explorer:    http://127.0.0.1:$internal_port/      user "admin", password "$admin_password"
  Received uploads (inside):    http://127.0.0.1:$internal_port/inbound/admin/uploads
  Gateways and their backlog:   http://127.0.0.1:$internal_port/inbound/admin/gateways
  Gateway's uploads (DMZ):      https://127.0.0.1:$gateway_https/inbound/admin/uploads
  Gateway's staging folder:     $work/gateway/inbound/staging   (sealed for the internal key)
  E-mails (recipient, alerts):  $work/mail/   (one .eml per message; SMTP sink on 127.0.0.1:$smtp_port)
  Notification queue (inside):  http://127.0.0.1:$internal_port/inbound/admin/notifications
  Inbox and release (inside):   http://127.0.0.1:$internal_port/inbound/admin/ui/
  PACS (dcmqrscp, AET PACS):    $work/pacs/   (released studies land here; 127.0.0.1:$pacs_port;
                                its patients: dcmqridx -p $work/pacs)
  RIS worklist (wlmscpfs, RIS): $work/worklist/RIS/   (127.0.0.1:$ris_port; one CT for DOE^PETER)
  Malware scanner (clamd):      $work/clamd/   (demonstration signature: the EICAR test string)
  Partner clinic's Orthanc:     http://127.0.0.1:$clinic_port/      user "admin", password "$clinic_password"
                                (sends every stable study to the gateway over DICOMweb STOW-RS)
  Partners (gateway's admin):   https://127.0.0.1:$gateway_https/inbound/admin/ui/#partners

Watch the partner site: the clinic's CT study (Doe^Peter, 7 images, put in by its modality)
is sent by itself; within about 30 s it appears in the internal Orthanc (upload from "Demo
clinic"), the recipient's mail is in $work/mail/, and the Partners view shows the clinic's
last contact. Send more: storescu -aet CT1 -aec CLINIC 127.0.0.1 $clinic_dicom_port FILES...

Then release it (Inbox, the upload, "Release…"): the dialog shows who the patient may be,
asked of the PACS and the RIS worklist: DOE^PETER, H-104711 (same name, birth date and sex)
and his scheduled CT A-DEMO-0001 fit; H-104712 (same name, born 1961) does not. "Use" fills in
the hospital's identity (issuer DEMO-HOSPITAL); the released copy arrives in $work/pacs/.

Logs and data: $work
Press Ctrl-C to stop.
TXT
wait -n "${pids[@]}"
