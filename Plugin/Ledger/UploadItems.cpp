// The stored files of the uploads (the "items" methods of UploadStore, see UploadStore.h).

#include "UploadStore.h"

#include <algorithm>

namespace Inbound
{
  namespace
  {
    const char* const kItemColumns =
      "upload_id, sha256, size, sop_uid, series_uid, study_uid, modality, study_date, "
      "study_description, original_patient_id, isolated_patient_id, orthanc_instance, "
      "orthanc_series, orthanc_study, orthanc_patient, stored_at, patient_name, "
      "patient_birth_date, original_patient_id_bytes";

    ItemRecord ReadItem(const LedgerStatement& s)
    {
      ItemRecord r;
      r.uploadId = s.ColumnString(0);
      r.sha256 = s.ColumnString(1);
      r.size = s.ColumnInt64(2);
      r.sopInstanceUid = s.ColumnString(3);
      r.seriesInstanceUid = s.ColumnString(4);
      r.studyInstanceUid = s.ColumnString(5);
      r.modality = s.ColumnString(6);
      r.studyDate = s.ColumnString(7);
      r.studyDescription = s.ColumnString(8);
      r.originalPatientId = s.ColumnString(9);
      r.isolatedPatientId = s.ColumnString(10);
      r.orthancInstanceId = s.ColumnString(11);
      r.orthancSeriesId = s.ColumnString(12);
      r.orthancStudyId = s.ColumnString(13);
      r.orthancPatientId = s.ColumnString(14);
      r.storedAt = s.ColumnInt64(15);
      r.patientName = s.ColumnString(16);
      r.patientBirthDate = s.ColumnString(17);
      r.originalPatientIdBytes = s.ColumnString(18);
      return r;
    }

    // Items whose Orthanc metadata are owed (items.annotated = 0).
    std::vector<ItemRecord> ReadOwedItems(LedgerStatement& s)
    {
      std::vector<ItemRecord> result;
      while (s.Step())
      {
        result.push_back(ReadItem(s));
        result.back().metadataOwed = true;
      }
      return result;
    }

    bool ReadOneItem(ItemRecord& item, LedgerStatement& s)
    {
      if (!s.Step())
      {
        return false;
      }
      item = ReadItem(s);
      return true;
    }
  }

  UploadStore::AddItemResult UploadStore::AddItem(const ItemRecord& item, const std::string& ip,
                                                  const std::vector<std::string>& quotaScopes,
                                                  int64_t day, const std::string& preamble)
  {
    // The one write per file is committed without waiting for the disk: a power cut may
    // forget the last few records, never corrupt the ledger, and a forgotten file is not
    // listed in the upload's status, so the sender sends it again and it lands on the same
    // archive instance. State changes keep waiting for the disk.
    LedgerDatabase::Transaction t(database_, LedgerDatabase::Durability_Normal);
    ILedgerConnection& db = t.GetConnection();

    UploadRecord upload;
    if (!LookupInternal(t, upload, item.uploadId) || !IsOpen(upload.state))
    {
      return AddItemResult_UploadClosed;  // the transaction rolls back on destruction
    }

    {
      LedgerStatement exists(
        db, "SELECT 1 FROM items WHERE upload_id = ? AND sha256 = ?");
      exists.BindString(0, item.uploadId);
      exists.BindString(1, item.sha256);
      if (exists.Step())
      {
        return AddItemResult_AlreadyPresent;
      }
    }

    LedgerStatement s(
      db,
      std::string("INSERT INTO items (") + kItemColumns +
        ", annotated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    s.BindString(0, item.uploadId);
    s.BindString(1, item.sha256);
    s.BindInt64(2, item.size);
    s.BindString(3, item.sopInstanceUid);
    s.BindString(4, item.seriesInstanceUid);
    s.BindString(5, item.studyInstanceUid);
    s.BindString(6, item.modality);
    s.BindString(7, item.studyDate);
    s.BindString(8, item.studyDescription);
    s.BindString(9, item.originalPatientId);
    s.BindString(10, item.isolatedPatientId);
    s.BindString(11, item.orthancInstanceId);
    s.BindString(12, item.orthancSeriesId);
    s.BindString(13, item.orthancStudyId);
    s.BindString(14, item.orthancPatientId);
    s.BindInt64(15, item.storedAt);
    s.BindString(16, item.patientName);
    s.BindString(17, item.patientBirthDate);
    s.BindString(18, item.originalPatientIdBytes);
    s.BindInt64(19, item.metadataOwed ? 0 : 1);
    s.Run();

    LedgerStatement u(
      db,
      "UPDATE uploads SET files = files + 1, bytes = bytes + ?, updated_at = ? WHERE id = ?");
    u.BindInt64(0, item.size);
    u.BindInt64(1, item.storedAt);
    u.BindString(2, item.uploadId);
    u.Run();
    quotas_.Add(t, quotaScopes, day, 0, item.size);

    audit_.Append(t, item.storedAt, AuditEventType_FileStored, item.uploadId, ip,
                  item.sha256 + " (" + std::to_string(item.size) + " bytes) SOP " +
                    item.sopInstanceUid);
    if (!preamble.empty())
    {
      audit_.Append(t, item.storedAt, AuditEventType_FilePreamble, item.uploadId, ip,
                    "preamble " + preamble + "; file SHA-256 " + item.sha256);
    }
    t.Commit();
    return AddItemResult_Added;
  }

  bool UploadStore::RecordPart(const std::string& uploadId,
                               const std::vector<std::string>& quotaScopes, int64_t day,
                               uint64_t bytes, int64_t now)
  {
    LedgerDatabase::Transaction t(database_, LedgerDatabase::Durability_Normal);
    UploadRecord upload;
    if (!LookupInternal(t, upload, uploadId) || !IsOpen(upload.state))
    {
      return false;
    }
    LedgerStatement u(t.GetConnection(),
                      "UPDATE uploads SET updated_at = ? WHERE id = ?");
    u.BindInt64(0, std::max(now, upload.updatedAt));
    u.BindString(1, uploadId);
    u.Run();
    quotas_.Add(t, quotaScopes, day, 0, static_cast<int64_t>(bytes));
    t.Commit();
    return true;
  }

  bool UploadStore::LookupItem(ItemRecord& item, const std::string& uploadId,
                               const std::string& sha256) const
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(session.GetConnection(),
                      std::string("SELECT ") + kItemColumns +
                        " FROM items WHERE upload_id = ? AND sha256 = ?");
    s.BindString(0, uploadId);
    s.BindString(1, sha256);
    return ReadOneItem(item, s);
  }

