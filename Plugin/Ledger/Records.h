// The rows of the ledger's tables as C++ records, and the states they go through.
#pragma once

#include "Ledger/AuditEvents.h"

#include <json/value.h>

#include <cstdint>
#include <string>

namespace Inbound
{
  enum UploadState
  {
    UploadState_Open,
    UploadState_Complete,
    UploadState_Cancelled,
    UploadState_Expired,
    UploadState_Deleted,
    UploadState_Delivered
  };

  const char* EnumerationToString(UploadState state);

  // Throws on an unknown name.
  UploadState StringToUploadState(const std::string& name);

  // Whether files may still be added.
  inline bool IsOpen(UploadState state)
  {
    return state == UploadState_Open;
  }

  // Whether the upload's data must be gone from here (Orthanc or staging); a delivered
  // upload's data is safe inside the hospital.
  inline bool IsRemoved(UploadState state)
  {
    return state == UploadState_Cancelled || state == UploadState_Expired ||
           state == UploadState_Deleted || state == UploadState_Delivered;
  }

  // The audit event of an upload's change to "state" ("upload-<state>"); throws for
  // UploadState_Open, which an upload never changes to.
  AuditEventType GetStateChangeEvent(UploadState state);

  struct Sender
  {
    std::string name;
    std::string email;
    std::string institution;
    std::string phone;

    Json::Value ToJson() const;
    static Sender FromJson(const Json::Value& json);
  };

  struct UploadRecord
  {
    std::string id;
    std::string tokenHash;  // SHA-256 of the token; the token itself is never stored
    UploadState state = UploadState_Open;
    int64_t createdAt = 0;  // milliseconds since the epoch
    int64_t updatedAt = 0;  // last activity: creation, a stored file, a state change
    int64_t completedAt = 0;
    Sender sender;
    std::string recipientId;
    std::string message;
    std::string consentVersion;
    std::string clientIp;
    std::string userAgent;
    int64_t expectedFiles = -1;
    int64_t expectedBytes = -1;
    std::string receiptCode;
    int64_t files = 0;
    int64_t bytes = 0;
    bool purged = false;  // the data of a removed upload is gone
    std::string language;  // of the sender's page ("en", "de"), for the receipt; "" unknown
    std::string gateway;   // Internal: the gateway (OrthancPeers name) it was pulled from
    // A sealing gateway: base64 of the envelope of the sender's fields, message and user agent
    // (StagingSealer::SealFields), which are then empty here; "" when not sealed.
    std::string sealedFields;
    // The quota scope of the sender: a keyed hash of the e-mail address, never the address
    // (IUploadPolicy::GetSenderKey); "" when there is none.
    std::string senderKey;
    // The request link it was opened through (RequestRecord::id); "" for an open upload.
    std::string requestId;
    // A bound upload: whether its patients were the request's (Requests/PatientMatch.h):
    // -1 not known yet, 0 differs, 1 matched.
    int64_t requestMatched = -1;
    // A partner site's upload (doc/Ledger.md, schema 7): the partner's id (Inbound.Partners)
    // and the Study Instance UID the upload is keyed by; both "" for a sender's upload.
    std::string partnerId;
    std::string partnerStudy;
  };

  struct ItemRecord
  {
    std::string uploadId;
    std::string sha256;
    int64_t size = 0;
    std::string sopInstanceUid;
    std::string seriesInstanceUid;
    std::string studyInstanceUid;
    std::string modality;
    std::string studyDate;
    std::string studyDescription;
    std::string originalPatientId;       // decoded without losing a character (DicomText)
    std::string originalPatientIdBytes;  // lower-case hex of the bytes sent, when the text above
                                         // is not their exact decoding; else empty
    std::string patientName;       // as sent; only for mails when an admin allows patient data
    std::string patientBirthDate;
    std::string isolatedPatientId;
    std::string orthancInstanceId;
    std::string orthancSeriesId;
    std::string orthancStudyId;
    std::string orthancPatientId;
    int64_t storedAt = 0;
    // Whether this server still owes the item's Orthanc metadata (doc/Api.md, "Orthanc
    // metadata"): set by the sink that stores it in Orthanc, recorded by AddItem (items.annotated
    // = 0) and cleared once MetadataWriter has written them. Not read back from the ledger.
    bool metadataOwed = false;
  };

