// The "Inbound" section as typed structs: the role, recipients, limits, notifications, forwarding.
#pragma once

#include "Ledger/LedgerSql.h"

#include <json/value.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace Inbound
{
  enum Role
  {
    Role_Standalone,
    Role_Gateway,
    Role_Internal
  };

  const char* EnumerationToString(Role role);

  struct Recipient
  {
    std::string id;
    std::string name;
    std::string email;
    std::string language;  // of the mails to this recipient; empty: Notifications.Language
  };

  enum SmtpSecurity
  {
    SmtpSecurity_None,
    SmtpSecurity_StartTls,  // STARTTLS required
    SmtpSecurity_Tls        // SMTPS: TLS from the first byte
  };

  // "Inbound.Smtp": the hospital's relay.
  struct SmtpSettings
  {
    std::string host;  // empty: no e-mail
    unsigned int port = 25;
    SmtpSecurity security = SmtpSecurity_StartTls;
    std::string username;
    std::string password;
    std::string from;  // "Name <address>" or "address"
    std::string caCertificates;
    bool verifyCertificate = true;
    unsigned int timeoutSeconds = 30;
  };

  // "Inbound.Notifications": who hears what, and how hard the queue tries.
  struct NotificationSettings
  {
    bool mailRecipient = true;
    bool senderReceipt = false;
    unsigned int receiptsPerAddressPerDay = 3;
    std::vector<std::string> adminEmails;
    unsigned int adminAlertIntervalSeconds = 900;
    std::string language = "en";
    bool includePatientData = false;
    std::string orthancUrl;  // without trailing slash
    std::string viewerUrl;   // the link template, named forms expanded
    std::string templates;   // folder of overriding templates, or empty
    unsigned int retryIntervalSeconds = 30;
    unsigned int maxRetryIntervalSeconds = 1800;
    unsigned int giveUpAfterSeconds = 172800;
  };

  // One entry of "Inbound.Webhooks".
  struct WebhookSettings
  {
    std::string url;
    std::string secret;
    std::vector<std::string> events;  // empty: all
    std::string caCertificates;
  };

  struct UploadLimits
  {
    uint64_t maxFileBytes = 0;
    unsigned int maxSequenceDepth = 0;
    uint64_t maxFilesPerUpload = 0;
    uint64_t maxBytesPerUpload = 0;
    unsigned int openTimeoutSeconds = 0;
    unsigned int expiryCheckIntervalSeconds = 0;
    uint64_t partBytes = 0;  // Upload.PartBytes: files above it go in parts (doc/Api.md)
    // "UploadIdPrefix": the first characters of every upload id this Orthanc mints (the rest
    // random, the length kept), so that nginx sends an upload's requests back to it
    // (doc/Operations.md, "Scale-out"). Empty: all random.
    std::string idPrefix;
  };

  // The largest body of a whole-file PUT, whatever Upload.MaxFileBytes says: Orthanc holds
  // every request body whole in memory, so bigger files go in parts (doc/Api.md, "Files in
  // parts").
  const uint64_t kMaxWholeBodyBytes = uint64_t(512) * 1024 * 1024;

  // The largest Upload.MaxFileBytes: what every role can finally store. Orthanc takes at most
  // 4 GiB - 1 from a plugin (IOrthancStore::kMaxInstanceBytes) and isolation may add up to
  // 1 MiB; clamd scans at most 4 GiB. A Gateway taking more would stage files that its
  // Internal can never store.
  const uint64_t kMaxFileBytesCap = uint64_t(0xffffffffu) - 1024 * 1024;

  struct TextLimits
  {
    size_t name = 0;
    size_t email = 0;
    size_t institution = 0;
    size_t phone = 0;
    size_t message = 0;
  };

  struct MetadataNames
  {
    std::string upload;
    std::string sender;
    std::string originalPatientId;
    std::string sha256;
  };

  // "Inbound.Limits": what one client may do at once and per second (0: no limit).
  struct ClientLimits
  {
    double requestsPerSecond = 0;
    double requestBurst = 0;
    double bytesPerSecond = 0;
    double byteBurst = 0;
    double filesPerSecond = 0;  // file and part PUTs of open uploads, instead of requests
    double fileBurst = 0;
    unsigned int maxUploadsInFlightPerClient = 0;
    uint64_t maxBytesInFlight = 0;
    unsigned int bodyTimeoutSeconds = 0;
    unsigned int ipv6PrefixLength = 64;  // IPv6 clients are counted and banned per prefix
  };

  // "Inbound.Audit": how the audit trail is kept.
  struct AuditSettings
  {
    unsigned int refusalIntervalSeconds = 60;  // refusals: one entry per client, code, interval
    unsigned int retentionDays = 90;           // 0: kept for ever
  };

  // "Inbound.Quotas": per UTC day (0: no quota).
  struct QuotaLimits
  {
    uint64_t bytesPerClient = 0;
    uint64_t uploadsPerClient = 0;
    uint64_t bytesPerSender = 0;
    uint64_t uploadsPerSender = 0;
    uint64_t bytesPerDay = 0;
    uint64_t uploadsPerDay = 0;
  };

  // "Inbound.DataMonitor": free space and daily volume; warn first, then stop (0: off).
  struct DataMonitorLimits
  {
    uint64_t warnFreeBytes = 0;
    uint64_t stopFreeBytes = 0;
    uint64_t warnBytesPerDay = 0;
    uint64_t stopBytesPerDay = 0;
    unsigned int checkIntervalSeconds = 0;
  };

  // "Inbound.AutoBan": clients refused this often within the window are banned for a while.
  struct AutoBanLimits
  {
    unsigned int refusals = 0;  // 0: off
    unsigned int limitHits = 0;  // 0: off
    unsigned int failedLogins = 0;  // wrong passwords; 0: no lockout
    unsigned int failedLoginWindowSeconds = 3600;
    unsigned int windowSeconds = 0;
    unsigned int banSeconds = 0;
  };

  // "Inbound.Pullers" (Gateway): the internal Orthancs allowed on the peer routes.
  struct PullerAccount
  {
    std::string username;
    std::string password;
    std::vector<std::string> networks;  // addresses and CIDRs it connects from
  };

  // "Inbound.Security": explicit overrides of the start-up self-check, one per setting.
  struct SecurityOverrides
  {
    bool sslEnabled = false;
    bool authenticationEnabled = false;
    bool remoteAccess = false;
    bool webDav = false;
    bool dicomServer = false;
    bool httpDescribeErrors = false;
    bool weakPasswords = false;
    bool lua = false;
    bool restApiWriteToFileSystem = false;
    bool httpsNoVerify = false;
    bool otherPlugins = false;
  };

  // One entry of "Inbound.AutoForward": what is sent to a modality without a click.
  struct ForwardRule
  {
    std::string recipient;  // a recipient id, or "*" for every upload
    std::string modality;   // an entry of Orthanc's DicomModalities
    bool asSent = false;    // PatientID as the sender sent it; else the namespaced one
    // The hospital's identity found by the reconciliation assistant, only when there is no
    // doubt (doc/Reconciliation.md, "Automatic reconciliation"); exclusive with asSent.
    bool reconcile = false;
  };

  // What an entry of "Inbound.Reconciliation.Sources" asks its modality.
  enum ReconciliationQuery
  {
    ReconciliationQuery_Patient,  // a PACS: Patient Root C-FIND at patient level
    ReconciliationQuery_Worklist  // a RIS or worklist server: modality worklist C-FIND
  };

  const char* EnumerationToString(ReconciliationQuery query);  // "Patient", "Worklist"

  struct ReconciliationSource
  {
    std::string modality;  // an entry of Orthanc's DicomModalities
    ReconciliationQuery query = ReconciliationQuery_Patient;
  };

  // "Inbound.Reconciliation" (Standalone, Internal): where the reconciliation assistant looks
  // for the hospital's patients and how it scores them (doc/Reconciliation.md).
  struct ReconciliationSettings
  {
    std::vector<ReconciliationSource> sources;
    bool local = true;              // also this Orthanc's own (non-isolated) patients
    std::string issuerOfPatientId;  // written on release when the candidate names none
    int threshold = 50;             // a candidate below it does not fit
    int autoThreshold = 80;         // an automatic release needs a candidate at or above it
    unsigned int timeoutSeconds = 5;  // per source, the whole round
    unsigned int maxAnswers = 100;    // read per query; more: "truncated"
    unsigned int maxCandidates = 10;  // per patient in the answer
    unsigned int cacheSeconds = 300;  // a result is answered again for this long
  };

  // "Inbound.Forwarding": how hard a release or auto-forward is tried.
  struct ForwardingSettings
  {
    unsigned int retryIntervalSeconds = 30;
    unsigned int maxRetryIntervalSeconds = 600;
    unsigned int giveUpAfterSeconds = 86400;
    bool keepReconciledCopy = false;
  };

  // "Inbound.Retention": the temporary store inside the hospital.
  struct RetentionSettings
  {
    unsigned int days = 0;       // 0: uploads are kept until an admin deletes them
    bool onlyForwarded = true;   // remove only uploads all of whose studies were sent on
  };

  // "Inbound.Sealing": the keys of sealed staging (doc/Security.md, "Sealed staging").
  struct SealingSettings
  {
    // (Internal) path of the PEM private key, created if missing; empty: the file
    // "sealing-key.pem" of the data directory (resolved where the data directory is).
    std::string privateKey;
    std::vector<std::string> previousPrivateKeys;  // (Internal) paths, kept for rotation
    // (Gateway) each PEM text ("-----BEGIN...") or the path of a PEM file; the first seals,
    // all are recognised. Empty: the gateway stages in plain text (a warning at every start).
    std::vector<std::string> publicKeys;
  };

  // "Inbound.Scan": malware scanning with ClamAV's clamd where a file first arrives
  // (doc/Security.md, "Malware scanning").
  struct ScanSettings
  {
    std::string clamd;  // "unix:/path/to/clamd.ctl" or "tcp:HOST:PORT"; empty: no scanning
    unsigned int timeoutSeconds = 60;     // for each step: connect, a write, the verdict
    unsigned int retryAfterSeconds = 30;  // told to senders while clamd cannot scan
    unsigned int maxParallel = 10;        // scans at once; beyond, 503 server-busy
  };

  // "Inbound.Requests": request links (doc/Requests.md).
  struct RequestSettings
  {
    unsigned int defaultExpiryDays = 14;  // when the admin gives no expiresInDays
    unsigned int maxExpiryDays = 90;
    unsigned int maxUploads = 20;         // the most uploads one link may allow
    unsigned int maxFailures = 5;         // wrong challenge answers that lock a request
    unsigned int ticketSeconds = 86400;   // how long a passed challenge lets the sender open
  };

  // "Inbound.PartnerLimits" and a partner's own "Limits" (doc/Configuration.md, "Partner sites").
  struct PartnerLimits
  {
    unsigned int quietSeconds = 60;        // an open partner upload completes after this quiet time
    double silenceAlertHours = 0;          // no contact for this long raises an alert; 0: off
    unsigned int maxStreams = 2;           // requests of one partner at once
    unsigned int maxStreamsTotal = 8;      // requests of all partners at once (PartnerLimits only)
    uint64_t maxUnchunkedBytes = 268435456;  // a request with Content-Length above is refused
    uint64_t maxFileBytes = 0;             // resolved: Upload's when 0 in the configuration
    uint64_t maxFilesPerUpload = 0;        // resolved: Upload's when 0
    uint64_t maxBytesPerUpload = 0;        // resolved: Upload's when 0
    uint64_t dailyBytes = 53687091200;     // per UTC day; 0: no quota
    uint64_t dailyStudies = 1000;          // per UTC day; 0: no quota
  };

  // One entry of "Inbound.Partners": a machine sender over DICOMweb STOW-RS.
  struct PartnerSettings
  {
    std::string id;
    std::string name;
    std::string institution;
    std::string email;                      // the admins' contact there; may be empty
    std::vector<std::string> tokenSha256s;  // lower-case hex; several during a rotation
    std::string recipient;                  // an id of Recipients
    std::vector<std::string> networks;      // addresses and CIDRs; empty: anywhere
    bool enabled = true;                    // false: revoked
    PartnerLimits limits;                   // PartnerLimits with this partner's overrides
  };

  // The "Inbound" section, typed and validated. Built from the embedded defaults with the
  // admin's section merged over them; a bad value throws, naming the option.
  struct Configuration
  {
    Role role = Role_Standalone;
    // Resolved: the configured one, or "<IndexDirectory or StorageDirectory>/inbound".
    std::string dataDirectory;
    // "Ledger" (SQLite: "<dataDirectory>/ledger.sqlite"; PostgreSQL: Orthanc's own
    // "PostgreSQL" section; doc/Ledger.md, "Two databases"). Holds the PostgreSQL password:
    // log it only through DescribeLedger().
    LedgerLocation ledger;
    // "LeaseSeconds": a lease (sweeper, queue row, pulled upload) not renewed for this long
    // belongs to a dead Orthanc and is taken over (doc/Ledger.md, "Several Orthancs").
    unsigned int leaseSeconds = 60;
    std::string siteName;
    std::string privacyVersion;
    std::string privacyText;
    std::vector<Recipient> recipients;
    std::vector<std::string> trustedProxies;
    std::vector<std::string> adminNetworks;  // where admin-class routes answer
    std::vector<std::string> languages;
    std::string patientIdPrefix;
    std::string brandingColor;  // "#RRGGBB" or empty
    std::string brandingLogo;   // the logo file's content (PNG or SVG), or empty
    std::string brandingLogoMime;
    // The public base URL of the upload page ("https://upload.hospital.example", no trailing
    // slash): request links are made from it. Empty: a Standalone uses the admin request's
    // own address; an Internal cannot make links without it.
    std::string publicUrl;
    bool openUploads = true;  // false: only request links may open uploads (requests-only)
    RequestSettings requests;
    UploadLimits upload;
    TextLimits text;
    MetadataNames metadata;
    SecurityOverrides security;
    ClientLimits limits;
    QuotaLimits quotas;
    DataMonitorLimits dataMonitor;
    AutoBanLimits autoBan;
    AuditSettings audit;
    std::vector<std::string> bans;  // addresses and CIDRs always refused
    std::vector<PullerAccount> pullers;
    std::vector<std::string> gateways;  // (Internal) "OrthancPeers" entries to pull from
    unsigned int retentionAlertSeconds = 0;  // (Gateway) complete but not pulled for this long
    unsigned int gatewayAlertSeconds = 0;  // (Internal) a gateway unreachable for this long
    SmtpSettings smtp;
    NotificationSettings notifications;
    std::vector<WebhookSettings> webhooks;
    std::vector<ForwardRule> autoForward;
    ForwardingSettings forwarding;
    RetentionSettings retention;
    ReconciliationSettings reconciliation;  // (Standalone, Internal)
    SealingSettings sealing;
    ScanSettings scan;
    std::vector<PartnerSettings> partners;  // (Standalone, Gateway)
    PartnerLimits partnerLimits;            // the defaults every partner starts from

    // Options of the admin's section that the plugin does not know ("Inbound.Foo").
    std::vector<std::string> unknownOptions;

    const Recipient* LookupRecipient(const std::string& id) const;

    const PartnerSettings* LookupPartner(const std::string& id) const;

    // {id, name} as senders and admins see a recipient (never the e-mail address); null when
    // "id" is not a configured recipient.
    Json::Value DescribeRecipient(const std::string& id) const;

    // "userSection" is the admin's "Inbound" object (null when absent); "orthancConfiguration"
    // the whole of Orthanc's configuration, for what the plugin shares with Orthanc: where
    // its index is (the default DataDirectory) and its "PostgreSQL" section (the ledger on
    // PostgreSQL). Empty: as an Orthanc configuration without those options.
    static Configuration Parse(const Json::Value& userSection,
                               const Json::Value& orthancConfiguration = Json::Value());

    // The embedded defaults with "userSection" merged over them, key by key.
    static Json::Value Merge(const Json::Value& defaults, const Json::Value& userSection,
                             std::vector<std::string>& unknownOptions);
  };

  // Where the ledger is, for the log and the admin: the SQLite file, or the PostgreSQL
  // server, port, database, user and schema — never the password.
  std::string DescribeLedger(const LedgerLocation& location);
}
