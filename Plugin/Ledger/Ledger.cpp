// The ledger: its stores over one database (see Ledger.h).

#include "Ledger.h"

namespace Inbound
{
  Ledger::Ledger(const std::string& path) :
    database_(path),
    audit_(database_),
    quotas_(database_),
    patients_(database_),
    uploads_(database_, audit_, quotas_, patients_),
    bans_(database_, audit_),
    notifications_(database_, audit_),
    forwards_(database_, audit_),
    pulls_(database_, audit_)
  {
  }

  // --- Transitional (issue 15) ---------------------------------------------------------------

  void Ledger::CreateUpload(const UploadRecord& record, const std::vector<std::string>& quotaScopes,
                            int64_t day)
  {
    uploads_.Create(record, quotaScopes, day);
  }

  bool Ledger::LookupUpload(UploadRecord& record, const std::string& id) const
  {
    return uploads_.Lookup(record, id);
  }

  std::vector<UploadRecord> Ledger::ListUploads(const std::string& state, int64_t sinceMs,
                                                unsigned int limit) const
  {
    return uploads_.List(state, sinceMs, limit);
  }

  Ledger::AddItemResult Ledger::AddItem(const ItemRecord& item, const std::string& ip,
                                        const std::vector<std::string>& quotaScopes, int64_t day)
  {
    return static_cast<AddItemResult>(uploads_.AddItem(item, ip, quotaScopes, day));
  }

  QuotaUsage Ledger::GetUsage(const std::string& scope, int64_t day) const
  {
    return quotas_.GetUsage(scope, day);
  }

  void Ledger::PutBan(const BanRecord& ban, const std::string& by)
  {
    bans_.Put(ban, by);
  }

  bool Ledger::RemoveBan(const std::string& entry, int64_t now, const std::string& by)
  {
    return bans_.Remove(entry, now, by);
  }

  std::vector<BanRecord> Ledger::ListBans() const
  {
    return bans_.List();
  }

  size_t Ledger::DeleteExpiredBans(const std::vector<BanRecord>& bans)
  {
    return bans_.DeleteExpired(bans);
  }

  void Ledger::WriteRefusals(std::vector<AuditEvent>& events)
  {
    audit_.WriteRefusals(events);
  }

  int64_t Ledger::PruneAudit(int64_t cutoffMs, unsigned int limit)
  {
    return audit_.Prune(cutoffMs, limit);
  }

  bool Ledger::LookupItem(ItemRecord& item, const std::string& uploadId,
                          const std::string& sha256) const
  {
    return uploads_.LookupItem(item, uploadId, sha256);
  }

  std::vector<ItemRecord> Ledger::ListItems(const std::string& uploadId) const
  {
    return uploads_.ListItems(uploadId);
  }

  bool Ledger::LookupItemBySop(ItemRecord& item, const std::string& uploadId,
                               const std::string& sopInstanceUid) const
  {
    return uploads_.LookupItemBySop(item, uploadId, sopInstanceUid);
  }

  bool Ledger::HasStudy(const std::string& uploadId, const std::string& studyInstanceUid) const
  {
    return uploads_.HasStudy(uploadId, studyInstanceUid);
  }

  bool Ledger::ChangeState(const std::string& id, const std::set<UploadState>& from,
                           UploadState to, int64_t now, const std::string& ip,
                           const std::string& detail, const std::string& receiptCode)
  {
    return uploads_.ChangeState(id, from, to, now, ip, detail, receiptCode);
  }

  void Ledger::MarkPurged(const std::string& id, int64_t now, const std::string& detail)
  {
    uploads_.MarkPurged(id, now, detail);
  }

  int64_t Ledger::GetPatientOrdinal(const std::string& uploadId, const std::string& rawPatientId)
  {
    return patients_.GetOrdinal(uploadId, rawPatientId);
  }

  std::map<std::string, int64_t> Ledger::CountByState() const
  {
    return uploads_.CountByState();
  }

  std::vector<UploadRecord> Ledger::ListOutbox(unsigned int limit) const
  {
    return uploads_.ListOutbox(limit);
  }

  std::vector<std::string> Ledger::ListIdleOpenUploads(int64_t cutoffMs) const
  {
    return uploads_.ListIdleOpen(cutoffMs);
  }

  std::vector<std::string> Ledger::ListUnpurgedRemovedUploads() const
  {
    return uploads_.ListUnpurgedRemoved();
  }

  void Ledger::AddAudit(int64_t time, const std::string& event, const std::string& uploadId,
                        const std::string& ip, const std::string& detail)
  {
    audit_.Add(time, StringToAuditEventType(event), uploadId, ip, detail);
  }

  std::vector<AuditEvent> Ledger::ListAudit(int64_t sinceMs, unsigned int limit) const
  {
    return audit_.List(sinceMs, limit);
  }

  std::vector<AuditEvent> Ledger::ListHistory(const std::string& uploadId) const
  {
    return audit_.ListHistory(uploadId);
  }

  int64_t Ledger::GetCursor(const std::string& name)
  {
    return audit_.GetCursor(name);
  }

  int64_t Ledger::GetNotifyCursor()
  {
    return notifications_.GetCursor();
  }

