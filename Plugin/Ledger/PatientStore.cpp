// The patient ordinals of each upload (see PatientStore.h).

#include "PatientStore.h"

namespace Inbound
{
  PatientStore::PatientStore(LedgerDatabase& database) :
    database_(database)
  {
  }

  int64_t PatientStore::GetOrdinal(const std::string& uploadId, const std::string& rawPatientId)
  {
    // One lock and one transaction: two files of the same upload parsed at once cannot both
    // see no row and take the same next ordinal, nor take two ordinals for the same bytes.
    LedgerDatabase::Transaction t(database_);
    ILedgerConnection& db = t.GetConnection();
    {
      LedgerStatement s(
        db,
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
      LedgerStatement s(db,
                        "SELECT COALESCE(MAX(ordinal), 0) + 1 FROM patients"
                        " WHERE upload_id = ?");
      s.BindString(0, uploadId);
      if (s.Step())
      {
        ordinal = s.ColumnInt64(0);
      }
    }
    LedgerStatement s(
      db,
      "INSERT INTO patients (upload_id, original, ordinal) VALUES (?, ?, ?)");
    s.BindString(0, uploadId);
    s.BindBlob(1, rawPatientId.data(), static_cast<int>(rawPatientId.size()));
    s.BindInt64(2, ordinal);
    s.Run();
    t.Commit();
    return ordinal;
  }

  void PatientStore::Forget(const LedgerDatabase::Session& session, const std::string& uploadId)
  {
    LedgerStatement s(session.GetConnection(),
                      "DELETE FROM patients WHERE upload_id = ?");
    s.BindString(0, uploadId);
    s.Run();
  }
}
