// One partner STOW-RS request's intake: its parts into the open upload of their study.
#pragma once

#include "Configuration.h"
#include "Http/ApiError.h"
#include "Ledger/PartnerStore.h"
#include "Ledger/Records.h"
#include "Partners/StowItemResult.h"
#include "Upload/IUploadPolicy.h"

#include <boost/noncopyable.hpp>

#include <map>
#include <mutex>
#include <set>
#include <string>

namespace Inbound
{
  class UploadService;

  // The partner uploads that running requests feed, with how many feed each: the quiet-time
  // completion leaves them open (doc/Architecture.md, "Locks"). Thread-safe.
  class PartnerFeeds : public boost::noncopyable
  {
  private:
    std::mutex mutex_;
    std::map<std::string, unsigned int> feeding_;

  public:
    void Add(const std::string& uploadId);

    void Remove(const std::string& uploadId);

    bool IsFed(const std::string& uploadId);
  };

  // One request of a partner (doc/Api.md, "Partner STOW-RS"; the design: doc/Architecture.md,
  // "Partner parts"). Each part goes through the checks of a sender's file (size, quotas,
  // malware scan before any parser, DICOM guard, duplicate SOP, isolation or staging) into the
  // open upload of (partner, study), which it opens if there is none. Used by one thread.
  class PartnerSession : public IPartnerSession
  {
  private:
    UploadService& service_;
    const PartnerSettings partner_;
    const ClientInfo client_;
    std::mutex mutex_;           // guards fed_ and tally_: Add() runs on two threads at once
    std::set<std::string> fed_;  // the uploads this request feeds (registered in PartnerFeeds)
    PartnerRequestTally tally_;
    bool closed_ = false;
    std::unique_ptr<MemoryHold> buffering_;  // the reading thread's only

    // Throws ApiError for every refusal; fills "result" as it learns the part's UIDs.
    void Store(StowItemResult& result, const void* body, size_t size,
               const std::string& expectedStudy);

    // The open upload of "study" for this partner, opened if there is none, registered as
    // fed by this request.
    UploadRecord OpenUpload(const std::string& study);

    void ReleaseFeeds();

  public:
    PartnerSession(UploadService& service, const PartnerSettings& partner,
                   const ClientInfo& client);

    ~PartnerSession() override;

    StowItemResult Add(const void* body, size_t size, const std::string& expectedStudy) override;

    // Through the upload policy's in-flight budget (ReservePartnerPart).
    bool ReserveBuffering(uint64_t partBytes, bool bodyHeld) override;

    // Counted in the request's failures, its code the last failure's.
    void RequestFailed(const std::string& code) override;

    // Records the request's figures (PartnerStore) and audits "partner-stow".
    void Close() override;

    // A refusal as a STOW-RS failure (doc/Api.md, "Partner STOW-RS": FailureReason table).
    static void Refuse(StowItemResult& result, const ApiError& error);
  };
}
