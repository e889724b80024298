// The public upload API (open, status, files, complete, cancel, expiry), and pulled uploads.
#pragma once

#include "Configuration.h"
#include "Http/ApiError.h"
#include "Ledger/Ledger.h"
#include "Partners/PartnerSession.h"
#include "Requests/RequestService.h"
#include "Scan/MalwareScan.h"
#include "Toolbox/Time.h"
#include "Upload/DicomInspector.h"
#include "Upload/IUploadPolicy.h"
#include "Upload/IUploadSink.h"
#include "Upload/PartStore.h"
#include "Upload/UploadLocks.h"

#include <json/value.h>

#include <functional>
#include <mutex>
#include <set>
#include <vector>

namespace Inbound
{
  struct ApiAnswer
  {
    int status = 200;
    Json::Value body;
  };

  // The public upload API (doc/Api.md, "Public upload API") of the Standalone and Gateway
  // roles: open, status, files, complete, cancel, and the expiry of idle uploads. Thread-safe;
  // refusals are ApiErrors.
  class UploadService : public boost::noncopyable
  {
  private:
    const Configuration& configuration_;
    Ledger& ledger_;
    IUploadSink& sink_;
    IUploadPolicy& policy_;
    const IClock& clock_;
    UploadLocks locks_;
    std::unique_ptr<MalwareScan> scan_;  // null: no malware scanning (Inbound.Scan.Clamd)
    const RequestService* requests_ = nullptr;  // null: no upload through a request link
    std::vector<std::function<void()>> completionListeners_;
    PartnerFeeds partnerFeeds_;  // the partner uploads that running requests feed
    std::unique_ptr<PartStore> parts_;  // null: no files in parts (unit tests)
    std::mutex assemblingMutex_;        // guards assembling_
    std::set<std::string> assembling_;  // "<upload>/<sha256>" being assembled now

    // A file checked by the DICOM guard and parsed, before it is kept.
    struct InspectedFile
    {
      DicomSummary summary;
      std::unique_ptr<MemoryHold> growth;  // the parse's memory beyond the body's
      std::unique_ptr<Orthanc::ParsedDicomFile> dicom;
    };

    void Completed() const;

    // A pulled file within the upload limits and the policy's checks (quotas, data monitor), with
    // the sender's address of the manifest as the client: ApiErrors as for a sender.
    void CheckPulledFile(const UploadRecord& upload, uint64_t size);

    static Json::Value DescribeItem(const ItemRecord& item);

    static ApiError Closed(const UploadRecord& upload);

    UploadRecord Authenticate(const std::string& id, const std::string& token) const;

    // The steps every file goes through, whoever sends it (PutFile, pulled files, partner
    // parts): the guard and the parse, then the duplicate-SOP check and the sink.
    void InspectFile(InspectedFile& inspected, const void* body, size_t size);
    ItemRecord KeepFile(const UploadRecord& upload, const std::string& sha256,
                        InspectedFile& inspected, const void* body, size_t size);
    ItemRecord StoreFile(const UploadRecord& upload, const std::string& sha256, const void* body,
                         size_t size);

    // The ledger records a kept file (UploadStore::AddItem), then the sink hears of it (its
    // metadata are written off the answer's path: Upload/MetadataWriter.h).
    UploadStore::AddItemResult RecordItem(const ItemRecord& item, const std::string& ip,
                                          const std::vector<std::string>& quotaScopes,
                                          int64_t day, const std::string& preamble);

    // The item that a checked file becomes, after the duplicate-SOP check.
    ItemRecord DescribeNewItem(const UploadRecord& upload, const std::string& sha256,
                               const DicomSummary& summary, uint64_t size) const;

    // StoreFile for a verified file on disk (UploadParts.cpp): the scan ("ip": whose), the
    // guard on the mapped file, the parse with large values left on disk, the sink's KeepFile.
    ItemRecord StoreFileOnDisk(const UploadRecord& upload, const std::string& sha256,
                               const std::string& path, uint64_t size, const std::string& ip);

    // Files in parts (UploadParts.cpp): what the status lists, what the removal of an upload
    // removes.
    Json::Value DescribePartialFiles(const std::string& id) const;
    void RemoveParts(const std::string& id);
    void RemoveFileParts(const std::string& id, const std::string& sha256);
    void SweepParts();

    // With the upload's exclusive lock held: an open upload becomes complete, audited with
    // "detail" (the files, bytes and receipt code are added), and the listeners are called.
    void CompleteLocked(const UploadRecord& upload, const std::string& ip,
                        const std::string& detail);
    void PurgeLocked(const std::string& id);

    friend class PartnerSession;  // runs a partner's parts through the steps above

  public:
    UploadService(const Configuration& configuration, Ledger& ledger, IUploadSink& sink,
                  IUploadPolicy& policy, const IClock& clock);

    // Called, in the calling thread, each time an upload becomes complete (directly or
    // pulled): the background work that follows (notifications, forwards, a gateway's long
    // poll) starts at once instead of at its next round. Set up before any request.
    void AddCompletionListener(const std::function<void()>& listener);

