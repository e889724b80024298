// A partner's STOW-RS parts through the upload service's checks; quiet-time completion.
#include "Partners/PartnerSession.h"

#include "Http/UnexpectedError.h"
#include "Toolbox/Crypto.h"
#include "Toolbox/Errors.h"
#include "Toolbox/UploadId.h"
#include "Upload/Preamble.h"
#include "Upload/UploadService.h"

#include <Logging.h>

#include <cstdlib>
#include <new>

namespace Inbound
{
  namespace
  {
    const size_t kUploadIdLength = 12;        // as a sender's upload
    const unsigned int kDefaultRetryAfter = 60;  // a transient refusal that names no time
    const unsigned int kOpenAttempts = 3;     // an upload completed under us: open a new one

    struct Reason
    {
      const char* code;
      uint16_t reason;
      bool transient;
    };

    // Inbound's error codes as FailureReason (doc/Api.md, "Partner STOW-RS").
    const Reason kReasons[] = {
      {"too-large", StowFailureReason_TooLarge, false},
      {"quota-exceeded", StowFailureReason_QuotaExceeded, true},
      {"rate-limited", StowFailureReason_QuotaExceeded, true},
      {"storage-full", StowFailureReason_StorageFull, true},
      {"server-busy", StowFailureReason_ServerBusy, true},
      {"ledger-unavailable", StowFailureReason_ServerBusy, true},
      {"scanner-unavailable", StowFailureReason_ScannerUnavailable, true},
      {"malware", StowFailureReason_Malware, false},
      {"dicomdir", StowFailureReason_SopClassNotSupported, false},
      {"duplicate-instance", StowFailureReason_DuplicateInstance, false},
      {"study-mismatch", StowFailureReason_StudyMismatch, false},
      {"not-dicom", StowFailureReason_CannotUnderstand, false},
      {"invalid-dicom", StowFailureReason_CannotUnderstand, false},
    };
  }