  std::vector<ItemRecord> UploadStore::ListItems(const std::string& uploadId) const
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(session.GetConnection(),
                      std::string("SELECT ") + kItemColumns +
                        " FROM items WHERE upload_id = ? ORDER BY rowid");
    s.BindString(0, uploadId);
    std::vector<ItemRecord> result;
    while (s.Step())
    {
      result.push_back(ReadItem(s));
    }
    return result;
  }

  std::vector<ItemRecord> UploadStore::ListUnannotated(const std::string& uploadId) const
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(session.GetConnection(),
                      std::string("SELECT ") + kItemColumns +
                        " FROM items WHERE upload_id = ? AND annotated = 0 ORDER BY rowid");
    s.BindString(0, uploadId);
    return ReadOwedItems(s);
  }

  std::vector<ItemRecord> UploadStore::ListUnannotatedBefore(int64_t storedBefore,
                                                             size_t limit) const
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(session.GetConnection(),
                      std::string("SELECT ") + kItemColumns +
                        " FROM items WHERE annotated = 0 AND stored_at < ? ORDER BY rowid LIMIT ?");
    s.BindInt64(0, storedBefore);
    s.BindInt64(1, static_cast<int64_t>(limit));
    return ReadOwedItems(s);
  }

  int64_t UploadStore::CountUnannotated() const
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(session.GetConnection(), "SELECT COUNT(*) FROM items WHERE annotated = 0");
    return s.Step() ? s.ColumnInt64(0) : 0;
  }

  void UploadStore::MarkAnnotated(const std::vector<ItemRecord>& items)
  {
    if (items.empty())
    {
      return;
    }
    // Like AddItem, without waiting for the disk: a mark forgotten by a power cut only has the
    // metadata written again, to the same values.
    LedgerDatabase::Transaction t(database_, LedgerDatabase::Durability_Normal);
    for (const ItemRecord& item : items)
    {
      LedgerStatement s(t.GetConnection(),
                        "UPDATE items SET annotated = 1 WHERE upload_id = ? AND sha256 = ?");
      s.BindString(0, item.uploadId);
      s.BindString(1, item.sha256);
      s.Run();
    }
    t.Commit();
  }

  bool UploadStore::LookupItemBySop(ItemRecord& item, const std::string& uploadId,
                                    const std::string& sopInstanceUid) const
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(session.GetConnection(),
                      std::string("SELECT ") + kItemColumns +
                        " FROM items WHERE upload_id = ? AND sop_uid = ? LIMIT 1");
    s.BindString(0, uploadId);
    s.BindString(1, sopInstanceUid);
    return ReadOneItem(item, s);
  }

  bool UploadStore::HasStudy(const std::string& uploadId,
                             const std::string& studyInstanceUid) const
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(
      session.GetConnection(),
      "SELECT 1 FROM items WHERE upload_id = ? AND study_uid = ? LIMIT 1");
    s.BindString(0, uploadId);
    s.BindString(1, studyInstanceUid);
    return s.Step();
  }

  bool UploadStore::LookupUploadOfStudy(std::string& uploadId,
                                        const std::string& orthancStudyId) const
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(session.GetConnection(),
                      "SELECT upload_id FROM items WHERE orthanc_study = ? LIMIT 1");
    s.BindString(0, orthancStudyId);
    if (!s.Step())
    {
      return false;
    }
    uploadId = s.ColumnString(0);
    return true;
  }
}
