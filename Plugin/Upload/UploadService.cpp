// The life cycle of an upload, public or pulled: open, files, complete, cancel, delete, expiry.
// Over 500 lines: public and pulled uploads share one life cycle, so both meet the same checks.
#include "UploadService.h"

#include "Http/ApiError.h"
#include "Requests/RequestSync.h"
#include "Scan/MalwareScan.h"
#include "Toolbox/Crypto.h"
#include "Toolbox/Json.h"
#include "Toolbox/UploadId.h"
#include "Upload/DicomInspector.h"
#include "Upload/DicomText.h"
#include "Upload/OpenRequest.h"
#include "Upload/Preamble.h"
#include "Upload/StudySummary.h"

#include <Logging.h>

#include <algorithm>

namespace Inbound
{
  namespace
  {
    const size_t kUploadIdLength = 12;

    // The route's SHA-256 against the bytes received (a damaged transfer: 409, sent again).
    void CheckHash(Crypto::Sha256Task& hash, const std::string& sha256)
    {
      if (!hash.Matches(sha256))
      {
        throw ApiError(409, "hash-mismatch",
                       "The SHA-256 of the received bytes is not the one in the route: the file "
                       "was damaged on the way; send it again");
      }
    }

    // A gateway naming an upload that another one delivered (or one received directly).
    ApiError OtherGateway(const UploadRecord& upload, const std::string& gateway)
    {
      return ApiError(409, "other-gateway",
                      "Upload " + upload.id + " came " + (upload.gateway.empty()
                        ? std::string("directly, not") : "from gateway \"" + upload.gateway +
                                                           "\", not") +
                        " from gateway \"" + gateway + "\"");
    }
  }

  Json::Value UploadService::DescribeItem(const ItemRecord& item)
  {
    Json::Value json(Json::objectValue);
    json["sha256"] = item.sha256;
    json["size"] = Json::Int64(item.size);
    json["sopInstanceUid"] = item.sopInstanceUid;
    json["seriesInstanceUid"] = item.seriesInstanceUid;
    json["studyInstanceUid"] = item.studyInstanceUid;
    // The isolated PatientID where this server stores the file, the original elsewhere.
    json["patientId"] = item.isolatedPatientId.empty() ? item.originalPatientId
                                                      : item.isolatedPatientId;
    return json;
  }

  ApiError UploadService::Closed(const UploadRecord& upload)
  {
    return ApiError(409, "upload-closed",
                    std::string("The upload is ") + EnumerationToString(upload.state) +
                      " and accepts no more changes");
  }

  UploadService::UploadService(const Configuration& configuration, Ledger& ledger,
                               IUploadSink& sink, IUploadPolicy& policy, const IClock& clock) :
    configuration_(configuration),
    ledger_(ledger),
    sink_(sink),
    policy_(policy),
    clock_(clock),
    scan_(MalwareScan::Create(configuration, ledger.Audit(), clock))
  {
  }