  struct BanRecord
  {
    std::string entry;  // address or CIDR block
    int64_t createdAt = 0;
    int64_t until = 0;  // 0: until lifted
    std::string reason;
    bool automatic = false;
  };

  // Quota counters: one row per scope ("client:<address>", "sender:<e-mail>", "global") and
  // UTC day, so that a restart does not reset them.
  struct QuotaUsage
  {
    int64_t uploads = 0;
    int64_t bytes = 0;
  };

  // One row of the audit trail.
  struct AuditEvent
  {
    int64_t seq = 0;
    int64_t time = 0;
    std::string event;  // the text form of an AuditEventType, as stored (older rows may hold
                        // a name this version does not know)
    std::string uploadId;
    std::string ip;
    std::string detail;

    bool Is(AuditEventType type) const
    {
      return event == EnumerationToString(type);
    }
  };

  enum NotificationState
  {
    NotificationState_Pending,
    NotificationState_Delivered,
    NotificationState_Failed  // dead-lettered: given up after Notifications.GiveUpAfter
  };

  const char* EnumerationToString(NotificationState state);

  // Throws on an unknown name.
  NotificationState StringToNotificationState(const std::string& name);

  // One e-mail or webhook call of the persistent queue, rendered once when it is queued so
  // that every attempt sends the same bytes (and the same Message-ID).
  struct NotificationRecord
  {
    int64_t id = 0;
    std::string dedupKey;  // unique: "<audit seq>:<kind>:<target>"
    int64_t createdAt = 0;
    std::string channel;   // "mail" or "webhook"
    std::string kind;      // "recipient", "receipt", "alert", "request-link", "webhook"
    std::string event;     // the audit event it announces ("upload-complete", "alert-…")
    std::string uploadId;
    std::string target;    // e-mail address or webhook URL
    std::string subject;   // the mail's subject, or the webhook's event name
    std::string payload;   // the whole mail (RFC 5322), or the webhook's JSON body
    NotificationState state = NotificationState_Pending;
    int64_t attempts = 0;
    int64_t nextAttemptAt = 0;
    std::string lastError;
    int64_t deliveredAt = 0;
  };

  enum ForwardState
  {
    ForwardState_Pending,  // waiting for its (next) attempt
    ForwardState_Sending,  // Orthanc's store job is running
    ForwardState_Done,
    ForwardState_Failed    // given up after Forwarding.GiveUpAfter
  };

  const char* EnumerationToString(ForwardState state);

  // Throws on an unknown name.
  ForwardState StringToForwardState(const std::string& name);

  // One study of an upload on its way to a DICOM modality (release by an admin, or an
  // auto-forward rule), reconciled to the hospital's patient or with its namespaced PatientID.
  struct ForwardRecord
  {
    int64_t id = 0;
    std::string uploadId;
    std::string study;            // the isolated study's Orthanc id
    std::string modality;         // an entry of Orthanc's DicomModalities
    std::string origin;           // "admin", "rule" or "request"
    std::string patientId;        // the hospital's PatientID (empty with keepNamespace)
    std::string patientName;
    std::string patientBirthDate;
    std::string patientIssuer;    // IssuerOfPatientID of the copy; "" removes it (schema 8)
    std::string patientSex;       // "M", "F", "O"; "" left as sent
    std::string accessionNumber;  // "" left as sent
    std::string candidateSource;  // the reconciliation candidate chosen; "" none
    int candidateScore = -1;      // its score; -1 none
    bool confirmed = false;       // a person confirmed a mismatch (confirmMismatch)
    bool keepNamespace = false;   // sent with the namespaced PatientID, as stored
    bool newUids = false;
    ForwardState state = ForwardState_Pending;
    int64_t attempts = 0;
    int64_t nextAttemptAt = 0;
    std::string jobId;            // Orthanc's store job of the current attempt
    std::string sentStudy;        // the study sent: the reconciled copy, or the isolated one
    std::string lastError;
    int64_t createdAt = 0;
    int64_t updatedAt = 0;
    std::string requestedBy;
  };