  void PartnerFeeds::Add(const std::string& uploadId)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    feeding_[uploadId]++;
  }

  void PartnerFeeds::Remove(const std::string& uploadId)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = feeding_.find(uploadId);
    if (found != feeding_.end() && --found->second == 0)
    {
      feeding_.erase(found);
    }
  }

  bool PartnerFeeds::IsFed(const std::string& uploadId)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    return feeding_.count(uploadId) != 0;
  }

  PartnerSession::PartnerSession(UploadService& service, const PartnerSettings& partner,
                                 const ClientInfo& client) :
    service_(service),
    partner_(partner),
    client_(client)
  {
  }

  PartnerSession::~PartnerSession()
  {
    ReleaseFeeds();
  }

  void PartnerSession::ReleaseFeeds()
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const std::string& id : fed_)
    {
      service_.partnerFeeds_.Remove(id);
    }
    fed_.clear();
  }

  void PartnerSession::Refuse(StowItemResult& result, const ApiError& error)
  {
    result.ok = false;
    result.code = error.GetCode();
    result.failureReason = StowFailureReason_ProcessingFailure;
    // A status of the "bad request" kind that has no row of its own: the part is not DICOM
    // as this server reads it.
    if (error.GetStatus() == 400 || error.GetStatus() == 422)
    {
      result.failureReason = StowFailureReason_CannotUnderstand;
    }
    result.transient = false;
    for (const Reason& reason : kReasons)
    {
      if (result.code == reason.code)
      {
        result.failureReason = reason.reason;
        result.transient = reason.transient;
      }
    }
    result.retryAfter = 0;
    if (result.transient)
    {
      result.retryAfter = kDefaultRetryAfter;
      auto header = error.GetHeaders().find("Retry-After");
      if (header != error.GetHeaders().end())
      {
        const long seconds = std::strtol(header->second.c_str(), nullptr, 10);
        result.retryAfter = seconds > 0 ? static_cast<unsigned int>(seconds) : 1;
      }
    }
  }

  StowItemResult PartnerSession::Add(const void* body, size_t size,
                                     const std::string& expectedStudy)
  {
    StowItemResult result;
    try
    {
      Store(result, body, size, expectedStudy);
      result.ok = true;
      std::lock_guard<std::mutex> lock(mutex_);
      tally_.instances++;
      tally_.bytes += size;
      return result;
    }
    catch (const ApiError& error)
    {
      Refuse(result, error);
    }
    catch (const std::bad_alloc&)
    {
      Refuse(result, ApiError(503, "server-busy", "Not enough memory for this part"));
    }
    catch (...)
    {
      LOG(ERROR) << "Inbound: a part of partner " << partner_.id
                 << " failed: " << DescribeCurrentException();
      // As on every other route: the ledger's database away is 503 "ledger-unavailable" with
      // its Retry-After (a transient A7xx for the part), anything unknown "internal-error".
      Refuse(result, GetApiErrorOfCurrentException());
    }
    std::lock_guard<std::mutex> lock(mutex_);
    tally_.failures++;
    tally_.lastFailureCode = result.code;
    return result;
  }

  void PartnerSession::Store(StowItemResult& result, const void* body, size_t size,
                             const std::string& expectedStudy)
  {
    const PartnerLimits& limits = partner_.limits;
    if (size > limits.maxFileBytes)
    {
      throw ApiError(413, "too-large",
                     "The part is larger than " + std::to_string(limits.maxFileBytes) + " bytes");
    }
    // The cheap checks first, then the hash and the scan before any parser reads the bytes.
    service_.policy_.CheckPartner(partner_.id, 0, limits.dailyBytes, 0, size);
    const std::string sha256 = Crypto::Sha256Hex(body, size);
    if (service_.scan_ != nullptr)
    {
      service_.scan_->Check("", sha256, body, size, client_.ip);
    }
    UploadService::InspectedFile inspected;
    service_.InspectFile(inspected, body, size);
    const DicomSummary& summary = inspected.summary;
    result.sopClass = summary.sopClassUid;
    result.sopInstance = summary.sopInstanceUid;
    result.study = summary.studyInstanceUid;
    result.series = summary.seriesInstanceUid;
    if (!expectedStudy.empty() && expectedStudy != summary.studyInstanceUid)
    {
      throw ApiError(409, "study-mismatch",
                     "The part's Study Instance UID is not the one of the route");
    }

    for (unsigned int attempt = 1;; attempt++)
    {
      const UploadRecord listed = OpenUpload(summary.studyInstanceUid);
      std::shared_ptr<std::shared_mutex> lock = service_.locks_.Get(listed.id);
      std::shared_lock<std::shared_mutex> shared(*lock);
      UploadRecord upload;
      // Read again under the lock: the quiet-time completion may have closed it meanwhile
      // (it leaves alone the uploads registered as fed, but this one may have been listed
      // just before the registration), then the next attempt opens a new one.
      if (!service_.ledger_.Uploads().Lookup(upload, listed.id) || !IsOpen(upload.state))
      {
        if (attempt < kOpenAttempts)
        {
          continue;
        }
        throw ApiError(503, "server-busy", "The study's upload was closed meanwhile");
      }
      ItemRecord existing;
      if (service_.ledger_.Uploads().LookupItem(existing, upload.id, sha256))
      {
        return;  // the same bytes sent again: referenced, as stored
      }
      if (uint64_t(upload.files) + 1 > limits.maxFilesPerUpload ||
          uint64_t(upload.bytes) + size > limits.maxBytesPerUpload)
      {
        throw ApiError(413, "too-large", "The study's upload would exceed " +
                                           std::to_string(limits.maxFilesPerUpload) +
                                           " files or " +
                                           std::to_string(limits.maxBytesPerUpload) + " bytes");
      }
      const ItemRecord item = service_.KeepFile(upload, sha256, inspected, body, size);
      if (service_.RecordItem(
            item, client_.ip, IUploadPolicy::GetPartnerQuotaScopes(partner_.id),
            service_.policy_.GetDay(), Preamble::Describe(body, size)) ==
          UploadStore::AddItemResult_UploadClosed)
      {
        throw ApiError(409, "upload-closed", "The study's upload was closed meanwhile");
      }
      return;
    }
  }

  UploadRecord PartnerSession::OpenUpload(const std::string& study)
  {
    Ledger& ledger = service_.ledger_;
    UploadRecord record;
    record.partnerId = partner_.id;
    record.partnerStudy = study;
    UploadRecord open;
    bool created = false;
    if (!ledger.Uploads().LookupOpenPartnerUpload(open, partner_.id, study))
    {
      // Only a part that opens an upload counts against the studies of the day.
      service_.policy_.CheckPartner(partner_.id, partner_.limits.dailyStudies, 0, 1, 0);
      record.id = NewUploadId(service_.GetConfiguration().upload.idPrefix);
      // No sender holds a token to it: the hash of one that nobody ever sees.
      record.tokenHash = Crypto::Sha256Hex(Crypto::RandomToken());
      record.state = UploadState_Open;
      record.createdAt = record.updatedAt = service_.clock_.NowMs();
      record.sender.name = partner_.name;
      record.sender.institution = partner_.institution;
      record.sender.email = partner_.email;
      record.recipientId = partner_.recipient;
      record.consentVersion = "partner";
      record.clientIp = client_.ip;
      service_.sink_.SealFields(record);
      open = ledger.Uploads().FindOrCreatePartnerUpload(
        record, IUploadPolicy::GetPartnerQuotaScopes(partner_.id), service_.policy_.GetDay(),
        created);
      if (created)
      {
        std::lock_guard<std::mutex> lock(mutex_);
        tally_.studies++;
        LOG(INFO) << "Inbound: upload " << open.id << " opened for partner " << partner_.id;
      }
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (fed_.insert(open.id).second)
    {
      service_.partnerFeeds_.Add(open.id);
    }
    return open;
  }

  bool PartnerSession::ReserveBuffering(uint64_t partBytes, bool bodyHeld)
  {
    if (partBytes == 0)
    {
      buffering_.reset();
      return true;
    }
    try
    {
      buffering_.reset();  // replaced, not added to
      std::unique_ptr<MemoryHold> hold = service_.policy_.ReservePartnerPart(partBytes, bodyHeld);
      buffering_ = std::move(hold);
      return true;
    }
    catch (const ApiError&)
    {
      return false;
    }
  }

  void PartnerSession::RequestFailed(const std::string& code)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    tally_.failures++;
    tally_.lastFailureCode = code;
  }

  void PartnerSession::Close()
  {
    if (closed_)
    {
      return;
    }
    closed_ = true;
    ReleaseFeeds();
    const int64_t now = service_.clock_.NowMs();
    Ledger& ledger = service_.ledger_;
    std::lock_guard<std::mutex> lock(mutex_);  // every Add() has returned (StowItemResult.h)
    ledger.Partners().RecordRequest(partner_.id, now, tally_);
    const std::string summary = "partner " + partner_.id + ": " +
                                std::to_string(tally_.instances) + " stored, " +
                                std::to_string(tally_.failures) + " failed, " +
                                std::to_string(tally_.bytes) + " bytes, " +
                                std::to_string(tally_.studies) + " studies opened";
    if (tally_.instances == 0)
    {
      // Stored nothing (no part, or every part refused): audited as refusals are, once per
      // client, code and Audit.RefusalInterval, so that a token holder sending such requests
      // as fast as it can does not fill the ledger (partner_stats counts every one).
      service_.policy_.AuditRefusal(client_.ip, 400,
                                    tally_.lastFailureCode.empty() ? "no-instances"
                                                                   : tally_.lastFailureCode,
                                    summary);
      return;
    }
    ledger.Audit().Add(now, AuditEventType_PartnerStow, "", client_.ip, summary);
  }

  std::unique_ptr<IPartnerSession> UploadService::OpenPartnerSession(const PartnerSettings& partner,
                                                                     const ClientInfo& client)
  {
    return std::unique_ptr<IPartnerSession>(new PartnerSession(*this, partner, client));
  }

  void UploadService::CompleteQuietPartnerUploads()
  {
    const int64_t now = clock_.NowMs();
    for (const UploadRecord& listed : ledger_.Uploads().ListOpenPartnerUploads())
    {
      // A partner removed from the configuration: the defaults' quiet time.
      const PartnerSettings* partner = configuration_.LookupPartner(listed.partnerId);
      const unsigned int quiet = partner != nullptr ? partner->limits.quietSeconds
                                                    : configuration_.partnerLimits.quietSeconds;
      const int64_t cutoff = now - int64_t(quiet) * 1000;
      if (listed.updatedAt > cutoff || partnerFeeds_.IsFed(listed.id))
      {
        continue;
      }
      std::shared_ptr<std::shared_mutex> lock = locks_.Get(listed.id);
      std::unique_lock<std::shared_mutex> exclusive(*lock);
      UploadRecord upload;
      // Again under the lock: a request may have registered, or stored a part, since.
      if (partnerFeeds_.IsFed(listed.id) || !ledger_.Uploads().Lookup(upload, listed.id) ||
          upload.state != UploadState_Open || upload.updatedAt > cutoff)
      {
        continue;
      }
      if (upload.files == 0)
      {
        // Opened by a part that was then refused: nothing to deliver.
        if (ledger_.Uploads().ChangeState(upload.id, {UploadState_Open}, UploadState_Expired, now,
                                          "", "partner upload without a stored file"))
        {
          PurgeLocked(upload.id);
        }
        continue;
      }
      CompleteLocked(upload, "", ", partner " + upload.partnerId + " quiet for " +
                                   std::to_string(quiet) + " s");
    }
  }
}