  Json::Value UploadService::GetInfo() const
  {
    Json::Value info(Json::objectValue);
    info["siteName"] = configuration_.siteName;
    info["privacy"]["version"] = configuration_.privacyVersion;
    info["privacy"]["text"] = configuration_.privacyText;
    info["recipients"] = Json::arrayValue;
    for (const Recipient& r : configuration_.recipients)
    {
      Json::Value item(Json::objectValue);  // never the e-mail address: no directory harvest
      item["id"] = r.id;
      item["name"] = r.name;
      info["recipients"].append(item);
    }
    info["limits"]["maxFileBytes"] = Json::UInt64(configuration_.upload.maxFileBytes);
    // Files above it go in parts (doc/Api.md, "Files in parts").
    info["limits"]["partBytes"] = Json::UInt64(configuration_.upload.partBytes);
    info["limits"]["maxFilesPerUpload"] = Json::UInt64(configuration_.upload.maxFilesPerUpload);
    info["limits"]["maxBytesPerUpload"] = Json::UInt64(configuration_.upload.maxBytesPerUpload);
    // So that the page can pace itself instead of finding the limits by running into them.
    info["limits"]["requestsPerSecond"] = configuration_.limits.requestsPerSecond;
    info["limits"]["requestBurst"] = configuration_.limits.requestBurst;
    // File and part PUTs of an open upload are paced by these instead of the two above.
    info["limits"]["filesPerSecond"] = configuration_.limits.filesPerSecond;
    info["limits"]["fileBurst"] = configuration_.limits.fileBurst;
    info["limits"]["bytesPerSecond"] = configuration_.limits.bytesPerSecond;
    info["limits"]["maxUploadsInFlight"] = configuration_.limits.maxUploadsInFlightPerClient;
    info["limits"]["text"]["name"] = Json::UInt64(configuration_.text.name);
    info["limits"]["text"]["email"] = Json::UInt64(configuration_.text.email);
    info["limits"]["text"]["institution"] = Json::UInt64(configuration_.text.institution);
    info["limits"]["text"]["phone"] = Json::UInt64(configuration_.text.phone);
    info["limits"]["text"]["message"] = Json::UInt64(configuration_.text.message);
    if (!configuration_.brandingColor.empty())
    {
      info["branding"]["primaryColor"] = configuration_.brandingColor;
    }
    if (!configuration_.brandingLogo.empty())
    {
      info["branding"]["logoUrl"] = "api/logo";  // relative to the page, /inbound/
    }
    info["languages"] = Json::arrayValue;
    for (const std::string& language : configuration_.languages)
    {
      info["languages"].append(language);
    }
    info["openUploads"] = configuration_.openUploads;
    return info;
  }

  Json::Value UploadService::DescribeRecipient(const std::string& id) const
  {
    return configuration_.DescribeRecipient(id);
  }

  ApiAnswer UploadService::Open(const void* body, size_t size, const ClientInfo& client)
  {
    const OpenRequest request = OpenRequest::Parse(body, size, configuration_);
    RequestRecord link;  // the request link it is opened through, if any
    if (!request.requestToken.empty())
    {
      if (requests_ == nullptr)
      {
        throw RequestService::StatusError("unknown");
      }
      link = requests_->CheckBinding(request.requestToken, request.requestTicket);
      if (!request.recipientId.empty() && request.recipientId != link.recipientId)
      {
        throw ApiError(400, "invalid-field",
                       "Field \"recipient\" must be the request's recipient, or left out");
      }
    }
    else if (!configuration_.openUploads)
    {
      throw ApiError(403, "requests-only", "This site takes images only through a request "
                                           "link from the hospital; please ask the hospital for one");
    }
    const UploadLimits& limits = configuration_.upload;
    if ((request.expectedFiles >= 0 && uint64_t(request.expectedFiles) > limits.maxFilesPerUpload) ||
        (request.expectedBytes >= 0 && uint64_t(request.expectedBytes) > limits.maxBytesPerUpload))
    {
      throw ApiError(413, "too-large",
                     "The announced upload is larger than this site accepts in one upload");
    }
    const std::string senderKey = policy_.GetSenderKey(request.sender.email);
    policy_.CheckOpen(client, senderKey);

    const std::string token = Crypto::RandomToken();
    UploadRecord record;
    record.id = NewUploadId(configuration_.upload.idPrefix);
    record.tokenHash = Crypto::Sha256Hex(token);
    record.state = UploadState_Open;
    record.createdAt = record.updatedAt = clock_.NowMs();
    record.sender = request.sender;
    record.recipientId = link.id.empty() ? request.recipientId : link.recipientId;
    record.message = request.message;  // the sender's own; the request's is the hospital's
    record.consentVersion = request.consentVersion;
    record.language = request.language.empty() ? link.language : request.language;
    record.requestId = link.id;
    record.clientIp = client.ip;
    record.userAgent = client.userAgent.substr(0, 256);
    record.expectedFiles = request.expectedFiles;
    record.expectedBytes = request.expectedBytes;
    record.senderKey = senderKey;
    sink_.SealFields(record);
    // A bound upload takes one use of its request in the same transaction (two opens racing
    // for the last use cannot both win); a refusal names the request's status.
    const std::string refused = ledger_.Uploads().Create(
      record, policy_.GetQuotaScopes(client.ip, senderKey), policy_.GetDay());
    if (!refused.empty())
    {
      throw RequestService::StatusError(refused);
    }
    LOG(INFO) << "Inbound: upload " << record.id << " opened from " << client.ip;

    ApiAnswer answer;
    answer.status = 201;
    answer.body["id"] = record.id;
    answer.body["token"] = token;
    answer.body["expiresAt"] =
      FormatIso8601(record.updatedAt + int64_t(limits.openTimeoutSeconds) * 1000);
    answer.body["limits"] = GetInfo()["limits"];
    return answer;
  }

