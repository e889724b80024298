#include "Ledger.h"

#include <SQLite/Statement.h>
#include <SQLite/Transaction.h>

namespace Inbound
{
  int64_t Ledger::GetPatientOrdinal(const std::string& uploadId, const std::string& rawPatientId)
  {
    // One lock and one transaction: two files of the same upload parsed at once cannot both
    // see no row and take the same next ordinal, nor take two ordinals for the same bytes.
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Transaction t(db_);
    t.Begin();
    {
      Orthanc::SQLite::Statement s(
        db_, SQLITE_FROM_HERE,
        "SELECT ordinal FROM patients WHERE upload_id = ? AND original = ?");
      s.BindString(0, uploadId);
      s.BindBlob(1, rawPatientId.data(), static_cast<int>(rawPatientId.size()));
      if (s.Step())
      {
        return s.ColumnInt64(0);  // nothing written: the transaction rolls back
      }
    }
    int64_t ordinal = 1;
    {
      Orthanc::SQLite::Statement s(db_, SQLITE_FROM_HERE,
                                   "SELECT COALESCE(MAX(ordinal), 0) + 1 FROM patients"
                                   " WHERE upload_id = ?");
      s.BindString(0, uploadId);
      if (s.Step())
      {
        ordinal = s.ColumnInt64(0);
      }
    }
    Orthanc::SQLite::Statement s(
      db_, SQLITE_FROM_HERE,
      "INSERT INTO patients (upload_id, original, ordinal) VALUES (?, ?, ?)");
    s.BindString(0, uploadId);
    s.BindBlob(1, rawPatientId.data(), static_cast<int>(rawPatientId.size()));
    s.BindInt64(2, ordinal);
    s.Run();
    t.Commit();
    return ordinal;
  }
}
