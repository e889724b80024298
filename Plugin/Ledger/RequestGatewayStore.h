// What each gateway confirmed of each request link (table "request_gateways", Internal).
#pragma once

#include "Ledger/LedgerDatabase.h"

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace Inbound
{
  // What the Internal knows of one request on one gateway (doc/Ledger.md, "request_gateways").
  struct RequestGatewayRecord
  {
    std::string gateway;
    int64_t confirmedRevision = 0;  // the revision the gateway answered holding; 0: none
    int64_t syncedAt = 0;           // its last answer about the request; 0: never
    std::string status;             // the gateway's status of the request
    int64_t usedUploads = 0;
    int64_t failures = 0;
    int64_t lockedAt = 0;
    std::string refused;            // why the gateway refused the record ("" if not)
  };

  // Written by RequestSync (doc/Requests.md, "Gateways"), one row at a time; rows of pruned
  // requests go with them (RequestStore::Prune).
  class RequestGatewayStore : public boost::noncopyable
  {
  private:
    LedgerDatabase& database_;

  public:
    explicit RequestGatewayStore(LedgerDatabase& database);

    // Ids of the requests (not expired at "now") whose newest revision "gateway" has not
    // confirmed, oldest first: never pushed there, or a newer revision; one it refused only if
    // it was refused at "refusedBefore" or earlier.
    std::vector<std::string> ListPending(const std::string& gateway, int64_t now,
                                         int64_t refusedBefore, size_t limit) const;

    // The requests (not expired at "now") that "gateway" confirmed once.
    std::set<std::string> ListConfirmed(const std::string& gateway, int64_t now) const;

    // Adds or replaces the row of (requestId, record.gateway).
    void Put(const std::string& requestId, const RequestGatewayRecord& record);

    // Every gateway's row of the request.
    std::vector<RequestGatewayRecord> List(const std::string& requestId) const;
  };
}