  UploadRecord UploadService::Authenticate(const std::string& id, const std::string& token) const
  {
    UploadRecord record;
    if (token.empty() || !ledger_.Uploads().Lookup(record, id) ||
        !Crypto::ConstantTimeEquals(record.tokenHash, Crypto::Sha256Hex(token)))
    {
      throw ApiError::NotFound();
    }
    return record;
  }

  Json::Value UploadService::GetStatus(const std::string& id, const std::string& token) const
  {
    const UploadRecord upload = Authenticate(id, token);
    Json::Value status(Json::objectValue);
    status["id"] = upload.id;
    status["state"] = EnumerationToString(upload.state);
    status["files"] = Json::arrayValue;
    for (const ItemRecord& item : ledger_.Uploads().ListItems(id))
    {
      Json::Value file(Json::objectValue);
      file["sha256"] = item.sha256;
      file["size"] = Json::Int64(item.size);
      file["status"] = "stored";
      status["files"].append(file);
    }
    status["partialFiles"] = DescribePartialFiles(id);
    status["receivedFiles"] = Json::Int64(upload.files);
    status["receivedBytes"] = Json::Int64(upload.bytes);
    status["createdAt"] = FormatIso8601(upload.createdAt);
    if (IsOpen(upload.state))
    {
      status["expiresAt"] = FormatIso8601(
        upload.updatedAt + int64_t(configuration_.upload.openTimeoutSeconds) * 1000);
    }
    status["recipient"] = DescribeRecipient(upload.recipientId);
    if (upload.state == UploadState_Complete || upload.state == UploadState_Delivered)
    {
      status["receiptCode"] = upload.receiptCode;
    }
    return status;
  }

  void UploadService::InspectFile(InspectedFile& inspected, const void* body, size_t size)
  {
    DicomGuardLimits guard;
    guard.maxSequenceDepth = configuration_.upload.maxSequenceDepth;
    // A Deflated dataset is parsed whole in memory: a whole body, whatever MaxFileBytes says.
    guard.maxInflatedBytes = std::min(configuration_.upload.maxFileBytes, kMaxWholeBodyBytes);
    const CheckedDicom checked = DicomInspector::Check(body, size, guard);
    // The body's memory was reserved when it was admitted, as a multiple of its size; a file
    // that parses bigger (deflated: DCMTK here and Orthanc's store inflate it) holds the
    // difference until it is stored, or is refused 503 server-busy before DCMTK takes it.
    // Pulled files too: a compromised gateway can serve deflate bombs. Counted up to
    // the inflated cap, which the budget is sure to hold (its meta group,
    // not deflated, is counted in the body already).
    const uint64_t parsed = std::min<uint64_t>(checked.GetParsedBytes(), guard.maxInflatedBytes);
    inspected.growth = policy_.ReserveParsingGrowth(parsed > size ? parsed - size : 0);
    inspected.dicom = DicomInspector::Parse(inspected.summary, checked);
  }

