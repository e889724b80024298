// Forwards of studies to DICOM modalities (see Ledger.h).

#include "Ledger.h"

#include <SQLite/Statement.h>
#include <SQLite/Transaction.h>

namespace Inbound
{
  namespace
  {
    const char* const kColumns =
      "id, upload_id, study, modality, origin, patient_id, patient_name, patient_birth_date, "
      "keep_namespace, new_uids, state, attempts, next_attempt, job_id, sent_study, last_error, "
      "created_at, updated_at, requested_by";

    ForwardRecord ReadForward(const Orthanc::SQLite::Statement& s)
    {
      ForwardRecord r;
      r.id = s.ColumnInt64(0);
      r.uploadId = s.ColumnString(1);
      r.study = s.ColumnString(2);
      r.modality = s.ColumnString(3);
      r.origin = s.ColumnString(4);
      r.patientId = s.ColumnString(5);
      r.patientName = s.ColumnString(6);
      r.patientBirthDate = s.ColumnString(7);
      r.keepNamespace = s.ColumnInt(8) != 0;
      r.newUids = s.ColumnInt(9) != 0;
      r.state = StringToForwardState(s.ColumnString(10));
      r.attempts = s.ColumnInt64(11);
      r.nextAttemptAt = s.ColumnInt64(12);
      r.jobId = s.ColumnString(13);
      r.sentStudy = s.ColumnString(14);
      r.lastError = s.ColumnString(15);
      r.createdAt = s.ColumnInt64(16);
      r.updatedAt = s.ColumnInt64(17);
      r.requestedBy = s.ColumnString(18);
      return r;
    }
  }

  std::vector<AuditEvent> Ledger::ListCompletedUploads(int64_t seq, unsigned int limit,
                                                       int64_t& scannedUpTo) const
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Statement s(
      db_, SQLITE_FROM_HERE,
      "SELECT seq, time, event, upload_id, ip, detail FROM audit WHERE seq > ? AND"
      " event = 'upload-complete' ORDER BY seq LIMIT ?");
    s.BindInt64(0, seq);
    s.BindInt64(1, limit);
    return ReadEventsAfterInternal(s, seq, limit, scannedUpTo);
  }

  void Ledger::AddForwards(std::vector<ForwardRecord>& forwards, int64_t now,
                           const std::string& ip, const std::string& auditEvent,
                           const std::string& auditDetail, int64_t cursor)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Transaction t(db_);
    t.Begin();
    for (ForwardRecord& f : forwards)
    {
      Orthanc::SQLite::Statement s(
        db_, SQLITE_FROM_HERE,
        "INSERT INTO forwards (upload_id, study, modality, origin, patient_id, patient_name,"
        " patient_birth_date, keep_namespace, new_uids, state, attempts, next_attempt, job_id,"
        " sent_study, last_error, created_at, updated_at, requested_by)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, '', '', '', ?, ?, ?)");
      s.BindString(0, f.uploadId);
      s.BindString(1, f.study);
      s.BindString(2, f.modality);
      s.BindString(3, f.origin);
      s.BindString(4, f.patientId);
      s.BindString(5, f.patientName);
      s.BindString(6, f.patientBirthDate);
      s.BindInt(7, f.keepNamespace ? 1 : 0);
      s.BindInt(8, f.newUids ? 1 : 0);
      s.BindInt64(9, now);
      s.BindInt64(10, now);
      s.BindInt64(11, now);
      s.BindString(12, f.requestedBy);
      s.Run();
      f.id = db_.GetLastInsertRowId();
      f.state = ForwardState_Pending;
      f.createdAt = f.updatedAt = f.nextAttemptAt = now;
    }
    if (!forwards.empty())
    {
      AddAuditInternal(now, auditEvent, forwards.front().uploadId, ip, auditDetail);
    }
    if (cursor >= 0)
    {
      SetCursorInternal("forward", cursor);
    }
    t.Commit();
  }

  std::vector<ForwardRecord> Ledger::ListDueForwards(int64_t now, unsigned int limit) const
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Statement s(
      db_, SQLITE_FROM_HERE,
      std::string("SELECT ") + kColumns +
        " FROM forwards WHERE state IN ('pending', 'sending') AND next_attempt <= ?"
        " ORDER BY next_attempt, id LIMIT ?");
    s.BindInt64(0, now);
    s.BindInt64(1, limit);
    std::vector<ForwardRecord> result;
    while (s.Step())
    {
      result.push_back(ReadForward(s));
    }
    return result;
  }

  void Ledger::UpdateForward(const ForwardRecord& f, const std::string& auditEvent,
                             const std::string& auditDetail)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Transaction t(db_);
    t.Begin();
    Orthanc::SQLite::Statement s(
      db_, SQLITE_FROM_HERE,
      "UPDATE forwards SET state = ?, attempts = ?, next_attempt = ?, job_id = ?,"
      " sent_study = ?, last_error = ?, updated_at = ? WHERE id = ?");
    s.BindString(0, EnumerationToString(f.state));
    s.BindInt64(1, f.attempts);
    s.BindInt64(2, f.nextAttemptAt);
    s.BindString(3, f.jobId);
    s.BindString(4, f.sentStudy);
    s.BindString(5, f.lastError);
    s.BindInt64(6, f.updatedAt);
    s.BindInt64(7, f.id);
    s.Run();
    if (!auditEvent.empty())
    {
      AddAuditInternal(f.updatedAt, auditEvent, f.uploadId, "", auditDetail);
    }
    t.Commit();
  }

  bool Ledger::LookupForward(ForwardRecord& forward, int64_t id) const
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Statement s(
      db_, SQLITE_FROM_HERE, std::string("SELECT ") + kColumns + " FROM forwards WHERE id = ?");
    s.BindInt64(0, id);
    if (!s.Step())
    {
      return false;
    }
    forward = ReadForward(s);
    return true;
  }

  std::vector<ForwardRecord> Ledger::ListForwards(const std::string& uploadId,
                                                  const std::string& state,
                                                  unsigned int limit) const
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Statement s(
      db_, SQLITE_FROM_HERE,
      std::string("SELECT ") + kColumns +
        " FROM forwards WHERE (? = '' OR upload_id = ?) AND (? = '' OR state = ?)"
        " ORDER BY id DESC LIMIT ?");
    s.BindString(0, uploadId);
    s.BindString(1, uploadId);
    s.BindString(2, state);
    s.BindString(3, state);
    s.BindInt64(4, limit);
    std::vector<ForwardRecord> result;
    while (s.Step())
    {
      result.push_back(ReadForward(s));
    }
    return result;
  }

  std::map<std::string, int64_t> Ledger::CountForwards() const
  {
    return CountStates("forwards", {"pending", "sending", "done", "failed"});
  }

  bool Ledger::LookupUploadOfStudy(std::string& uploadId, const std::string& orthancStudyId) const
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Statement s(db_, SQLITE_FROM_HERE,
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
