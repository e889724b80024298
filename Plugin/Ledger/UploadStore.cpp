// The uploads: creation, states, lists (see UploadStore.h; the items are in UploadItems.cpp).

#include "UploadStore.h"

#include "Upload/TextRules.h"

namespace Inbound
{
  namespace
  {
    // Longest user agent kept, in characters, as for the detail of an audit entry.
    const size_t kMaxUserAgent = 1000;

    const char* const kUploadColumns =
      "id, token_hash, state, created_at, updated_at, completed_at, sender_name, sender_email, "
      "sender_institution, sender_phone, recipient, message, consent_version, client_ip, "
      "user_agent, expected_files, expected_bytes, receipt_code, files, bytes, purged, language, "
      "gateway, sealed_fields, sender_key, request_id, request_matched, partner_id, partner_study";

    UploadRecord ReadUpload(const LedgerStatement& s)
    {
      UploadRecord r;
      r.id = s.ColumnString(0);
      r.tokenHash = s.ColumnString(1);
      r.state = StringToUploadState(s.ColumnString(2));
      r.createdAt = s.ColumnInt64(3);
      r.updatedAt = s.ColumnInt64(4);
      r.completedAt = s.ColumnInt64(5);
      r.sender.name = s.ColumnString(6);
      r.sender.email = s.ColumnString(7);
      r.sender.institution = s.ColumnString(8);
      r.sender.phone = s.ColumnString(9);
      r.recipientId = s.ColumnString(10);
      r.message = s.ColumnString(11);
      r.consentVersion = s.ColumnString(12);
      r.clientIp = s.ColumnString(13);
      r.userAgent = s.ColumnString(14);
      r.expectedFiles = s.ColumnInt64(15);
      r.expectedBytes = s.ColumnInt64(16);
      r.receiptCode = s.ColumnString(17);
      r.files = s.ColumnInt64(18);
      r.bytes = s.ColumnInt64(19);
      r.purged = s.ColumnInt(20) != 0;
      r.language = s.ColumnString(21);
      r.gateway = s.ColumnString(22);
      r.sealedFields = s.ColumnString(23);
      r.senderKey = s.ColumnString(24);
      r.requestId = s.ColumnString(25);
      r.requestMatched = s.ColumnInt64(26);
      r.partnerId = s.ColumnString(27);
      r.partnerStudy = s.ColumnString(28);
      return r;
    }

    std::vector<UploadRecord> ReadUploads(LedgerStatement& s)
    {
      std::vector<UploadRecord> result;
      while (s.Step())
      {
        result.push_back(ReadUpload(s));
      }
      return result;
    }

    std::vector<std::string> ReadIds(LedgerStatement& s)
    {
      std::vector<std::string> result;
      while (s.Step())
      {
        result.push_back(s.ColumnString(0));
      }
      return result;
    }
  }

  UploadStore::UploadStore(LedgerDatabase& database, AuditStore& audit, QuotaStore& quotas,
                           PatientStore& patients, const RequestStore& requests) :
    database_(database),
    audit_(audit),
    quotas_(quotas),
    patients_(patients),
    requests_(requests)
  {
  }

  std::string UploadStore::Create(const UploadRecord& r,
                                  const std::vector<std::string>& quotaScopes, int64_t day)
  {
    LedgerDatabase::Transaction t(database_);
    const std::string refused = CreateInternal(t, r, quotaScopes, day);
    if (refused.empty())
    {
      t.Commit();
    }
    return refused;
  }

  UploadRecord UploadStore::FindOrCreatePartnerUpload(const UploadRecord& record,
                                                      const std::vector<std::string>& quotaScopes,
                                                      int64_t day, bool& created)
  {
    LedgerDatabase::Transaction t(database_);
    UploadRecord open;
    if (LookupOpenPartnerInternal(t, open, record.partnerId, record.partnerStudy))
    {
      created = false;
      return open;  // nothing written: the transaction rolls back
    }
    CreateInternal(t, record, quotaScopes, day);  // no request: never refused
    t.Commit();
    created = true;
    return record;
  }

