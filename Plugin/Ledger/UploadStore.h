// The uploads and their stored files (tables "uploads" and "items").
#pragma once

#include "Ledger/AuditStore.h"
#include "Ledger/LedgerDatabase.h"
#include "Ledger/PatientStore.h"
#include "Ledger/QuotaStore.h"
#include "Ledger/Records.h"
#include "Ledger/RequestStore.h"

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace Inbound
{
  // Every change of an upload is one transaction that also writes its audit entry, and the
  // quota counters it counts against: a crash leaves the whole change or none of it. Methods
  // implemented in UploadStore.cpp (uploads) and UploadItems.cpp (items).
  class UploadStore : public boost::noncopyable
  {
  public:
    enum AddItemResult
    {
      AddItemResult_Added,
      AddItemResult_AlreadyPresent,
      AddItemResult_UploadClosed
    };

  private:
    LedgerDatabase& database_;
    AuditStore& audit_;
    QuotaStore& quotas_;
    PatientStore& patients_;
    const RequestStore& requests_;

    bool LookupInternal(const LedgerDatabase::Session& session, UploadRecord& record,
                        const std::string& id) const;

    bool LookupOpenPartnerInternal(const LedgerDatabase::Session& session, UploadRecord& record,
                                   const std::string& partnerId, const std::string& study) const;

    // Create() within the caller's transaction, which it does not commit.
    std::string CreateInternal(LedgerDatabase::Transaction& t, const UploadRecord& record,
                               const std::vector<std::string>& quotaScopes, int64_t day);

  public:
    UploadStore(LedgerDatabase& database, AuditStore& audit, QuotaStore& quotas,
                PatientStore& patients, const RequestStore& requests);

    // Audited "upload-opened". "quotaScopes": the quota counters of "day" (days since the
    // epoch, UTC) that this upload counts against, updated in the same transaction. An upload
    // bound to a request (record.requestId) is created only if the request's status at
    // record.createdAt is "active" (RequestRecord::GetStatus: not revoked, locked, expired or
    // used up), checked in the same transaction; a pulled one (record.gateway set) only if
    // the request has uses left. Returns "" when created, else the request's status that
    // refused it ("unknown" for a request this ledger does not hold).
    std::string Create(const UploadRecord& record,
                       const std::vector<std::string>& quotaScopes = {}, int64_t day = 0);

    // A partner site's part (doc/Api.md, "Partner STOW-RS"): the open upload of
    // (record.partnerId, record.partnerStudy), or else "record" created as Create() does
    // ("created" true), in one transaction: two requests of a partner racing for one study
    // end up in one upload.
    UploadRecord FindOrCreatePartnerUpload(const UploadRecord& record,
                                           const std::vector<std::string>& quotaScopes,
                                           int64_t day, bool& created);

    // The open upload of (partnerId, study) received here, if there is one.
    bool LookupOpenPartnerUpload(UploadRecord& record, const std::string& partnerId,
                                 const std::string& study) const;

    // Every open partner upload received here (for their quiet-time completion).
    std::vector<UploadRecord> ListOpenPartnerUploads() const;

    bool Lookup(UploadRecord& record, const std::string& id) const;

    // Newest first. "state" empty: any state. "sinceMs" 0: any time.
    std::vector<UploadRecord> List(const std::string& state, int64_t sinceMs,
                                   unsigned int limit) const;

    // Moves an upload from one of "from" to "to", audited "upload-<to>"; false when the
    // upload is not in one of "from" (two racing changes cannot both succeed). For
    // UploadState_Complete, "receiptCode" is stored.
    bool ChangeState(const std::string& id, const std::set<UploadState>& from, UploadState to,
                     int64_t now, const std::string& ip, const std::string& detail,
                     const std::string& receiptCode = "");

    // The removed upload's data is gone: also forgets its patient ordinals, audited
    // "data-removed".
    void MarkPurged(const std::string& id, int64_t now, const std::string& detail);

    // Uploads recorded before schema 5 have no sender key: sets it to
    // "senderKey(sender_email)" where the address is known. Returns the number of uploads.
    size_t FillSenderKeys(const std::function<std::string(const std::string&)>& senderKey);

    // A gateway switched to sealed staging: every upload recorded in plain text gets
    // "seal(record)" (StagingSealer::SealFields: fills sealedFields, empties what the sender
    // typed), every item loses its patient data (StagingSealer::BlankItem), and the audit's
    // "upload-opened" entries their addresses, in one transaction. Returns the uploads sealed.
    size_t SealPlainRecords(const std::function<void(UploadRecord&)>& seal);

    // Number of uploads in each state.
    std::map<std::string, int64_t> CountByState() const;

    // Complete uploads not yet delivered, the oldest first (a gateway's outbox).
    std::vector<UploadRecord> ListOutbox(unsigned int limit) const;

    // Open uploads whose last activity is older than "cutoffMs", partner uploads excepted
    // (they complete after their quiet time instead: UploadService::CompleteQuietPartnerUploads).
    std::vector<std::string> ListIdleOpen(int64_t cutoffMs) const;

    // Removed uploads whose data is not known to be gone (after a crash, for instance).
    std::vector<std::string> ListUnpurgedRemoved() const;

    // The gateway a pulled upload came from (Create records it), "" when there is no such
    // upload. One recorded without a gateway (pulled before schema 4) becomes "gateway"'s
    // here, audited "upload-gateway-recorded": the first gateway that names it owns it. Every
    // path of the puller (items, completion, acknowledgement) compares it with its own.
    std::string ClaimPulledUpload(const std::string& id, const std::string& gateway, int64_t now);

    // --- Items (UploadItems.cpp) -------------------------------------------------------------

    // Records a stored file, if the upload is still open: counts it in the upload and in the
    // quota counters, refreshes the upload's activity time, audited "file-stored". Committed
    // without waiting for the disk (see doc/Ledger.md, "What is one transaction"). A
    // non-empty "preamble" (Preamble::Describe of the file as sent) is audited
    // "file-preamble" in the same transaction.
    AddItemResult AddItem(const ItemRecord& item, const std::string& ip,
                          const std::vector<std::string>& quotaScopes = {}, int64_t day = 0,
                          const std::string& preamble = "");

    bool LookupItem(ItemRecord& item, const std::string& uploadId,
                    const std::string& sha256) const;

    // A part of a big file was received (doc/Api.md, "Files in parts"), if the upload is still
    // open: its bytes count in the quota counters now (the assembled item does not count them
    // again: AddItem without scopes) and the upload's activity time is refreshed. False when
    // the upload is not open.
    bool RecordPart(const std::string& uploadId, const std::vector<std::string>& quotaScopes,
                    int64_t day, uint64_t bytes, int64_t now);

    // In the order they were stored.
    std::vector<ItemRecord> ListItems(const std::string& uploadId) const;

    // The upload's items whose Orthanc metadata are still owed (ItemRecord::metadataOwed), in
    // the order they were stored.
    std::vector<ItemRecord> ListUnannotated(const std::string& uploadId) const;

    // At most "limit" items of any upload whose metadata are owed since before "storedBefore"
    // (ms): those that a stopped Orthanc, or a full queue, left to be written.
    std::vector<ItemRecord> ListUnannotatedBefore(int64_t storedBefore, size_t limit) const;

    // How many stored items of all uploads owe their metadata (the gauge
    // inbound_metadata_owed); the partial index items_unannotated keeps it cheap.
    int64_t CountUnannotated() const;

    // The metadata of these items are written, in one transaction.
    void MarkAnnotated(const std::vector<ItemRecord>& items);

    // An item of the upload with this SOP Instance UID (any file), if one is recorded.
    bool LookupItemBySop(ItemRecord& item, const std::string& uploadId,
                         const std::string& sopInstanceUid) const;

    bool HasStudy(const std::string& uploadId, const std::string& studyInstanceUid) const;

    // The upload whose files make up this Orthanc study, if any.
    bool LookupUploadOfStudy(std::string& uploadId, const std::string& orthancStudyId) const;
  };
}
