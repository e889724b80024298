// The durable queue of forwards to DICOM modalities (see ForwardStore.h).

#include "ForwardStore.h"

namespace Inbound
{
  namespace
  {
    const char* const kColumns =
      "id, upload_id, study, modality, origin, patient_id, patient_name, patient_birth_date, "
      "keep_namespace, new_uids, state, attempts, next_attempt, job_id, sent_study, last_error, "
      "created_at, updated_at, requested_by, patient_issuer, patient_sex, accession_number, "
      "candidate_source, candidate_score, confirmed";

    ForwardRecord ReadForward(const LedgerStatement& s)
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
      r.patientIssuer = s.ColumnString(19);
      r.patientSex = s.ColumnString(20);
      r.accessionNumber = s.ColumnString(21);
      r.candidateSource = s.ColumnString(22);
      r.candidateScore = s.ColumnInt(23);
      r.confirmed = s.ColumnInt(24) != 0;
      return r;
    }

    DurableQueue::Shape MakeShape()
    {
      DurableQueue::Shape shape;
      shape.table = "forwards";
      shape.columns = kColumns;
      shape.listColumns = kColumns;
      shape.states = {EnumerationToString(ForwardState_Pending),
                      EnumerationToString(ForwardState_Sending),
                      EnumerationToString(ForwardState_Done),
                      EnumerationToString(ForwardState_Failed)};
      // A sending forward is due too: its next attempt polls Orthanc's store job.
      shape.dueStates = {EnumerationToString(ForwardState_Pending),
                         EnumerationToString(ForwardState_Sending)};
      shape.hasUpdatedAt = true;
      return shape;
    }

