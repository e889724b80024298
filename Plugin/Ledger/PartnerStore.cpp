// What each partner site sent and when it last called (see PartnerStore.h).

#include "PartnerStore.h"

#include <ctime>

namespace Inbound
{
  namespace
  {
    // partner_contacts.silence_alerted (doc/Ledger.md): 0 not silent or not alerted yet.
    const int kAlerted = 1;  // the alert of the current silence was raised
    const int kResumed = 2;  // it called again; "partner-resumed" not written yet

    std::string UtcDay(int64_t ms)
    {
      const time_t seconds = static_cast<time_t>(ms / 1000);
      struct tm parts;
      gmtime_r(&seconds, &parts);
      char text[16];
      strftime(text, sizeof(text), "%Y-%m-%d", &parts);
      return text;
    }

    void ReadContact(LedgerStatement& s, PartnerActivity& a)
    {
      a.partnerId = s.ColumnString(0);
      a.lastContactAt = s.ColumnInt64(1);
      a.lastStudyAt = s.ColumnInt64(2);
      a.lastFailureAt = s.ColumnInt64(3);
      a.lastFailureCode = s.ColumnString(4);
      a.silenceAlerted = s.ColumnInt(5) == kAlerted;
      a.resumed = s.ColumnInt(5) == kResumed;
    }

    void ReadDays(const LedgerDatabase::Session& session, PartnerActivity& a, int64_t now,
                  unsigned int days)
    {
      const int64_t dayMs = 86400000;
      const std::string first = UtcDay(now - static_cast<int64_t>(days == 0 ? 0 : days - 1) * dayMs);
      LedgerStatement s(session.GetConnection(),
                        "SELECT day, requests, instances, bytes, failures, studies"
                        " FROM partner_stats WHERE partner_id = ? AND day >= ?"
                        " AND day <= ? ORDER BY day DESC");
      s.BindString(0, a.partnerId);
      s.BindString(1, first);
      s.BindString(2, UtcDay(now));
      while (s.Step())
      {
        PartnerDayStats d;
        d.day = s.ColumnString(0);
        d.requests = static_cast<uint64_t>(s.ColumnInt64(1));
        d.instances = static_cast<uint64_t>(s.ColumnInt64(2));
        d.bytes = static_cast<uint64_t>(s.ColumnInt64(3));
        d.failures = static_cast<uint64_t>(s.ColumnInt64(4));
        d.studies = static_cast<uint64_t>(s.ColumnInt64(5));
        a.days.push_back(d);
      }
    }

    const char* const kContactColumns =
      "SELECT partner_id, last_contact_at, last_study_at, last_failure_at, last_failure_code,"
      " silence_alerted FROM partner_contacts";
  }

  PartnerStore::PartnerStore(LedgerDatabase& database) :
    database_(database)
  {
  }

  void PartnerStore::RecordRequest(const std::string& partnerId, int64_t now,
                                   const PartnerRequestTally& tally)
  {
    LedgerDatabase::Transaction t(database_);
    {
      LedgerStatement s(
        t.GetConnection(),
        "INSERT INTO partner_stats (partner_id, day, requests, instances, bytes, failures,"
        " studies) VALUES (?, ?, 1, ?, ?, ?, ?) ON CONFLICT (partner_id, day) DO UPDATE SET"
        " requests = partner_stats.requests + 1,"
        " instances = partner_stats.instances + excluded.instances,"
        " bytes = partner_stats.bytes + excluded.bytes,"
        " failures = partner_stats.failures + excluded.failures,"
        " studies = partner_stats.studies + excluded.studies");
      s.BindString(0, partnerId);
      s.BindString(1, UtcDay(now));
      s.BindInt64(2, static_cast<int64_t>(tally.instances));
      s.BindInt64(3, static_cast<int64_t>(tally.bytes));
      s.BindInt64(4, static_cast<int64_t>(tally.failures));
      s.BindInt64(5, static_cast<int64_t>(tally.studies));
      s.Run();
    }
    {
      const bool failed = !tally.lastFailureCode.empty();
      LedgerStatement s(
        t.GetConnection(),
        "INSERT INTO partner_contacts AS c (partner_id, last_contact_at, last_study_at,"
        " last_failure_at, last_failure_code, silence_alerted) VALUES (?, ?, ?, ?, ?, 0)"
        // Requests ending out of order (concurrent streams) never move a time back.
        " ON CONFLICT (partner_id) DO UPDATE SET"
        " last_contact_at = CASE WHEN excluded.last_contact_at > c.last_contact_at"
        " THEN excluded.last_contact_at ELSE c.last_contact_at END,"
        " last_study_at = CASE WHEN excluded.last_study_at > c.last_study_at"
        " THEN excluded.last_study_at ELSE c.last_study_at END,"
        " last_failure_code = CASE WHEN excluded.last_failure_at != 0"
        " AND excluded.last_failure_at >= c.last_failure_at"
        " THEN excluded.last_failure_code ELSE c.last_failure_code END,"
        " last_failure_at = CASE WHEN excluded.last_failure_at > c.last_failure_at"
        " THEN excluded.last_failure_at ELSE c.last_failure_at END,"
        " silence_alerted = CASE WHEN c.silence_alerted = 1 THEN 2 ELSE c.silence_alerted END");
      s.BindString(0, partnerId);
      s.BindInt64(1, now);
      s.BindInt64(2, tally.instances > 0 ? now : 0);
      s.BindInt64(3, failed ? now : 0);
      s.BindString(4, tally.lastFailureCode);
      s.Run();
    }
    t.Commit();
  }