  bool UploadStore::LookupOpenPartnerInternal(const LedgerDatabase::Session& session,
                                              UploadRecord& record, const std::string& partnerId,
                                              const std::string& study) const
  {
    // The newest open one: there is at most one (FindOrCreatePartnerUpload is the only way to
    // make one). Pulled uploads (gateway set) only carry their gateway's partner label.
    LedgerStatement s(
      session.GetConnection(),
      std::string("SELECT ") + kUploadColumns +
        " FROM uploads WHERE partner_id = ? AND partner_study = ? AND state = 'open'"
        " AND gateway = '' ORDER BY created_at DESC LIMIT 1");
    s.BindString(0, partnerId);
    s.BindString(1, study);
    if (!s.Step())
    {
      return false;
    }
    record = ReadUpload(s);
    return true;
  }

  bool UploadStore::LookupOpenPartnerUpload(UploadRecord& record, const std::string& partnerId,
                                            const std::string& study) const
  {
    LedgerDatabase::Session session(database_);
    return LookupOpenPartnerInternal(session, record, partnerId, study);
  }

  std::vector<UploadRecord> UploadStore::ListOpenPartnerUploads() const
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(
      session.GetConnection(),
      std::string("SELECT ") + kUploadColumns +
        " FROM uploads WHERE state = 'open' AND partner_id != '' AND gateway = ''");
    return ReadUploads(s);
  }

  std::string UploadStore::CreateInternal(LedgerDatabase::Transaction& t, const UploadRecord& r,
                                          const std::vector<std::string>& quotaScopes,
                                          int64_t day)
  {
    if (!r.requestId.empty())
    {
      // The request's check and this upload's use of it are one transaction: two opens racing
      // for the last use cannot both win.
      RequestRecord request;
      if (!requests_.LookupInSession(t, request, r.requestId))
      {
        return "unknown";
      }
      // A pulled upload was opened on its gateway before it got here: only the Internal's
      // own count of uses refuses it (the puller checked the rest; doc/Requests.md).
      const std::string status = request.GetStatus(r.createdAt);
      if (r.gateway.empty() ? status != "active"
                            : request.usedUploads >= request.maxUploads)
      {
        return r.gateway.empty() ? status : "used";
      }
    }
    quotas_.Add(t, quotaScopes, day, 1, 0);
    LedgerStatement s(
      t.GetConnection(),
      std::string("INSERT INTO uploads (") + kUploadColumns +
        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    s.BindString(0, r.id);
    s.BindString(1, r.tokenHash);
    s.BindString(2, EnumerationToString(r.state));
    s.BindInt64(3, r.createdAt);
    s.BindInt64(4, r.updatedAt);
    s.BindInt64(5, r.completedAt);
    s.BindString(6, r.sender.name);
    s.BindString(7, r.sender.email);
    s.BindString(8, r.sender.institution);
    s.BindString(9, r.sender.phone);
    s.BindString(10, r.recipientId);
    s.BindString(11, r.message);
    s.BindString(12, r.consentVersion);
    s.BindString(13, r.clientIp);
    s.BindString(14, TextRules::MakeSafe(r.userAgent, kMaxUserAgent));
    s.BindInt64(15, r.expectedFiles);
    s.BindInt64(16, r.expectedBytes);
    s.BindString(17, r.receiptCode);
    s.BindInt64(18, r.files);
    s.BindInt64(19, r.bytes);
    s.BindInt(20, r.purged ? 1 : 0);
    s.BindString(21, r.language);
    s.BindString(22, r.gateway);
    s.BindString(23, r.sealedFields);
    s.BindString(24, r.senderKey);
    s.BindString(25, r.requestId);
    s.BindInt64(26, r.requestMatched);
    s.BindString(27, r.partnerId);
    s.BindString(28, r.partnerStudy);
    s.Run();
    // A sealing gateway keeps no readable trace of the sender (doc/Security.md, "Sealed
    // staging"): the audit names the sealed sender by nothing.
    audit_.Append(t, r.createdAt, AuditEventType_UploadOpened, r.id, r.clientIp,
                  (r.sealedFields.empty() ? "sender " + r.sender.email : "sender sealed") +
                    (r.recipientId.empty() ? "" : ", recipient " + r.recipientId) +
                    (r.gateway.empty() ? "" : ", pulled from gateway " + r.gateway) +
                    (r.requestId.empty() ? "" : ", request " + r.requestId) +
                    (r.partnerId.empty() ? "" : ", partner " + r.partnerId));
    return "";
  }

  bool UploadStore::LookupInternal(const LedgerDatabase::Session& session, UploadRecord& record,
                                   const std::string& id) const
  {
    LedgerStatement s(session.GetConnection(),
                      std::string("SELECT ") + kUploadColumns +
                        " FROM uploads WHERE id = ?");
    s.BindString(0, id);
    if (!s.Step())
    {
      return false;
    }
    record = ReadUpload(s);
    return true;
  }

  bool UploadStore::Lookup(UploadRecord& record, const std::string& id) const
  {
    LedgerDatabase::Session session(database_);
    return LookupInternal(session, record, id);
  }

  std::vector<UploadRecord> UploadStore::List(const std::string& state, int64_t sinceMs,
                                              unsigned int limit) const
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(
      session.GetConnection(),
      std::string("SELECT ") + kUploadColumns +
        " FROM uploads WHERE (? = '' OR state = ?) AND created_at >= ?"
        " ORDER BY created_at DESC, id LIMIT ?");
    s.BindString(0, state);
    s.BindString(1, state);
    s.BindInt64(2, sinceMs);
    s.BindInt64(3, limit);
    return ReadUploads(s);
  }

  bool UploadStore::ChangeState(const std::string& id, const std::set<UploadState>& from,
                                UploadState to, int64_t now, const std::string& ip,
                                const std::string& detail, const std::string& receiptCode)
  {
    const AuditEventType event = GetStateChangeEvent(to);
    LedgerDatabase::Transaction t(database_);
    UploadRecord upload;
    if (!LookupInternal(t, upload, id) || from.count(upload.state) == 0)
    {
      return false;
    }
    LedgerStatement s(
      t.GetConnection(),
      "UPDATE uploads SET state = ?, updated_at = ?,"
      " completed_at = CASE WHEN ? != 0 THEN ? ELSE completed_at END,"
      " receipt_code = CASE WHEN ? != 0 THEN ? ELSE receipt_code END WHERE id = ?");
    const bool completing = (to == UploadState_Complete);
    s.BindString(0, EnumerationToString(to));
    s.BindInt64(1, now);
    s.BindInt(2, completing ? 1 : 0);
    s.BindInt64(3, now);
    s.BindInt(4, completing ? 1 : 0);
    s.BindString(5, receiptCode);
    s.BindString(6, id);
    s.Run();
    audit_.Append(t, now, event, id, ip, detail);
    t.Commit();
    return true;
  }

  void UploadStore::MarkPurged(const std::string& id, int64_t now, const std::string& detail)
  {
    LedgerDatabase::Transaction t(database_);
    LedgerStatement s(t.GetConnection(),
                      "UPDATE uploads SET purged = 1 WHERE id = ?");
    s.BindString(0, id);
    s.Run();
    patients_.Forget(t, id);
    audit_.Append(t, now, AuditEventType_DataRemoved, id, "", detail);
    t.Commit();
  }

  size_t UploadStore::FillSenderKeys(
    const std::function<std::string(const std::string&)>& senderKey)
  {
    LedgerDatabase::Transaction t(database_);
    std::vector<std::pair<std::string, std::string>> rows;  // id, e-mail
    {
      LedgerStatement s(t.GetConnection(),
                        "SELECT id, sender_email FROM uploads"
                        " WHERE sender_key = '' AND sender_email != ''");
      while (s.Step())
      {
        rows.emplace_back(s.ColumnString(0), s.ColumnString(1));
      }
    }
    for (const auto& row : rows)
    {
      LedgerStatement s(t.GetConnection(),
                        "UPDATE uploads SET sender_key = ? WHERE id = ?");
      s.BindString(0, senderKey(row.second));
      s.BindString(1, row.first);
      s.Run();
    }
    t.Commit();
    return rows.size();
  }

  size_t UploadStore::SealPlainRecords(const std::function<void(UploadRecord&)>& seal)
  {
    LedgerDatabase::Transaction t(database_);
    std::vector<UploadRecord> plain;
    {
      LedgerStatement s(t.GetConnection(),
                        std::string("SELECT ") + kUploadColumns +
                          " FROM uploads WHERE sealed_fields = ''");
      plain = ReadUploads(s);
    }
    for (UploadRecord& r : plain)
    {
      seal(r);
      LedgerStatement s(
        t.GetConnection(),
        "UPDATE uploads SET sealed_fields = ?, sender_name = ?, sender_email = ?,"
        " sender_institution = ?, sender_phone = ?, message = ?, user_agent = ? WHERE id = ?");
      s.BindString(0, r.sealedFields);
      s.BindString(1, r.sender.name);
      s.BindString(2, r.sender.email);
      s.BindString(3, r.sender.institution);
      s.BindString(4, r.sender.phone);
      s.BindString(5, r.message);
      s.BindString(6, r.userAgent);
      s.BindString(7, r.id);
      s.Run();
    }
    // As StagingSealer::BlankItem: the UIDs, modality, size and hash stay.
    t.GetConnection().Execute(
      "UPDATE items SET study_date = '', study_description = '', original_patient_id = '',"
      " original_patient_id_bytes = '', patient_name = '', patient_birth_date = ''"
      " WHERE study_date != '' OR study_description != '' OR original_patient_id != ''"
      " OR original_patient_id_bytes != '' OR patient_name != '' OR patient_birth_date != ''");
    audit_.RedactOpenedSenders(t);
    t.Commit();
    return plain.size();
  }

  std::map<std::string, int64_t> UploadStore::CountByState() const
  {
    LedgerDatabase::Session session(database_);
    return CountRowsByState(session, "uploads", {});
  }

  std::vector<UploadRecord> UploadStore::ListOutbox(unsigned int limit) const
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(session.GetConnection(),
                      std::string("SELECT ") + kUploadColumns +
                        " FROM uploads WHERE state = 'complete'"
                        " ORDER BY completed_at, id LIMIT ?");
    s.BindInt64(0, limit);
    return ReadUploads(s);
  }

  std::vector<std::string> UploadStore::ListIdleOpen(int64_t cutoffMs) const
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(
      session.GetConnection(),
      "SELECT id FROM uploads WHERE state = 'open' AND updated_at < ?"
      " AND (partner_id = '' OR gateway != '')");
    s.BindInt64(0, cutoffMs);
    return ReadIds(s);
  }

  std::vector<std::string> UploadStore::ListUnpurgedRemoved() const
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(
      session.GetConnection(),
      "SELECT id FROM uploads WHERE purged = 0"
      " AND state IN ('cancelled', 'expired', 'deleted', 'delivered')");
    return ReadIds(s);
  }

  std::string UploadStore::ClaimPulledUpload(const std::string& id, const std::string& gateway,
                                             int64_t now)
  {
    LedgerDatabase::Transaction t(database_);
    // Only an upload pulled before the gateway was recorded: it has no token (one received
    // directly has its sender's) and no gateway. Once set, the gateway never changes.
    LedgerStatement claim(
      t.GetConnection(),
      "UPDATE uploads SET gateway = ? WHERE id = ? AND gateway = '' AND token_hash = ''");
    claim.BindString(0, gateway);
    claim.BindString(1, id);
    claim.Run();
    if (t.GetConnection().GetLastChangeCount() > 0)
    {
      audit_.Append(t, now, AuditEventType_UploadGatewayRecorded, id, gateway,
                    "pulled before the gateway was recorded; first named by gateway \"" +
                      gateway + "\", now its origin");
    }
    LedgerStatement read(t.GetConnection(),
                         "SELECT gateway FROM uploads WHERE id = ?");
    read.BindString(0, id);
    const std::string owner = read.Step() ? read.ColumnString(0) : std::string();
    t.Commit();
    return owner;
  }
}
