// The answers of the admin routes: the inbox, one upload with its history, removal, the audit.
#pragma once

#include "Upload/UploadService.h"

namespace Inbound
{
  // The admin routes' answers (doc/Api.md, "Admin routes"): the inbox of uploads, one upload with
  // its items and history, removal, and the audit trail. Sender text is returned as data,
  // never markup.
  class AdminViews : public boost::noncopyable
  {
  private:
    const Ledger& ledger_;
    UploadService& uploads_;

    Json::Value DescribeUpload(const UploadRecord& upload,
                               const std::vector<ItemRecord>& items) const;

    // "request" of an upload bound to a request link: {id, patient, matched, forwardTo}.
    Json::Value DescribeRequest(const UploadRecord& upload) const;

  public:
    AdminViews(const Ledger& ledger, UploadService& uploads);

    // The "limit" argument of the admin lists: empty (100) or 1 to 10000; else an ApiError.
    static unsigned int ParseLimitArgument(const std::string& limit);

    // The sender panel of a study in Orthanc Explorer; 404 for studies not received here.
    Json::Value DescribeStudy(const std::string& orthancStudyId) const;

    // "state" empty: all; "since" an ISO 8601 time or empty. Bad arguments are ApiErrors.
    Json::Value ListUploads(const std::string& state, const std::string& since,
                            const std::string& limit) const;

    Json::Value ShowUpload(const std::string& id) const;

    Json::Value DeleteUpload(const std::string& id, const ClientInfo& client);

    Json::Value ListAudit(const std::string& since, const std::string& limit) const;

    static Json::Value DescribeEvent(const AuditEvent& event);
  };
}
