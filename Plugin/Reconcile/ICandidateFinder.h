// Finds the hospital's candidates for the patients of an upload, as an interface (a fake in tests).
#pragma once

#include "Reconcile/Candidates.h"

#include <string>

namespace Inbound
{
  class ICandidateFinder
  {
  public:
    virtual ~ICandidateFinder() = default;

    // The patients of a complete upload stored in this Orthanc with their candidates from
    // every source, within Reconciliation.TimeoutSeconds whatever the sources do. A result
    // less than Reconciliation.CacheSeconds old is answered again unless `fresh`.
    // ApiError 404 unknown upload, 409 upload-not-stored.
    virtual Reconciliation Find(const std::string& uploadId, bool fresh) = 0;

    // The last result for the upload, however old, without asking any source; false if none.
    virtual bool GetCached(Reconciliation& result, const std::string& uploadId) = 0;
  };
}