  ItemRecord UploadService::StoreFile(const UploadRecord& upload, const std::string& sha256,
                                      const void* body, size_t size)
  {
    InspectedFile inspected;
    InspectFile(inspected, body, size);
    return KeepFile(upload, sha256, inspected, body, size);
  }

  ItemRecord UploadService::KeepFile(const UploadRecord& upload, const std::string& sha256,
                                     InspectedFile& inspected, const void* body, size_t size)
  {
    ItemRecord item = DescribeNewItem(upload, sha256, inspected.summary, size);
    if (!sink_.StoresInOrthanc())
    {
      // The staging area keeps the bytes as sent: the parse is done with, and freed before a
      // sealing gateway makes the envelope, so that a file's peak stays at its body and one
      // copy (doc/Configuration.md, "Memory per file").
      inspected.dicom.reset();
    }
    sink_.Keep(upload, item, inspected.dicom.get(), body, size);
    return item;
  }

  UploadStore::AddItemResult UploadService::RecordItem(const ItemRecord& item,
                                                       const std::string& ip,
                                                       const std::vector<std::string>& quotaScopes,
                                                       int64_t day, const std::string& preamble)
  {
    const UploadStore::AddItemResult result =
      ledger_.Uploads().AddItem(item, ip, quotaScopes, day, preamble);
    if (result == UploadStore::AddItemResult_Added)
    {
      sink_.Recorded(item);
    }
    return result;
  }

  ItemRecord UploadService::DescribeNewItem(const UploadRecord& upload, const std::string& sha256,
                                            const DicomSummary& summary, uint64_t size) const
  {
    // One upload, one file per instance: a second, different file with the same SOP Instance
    // UID would land on the same archive instance, which could then not match the hash that
    // the sender was told it received.
    ItemRecord other;
    if (ledger_.Uploads().LookupItemBySop(other, upload.id, summary.sopInstanceUid) &&
        other.sha256 != sha256)
    {
      throw ApiError(409, "duplicate-instance",
                     "Another file of this upload has the same SOP Instance UID (" +
                       summary.sopInstanceUid + "); only the first one is kept");
    }

    ItemRecord item;
    item.uploadId = upload.id;
    item.sha256 = sha256;
    item.size = static_cast<int64_t>(size);
    item.sopInstanceUid = summary.sopInstanceUid;
    item.seriesInstanceUid = summary.seriesInstanceUid;
    item.studyInstanceUid = summary.studyInstanceUid;
    item.modality = summary.modality;
    item.studyDate = summary.studyDate;
    item.studyDescription = summary.studyDescription;
    item.originalPatientId = summary.patientId;
    item.originalPatientIdBytes =
      summary.patientIdExact ? "" : Crypto::ToHex(summary.patientIdBytes);
    item.patientName = summary.patientName;
    item.patientBirthDate = summary.patientBirthDate;
    item.storedAt = clock_.NowMs();
    return item;
  }

