// The text forms of the audit events (see AuditEvents.h).

#include "AuditEvents.h"

#include <OrthancException.h>

namespace Inbound
{
  const char* EnumerationToString(AuditEventType type)
  {
    switch (type)
    {
      case AuditEventType_UploadOpened:
        return "upload-opened";
      case AuditEventType_FileStored:
        return "file-stored";
      case AuditEventType_FilePreamble:
        return "file-preamble";
      case AuditEventType_UploadComplete:
        return "upload-complete";
      case AuditEventType_UploadCancelled:
        return "upload-cancelled";
      case AuditEventType_UploadExpired:
        return "upload-expired";
      case AuditEventType_UploadDeleted:
        return "upload-deleted";
      case AuditEventType_UploadDelivered:
        return "upload-delivered";
      case AuditEventType_DataRemoved:
        return "data-removed";
      case AuditEventType_UploadGatewayRecorded:
        return "upload-gateway-recorded";
      case AuditEventType_PullReleased:
        return "pull-released";
      case AuditEventType_GatewayReachable:
        return "gateway-reachable";
      case AuditEventType_ReleaseRequested:
        return "release-requested";
      case AuditEventType_AutoForward:
        return "auto-forward";
      case AuditEventType_UploadForwarded:
        return "upload-forwarded";
      case AuditEventType_ForwardRetry:
        return "forward-retry";
      case AuditEventType_NotificationRetry:
        return "notification-retry";
      case AuditEventType_NotificationFailed:
        return "notification-failed";
      case AuditEventType_ReceiptSuppressed:
        return "receipt-suppressed";
      case AuditEventType_Ban:
        return "ban";
      case AuditEventType_Unban:
        return "unban";
      case AuditEventType_Refused:
        return "refused";
      case AuditEventType_AlertDataMonitorWarning:
        return "alert-data-monitor-warning";
      case AuditEventType_AlertDataMonitorStopped:
        return "alert-data-monitor-stopped";
      case AuditEventType_AlertDataMonitorOk:
        return "alert-data-monitor-ok";
      case AuditEventType_AlertGatewayUnreachable:
        return "alert-gateway-unreachable";
      case AuditEventType_AlertGatewayMisbehaving:
        return "alert-gateway-misbehaving";
      case AuditEventType_AlertUploadHeld:
        return "alert-upload-held";
      case AuditEventType_AlertRetention:
        return "alert-retention";
      case AuditEventType_AlertBanCap:
        return "alert-ban-cap";
      case AuditEventType_AlertForwardFailed:
        return "alert-forward-failed";
      case AuditEventType_AlertNotificationFailed:
        return "alert-notification-failed";
      case AuditEventType_AlertMalware:
        return "alert-malware";
      case AuditEventType_AlertScannerUnavailable:
        return "alert-scanner-unavailable";
      case AuditEventType_AlertRequestLocked:
        return "alert-request-locked";
      case AuditEventType_AlertRequestUnknown:
        return "alert-request-unknown";
      case AuditEventType_AlertPartnerSilent:
        return "alert-partner-silent";
      case AuditEventType_RequestCreated:
        return "request-created";
      case AuditEventType_RequestRevoked:
        return "request-revoked";
      case AuditEventType_RequestReceived:
        return "request-received";
      case AuditEventType_RequestChallengePassed:
        return "request-challenge-passed";
      case AuditEventType_RequestChallengeFailed:
        return "request-challenge-failed";
      case AuditEventType_RequestLocked:
        return "request-locked";
      case AuditEventType_RequestMismatch:
        return "request-mismatch";
      case AuditEventType_PartnerStow:
        return "partner-stow";
      case AuditEventType_PartnerTokenMade:
        return "partner-token-made";
      case AuditEventType_PartnerResumed:
        return "partner-resumed";
      case AuditEventType_ReconcileWaiting:
        return "reconcile-waiting";
      default:
        throw Orthanc::OrthancException(Orthanc::ErrorCode_ParameterOutOfRange);
    }
  }

  const std::vector<AuditEventType>& GetAuditEventTypes()
  {
    // The enumeration's values are consecutive, from the first to the last.
    static const std::vector<AuditEventType> all = [] {
      std::vector<AuditEventType> types;
      for (int i = AuditEventType_UploadOpened; i <= AuditEventType_AlertPartnerSilent; i++)
      {
        types.push_back(static_cast<AuditEventType>(i));
      }
      return types;
    }();
    return all;
  }

  bool LookupAuditEventType(AuditEventType& type, const std::string& text)
  {
    for (AuditEventType candidate : GetAuditEventTypes())
    {
      if (text == EnumerationToString(candidate))
      {
        type = candidate;
        return true;
      }
    }
    return false;
  }

  AuditEventType StringToAuditEventType(const std::string& text)
  {
    AuditEventType type;
    if (!LookupAuditEventType(type, text))
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_ParameterOutOfRange,
                                      "Unknown audit event: " + text);
    }
    return type;
  }

  bool IsAlert(AuditEventType type)
  {
    switch (type)
    {
      case AuditEventType_AlertDataMonitorWarning:
      case AuditEventType_AlertDataMonitorStopped:
      case AuditEventType_AlertDataMonitorOk:
      case AuditEventType_AlertGatewayUnreachable:
      case AuditEventType_AlertGatewayMisbehaving:
      case AuditEventType_AlertUploadHeld:
      case AuditEventType_AlertRetention:
      case AuditEventType_AlertBanCap:
      case AuditEventType_AlertForwardFailed:
      case AuditEventType_AlertNotificationFailed:
      case AuditEventType_AlertMalware:
      case AuditEventType_AlertScannerUnavailable:
      case AuditEventType_AlertRequestLocked:
      case AuditEventType_AlertRequestUnknown:
      case AuditEventType_AlertPartnerSilent:
        return true;
      default:
        return false;
    }
  }

  std::string GetAlertKind(AuditEventType alert)
  {
    static const std::string kPrefix = "alert-";
    const std::string text = EnumerationToString(alert);
    if (!IsAlert(alert) || text.compare(0, kPrefix.size(), kPrefix) != 0)
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_ParameterOutOfRange,
                                      "Not an alert: " + text);
    }
    return text.substr(kPrefix.size());
  }

  std::vector<AuditEventType> GetAlertTypes()
  {
    std::vector<AuditEventType> alerts;
    for (AuditEventType type : GetAuditEventTypes())
    {
      if (IsAlert(type))
      {
        alerts.push_back(type);
      }
    }
    return alerts;
  }
}
