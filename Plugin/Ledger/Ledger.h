// The ledger: the plugin's own database, as one store per responsibility over one connection.
#pragma once

#include "Ledger/AuditStore.h"
#include "Ledger/BanStore.h"
#include "Ledger/ForwardStore.h"
#include "Ledger/LedgerDatabase.h"
#include "Ledger/NotificationStore.h"
#include "Ledger/PatientStore.h"
#include "Ledger/PullStore.h"
#include "Ledger/QuotaStore.h"
#include "Ledger/Records.h"
#include "Ledger/UploadStore.h"

#include <boost/noncopyable.hpp>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace Inbound
{
  // The plugin's own durable record (SQLite through the Orthanc framework's wrapper; see
  // doc/Ledger.md): uploads and their items, the audit trail, the quota counters, the bans,
  // the notification and forward queues and the pulls. Each store owns its tables; they
  // share one LedgerDatabase (one connection and its lock), so that a change that spans
  // tables, a state change and its audit entry for instance, is one transaction: a crash
  // leaves either the whole change or none of it. Callers take the store they need:
  // ledger.Uploads().Lookup(...), ledger.Audit().Add(...).
  class Ledger : public boost::noncopyable
  {
  public:
    enum AddItemResult
    {
      AddItemResult_Added = UploadStore::AddItemResult_Added,
      AddItemResult_AlreadyPresent = UploadStore::AddItemResult_AlreadyPresent,
      AddItemResult_UploadClosed = UploadStore::AddItemResult_UploadClosed
    };

  private:
    LedgerDatabase database_;
    AuditStore audit_;
    QuotaStore quotas_;
    PatientStore patients_;
    UploadStore uploads_;
    BanStore bans_;
    NotificationStore notifications_;
    ForwardStore forwards_;
    PullStore pulls_;

  public:
    // "path" empty: an in-memory ledger (unit tests). Creates or upgrades the schema.
    explicit Ledger(const std::string& path);

    // Uploads and their stored files.
    UploadStore& Uploads()
    {
      return uploads_;
    }

    const UploadStore& Uploads() const
    {
      return uploads_;
    }

    // The audit trail and its readers' cursors.
    AuditStore& Audit()
    {
      return audit_;
    }

    const AuditStore& Audit() const
    {
      return audit_;
    }

    // The patient ordinals of Isolation.
    PatientStore& Patients()
    {
      return patients_;
    }

    // The daily quota counters.
    QuotaStore& Quotas()
    {
      return quotas_;
    }

    const QuotaStore& Quotas() const
    {
      return quotas_;
    }

    BanStore& Bans()
    {
      return bans_;
    }

    NotificationStore& Notifications()
    {
      return notifications_;
    }

    const NotificationStore& Notifications() const
    {
      return notifications_;
    }

    ForwardStore& Forwards()
    {
      return forwards_;
    }

    const ForwardStore& Forwards() const
    {
      return forwards_;
    }

    // The Internal's pulls from gateways.
    PullStore& Pulls()
    {
      return pulls_;
    }

    // --- Transitional (issue 15): the former interface, forwarded to the stores until ----
    // --- every caller uses them; removed then. -----------------------------------------
    // "quotaScopes": the quota counters of today ("day": days since the epoch, UTC) that this
    // upload counts against, updated in the same transaction.
    void CreateUpload(const UploadRecord& record, const std::vector<std::string>& quotaScopes = {},
                      int64_t day = 0);

    bool LookupUpload(UploadRecord& record, const std::string& id) const;

    // Newest first. "state" empty: any state. "sinceMs" 0: any time.
    std::vector<UploadRecord> ListUploads(const std::string& state, int64_t sinceMs,
                                          unsigned int limit) const;

    // Records a stored file, if the upload is still open; counts it and refreshes the
    // upload's activity time.
    AddItemResult AddItem(const ItemRecord& item, const std::string& ip,
                          const std::vector<std::string>& quotaScopes = {}, int64_t day = 0);

    QuotaUsage GetUsage(const std::string& scope, int64_t day) const;

    void PutBan(const BanRecord& ban, const std::string& by);

    bool RemoveBan(const std::string& entry, int64_t now, const std::string& by);

    std::vector<BanRecord> ListBans() const;

    // Deletes these expired bans, each only if its "until" is still the one given (a ban renewed
    // meanwhile stays), in one transaction and without audit entries: the audit trail has the
    // ban with its duration already. Returns how many rows went.
    size_t DeleteExpiredBans(const std::vector<BanRecord>& bans);

    // Refusals counted per client and interval (see RefusalAudit), in one transaction: an
    // entry without "seq" is added (and gets its "seq"), one with a "seq" gets its new detail
    // (the count so far). Only "refused" entries are ever changed.
    void WriteRefusals(std::vector<AuditEvent>& events);

    // Deletes at most "limit" audit entries older than "cutoffMs", the oldest first, but none
    // that a reader of the audit trail (the "cursors": notifications, forwards) has yet to
    // read. Returns how many.
    int64_t PruneAudit(int64_t cutoffMs, unsigned int limit);

    bool LookupItem(ItemRecord& item, const std::string& uploadId,
                    const std::string& sha256) const;

    std::vector<ItemRecord> ListItems(const std::string& uploadId) const;

    // An item of the upload with this SOP Instance UID (any file), if one is recorded.
    bool LookupItemBySop(ItemRecord& item, const std::string& uploadId,
                         const std::string& sopInstanceUid) const;

    bool HasStudy(const std::string& uploadId, const std::string& studyInstanceUid) const;

    // Moves an upload from one of "from" to "to" (and records the event); false when the
    // upload is not in one of "from". For UploadState_Complete, "receiptCode" is stored.
    bool ChangeState(const std::string& id, const std::set<UploadState>& from, UploadState to,
                     int64_t now, const std::string& ip, const std::string& detail,
                     const std::string& receiptCode = "");

    // Also forgets the upload's patient ordinals.
    void MarkPurged(const std::string& id, int64_t now, const std::string& detail);

    // The ordinal (1, 2, ...) of a PatientID, compared as its raw bytes, among the distinct
    // PatientIDs of an upload (Isolation): the one recorded, or the next free one, in one
    // transaction, so that files of one upload stored at once agree (LedgerPatients.cpp).
    int64_t GetPatientOrdinal(const std::string& uploadId, const std::string& rawPatientId);

    // Number of uploads in each state.
    std::map<std::string, int64_t> CountByState() const;

    // Complete uploads not yet delivered, the oldest first (a gateway's outbox).
    std::vector<UploadRecord> ListOutbox(unsigned int limit) const;

    // Open uploads whose last activity is older than "cutoffMs".
    std::vector<std::string> ListIdleOpenUploads(int64_t cutoffMs) const;

    // Removed uploads whose data is not known to be gone (after a crash, for instance).
    std::vector<std::string> ListUnpurgedRemovedUploads() const;

    void AddAudit(int64_t time, const std::string& event, const std::string& uploadId,
                  const std::string& ip, const std::string& detail);

    // The newest "limit" events at or after "sinceMs" (0: any time), oldest first.
    std::vector<AuditEvent> ListAudit(int64_t sinceMs, unsigned int limit) const;

    std::vector<AuditEvent> ListHistory(const std::string& uploadId) const;
  
    // How far a reader of the audit trail ("notify", "forward") has read. The first call for
    // a name starts it at the newest event, so that a new reader never acts on the past.
    int64_t GetCursor(const std::string& name);

    // --- The notification queue ------------------------------------------------------------

    // The last audit event already turned into notifications. The first call on a ledger
    // starts at its newest event, so that switching notifications on never announces the past.
    int64_t GetNotifyCursor();

    // Audit events after "seq" that may call for a notification (uploads completed,
    // delivered, forwarded; bans; alerts), oldest first. "scannedUpTo" is the sequence
    // number up to which the audit was read, to become the next cursor.
    std::vector<AuditEvent> ListNotifiableEvents(int64_t seq, unsigned int limit,
                                                 int64_t& scannedUpTo) const;

    // Queues notifications (ignoring any whose dedup key exists) and moves the cursor, in
    // one transaction: each event is announced exactly once, even across a crash.
    void EnqueueNotifications(const std::vector<NotificationRecord>& notifications,
                              int64_t cursor);

    // Pending notifications due at "now", the most overdue first, with their payloads.
    std::vector<NotificationRecord> ListDueNotifications(int64_t now, unsigned int limit) const;

    void MarkNotificationDelivered(int64_t id, int64_t now);

    void MarkNotificationRetry(int64_t id, int64_t nextAttemptAt, const std::string& error);

    // Dead-letters it and records "auditEvent" in the same transaction.
    void MarkNotificationFailed(int64_t id, int64_t now, const std::string& error,
                                const std::string& auditEvent, const std::string& auditDetail);

    // Makes a pending or failed notification due now; false when "id" is unknown or delivered.
    bool RetryNotification(int64_t id, int64_t now, const std::string& by);

    // Newest first, without payloads. "state" empty: any state.
    std::vector<NotificationRecord> ListNotifications(const std::string& state,
                                                      unsigned int limit) const;

    bool LookupNotification(NotificationRecord& record, int64_t id) const;

    std::map<std::string, int64_t> CountNotifications() const;

    // Notifications of "kind" to "target" queued at or after "sinceMs".
    int64_t CountNotificationsTo(const std::string& kind, const std::string& target,
                                 int64_t sinceMs) const;

    // When a notification announcing "event" was last queued (0: never).
    int64_t GetLastNotificationTime(const std::string& event) const;

    // Forgets delivered and failed notifications queued before "cutoffMs"; returns how many.
    int64_t PurgeNotifications(int64_t cutoffMs);
  
    // --- Forwards to DICOM modalities ------------------------------------------------------

    // "upload-complete" events after "seq", oldest first (see ListNotifiableEvents).
    std::vector<AuditEvent> ListCompletedUploads(int64_t seq, unsigned int limit,
                                                 int64_t& scannedUpTo) const;

    // Records forwards (ids set in "forwards") with one audit entry, in one transaction;
    // with a "cursor", also moves the "forward" cursor (auto-forward rules).
    void AddForwards(std::vector<ForwardRecord>& forwards, int64_t now, const std::string& ip,
                     const std::string& auditEvent, const std::string& auditDetail,
                     int64_t cursor = -1);

    std::vector<ForwardRecord> ListDueForwards(int64_t now, unsigned int limit) const;

    // Writes the progress of a forward; with an "auditEvent", records it in the same
    // transaction.
    void UpdateForward(const ForwardRecord& forward, const std::string& auditEvent = "",
                       const std::string& auditDetail = "");

    bool LookupForward(ForwardRecord& forward, int64_t id) const;

    // Newest first; empty "uploadId" or "state": any.
    std::vector<ForwardRecord> ListForwards(const std::string& uploadId, const std::string& state,
                                            unsigned int limit) const;

    std::map<std::string, int64_t> CountForwards() const;

    // The upload whose files make up this Orthanc study, if any.
    bool LookupUploadOfStudy(std::string& uploadId, const std::string& orthancStudyId) const;

    // --- Pulls from gateways (Internal; LedgerPulls.cpp) -------------------------------------

    // The item of a pulled upload being fetched and parsed, recorded (durably) before, cleared
    // after: one left at start-up means the process died on it (crash-loop guard).
    void MarkPulling(const std::string& gateway, const std::string& uploadId,
                     const std::string& sha256, int64_t now);

    void ClearPulling(const std::string& gateway, const std::string& uploadId,
                      const std::string& sha256);

    std::vector<PullingRecord> ListPulling(const std::string& gateway) const;

    // Uploads of a gateway that the puller holds: never pulled again nor acknowledged until an
    // admin releases them. A held upload may have no row in "uploads" (a forged manifest).
    // Holding one that is held already keeps its first reason; false then.
    bool HoldPulled(const PullingRecord& held);

    // Forgets the hold and any item in progress of that upload, audited "pull-released" by
    // "by"; false when it was not held.
    bool ReleasePulled(const std::string& gateway, const std::string& uploadId, int64_t now,
                       const std::string& by);

    std::vector<PullingRecord> ListHeldPulls(const std::string& gateway) const;

    // The gateway a pulled upload came from (CreateUpload records it), "" when there is no
    // such upload. One recorded without a gateway (pulled before schema 4) becomes
    // "gateway"'s here, in one statement: the first gateway that names it owns it. Every
    // path of the puller (items, completion, acknowledgement) compares it with its own.
    std::string ClaimPulledUpload(const std::string& id, const std::string& gateway, int64_t now);
  };
}