  ApiAnswer UploadService::PutFile(const std::string& id, const std::string& token,
                                   const std::string& sha256, const void* body, size_t size,
                                   const ClientInfo& client)
  {
    if (!Crypto::IsSha256Hex(sha256))
    {
      throw ApiError(400, "bad-hash", "The file's name in the route must be its SHA-256 in "
                                      "lower-case hexadecimal (64 characters)");
    }
    // Authenticated once the lock is held, so that the record read is the current one.
    std::shared_ptr<std::shared_mutex> lock = locks_.Get(id);
    std::shared_lock<std::shared_mutex> shared(*lock);
    const UploadRecord upload = Authenticate(id, token);
    if (!IsOpen(upload.state))
    {
      throw Closed(upload);
    }
    // Paced as a file, not as a request (doc/Security.md, "Rate limits for files").
    policy_.PaceFile(client);
    // Hashed on a helper thread while the checks below and the parse run (0.3 ms of a 0.5 MB
    // file off the answer's time); verified before anything is scanned, kept or answered.
    // Whatever fails meanwhile is answered 409 hash-mismatch if the bytes are damaged, as
    // when the hash was checked first.
    Crypto::Sha256Task hash(body, size);
    ApiAnswer answer;
    InspectedFile inspected;
    try
    {
      ItemRecord existing;
      if (ledger_.Uploads().LookupItem(existing, id, sha256))
      {
        CheckHash(hash, sha256);
        answer.status = 200;
        answer.body = DescribeItem(existing);
        return answer;
      }

      const UploadLimits& limits = configuration_.upload;
      if (size > limits.maxFileBytes)
      {
        throw ApiError(413, "too-large", "The file is larger than " +
                                           std::to_string(limits.maxFileBytes) + " bytes");
      }
      if (size > kMaxWholeBodyBytes)
      {
        throw ApiError(413, "too-large",
                       "A file larger than " + std::to_string(kMaxWholeBodyBytes) +
                         " bytes must be sent in parts of " + std::to_string(limits.partBytes) +
                         " bytes");
      }
      if (uint64_t(upload.files) + 1 > limits.maxFilesPerUpload ||
          uint64_t(upload.bytes) + size > limits.maxBytesPerUpload)
      {
        throw ApiError(413, "too-large", "The upload would exceed " +
                                           std::to_string(limits.maxFilesPerUpload) + " files or " +
                                           std::to_string(limits.maxBytesPerUpload) + " bytes");
      }

      policy_.CheckFile(client, upload, size);
      if (scan_ != nullptr)
      {
        // After the cheap checks, before any parser reads the file and before anything of it is
        // kept: 422 malware or 503 scanner-unavailable (doc/Security.md, "Malware scanning").
        CheckHash(hash, sha256);  // the scanner sees the bytes the sender meant
        scan_->Check(id, sha256, body, size, client.ip);
      }
      InspectFile(inspected, body, size);
    }
    catch (...)
    {
      CheckHash(hash, sha256);
      throw;
    }
    CheckHash(hash, sha256);
    const ItemRecord item = KeepFile(upload, sha256, inspected, body, size);
    switch (RecordItem(
        item, client.ip, policy_.GetQuotaScopes(client.ip, upload.senderKey), policy_.GetDay(),
        Preamble::Describe(body, size)))
    {
      case UploadStore::AddItemResult_Added:
        answer.status = 201;
        break;
      case UploadStore::AddItemResult_AlreadyPresent:
        answer.status = 200;  // the same file, sent twice at once
        break;
      default:
        throw Closed(upload);
    }
    RemoveFileParts(id, sha256);  // parts sent of it before: the file is here whole
    answer.body = DescribeItem(item);
    return answer;
  }

  Json::Value UploadService::DescribeStudies(const std::vector<ItemRecord>& items,
                                             bool withOrthancIds) const
  {
    Json::Value result(Json::arrayValue);
    for (const StudySummary& study : StudySummary::Summarize(items))
    {
      Json::Value json(Json::objectValue);
      json["studyInstanceUid"] = study.first.studyInstanceUid;
      json["studyDate"] = study.first.studyDate;
      json["description"] = study.first.studyDescription;
      json["modalities"] = Json::arrayValue;
      for (const std::string& m : study.modalities)
      {
        json["modalities"].append(m);
      }
      json["instances"] = Json::Int64(study.instances);
      if (withOrthancIds)
      {
        json["orthancId"] = study.first.orthancStudyId;
        json["patientId"] = study.first.isolatedPatientId;
        json["originalPatientId"] = study.first.originalPatientId;
      }
      result.append(json);
    }
    return result;
  }

