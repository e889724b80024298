// The vocabulary of the audit trail: every event the plugin records, with its text form.
#pragma once

#include <string>
#include <vector>

namespace Inbound
{
  // Every writer of the audit trail names its event with one of these, and every reader that
  // matches on events (the notifier, the forward rules, the admin views, the ledger's SQL)
  // uses them too, so that a renamed event cannot silently break a query. The text forms are
  // part of the contract: the admin API shows them and doc/Api.md ("Audit events") lists
  // them; a unit test holds the three together.
  enum AuditEventType
  {
    AuditEventType_UploadOpened,           // upload-opened
    AuditEventType_FileStored,             // file-stored
    AuditEventType_FilePreamble,           // file-preamble: a polyglot's preamble, described
    AuditEventType_UploadComplete,         // upload-complete: the state changes, upload-<state>
    AuditEventType_UploadCancelled,        // upload-cancelled
    AuditEventType_UploadExpired,          // upload-expired
    AuditEventType_UploadDeleted,          // upload-deleted
    AuditEventType_UploadDelivered,        // upload-delivered
    AuditEventType_DataRemoved,            // data-removed
    AuditEventType_UploadGatewayRecorded,  // upload-gateway-recorded
    AuditEventType_PullReleased,           // pull-released
    AuditEventType_GatewayReachable,       // gateway-reachable
    AuditEventType_ReleaseRequested,       // release-requested
    AuditEventType_AutoForward,            // auto-forward
    AuditEventType_UploadForwarded,        // upload-forwarded
    AuditEventType_ForwardRetry,           // forward-retry
    AuditEventType_NotificationRetry,      // notification-retry
    AuditEventType_NotificationFailed,     // notification-failed: an alert about a failure failed
    AuditEventType_ReceiptSuppressed,      // receipt-suppressed
    AuditEventType_Ban,                    // ban
    AuditEventType_Unban,                  // unban
    AuditEventType_Refused,                // refused
    AuditEventType_RequestCreated,         // request-created: a request link (doc/Requests.md)
    AuditEventType_RequestRevoked,         // request-revoked
    AuditEventType_RequestReceived,        // request-received: a gateway got a pushed request
    AuditEventType_RequestChallengePassed, // request-challenge-passed
    AuditEventType_RequestChallengeFailed, // request-challenge-failed
    AuditEventType_RequestLocked,          // request-locked: too many wrong answers
    AuditEventType_RequestMismatch,        // request-mismatch: not the expected patient
    AuditEventType_PartnerStow,            // partner-stow: a partner's STOW-RS request ended
    AuditEventType_PartnerTokenMade,       // partner-token-made: an admin made a partner token
    AuditEventType_PartnerResumed,         // partner-resumed: a silent partner called again
    AuditEventType_ReconcileWaiting,       // reconcile-waiting: no automatic identity, a person decides
    // The alerts: each is sent to the alert recipients and written to Orthanc's log.
    AuditEventType_AlertDataMonitorWarning,  // alert-data-monitor-warning
    AuditEventType_AlertDataMonitorStopped,  // alert-data-monitor-stopped
    AuditEventType_AlertDataMonitorOk,       // alert-data-monitor-ok
    AuditEventType_AlertGatewayUnreachable,  // alert-gateway-unreachable
    AuditEventType_AlertGatewayMisbehaving,  // alert-gateway-misbehaving
    AuditEventType_AlertUploadHeld,          // alert-upload-held
    AuditEventType_AlertRetention,           // alert-retention
    AuditEventType_AlertBanCap,              // alert-ban-cap
    AuditEventType_AlertForwardFailed,       // alert-forward-failed
    AuditEventType_AlertNotificationFailed,  // alert-notification-failed
    AuditEventType_AlertMalware,             // alert-malware: a file refused as infected
    AuditEventType_AlertScannerUnavailable,  // alert-scanner-unavailable: uploads refused
    AuditEventType_AlertRequestLocked,       // alert-request-locked
    AuditEventType_AlertRequestUnknown,      // alert-request-unknown: a binding not trusted
    AuditEventType_AlertPartnerSilent        // alert-partner-silent: no contact for too long
  };

  // The text stored in the audit trail and shown to admins.
  const char* EnumerationToString(AuditEventType type);

  // Throws on an unknown text.
  AuditEventType StringToAuditEventType(const std::string& text);

  // False for a text that names no event of this version (a row written by an older one).
  bool LookupAuditEventType(AuditEventType& type, const std::string& text);

  // Every event, in the order of the enumeration.
  const std::vector<AuditEventType>& GetAuditEventTypes();

  // The alerts: the events whose text starts with "alert-".
  bool IsAlert(AuditEventType type);

  // Every alert, in the order of the enumeration.
  std::vector<AuditEventType> GetAlertTypes();

  // An alert's kind: its text form without "alert-" ("ban-cap"), the "type" of the alert
  // mails and webhook calls (doc/Api.md). Throws for an event that is no alert.
  std::string GetAlertKind(AuditEventType alert);
}
