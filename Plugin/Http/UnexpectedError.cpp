// The refusal that every route gives for an exception that is not an ApiError.
#include "Http/UnexpectedError.h"

#include <OrthancException.h>

#include <string>

namespace Inbound
{
  namespace
  {
    // The Retry-After of "ledger-unavailable": about one connection attempt (connect_timeout
    // of PostgresLedgerConnection.cpp).
    const int kLedgerRetryAfterSeconds = 5;
  }

  ApiError GetApiErrorOfCurrentException()
  {
    try
    {
      throw;
    }
    catch (const Orthanc::OrthancException& e)
    {
      if (e.GetErrorCode() == Orthanc::ErrorCode_FullStorage)
      {
        return ApiError(507, "storage-full", "The archive is full; please try again later");
      }
      if (e.GetErrorCode() == Orthanc::ErrorCode_DatabaseUnavailable)
      {
        // The ledger's PostgreSQL server cannot be reached (doc/Ledger.md "Two databases"):
        // nothing was recorded, the same request succeeds once it is back.
        return ApiError(503, "ledger-unavailable",
                        "The server's database is not reachable; please try again later")
          .WithHeader("Retry-After", std::to_string(kLedgerRetryAfterSeconds));
      }
    }
    catch (...)
    {
    }
    return ApiError(500, "internal-error", "The server could not handle the request");
  }
}