  // A request link's own state; "expired" and "used" (no uploads left) are derived from the
  // record (RequestRecord::GetStatus), never stored.
  enum RequestState
  {
    RequestState_Active,
    RequestState_Revoked,  // by staff
    RequestState_Locked    // too many wrong challenge answers
  };

  const char* EnumerationToString(RequestState state);

  // Throws on an unknown name.
  RequestState StringToRequestState(const std::string& name);

  // What the sender must answer before the page learns the expected patient (doc/Requests.md).
  enum ChallengeKind
  {
    ChallengeKind_None,
    ChallengeKind_BirthDate,  // the patient's birth date
    ChallengeKind_Code        // a code made by the plugin, given to the sender another way
  };

  const char* EnumerationToString(ChallengeKind kind);  // "none", "birthDate", "code"

  // Throws on an unknown name.
  ChallengeKind StringToChallengeKind(const std::string& name);

  // The hospital's own patient a request asks images of (never leaves the inside: a gateway
  // holds it only inside RequestRecord::secret).
  struct RequestPatient
  {
    std::string id;         // the hospital's PatientID
    std::string name;       // DICOM PN, "FAMILY^GIVEN"
    std::string birthDate;  // YYYYMMDD or empty
  };

  // One request link (table "requests"). Created inside (Standalone, Internal); an Internal
  // pushes each to its gateways without the patient (doc/Requests.md, "Gateways").
  struct RequestRecord
  {
    std::string id;         // Crypto::RandomCode(12): in audit entries, uploads, the admin page
    std::string tokenHash;  // SHA-256 hex of the link's token; the token itself is never stored
    RequestState state = RequestState_Active;
    int64_t createdAt = 0;  // milliseconds since the epoch
    int64_t updatedAt = 0;
    int64_t expiresAt = 0;
    std::string createdBy;  // the admin (HTTP user, or "admin")
    std::string recipientId;
    std::string message;    // shown to the sender with the page
    std::string language;   // of the sender's page and of the link mail; "" the site's first
    int64_t maxUploads = 1;
    ChallengeKind challenge = ChallengeKind_None;
    // Base64 of the expected patient ({"patientName", "birthDate"}) sealed under a key derived
    // from the link's token and the challenge's answer (Requests/RequestSecret.h): opening it
    // is the check of the answer, and a gateway at rest holds nothing readable.
    std::string secret;
    int64_t failures = 0;   // wrong answers since the last right one
    int64_t lockedAt = 0;
    int64_t revision = 0;   // +1 at each change made inside (an Internal pushes newer revisions)

    // Inside only (Standalone, Internal); empty on a gateway.
    RequestPatient patient;
    std::string senderName;
    std::string senderEmail;
    std::string forwardTo;  // DicomModalities entry: matched uploads go there on arrival

    // Not stored: the bound uploads that count against maxUploads (filled by RequestStore).
    int64_t usedUploads = 0;

    // "active", "expired", "used", "revoked" or "locked" at "now".
    std::string GetStatus(int64_t now) const;

    int64_t GetRemainingUploads() const
    {
      return usedUploads >= maxUploads ? 0 : maxUploads - usedUploads;
    }
  };

  // A pulled item being processed, or a held pulled upload (sha256 and reason then optional).
  struct PullingRecord
  {
    std::string gateway;
    std::string uploadId;
    std::string sha256;
    std::string reason;
    int64_t since = 0;
    int64_t crashes = 0;  // markers: starts that found this item still in progress
  };
}