  Json::Value UploadService::MakeReceipt(const UploadRecord& upload) const
  {
    Json::Value receipt(Json::objectValue);
    receipt["id"] = upload.id;
    receipt["state"] = EnumerationToString(upload.state);
    receipt["completedAt"] = FormatIso8601(upload.completedAt);
    receipt["files"] = Json::Int64(upload.files);
    receipt["bytes"] = Json::Int64(upload.bytes);
    receipt["studies"] = DescribeStudies(ledger_.Uploads().ListItems(upload.id), false);
    receipt["recipient"] = DescribeRecipient(upload.recipientId);
    receipt["receiptCode"] = upload.receiptCode;
    receipt["siteName"] = configuration_.siteName;
    return receipt;
  }

  Json::Value UploadService::Complete(const std::string& id, const std::string& token,
                                      const ClientInfo& client)
  {
    std::shared_ptr<std::shared_mutex> lock = locks_.Get(id);
    std::unique_lock<std::shared_mutex> exclusive(*lock);
    UploadRecord upload = Authenticate(id, token);
    if (upload.state == UploadState_Open)
    {
      if (upload.files == 0)
      {
        throw ApiError(409, "empty-upload", "The upload holds no file yet");
      }
      CompleteLocked(upload, client.ip, "");
      ledger_.Uploads().Lookup(upload, id);
    }
    if (upload.state != UploadState_Complete && upload.state != UploadState_Delivered)
    {
      throw Closed(upload);
    }
    return MakeReceipt(upload);  // completing again answers the same receipt
  }

  void UploadService::CompleteLocked(const UploadRecord& upload, const std::string& ip,
                                     const std::string& detail)
  {
    // Whatever reads a complete upload finds the Orthanc metadata of all its files.
    sink_.Settle(upload.id);
    const std::string code = Crypto::RandomCode(4) + "-" + Crypto::RandomCode(4);
    if (ledger_.Uploads().ChangeState(upload.id, {UploadState_Open}, UploadState_Complete,
                                      clock_.NowMs(), ip,
                                      std::to_string(upload.files) + " files, " +
                                        std::to_string(upload.bytes) + " bytes, receipt " + code +
                                        detail,
                                      code))
    {
      LOG(INFO) << "Inbound: upload " << upload.id << " complete (" << upload.files << " files)";
      RemoveParts(upload.id);  // of files never assembled
      Completed();
    }
  }

  void UploadService::BeginPulledUpload(const UploadRecord& record)
  {
    UploadRecord existing;
    if (!ledger_.Uploads().Lookup(existing, record.id))
    {
      // As a public open: the data monitor and the quotas of the sender's address and e-mail
      // (503 / 507: the puller tries again later), counted in the same transaction.
      ClientInfo client;
      client.ip = record.clientIp;
      client.userAgent = record.userAgent;
      UploadRecord keyed = record;
      keyed.senderKey = policy_.GetSenderKey(record.sender.email);
      policy_.CheckOpen(client, keyed.senderKey);
      // The request link a gateway names binds the upload only if the Internal's own checks
      // pass, the uses left in the same transaction as the upload's record; else it is an
      // ordinary upload and admins are alerted (doc/Requests.md, "Gateways").
      const std::vector<std::string> scopes =
        policy_.GetQuotaScopes(record.clientIp, keyed.senderKey);
      std::string dropped =
        keyed.requestId.empty() ? "" : RequestSync::CheckPulledBinding(ledger_.Requests(), keyed);
      if (dropped.empty() && !keyed.requestId.empty())
      {
        const std::string refused = ledger_.Uploads().Create(keyed, scopes, policy_.GetDay());
        if (refused.empty())
        {
          return;
        }
        dropped = "request " + keyed.requestId + " is " + refused + " here";
      }
      if (!dropped.empty())
      {
        ledger_.Audit().Add(clock_.NowMs(), AuditEventType_AlertRequestUnknown, record.id,
                            record.gateway,
                            "upload " + record.id + " from gateway \"" + record.gateway +
                              "\" names request " + keyed.requestId + ": " + dropped +
                              (configuration_.openUploads
                                 ? "; recorded as an ordinary upload, not bound to it"
                                 : "; not taken (Inbound.OpenUploads is false)"));
      }
      if (!configuration_.openUploads)
      {
        // Requests-only inside too: a gateway (misconfigured, or not honest) cannot bring in
        // an upload that no request of this server binds. The puller holds it.
        throw ApiError(403, "requests-only",
                       "the upload is bound to no request of this server, and "
                       "Inbound.OpenUploads is false: not taken");
      }
      keyed.requestId.clear();
      ledger_.Uploads().Create(keyed, scopes, policy_.GetDay());
    }
  }