  std::vector<AuditEvent> Ledger::ListNotifiableEvents(int64_t seq, unsigned int limit,
                                                       int64_t& scannedUpTo) const
  {
    std::set<AuditEventType> types = {AuditEventType_UploadComplete,
                                      AuditEventType_UploadDelivered,
                                      AuditEventType_UploadForwarded, AuditEventType_Ban};
    for (AuditEventType alert : GetAlertTypes())
    {
      types.insert(alert);
    }
    return audit_.ListAfter(seq, types, limit, scannedUpTo);
  }

  void Ledger::EnqueueNotifications(const std::vector<NotificationRecord>& notifications,
                                    int64_t cursor)
  {
    notifications_.Enqueue(notifications, cursor);
  }

  std::vector<NotificationRecord> Ledger::ListDueNotifications(int64_t now,
                                                               unsigned int limit) const
  {
    return notifications_.ListDue(now, limit);
  }

  void Ledger::MarkNotificationDelivered(int64_t id, int64_t now)
  {
    notifications_.MarkDelivered(id, now);
  }

  void Ledger::MarkNotificationRetry(int64_t id, int64_t nextAttemptAt, const std::string& error)
  {
    notifications_.MarkRetry(id, nextAttemptAt, error);
  }

  void Ledger::MarkNotificationFailed(int64_t id, int64_t now, const std::string& error,
                                      const std::string& auditEvent,
                                      const std::string& auditDetail)
  {
    notifications_.MarkFailed(id, now, error, StringToAuditEventType(auditEvent), auditDetail);
  }

  bool Ledger::RetryNotification(int64_t id, int64_t now, const std::string& by)
  {
    return notifications_.Retry(id, now, by);
  }

  std::vector<NotificationRecord> Ledger::ListNotifications(const std::string& state,
                                                            unsigned int limit) const
  {
    return notifications_.List(state, limit);
  }

  bool Ledger::LookupNotification(NotificationRecord& record, int64_t id) const
  {
    return notifications_.Lookup(record, id);
  }

  std::map<std::string, int64_t> Ledger::CountNotifications() const
  {
    return notifications_.CountByState();
  }

  int64_t Ledger::CountNotificationsTo(const std::string& kind, const std::string& target,
                                       int64_t sinceMs) const
  {
    return notifications_.CountTo(kind, target, sinceMs);
  }

  int64_t Ledger::GetLastNotificationTime(const std::string& event) const
  {
    return notifications_.GetLastQueuedTime(event);
  }

  int64_t Ledger::PurgeNotifications(int64_t cutoffMs)
  {
    return notifications_.Purge(cutoffMs);
  }

  std::vector<AuditEvent> Ledger::ListCompletedUploads(int64_t seq, unsigned int limit,
                                                       int64_t& scannedUpTo) const
  {
    return audit_.ListAfter(seq, {AuditEventType_UploadComplete}, limit, scannedUpTo);
  }

  void Ledger::AddForwards(std::vector<ForwardRecord>& forwards, int64_t now,
                           const std::string& ip, const std::string& auditEvent,
                           const std::string& auditDetail, int64_t cursor)
  {
    forwards_.Add(forwards, now, ip, StringToAuditEventType(auditEvent), auditDetail, cursor);
  }

  std::vector<ForwardRecord> Ledger::ListDueForwards(int64_t now, unsigned int limit) const
  {
    return forwards_.ListDue(now, limit);
  }

  void Ledger::UpdateForward(const ForwardRecord& forward, const std::string& auditEvent,
                             const std::string& auditDetail)
  {
    if (auditEvent.empty())
    {
      forwards_.Update(forward);
    }
    else
    {
      forwards_.Update(forward, StringToAuditEventType(auditEvent), auditDetail);
    }
  }

  bool Ledger::LookupForward(ForwardRecord& forward, int64_t id) const
  {
    return forwards_.Lookup(forward, id);
  }

  std::vector<ForwardRecord> Ledger::ListForwards(const std::string& uploadId,
                                                  const std::string& state,
                                                  unsigned int limit) const
  {
    return forwards_.List(uploadId, state, limit);
  }

  std::map<std::string, int64_t> Ledger::CountForwards() const
  {
    return forwards_.CountByState();
  }

  bool Ledger::LookupUploadOfStudy(std::string& uploadId, const std::string& orthancStudyId) const
  {
    return uploads_.LookupUploadOfStudy(uploadId, orthancStudyId);
  }

  void Ledger::MarkPulling(const std::string& gateway, const std::string& uploadId,
                           const std::string& sha256, int64_t now)
  {
    pulls_.MarkPulling(gateway, uploadId, sha256, now);
  }

  void Ledger::ClearPulling(const std::string& gateway, const std::string& uploadId,
                            const std::string& sha256)
  {
    pulls_.ClearPulling(gateway, uploadId, sha256);
  }

  std::vector<PullingRecord> Ledger::ListPulling(const std::string& gateway) const
  {
    return pulls_.ListPulling(gateway);
  }

  bool Ledger::HoldPulled(const PullingRecord& held)
  {
    return pulls_.Hold(held);
  }

  bool Ledger::ReleasePulled(const std::string& gateway, const std::string& uploadId,
                             int64_t now, const std::string& by)
  {
    return pulls_.Release(gateway, uploadId, now, by);
  }

  std::vector<PullingRecord> Ledger::ListHeldPulls(const std::string& gateway) const
  {
    return pulls_.ListHeld(gateway);
  }

  std::string Ledger::ClaimPulledUpload(const std::string& id, const std::string& gateway,
                                        int64_t now)
  {
    return uploads_.ClaimPulledUpload(id, gateway, now);
  }
}
