// The patient ordinals of each upload (table "patients"), on which Isolation builds PatientIDs.
#pragma once

#include "Ledger/LedgerDatabase.h"

#include <string>

namespace Inbound
{
  // Within one upload, the raw bytes of each distinct PatientID and its ordinal map one to
  // one (see Plugin/Upload/Isolation.h). Rows go when the upload's data is purged.
  class PatientStore : public boost::noncopyable
  {
  private:
    LedgerDatabase& database_;

  public:
    explicit PatientStore(LedgerDatabase& database);

    // The ordinal (1, 2, ...) of a PatientID, compared as its raw bytes, among the distinct
    // PatientIDs of an upload: the one recorded, or the next free one, in one transaction, so
    // that files of one upload stored at once agree.
    int64_t GetOrdinal(const std::string& uploadId, const std::string& rawPatientId);

    // Within the caller's transaction (the upload's data is purged).
    void Forget(const LedgerDatabase::Session& session, const std::string& uploadId);
  };
}