  void UploadService::CheckPulledFile(const UploadRecord& upload, uint64_t size)
  {
    // The limits of a public upload, with the sender's address and e-mail as the scopes.
    const UploadLimits& limits = configuration_.upload;
    if (size > limits.maxFileBytes || uint64_t(upload.files) + 1 > limits.maxFilesPerUpload ||
        uint64_t(upload.bytes) + size > limits.maxBytesPerUpload)
    {
      throw ApiError(413, "too-large", "The pulled file is larger than " +
                                         std::to_string(limits.maxFileBytes) +
                                         " bytes or the upload would exceed " +
                                         std::to_string(limits.maxFilesPerUpload) + " files or " +
                                         std::to_string(limits.maxBytesPerUpload) + " bytes");
    }
    ClientInfo client;
    client.ip = upload.clientIp;
    client.userAgent = upload.userAgent;
    policy_.CheckFile(client, upload, size);
  }

  void UploadService::ReceivePulledFile(const std::string& id, const std::string& sha256,
                                        uint64_t expectedSize, const void* body, size_t size,
                                        const std::string& gateway)
  {
    std::shared_ptr<std::shared_mutex> lock = locks_.Get(id);
    std::shared_lock<std::shared_mutex> shared(*lock);
    UploadRecord upload;
    ItemRecord existing;
    if (!ledger_.Uploads().Lookup(upload, id))
    {
      throw ApiError::NotFound();
    }
    if (upload.gateway != gateway)
    {
      throw OtherGateway(upload, gateway);
    }
    if (ledger_.Uploads().LookupItem(existing, id, sha256))
    {
      return;
    }
    if (!IsOpen(upload.state))
    {
      throw Closed(upload);
    }
    if (size != expectedSize)
    {
      throw ApiError(502, "size-mismatch", "The pulled file has " + std::to_string(size) +
                                             " bytes, the manifest says " +
                                             std::to_string(expectedSize));
    }
    if (Crypto::Sha256Hex(body, size) != sha256)
    {
      throw ApiError(409, "hash-mismatch", "The pulled bytes do not have the SHA-256 of the "
                                           "manifest");
    }
    CheckPulledFile(upload, size);
    if (scan_ != nullptr)
    {
      // An Internal with a scanner checks again what the gateway says it scanned: 422 holds
      // the upload with the alert, 503 has the puller fetch the file again later.
      scan_->Check(id, sha256, body, size, upload.clientIp);
    }
    if (RecordItem(StoreFile(upload, sha256, body, size), gateway,
                                  policy_.GetQuotaScopes(upload.clientIp, upload.senderKey),
                                  policy_.GetDay(), Preamble::Describe(body, size)) ==
        UploadStore::AddItemResult_UploadClosed)
    {
      throw Closed(upload);
    }
  }

  void UploadService::CompletePulledUpload(const std::string& id, const std::string& receiptCode,
                                           const std::string& gateway)
  {
    std::shared_ptr<std::shared_mutex> lock = locks_.Get(id);
    std::unique_lock<std::shared_mutex> exclusive(*lock);
    UploadRecord upload;
    if (ledger_.Uploads().Lookup(upload, id) && upload.gateway != gateway)
    {
      throw OtherGateway(upload, gateway);
    }
    sink_.Settle(id);  // as CompleteLocked
    if (ledger_.Uploads().ChangeState(id, {UploadState_Open}, UploadState_Complete, clock_.NowMs(),
                                      gateway, "pulled from gateway " + gateway, receiptCode))
    {
      Completed();
    }
  }