    // False when "node" (not empty) no longer holds the forward's claim: nothing written.
    bool WriteProgress(const LedgerDatabase::Session& session, const ForwardRecord& f,
                       const std::string& node)
    {
      LedgerStatement s(
        session.GetConnection(),
        "UPDATE forwards SET state = ?, attempts = ?, next_attempt = ?, job_id = ?,"
        " sent_study = ?, last_error = ?, updated_at = ?" +
        // A sending forward stays claimed by the Orthanc whose job sends it.
        std::string(f.state == ForwardState_Sending ? "" : ", lease_owner = '', lease_until = 0") +
        " WHERE id = ? AND (? = '' OR lease_owner = ?)");
      s.BindString(0, EnumerationToString(f.state));
      s.BindInt64(1, f.attempts);
      s.BindInt64(2, f.nextAttemptAt);
      s.BindString(3, f.jobId);
      s.BindString(4, f.sentStudy);
      s.BindString(5, f.lastError);
      s.BindInt64(6, f.updatedAt);
      s.BindInt64(7, f.id);
      s.BindString(8, node);
      s.BindString(9, node);
      s.Run();
      return session.GetConnection().GetLastChangeCount() > 0;
    }
  }

  const char* const ForwardStore::kCursor = "forward";

  void ForwardStore::Insert(const LedgerDatabase::Session& session, ForwardRecord& f,
                            int64_t now)
  {
    LedgerStatement s(
      session.GetConnection(),
      "INSERT INTO forwards (upload_id, study, modality, origin, patient_id, patient_name,"
      " patient_birth_date, keep_namespace, new_uids, state, attempts, next_attempt, job_id,"
      " sent_study, last_error, created_at, updated_at, requested_by, patient_issuer,"
      " patient_sex, accession_number, candidate_source, candidate_score, confirmed)"
      " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, '', '', '', ?, ?, ?, ?, ?, ?, ?, ?,"
      " ?)");
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
    s.BindString(13, f.patientIssuer);
    s.BindString(14, f.patientSex);
    s.BindString(15, f.accessionNumber);
    s.BindString(16, f.candidateSource);
    s.BindInt(17, f.candidateScore);
    s.BindInt(18, f.confirmed ? 1 : 0);
    s.Run();
    f.id = session.GetConnection().GetLastInsertRowId();
    f.state = ForwardState_Pending;
    f.createdAt = f.updatedAt = f.nextAttemptAt = now;
  }

  bool ForwardStore::AddRound(std::vector<ForwardRecord>& forwards,
                              const std::string& rulesDetail,
                              const std::vector<RequestVerdict>& verdicts,
                              const std::vector<ForwardWaiting>& waiting, int64_t now,
                              int64_t startCursor, int64_t cursor)
  {
    LedgerDatabase::Transaction t(database_);
    {
      LedgerStatement s(t.GetConnection(), "SELECT seq FROM cursors WHERE name = ?");
      s.BindString(0, kCursor);
      if (!s.Step() || s.ColumnInt64(0) != startCursor)
      {
        return false;  // nothing written: the transaction rolls back
      }
    }
    std::string firstRuleUpload;
    for (ForwardRecord& f : forwards)
    {
      Insert(t, f, now);
      if (f.origin != "request" && firstRuleUpload.empty())
      {
        firstRuleUpload = f.uploadId;
      }
    }
    if (!firstRuleUpload.empty())
    {
      audit_.Append(t, now, AuditEventType_AutoForward, firstRuleUpload, "", rulesDetail);
    }
    for (const RequestVerdict& v : verdicts)
    {
      LedgerStatement s(t.GetConnection(),
                        "UPDATE uploads SET request_matched = ? WHERE id = ?");
      s.BindInt64(0, v.matched ? 1 : 0);
      s.BindString(1, v.uploadId);
      s.Run();
      if (!v.matched)
      {
        audit_.Append(t, now, AuditEventType_RequestMismatch, v.uploadId, "", v.mismatchDetail);
      }
      if (!v.forwardDetail.empty())
      {
        audit_.Append(t, now, AuditEventType_AutoForward, v.uploadId, "", v.forwardDetail);
      }
    }
    for (const ForwardWaiting& w : waiting)
    {
      audit_.Append(t, now, AuditEventType_ReconcileWaiting, w.uploadId, "", w.detail);
    }
    audit_.SetCursor(t, kCursor, cursor);
    t.Commit();
    return true;
  }

  ForwardStore::ForwardStore(LedgerDatabase& database, AuditStore& audit) :
    database_(database),
    audit_(audit),
    queue_(MakeShape(), audit)
  {
  }

  int64_t ForwardStore::GetCursor()
  {
    return audit_.GetCursor(kCursor);
  }

  void ForwardStore::Add(std::vector<ForwardRecord>& forwards, int64_t now, const std::string& ip,
                         AuditEventType auditEvent, const std::string& auditDetail,
                         int64_t cursor)
  {
    LedgerDatabase::Transaction t(database_);
    for (ForwardRecord& f : forwards)
    {
      Insert(t, f, now);
    }
    if (!forwards.empty())
    {
      audit_.Append(t, now, auditEvent, forwards.front().uploadId, ip, auditDetail);
    }
    if (cursor >= 0)
    {
      audit_.SetCursor(t, kCursor, cursor);
    }
    t.Commit();
  }

  std::vector<ForwardRecord> ForwardStore::ListDue(int64_t now, unsigned int limit) const
  {
    LedgerDatabase::Session session(database_);
    std::vector<ForwardRecord> result;
    queue_.ListDue(session, now, limit, [&](const LedgerStatement& row) {
      result.push_back(ReadForward(row));
    });
    return result;
  }

  std::vector<ForwardRecord> ForwardStore::ClaimDue(int64_t now, unsigned int limit,
                                                     const std::string& node, int64_t leaseUntil)
  {
    LedgerDatabase::Transaction t(database_);
    std::vector<ForwardRecord> result;
    queue_.ClaimDue(t, now, limit, node, leaseUntil, [&](const LedgerStatement& row) {
      result.push_back(ReadForward(row));
    });
    t.Commit();
    return result;
  }

  bool ForwardStore::RenewClaim(int64_t id, const std::string& node, int64_t leaseUntil)
  {
    LedgerDatabase::Transaction t(database_);
    const bool held = queue_.RenewClaim(t, id, node, leaseUntil);
    t.Commit();
    return held;
  }

  int64_t ForwardStore::ReleaseClaims(const std::string& node)
  {
    LedgerDatabase::Transaction t(database_);
    std::vector<std::string> states = {EnumerationToString(ForwardState_Pending),
                                       EnumerationToString(ForwardState_Done),
                                       EnumerationToString(ForwardState_Failed)};
    if (node.empty())
    {
      states.push_back(EnumerationToString(ForwardState_Sending));
    }
    const int64_t released = queue_.ReleaseClaims(t, node, states);
    t.Commit();
    return released;
  }

  bool ForwardStore::Update(const ForwardRecord& f, const std::string& node)
  {
    LedgerDatabase::Session session(database_);
    return WriteProgress(session, f, node);
  }

  bool ForwardStore::Update(const ForwardRecord& f, AuditEventType auditEvent,
                            const std::string& auditDetail, const std::string& node)
  {
    LedgerDatabase::Transaction t(database_);
    if (!WriteProgress(t, f, node))
    {
      return false;
    }
    audit_.Append(t, f.updatedAt, auditEvent, f.uploadId, "", auditDetail);
    t.Commit();
    return true;
  }

  bool ForwardStore::Retry(int64_t id, int64_t now, const std::string& by)
  {
    LedgerDatabase::Transaction t(database_);
    const bool changed = queue_.Retry(t, id, now, AuditEventType_ForwardRetry,
                                      "forward " + std::to_string(id) + " by " + by);
    t.Commit();
    return changed;
  }

  bool ForwardStore::Lookup(ForwardRecord& forward, int64_t id) const
  {
    LedgerDatabase::Session session(database_);
    return queue_.Lookup(session, id, [&](const LedgerStatement& row) {
      forward = ReadForward(row);
    });
  }

  std::vector<ForwardRecord> ForwardStore::List(const std::string& uploadId,
                                                const std::string& state,
                                                unsigned int limit) const
  {
    LedgerDatabase::Session session(database_);
    std::vector<ForwardRecord> result;
    queue_.List(session, uploadId, state, limit, [&](const LedgerStatement& row) {
      result.push_back(ReadForward(row));
    });
    return result;
  }

  std::map<std::string, int64_t> ForwardStore::CountByState() const
  {
    LedgerDatabase::Session session(database_);
    return queue_.CountByState(session);
  }
}
