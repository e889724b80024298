// The limits the upload service consults, as an interface, and memory holds released on scope exit.
#pragma once

#include "Ledger/Records.h"

#include <boost/noncopyable.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace Inbound
{
  struct ClientInfo
  {
    std::string ip;
    std::string userAgent;
  };

  // Memory reserved for its holder, released when it is destroyed: on every path, exceptions
  // included.
  class MemoryHold : public boost::noncopyable
  {
  private:
    std::function<void()> release_;

  public:
    explicit MemoryHold(const std::function<void()>& release) :
      release_(release)
    {
    }

    ~MemoryHold()
    {
      if (release_)
      {
        release_();
      }
    }
  };

  // The limits that the upload service consults (rates, quotas, data monitor). Refusals are
  // ApiErrors (503 rate-limited / quota-exceeded with Retry-After, 507 storage-full).
  class IUploadPolicy
  {
  public:
    virtual ~IUploadPolicy() = default;

    // The key the quotas of a sender count by (UploadRecord::senderKey): a keyed hash of the
    // e-mail address, so that the ledger holds no address for them (Limits/SenderKey.h).
    virtual std::string GetSenderKey(const std::string& senderEmail) const = 0;

    // "senderKey": GetSenderKey of the sender's address.
    virtual void CheckOpen(const ClientInfo& client, const std::string& senderKey) = 0;

    // Counts against the quotas of "upload.senderKey".
    virtual void CheckFile(const ClientInfo& client, const UploadRecord& upload,
                           uint64_t size) = 0;

    // A public PUT of a file or part whose upload is open and whose token is right: paced by
    // the client's files per second (Limits.FilesPerSecond, FileBurst) instead of its requests
    // per second; 503 rate-limited with Retry-After when over. Only from a public route's
    // handler, whose call took a request from the client's bucket.
    virtual void PaceFile(const ClientInfo& client) = 0;

    // The quota counters that an upload or a file counts against, and today's day number.
    virtual std::vector<std::string> GetQuotaScopes(const std::string& clientIp,
                                                    const std::string& senderKey) const = 0;

    virtual int64_t GetDay() const = 0;

    // A partner site's part (doc/Api.md, "Partner STOW-RS"): the data monitor, the site's
    // daily quotas and the partner's own ("partner:<id>", at most "maxUploads" uploads and
    // "maxBytes" bytes a day; 0: none), with "addUploads" uploads and "addBytes" bytes more.
    // No per-address rate or quota: a partner is bounded by its streams and its own quotas.
    // Refusals as CheckFile.
    virtual void CheckPartner(const std::string& partnerId, uint64_t maxUploads,
                              uint64_t maxBytes, uint64_t addUploads, uint64_t addBytes) = 0;

    // The quota counters that a partner's uploads and bytes count against.
    static std::vector<std::string> GetPartnerQuotaScopes(const std::string& partnerId)
    {
      return {"global", "partner:" + partnerId};
    }

    // A file that takes more memory parsed than its body was counted for when it was admitted
    // (a deflated dataset is parsed inflated: 300 KB can become 512 MB): "extraBytes" more of
    // it, before it is parsed. Held until the returned object is destroyed; 503 server-busy
    // with Retry-After when the server's in-flight budget cannot hold it.
    virtual std::unique_ptr<MemoryHold> ReserveParsingGrowth(uint64_t extraBytes) = 0;

    // A file assembled from its parts (doc/Api.md, "Files in parts") being checked and stored:
    // the memory that takes on this role, held until the returned object is destroyed. 413
    // too-large when it can never fit, 503 server-busy with Retry-After when not now.
    virtual std::unique_ptr<MemoryHold> ReserveAssembly(uint64_t size)
    {
      (void) size;
      return std::unique_ptr<MemoryHold>(new MemoryHold(nullptr));
    }

    // A refusal answered to "address", audited as the refusals of the access filter are (in
    // batches). Nothing by default (unit tests).
    virtual void AuditRefusal(const std::string& address, int status, const std::string& code,
                              const std::string& what)
    {
      (void) address;
      (void) status;
      (void) code;
      (void) what;
    }

    // A partner's part of "partBytes" being read or stored takes what a sender's file of that
    // size takes; the request's admission reserved some of it already, and the body too when
    // "bodyHeld" (a request with a Content-Length). Holds the rest; 503 server-busy as above.
    virtual std::unique_ptr<MemoryHold> ReservePartnerPart(uint64_t partBytes, bool bodyHeld)
    {
      (void) partBytes;
      (void) bodyHeld;
      return std::unique_ptr<MemoryHold>(new MemoryHold(nullptr));
    }
  };

  // No limits at all (unit tests of the upload logic).
  class NoUploadPolicy : public IUploadPolicy
  {
  public:
    std::string GetSenderKey(const std::string& senderEmail) const override
    {
      return senderEmail.empty() ? "" : "key-of-" + senderEmail;
    }

    void CheckOpen(const ClientInfo&, const std::string&) override
    {
    }

    void CheckFile(const ClientInfo&, const UploadRecord&, uint64_t) override
    {
    }

    void PaceFile(const ClientInfo&) override
    {
    }

    std::vector<std::string> GetQuotaScopes(const std::string&, const std::string&) const override
    {
      return {};
    }

    int64_t GetDay() const override
    {
      return 0;
    }

    void CheckPartner(const std::string&, uint64_t, uint64_t, uint64_t, uint64_t) override
    {
    }

    std::unique_ptr<MemoryHold> ReserveParsingGrowth(uint64_t) override
    {
      return std::unique_ptr<MemoryHold>(new MemoryHold(nullptr));
    }
  };
}