  void UploadService::AddCompletionListener(const std::function<void()>& listener)
  {
    completionListeners_.push_back(listener);
  }

  void UploadService::Completed() const
  {
    for (const std::function<void()>& listener : completionListeners_)
    {
      listener();
    }
  }

  void UploadService::PurgeLocked(const std::string& id)
  {
    const std::vector<ItemRecord> items = ledger_.Uploads().ListItems(id);
    sink_.Remove(id, items);
    RemoveParts(id);
    ledger_.Uploads().MarkPurged(id, clock_.NowMs(),
                                 std::to_string(items.size()) + " item(s) removed");
  }

  Json::Value UploadService::Cancel(const std::string& id, const std::string& token,
                                    const ClientInfo& client)
  {
    std::shared_ptr<std::shared_mutex> lock = locks_.Get(id);
    std::unique_lock<std::shared_mutex> exclusive(*lock);
    UploadRecord upload = Authenticate(id, token);
    if (upload.state != UploadState_Cancelled)
    {
      if (!ledger_.Uploads().ChangeState(id, {UploadState_Open}, UploadState_Cancelled,
                                         clock_.NowMs(), client.ip, "cancelled by the sender"))
      {
        throw Closed(upload);
      }
      PurgeLocked(id);
    }
    Json::Value answer(Json::objectValue);
    answer["id"] = id;
    answer["state"] = EnumerationToString(UploadState_Cancelled);
    return answer;
  }

  bool UploadService::Delete(const std::string& id, const ClientInfo& client,
                             const std::string& reason)
  {
    std::shared_ptr<std::shared_mutex> lock = locks_.Get(id);
    std::unique_lock<std::shared_mutex> exclusive(*lock);
    UploadRecord upload;
    if (!ledger_.Uploads().Lookup(upload, id))
    {
      return false;
    }
    if (upload.state != UploadState_Deleted)
    {
      ledger_.Uploads().ChangeState(id,
                                    {UploadState_Open, UploadState_Complete, UploadState_Delivered,
                                     UploadState_Cancelled, UploadState_Expired},
                                    UploadState_Deleted, clock_.NowMs(), client.ip, reason);
    }
    PurgeLocked(id);
    return true;
  }

  void UploadService::Sweep()
  {
    if (scan_)
    {
      scan_->Refresh(true);  // at start-up, then at each sweep: an admin hears of trouble early
    }
    const int64_t now = clock_.NowMs();
    const int64_t cutoff = now - int64_t(configuration_.upload.openTimeoutSeconds) * 1000;
    for (const std::string& id : ledger_.Uploads().ListIdleOpen(cutoff))
    {
      std::shared_ptr<std::shared_mutex> lock = locks_.Get(id);
      std::unique_lock<std::shared_mutex> exclusive(*lock);
      UploadRecord upload;
      // Checked again under the lock: a file may have arrived since the listing.
      if (ledger_.Uploads().Lookup(upload, id) && upload.state == UploadState_Open &&
          upload.updatedAt < cutoff &&
          ledger_.Uploads().ChangeState(
              id, {UploadState_Open}, UploadState_Expired, now, "",
              "no activity for " + std::to_string(configuration_.upload.openTimeoutSeconds) + " s"))
      {
        LOG(INFO) << "Inbound: upload " << id << " expired";
        PurgeLocked(id);
      }
    }

    for (const std::string& id : ledger_.Uploads().ListUnpurgedRemoved())
    {
      std::shared_ptr<std::shared_mutex> lock = locks_.Get(id);
      std::unique_lock<std::shared_mutex> exclusive(*lock);
      PurgeLocked(id);
    }
    SweepParts();
  }
}