    // Every file a sender puts is scanned before it is parsed, kept or recorded (pulled files
    // are not: they were scanned where they first arrived), by the clamd of Inbound.Scan or
    // by this one (tests). Set up before any request.
    void SetMalwareScan(std::unique_ptr<MalwareScan> scan)
    {
      scan_ = std::move(scan);
    }

    // Uploads opened through request links are checked against their request by this one
    // (doc/Requests.md). Set up before any request.
    void SetRequests(const RequestService* requests)
    {
      requests_ = requests;
    }

    // "enabled" false when nothing scans.
    MalwareScanSnapshot GetMalwareScanSnapshot() const
    {
      return scan_ ? scan_->GetSnapshot() : MalwareScanSnapshot();
    }

    Json::Value GetInfo() const;

    ApiAnswer Open(const void* body, size_t size, const ClientInfo& client);

    Json::Value GetStatus(const std::string& id, const std::string& token) const;

    ApiAnswer PutFile(const std::string& id, const std::string& token, const std::string& sha256,
                      const void* body, size_t size, const ClientInfo& client);

    // Where the parts of big files are kept (doc/Api.md, "Files in parts"). Set up before any
    // request; without it the part routes answer 404.
    void SetPartStore(std::unique_ptr<PartStore> parts)
    {
      parts_ = std::move(parts);
    }

    // Part "n" of the file "sha256" (UploadParts.cpp): "partSha256" is the part's own SHA-256
    // (X-Inbound-Part-Sha256). 201 new, 200 already here (or the file is stored already).
    ApiAnswer PutPart(const std::string& id, const std::string& token, const std::string& sha256,
                      const std::string& n, const std::string& partSha256, const void* body,
                      size_t size, const ClientInfo& client);

    // The file "sha256" from its parts ({"parts": count}), checked and stored as PutFile does.
    ApiAnswer Assemble(const std::string& id, const std::string& token, const std::string& sha256,
                       const void* body, size_t size, const ClientInfo& client);

    Json::Value Complete(const std::string& id, const std::string& token,
                         const ClientInfo& client);

    Json::Value Cancel(const std::string& id, const std::string& token, const ClientInfo& client);

    // The Internal role: an upload pulled from a gateway goes through the same checks,
    // limits, quotas, data monitor, isolation and ledger as one received directly, with the
    // sender's address and e-mail of the manifest as the quota scopes. "record" comes from
    // the gateway's manifest, checked already (PulledManifest), with its "gateway" set; a
    // known upload is left as it is (the puller checks whose it is:
    // UploadStore::ClaimPulledUpload).
    // Refusals are ApiErrors as for a sender (503/507: try again later).
    void BeginPulledUpload(const UploadRecord& record);

    // Stores one pulled file (idempotent): 409 other-gateway when the upload did not come
    // from "gateway" (UploadRecord::gateway), 502 size-mismatch when it does not have the
    // manifest's "expectedSize", 409 hash-mismatch, then the checks of PutFile.
    void ReceivePulledFile(const std::string& id, const std::string& sha256,
                           uint64_t expectedSize, const void* body, size_t size,
                           const std::string& gateway);

    // ReceivePulledFile for a file fetched in pieces into "path" (UploadParts.cpp): same
    // checks and errors; the caller removes what is left at "path" afterwards.
    void ReceivePulledFileOnDisk(const std::string& id, const std::string& sha256,
                                 uint64_t expectedSize, const std::string& path,
                                 const std::string& gateway);

    // Every item is stored: the upload becomes complete, with the gateway's receipt code
    // (409 other-gateway as above).
    void CompletePulledUpload(const std::string& id, const std::string& receiptCode,
                              const std::string& gateway);

    // A partner site's STOW-RS request (doc/Api.md, "Partner STOW-RS"): each part goes
    // through the checks of PutFile into the open upload of its study (PartnerSession.cpp).
    std::unique_ptr<IPartnerSession> OpenPartnerSession(const PartnerSettings& partner,
                                                        const ClientInfo& client);

    // Completes every open partner upload that no running request feeds and that received
    // nothing for its partner's QuietSeconds, as a sender's "complete" would; one that holds
    // no file is expired instead. Called each second by the background thread.
    void CompleteQuietPartnerUploads();

    // Expires idle open uploads and removes the data of removed uploads whose removal did
    // not finish (crash); checks that the malware scanner still takes files of
    // Upload.MaxFileBytes (MalwareScan::Refresh). Called periodically by a background thread,
    // the first time at start-up.
    void Sweep();

    // Removes an upload and everything it stored (admin). False if there is no such upload.
    bool Delete(const std::string& id, const ClientInfo& client,
                const std::string& reason = "deleted by an admin");

    Json::Value MakeReceipt(const UploadRecord& upload) const;

    // The studies of a receipt or an admin's upload view (StudySummary), with the Orthanc and
    // patient identifiers only for the admin.
    Json::Value DescribeStudies(const std::vector<ItemRecord>& items, bool withOrthancIds) const;

    Json::Value DescribeRecipient(const std::string& id) const;

    const Configuration& GetConfiguration() const
    {
      return configuration_;
    }

    bool StoresInOrthanc() const
    {
      return sink_.StoresInOrthanc();
    }
  };
}