  std::vector<PartnerActivity> PartnerStore::List(int64_t now, unsigned int days) const
  {
    LedgerDatabase::Session session(database_);
    std::vector<PartnerActivity> result;
    {
      LedgerStatement s(session.GetConnection(),
                        std::string(kContactColumns) + " ORDER BY partner_id");
      while (s.Step())
      {
        PartnerActivity a;
        ReadContact(s, a);
        result.push_back(a);
      }
    }
    for (PartnerActivity& a : result)
    {
      ReadDays(session, a, now, days);
    }
    return result;
  }

  std::map<std::string, PartnerActivity> PartnerStore::ListByPartner(int64_t now,
                                                                     unsigned int days) const
  {
    std::map<std::string, PartnerActivity> result;
    for (PartnerActivity& a : List(now, days))
    {
      const std::string id = a.partnerId;
      result[id] = std::move(a);
    }
    return result;
  }

  bool PartnerStore::Lookup(PartnerActivity& activity, const std::string& partnerId, int64_t now,
                            unsigned int days) const
  {
    LedgerDatabase::Session session(database_);
    {
      LedgerStatement s(session.GetConnection(),
                        std::string(kContactColumns) + " WHERE partner_id = ?");
      s.BindString(0, partnerId);
      if (!s.Step())
      {
        return false;
      }
      activity = PartnerActivity();
      ReadContact(s, activity);
    }
    ReadDays(session, activity, now, days);
    return true;
  }

  bool PartnerStore::MarkSilenceAlerted(const std::string& partnerId)
  {
    LedgerDatabase::Transaction t(database_);
    LedgerStatement s(
      t.GetConnection(),
      "INSERT INTO partner_contacts (partner_id, last_contact_at, last_study_at, last_failure_at,"
      " last_failure_code, silence_alerted) VALUES (?, 0, 0, 0, '', 1)"
      " ON CONFLICT (partner_id) DO UPDATE SET silence_alerted = 1"
      " WHERE partner_contacts.silence_alerted = 0");
    s.BindString(0, partnerId);
    s.Run();
    const bool changed = t.GetConnection().GetLastChangeCount() > 0;
    t.Commit();
    return changed;
  }

  bool PartnerStore::MarkResumeAudited(const std::string& partnerId)
  {
    LedgerDatabase::Transaction t(database_);
    LedgerStatement s(t.GetConnection(),
                      "UPDATE partner_contacts SET silence_alerted = 0"
                      " WHERE partner_id = ? AND silence_alerted = 2");
    s.BindString(0, partnerId);
    s.Run();
    const bool changed = t.GetConnection().GetLastChangeCount() > 0;
    t.Commit();
    return changed;
  }

  std::vector<PartnerUpload> PartnerStore::ListUploads(const std::string& partnerId,
                                                       unsigned int limit) const
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(session.GetConnection(),
                      "SELECT id, state, partner_study, gateway, created_at, updated_at,"
                      " completed_at, files, bytes FROM uploads WHERE partner_id = ?"
                      " ORDER BY created_at DESC, id LIMIT ?");
    s.BindString(0, partnerId);
    s.BindInt64(1, limit);
    std::vector<PartnerUpload> result;
    while (s.Step())
    {
      PartnerUpload u;
      u.id = s.ColumnString(0);
      u.state = s.ColumnString(1);
      u.study = s.ColumnString(2);
      u.gateway = s.ColumnString(3);
      u.createdAt = s.ColumnInt64(4);
      u.updatedAt = s.ColumnInt64(5);
      u.completedAt = s.ColumnInt64(6);
      u.files = static_cast<uint64_t>(s.ColumnInt64(7));
      u.bytes = static_cast<uint64_t>(s.ColumnInt64(8));
      result.push_back(u);
    }
    return result;
  }

  std::vector<PulledPartnerUploads> PartnerStore::ListPulled(int64_t sinceMs) const
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(session.GetConnection(),
                      "SELECT partner_id, gateway, COUNT(*), SUM(files), SUM(bytes),"
                      " MAX(created_at) FROM uploads WHERE partner_id != ''"
                      " AND gateway != '' AND created_at >= ?"
                      " GROUP BY partner_id, gateway ORDER BY partner_id, gateway");
    s.BindInt64(0, sinceMs);
    std::vector<PulledPartnerUploads> result;
    while (s.Step())
    {
      PulledPartnerUploads p;
      p.partnerId = s.ColumnString(0);
      p.gateway = s.ColumnString(1);
      p.uploads = static_cast<uint64_t>(s.ColumnInt64(2));
      p.files = static_cast<uint64_t>(s.ColumnInt64(3));
      p.bytes = static_cast<uint64_t>(s.ColumnInt64(4));
      p.lastUploadAt = s.ColumnInt64(5);
      result.push_back(p);
    }
    return result;
  }

  std::map<std::string, uint64_t> PartnerStore::CountOpenUploads() const
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(session.GetConnection(),
                      "SELECT partner_id, COUNT(*) FROM uploads WHERE state = 'open'"
                      " AND partner_id != '' GROUP BY partner_id");
    std::map<std::string, uint64_t> result;
    while (s.Step())
    {
      result[s.ColumnString(0)] = static_cast<uint64_t>(s.ColumnInt64(1));
    }
    return result;
  }
}
