// Request links: staff create, list, show and revoke them; senders open them and answer the challenge.
#pragma once

#include "Configuration.h"
#include "Http/ApiError.h"
#include "Ledger/Ledger.h"
#include "Toolbox/Time.h"
#include "Upload/UploadLocks.h"

#include <json/value.h>

#include <functional>
#include <string>
#include <vector>

namespace Inbound
{
  // The request links of doc/Requests.md: the admin routes (create, list, show, revoke) and
  // the public ones (what the page shows before the challenge, the challenge), and the check
  // of a link and its ticket when an upload is opened through it. Thread-safe (the ledger
  // serializes; listeners are set up before any request); refusals are ApiErrors.
  class RequestService : public boost::noncopyable
  {
  public:
    // Called after a request is created, with its link (which only this answer and the
    // link mail ever hold) and the 201 answer, which it may extend ("mailed", "gateways").
    using CreatedListener =
      std::function<void(const RequestRecord& record, const std::string& url, Json::Value& answer)>;

    // Called after a revocation (with its answer), or when a request is shown to an admin
    // (with its JSON), which it may extend ("gateways").
    using RecordListener = std::function<void(const RequestRecord& record, Json::Value& json)>;

  private:
    const Configuration& configuration_;
    Ledger& ledger_;
    const IClock& clock_;
    std::function<void(const std::string& ip)> wrongAnswer_;
    std::function<bool(const std::string& name)> knownModality_;
    std::vector<CreatedListener> created_;
    std::vector<RecordListener> revoked_;
    std::vector<RecordListener> described_;
    UploadLocks challengeLocks_;  // keyed by request id: one answer of a request at a time

    // The request of a link's token, whatever its status; 404 not-found when unknown.
    RequestRecord LookupToken(const std::string& token) const;

    // The request of a link's token, refused unless it is active (StatusError).
    RequestRecord LookupActive(const std::string& token) const;

    // A gateway holds the requests the Internal pushes; staff create and revoke them inside.
    void CheckMadeHere() const;

  public:
    RequestService(const Configuration& configuration, Ledger& ledger, const IClock& clock);

    // A wrong answer also counts for the address like a wrong password (LoginLockout).
    void SetWrongAnswerCounter(const std::function<void(const std::string& ip)>& counter)
    {
      wrongAnswer_ = counter;
    }

    // Whether "forwardTo" names a modality (DicomModalities); unset: no forwardTo accepted.
    void SetModalityCheck(const std::function<bool(const std::string& name)>& check)
    {
      knownModality_ = check;
    }

    void AddCreatedListener(const CreatedListener& listener)
    {
      created_.push_back(listener);
    }

    void AddRevokedListener(const RecordListener& listener)
    {
      revoked_.push_back(listener);
    }

    void AddDescribeListener(const RecordListener& listener)
    {
      described_.push_back(listener);
    }

    // The refusal of a request that is not active: 410 request-expired, request-used,
    // request-revoked; 403 request-locked; 404 not-found ("unknown").
    static ApiError StatusError(const std::string& status);

    // POST /inbound/admin/requests: the 201 answer {id, url, code?, expiresAt, mailed}.
    // "baseUrl" is where the admin reached this server ("https://host"), used for the link
    // when Inbound.PublicUrl is empty on a Standalone; "" when unknown.
    Json::Value Create(const void* body, size_t size, const std::string& by,
                       const std::string& baseUrl);

    // GET /inbound/admin/requests: {requests: [...]}, newest first.
    Json::Value List(unsigned int limit) const;

    // GET /inbound/admin/requests/{id}: the request with its uploads; 404 not-found.
    Json::Value Show(const std::string& id) const;

    // DELETE /inbound/admin/requests/{id}: {id, status: "revoked"} (again for a revoked one).
    Json::Value Revoke(const std::string& id, const std::string& by);

    // A request as the admin routes show it.
    Json::Value Describe(const RequestRecord& record) const;

    // GET /inbound/api/requests/{token}: what the page shows before the challenge; no
    // patient data.
    Json::Value DescribeLink(const std::string& token) const;

    // POST /inbound/api/requests/{token}/challenge: {ticket, ticketExpiresAt, expected}, or
    // 403 challenge-failed with remainingAttempts, 403 request-locked.
    Json::Value Challenge(const std::string& token, const void* body, size_t size,
                          const std::string& ip);

    // An upload opened through a link: the active request whose valid ticket this is, else
    // the StatusError, or 403 challenge-required for a wrong or expired ticket.
    RequestRecord CheckBinding(const std::string& token, const std::string& ticket) const;
  };
}
