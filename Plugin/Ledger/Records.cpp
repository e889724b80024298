// The text forms of the ledger's states, and the sender's JSON form (see Records.h).

#include "Records.h"

#include <OrthancException.h>

namespace Inbound
{
  const char* EnumerationToString(UploadState state)
  {
    switch (state)
    {
      case UploadState_Open:
        return "open";
      case UploadState_Complete:
        return "complete";
      case UploadState_Cancelled:
        return "cancelled";
      case UploadState_Expired:
        return "expired";
      case UploadState_Deleted:
        return "deleted";
      case UploadState_Delivered:
        return "delivered";
      default:
        throw Orthanc::OrthancException(Orthanc::ErrorCode_ParameterOutOfRange);
    }
  }

  UploadState StringToUploadState(const std::string& name)
  {
    for (UploadState s : {UploadState_Open, UploadState_Complete, UploadState_Cancelled,
                          UploadState_Expired, UploadState_Deleted, UploadState_Delivered})
    {
      if (name == EnumerationToString(s))
      {
        return s;
      }
    }
    throw Orthanc::OrthancException(Orthanc::ErrorCode_ParameterOutOfRange,
                                    "Unknown upload state: " + name);
  }

  AuditEventType GetStateChangeEvent(UploadState state)
  {
    switch (state)
    {
      case UploadState_Complete:
        return AuditEventType_UploadComplete;
      case UploadState_Cancelled:
        return AuditEventType_UploadCancelled;
      case UploadState_Expired:
        return AuditEventType_UploadExpired;
      case UploadState_Deleted:
        return AuditEventType_UploadDeleted;
      case UploadState_Delivered:
        return AuditEventType_UploadDelivered;
      default:
        throw Orthanc::OrthancException(Orthanc::ErrorCode_ParameterOutOfRange,
                                        "No upload changes to this state");
    }
  }

  Json::Value Sender::ToJson() const
  {
    Json::Value json(Json::objectValue);
    json["name"] = name;
    json["email"] = email;
    json["institution"] = institution;
    json["phone"] = phone;
    return json;
  }

  Sender Sender::FromJson(const Json::Value& json)
  {
    Sender s;
    if (json.isObject())
    {
      s.name = json.get("name", "").asString();
      s.email = json.get("email", "").asString();
      s.institution = json.get("institution", "").asString();
      s.phone = json.get("phone", "").asString();
    }
    return s;
  }

  const char* EnumerationToString(NotificationState state)
  {
    switch (state)
    {
      case NotificationState_Pending:
        return "pending";
      case NotificationState_Delivered:
        return "delivered";
      case NotificationState_Failed:
        return "failed";
      default:
        throw Orthanc::OrthancException(Orthanc::ErrorCode_ParameterOutOfRange);
    }
  }

  NotificationState StringToNotificationState(const std::string& name)
  {
    for (NotificationState s :
         {NotificationState_Pending, NotificationState_Delivered, NotificationState_Failed})
    {
      if (name == EnumerationToString(s))
      {
        return s;
      }
    }
    throw Orthanc::OrthancException(Orthanc::ErrorCode_ParameterOutOfRange,
                                    "Unknown notification state: " + name);
  }

  const char* EnumerationToString(ForwardState state)
  {
    switch (state)
    {
      case ForwardState_Pending:
        return "pending";
      case ForwardState_Sending:
        return "sending";
      case ForwardState_Done:
        return "done";
      case ForwardState_Failed:
        return "failed";
      default:
        throw Orthanc::OrthancException(Orthanc::ErrorCode_ParameterOutOfRange);
    }
  }

  ForwardState StringToForwardState(const std::string& name)
  {
    for (ForwardState s : {ForwardState_Pending, ForwardState_Sending, ForwardState_Done,
                           ForwardState_Failed})
    {
      if (name == EnumerationToString(s))
      {
        return s;
      }
    }
    throw Orthanc::OrthancException(Orthanc::ErrorCode_ParameterOutOfRange,
                                    "Unknown forward state: " + name);
  }

  const char* EnumerationToString(RequestState state)
  {
    switch (state)
    {
      case RequestState_Active:
        return "active";
      case RequestState_Revoked:
        return "revoked";
      case RequestState_Locked:
        return "locked";
      default:
        throw Orthanc::OrthancException(Orthanc::ErrorCode_ParameterOutOfRange);
    }
  }

  RequestState StringToRequestState(const std::string& name)
  {
    for (RequestState s : {RequestState_Active, RequestState_Revoked, RequestState_Locked})
    {
      if (name == EnumerationToString(s))
      {
        return s;
      }
    }
    throw Orthanc::OrthancException(Orthanc::ErrorCode_ParameterOutOfRange,
                                    "Unknown request state: " + name);
  }

  const char* EnumerationToString(ChallengeKind kind)
  {
    switch (kind)
    {
      case ChallengeKind_None:
        return "none";
      case ChallengeKind_BirthDate:
        return "birthDate";
      case ChallengeKind_Code:
        return "code";
      default:
        throw Orthanc::OrthancException(Orthanc::ErrorCode_ParameterOutOfRange);
    }
  }

  ChallengeKind StringToChallengeKind(const std::string& name)
  {
    for (ChallengeKind k : {ChallengeKind_None, ChallengeKind_BirthDate, ChallengeKind_Code})
    {
      if (name == EnumerationToString(k))
      {
        return k;
      }
    }
    throw Orthanc::OrthancException(Orthanc::ErrorCode_ParameterOutOfRange,
                                    "Unknown challenge: " + name);
  }

  std::string RequestRecord::GetStatus(int64_t now) const
  {
    if (state != RequestState_Active)
    {
      return EnumerationToString(state);  // "revoked" before "locked": both are final
    }
    if (now >= expiresAt)
    {
      return "expired";
    }
    if (usedUploads >= maxUploads)
    {
      return "used";
    }
    return "active";
  }
}
