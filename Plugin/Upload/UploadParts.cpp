// Big files in parts (UploadService members): parts, assembly, and the file pipeline from disk.
#include "UploadService.h"

#include "Scan/MalwareScan.h"
#include "Toolbox/Crypto.h"
#include "Upload/DicomInspector.h"
#include "Upload/IOrthancStore.h"
#include "Upload/JsonFields.h"
#include "Upload/Preamble.h"

#include <Logging.h>

#include <boost/filesystem.hpp>

#include <algorithm>
#include <fstream>

namespace Inbound
{
  namespace
  {
    // Files of one upload that may have parts at once (doc/Api.md, "Files in parts").
    const uint64_t kMaxPartialFiles = 8;

    // What isolation may add to a file (its identifiers and the original attributes); the
    // configuration keeps Upload.MaxFileBytes below the limit with it (kMaxFileBytesCap).
    const uint64_t kIsolationMarginBytes = 1024 * 1024;

    ApiError BadPart(const std::string& why)
    {
      return ApiError(400, "bad-part", why);
    }

    // Parts a file of Upload.MaxFileBytes has (the largest count an assembly may name).
    uint64_t GetMaxParts(const UploadLimits& limits)
    {
      return (limits.maxFileBytes + limits.partBytes - 1) / limits.partBytes;
    }

    // The preamble and prefix of a file on disk, for Preamble::Describe.
    std::string ReadHead(const std::string& path)
    {
      std::string head(132, '\0');
      std::ifstream in(path, std::ios::binary);
      in.read(&head[0], head.size());
      head.resize(in ? head.size() : size_t(std::max<std::streamsize>(0, in.gcount())));
      return head;
    }

    // "<upload>/<sha256>" in UploadService::assembling_ for as long as it lives: one assembly
    // of a file at a time (a second one, a page that retried, is told to come back).
    class AssemblyGuard : public boost::noncopyable
    {
    private:
      std::mutex& mutex_;
      std::set<std::string>& running_;
      std::string key_;

    public:
      AssemblyGuard(std::mutex& mutex, std::set<std::string>& running, const std::string& key) :
        mutex_(mutex),
        running_(running),
        key_(key)
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!running_.insert(key_).second)
        {
          throw ApiError(503, "server-busy", "This file is being assembled already; ask again "
                                             "in a few seconds for the result")
            .WithHeader("Retry-After", "5");
        }
      }

      ~AssemblyGuard()
      {
        std::lock_guard<std::mutex> lock(mutex_);
        running_.erase(key_);
      }
    };
  }

  Json::Value UploadService::DescribePartialFiles(const std::string& id) const
  {
    Json::Value files(Json::arrayValue);
    if (parts_ == nullptr)
    {
      return files;
    }
    for (const PartStore::FileParts& file : parts_->List(id))
    {
      Json::Value json(Json::objectValue);
      json["sha256"] = file.sha256;
      json["parts"] = Json::arrayValue;
      for (uint32_t n : file.parts)
      {
        json["parts"].append(Json::UInt(n));
      }
      json["bytes"] = Json::UInt64(file.bytes);
      files.append(json);
    }
    return files;
  }

  void UploadService::RemoveParts(const std::string& id)
  {
    if (parts_ != nullptr)
    {
      parts_->RemoveUpload(id);
    }
  }

  void UploadService::RemoveFileParts(const std::string& id, const std::string& sha256)
  {
    if (parts_ != nullptr)
    {
      parts_->RemoveFile(id, sha256);
    }
  }

  void UploadService::SweepParts()
  {
    if (parts_ == nullptr)
    {
      return;
    }
    // Parts of uploads no longer open (a crash between the state change and the removal).
    for (const std::string& id : parts_->ListUploads())
    {
      std::shared_ptr<std::shared_mutex> lock = locks_.Get(id);
      std::unique_lock<std::shared_mutex> exclusive(*lock);
      UploadRecord upload;
      if (!ledger_.Uploads().Lookup(upload, id) || !IsOpen(upload.state))
      {
        parts_->RemoveUpload(id);
      }
    }
  }

  ApiAnswer UploadService::PutPart(const std::string& id, const std::string& token,
                                   const std::string& sha256, const std::string& n,
                                   const std::string& partSha256, const void* body, size_t size,
                                   const ClientInfo& client)
  {
    if (parts_ == nullptr)
    {
      throw ApiError::NotFound();
    }
    if (!Crypto::IsSha256Hex(sha256))
    {
      throw ApiError(400, "bad-hash", "The file's name in the route must be its SHA-256 in "
                                      "lower-case hexadecimal (64 characters)");
    }
    const UploadLimits& limits = configuration_.upload;
    if (n.empty() || n.size() > 10 || n.find_first_not_of("0123456789") != std::string::npos ||
        (n.size() > 1 && n[0] == '0'))
    {
      throw BadPart("The part's number in the route must be a decimal integer from 0");
    }
    const uint64_t number = std::stoull(n);
    if (!Crypto::IsSha256Hex(partSha256))
    {
      throw BadPart("Header X-Inbound-Part-Sha256 must be the part's SHA-256 in lower-case "
                    "hexadecimal (64 characters)");
    }

    std::shared_ptr<std::shared_mutex> lock = locks_.Get(id);
    std::shared_lock<std::shared_mutex> shared(*lock);
    const UploadRecord upload = Authenticate(id, token);
    if (!IsOpen(upload.state))
    {
      throw Closed(upload);
    }
    policy_.PaceFile(client);  // paced as a file, not as a request (doc/Security.md)
    ApiAnswer answer;
    ItemRecord existing;
    if (ledger_.Uploads().LookupItem(existing, id, sha256))
    {
      // The whole file is stored already (a page that resumes after the assembly).
      answer.body = DescribeItem(existing);
      answer.body["stored"] = true;
      return answer;
    }
    if (Crypto::Sha256Hex(body, size) != partSha256)
    {
      throw ApiError(409, "hash-mismatch",
                     "The SHA-256 of the received bytes is not the one in X-Inbound-Part-Sha256: "
                     "the part was damaged on the way; send it again");
    }
    if (size == 0)
    {
      throw BadPart("A part holds at least one byte");
    }
    if (size > limits.partBytes)
    {
      throw ApiError(413, "too-large", "A part has at most " + std::to_string(limits.partBytes) +
                                         " bytes (Upload.PartBytes)");
    }
    if (number >= GetMaxParts(limits))
    {
      throw ApiError(413, "too-large", "A file has at most " + std::to_string(limits.maxFileBytes) +
                                         " bytes: part " + n + " is beyond");
    }

    answer.body["sha256"] = sha256;
    answer.body["part"] = Json::UInt64(number);
    answer.body["size"] = Json::UInt64(size);
    answer.body["stored"] = false;
    if (parts_->Holds(id, sha256, static_cast<uint32_t>(number), body, size))
    {
      answer.status = 200;  // the same part again: nothing counted twice
      return answer;
    }
    if (uint64_t(upload.bytes) + parts_->GetPendingBytes(id) + size > limits.maxBytesPerUpload)
    {
      throw ApiError(413, "too-large", "The upload would exceed " +
                                         std::to_string(limits.maxBytesPerUpload) + " bytes");
    }
    policy_.CheckFile(client, upload, size);
    // Files in parts at once: a few (what a page sends in parallel), and no more than the
    // upload may still take, so that the parts held and the status stay bounded.
    const uint64_t filesLeft = limits.maxFilesPerUpload - std::min<uint64_t>(
                                 limits.maxFilesPerUpload, uint64_t(upload.files));
    std::string problem;
    // The upload's bytes: checked above for a clear answer early, and again under the part
    // store's lock, so that parts sent at once cannot pass it together.
    const uint64_t bytesLeft = limits.maxBytesPerUpload - std::min<uint64_t>(
                                 limits.maxBytesPerUpload, uint64_t(upload.bytes));
    switch (parts_->Write(id, sha256, static_cast<uint32_t>(number), body, size,
                          static_cast<size_t>(std::min<uint64_t>(kMaxPartialFiles, filesLeft)),
                          bytesLeft, problem))
    {
      case PartStore::WriteOutcome_TooManyBytes:
        throw ApiError(413, "too-large", "The upload would exceed " +
                                           std::to_string(limits.maxBytesPerUpload) + " bytes");
      case PartStore::WriteOutcome_TooManyFiles:
        throw ApiError(409, "too-many-partial-files",
                       "This upload holds parts of " + std::to_string(kMaxPartialFiles) +
                         " files (or of as many as it may still take) already; assemble them "
                         "first, then send parts of this file");
      case PartStore::WriteOutcome_Misplaced:
        throw BadPart("The parts do not make a file: " + problem);
      case PartStore::WriteOutcome_Same:
        answer.status = 200;  // sent twice at once
        return answer;
      default:
        break;
    }
    if (!ledger_.Uploads().RecordPart(id, policy_.GetQuotaScopes(client.ip, upload.senderKey),
                                      policy_.GetDay(), size, clock_.NowMs()))
    {
      parts_->RemoveFile(id, sha256);
      throw Closed(upload);
    }
    answer.status = 201;
    return answer;
  }

  ApiAnswer UploadService::Assemble(const std::string& id, const std::string& token,
                                    const std::string& sha256, const void* body, size_t size,
                                    const ClientInfo& client)
  {
    if (parts_ == nullptr)
    {
      throw ApiError::NotFound();
    }
    if (!Crypto::IsSha256Hex(sha256))
    {
      throw ApiError(400, "bad-hash", "The file's name in the route must be its SHA-256 in "
                                      "lower-case hexadecimal (64 characters)");
    }
    const UploadLimits& limits = configuration_.upload;
    const Json::Value request = JsonFields::ParseObject(body, size, 1024);
    JsonFields::CheckKeys(request, "", {"parts"});
    const int64_t count = JsonFields::Count(request, "parts", "parts");
    if (count < 1 || uint64_t(count) > GetMaxParts(limits))
    {
      throw BadPart("Field \"parts\" must be the number of parts, from 1 to " +
                    std::to_string(GetMaxParts(limits)));
    }

    std::shared_ptr<std::shared_mutex> lock = locks_.Get(id);
    std::shared_lock<std::shared_mutex> shared(*lock);
    const UploadRecord upload = Authenticate(id, token);
    ApiAnswer answer;
    ItemRecord existing;
    if (ledger_.Uploads().LookupItem(existing, id, sha256))
    {
      parts_->RemoveFile(id, sha256);
      answer.body = DescribeItem(existing);
      return answer;
    }
    if (!IsOpen(upload.state))
    {
      throw Closed(upload);
    }
    AssemblyGuard guard(assemblingMutex_, assembling_, id + "/" + sha256);
    if (uint64_t(upload.files) + 1 > limits.maxFilesPerUpload)
    {
      parts_->RemoveFile(id, sha256);
      throw ApiError(413, "too-large", "The upload would exceed " +
                                         std::to_string(limits.maxFilesPerUpload) + " files");
    }

    const PartStore::Assembly assembly = parts_->Assemble(
      id, sha256, static_cast<uint32_t>(count), limits.partBytes, limits.maxFileBytes);
    switch (assembly.outcome)
    {
      case PartStore::AssembleOutcome_Missing:
      {
        Json::Value missing(Json::arrayValue);
        for (uint32_t n : assembly.missing)
        {
          missing.append(Json::UInt(n));
        }
        throw ApiError(409, "parts-missing", "Some parts of the file are not here; send them, "
                                             "then ask again").WithField("missing", missing);
      }
      case PartStore::AssembleOutcome_BadSize:
        throw BadPart("The parts do not make a file: " + assembly.problem);
      case PartStore::AssembleOutcome_TooLarge:
        parts_->RemoveFile(id, sha256);
        throw ApiError(413, "too-large", "The file is larger than " +
                                           std::to_string(limits.maxFileBytes) + " bytes");
      case PartStore::AssembleOutcome_Assembled:
        break;
      default:
        break;  // a part that fails its authentication is a file that is not the one named
    }
    if (assembly.outcome != PartStore::AssembleOutcome_Assembled || assembly.sha256 != sha256)
    {
      // The sender starts the file again: which part is wrong cannot be known.
      parts_->RemoveFile(id, sha256);
      throw ApiError(409, "hash-mismatch",
                     "The SHA-256 of the assembled parts is not the one in the route: the parts "
                     "were dropped; send the file again");
    }

    try
    {
      const std::string head = ReadHead(assembly.path);  // before the sink moves the file
      const ItemRecord item = StoreFileOnDisk(upload, sha256, assembly.path, assembly.size,
                                              client.ip);
      // The bytes counted in the quotas when the parts came: not again.
      const UploadStore::AddItemResult added = RecordItem(
        item, client.ip, {}, policy_.GetDay(), Preamble::Describe(head.data(), head.size()));
      parts_->RemoveFile(id, sha256);
      switch (added)
      {
        case UploadStore::AddItemResult_Added:
          answer.status = 201;
          break;
        case UploadStore::AddItemResult_AlreadyPresent:
          answer.status = 200;
          break;
        default:
          throw Closed(upload);
      }
      answer.body = DescribeItem(item);
      return answer;
    }
    catch (ApiError& e)
    {
      // Refused as a file (not DICOM, malware, duplicate, too large): the parts go; a refusal
      // for now (503, 507) keeps them for the next attempt.
      if (e.GetStatus() >= 400 && e.GetStatus() < 500)
      {
        parts_->RemoveFile(id, sha256);
      }
      else
      {
        parts_->RemoveAssembled(assembly);  // scrubbed first on a sealing gateway
      }
      throw;
    }
    catch (...)
    {
      parts_->RemoveAssembled(assembly);
      throw;
    }
  }

  ItemRecord UploadService::StoreFileOnDisk(const UploadRecord& upload, const std::string& sha256,
                                            const std::string& path, uint64_t size,
                                            const std::string& ip)
  {
    // Its memory first (a file that can never fit: 413): the rewrite and Orthanc's store on
    // a role that stores in Orthanc; a few buffers on a Gateway.
    if (sink_.StoresInOrthanc() && size + kIsolationMarginBytes > IOrthancStore::kMaxInstanceBytes)
    {
      throw ApiError(413, "too-large", "This archive stores files of less than 4 GiB (Orthanc)");
    }
    const std::unique_ptr<MemoryHold> memory = policy_.ReserveAssembly(size);
    if (scan_ != nullptr)
    {
      scan_->CheckFile(upload.id, sha256, path, size, ip);
    }
    DicomSummary summary;
    std::unique_ptr<Orthanc::ParsedDicomFile> dicom;
    std::unique_ptr<MemoryHold> growth;
    {
      DicomGuardLimits guard;
      guard.maxSequenceDepth = configuration_.upload.maxSequenceDepth;
      // A Deflated dataset is parsed whole in memory: a whole body (InspectFile).
      guard.maxInflatedBytes = std::min(configuration_.upload.maxFileBytes, kMaxWholeBodyBytes);
      const CheckedDicomFile checked = DicomInspector::CheckFile(path, guard);
      // A deflated file is parsed whole, inflated (InspectFile).
      const uint64_t parsed = std::min<uint64_t>(checked.GetParsedBytes(), guard.maxInflatedBytes);
      growth = policy_.ReserveParsingGrowth(parsed > size ? parsed - size : 0);
      dicom = DicomInspector::ParseFile(summary, checked);
    }
    ItemRecord item = DescribeNewItem(upload, sha256, summary, size);
    if (!sink_.StoresInOrthanc())
    {
      dicom.reset();  // the staging area keeps the bytes as sent
    }
    sink_.KeepFile(upload, item, std::move(dicom), path, size);
    return item;
  }

  void UploadService::ReceivePulledFileOnDisk(const std::string& id, const std::string& sha256,
                                              uint64_t expectedSize, const std::string& path,
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
      throw ApiError(409, "other-gateway", "Upload " + upload.id + " did not come from gateway \"" +
                                             gateway + "\"");
    }
    if (ledger_.Uploads().LookupItem(existing, id, sha256))
    {
      return;
    }
    if (!IsOpen(upload.state))
    {
      throw Closed(upload);
    }
    boost::system::error_code error;
    const uint64_t size = boost::filesystem::file_size(path, error);
    if (error || size != expectedSize)
    {
      throw ApiError(502, "size-mismatch", "The pulled file has " +
                                             (error ? std::string("no") : std::to_string(size)) +
                                             " bytes, the manifest says " +
                                             std::to_string(expectedSize));
    }
    {
      Crypto::Sha256Stream hash;
      std::ifstream in(path, std::ios::binary);
      std::string buffer(PartStore::kCopyBufferBytes, '\0');
      while (in)
      {
        in.read(&buffer[0], buffer.size());
        if (in.gcount() > 0)
        {
          hash.Update(buffer.data(), size_t(in.gcount()));
        }
      }
      if (hash.FinishHex() != sha256)
      {
        throw ApiError(409, "hash-mismatch", "The pulled bytes do not have the SHA-256 of the "
                                             "manifest");
      }
    }
    CheckPulledFile(upload, size);
    const std::string head = ReadHead(path);
    const ItemRecord item = StoreFileOnDisk(upload, sha256, path, size, upload.clientIp);
    if (RecordItem(item, gateway,
                                  policy_.GetQuotaScopes(upload.clientIp, upload.senderKey),
                                  policy_.GetDay(), Preamble::Describe(head.data(), head.size())) ==
        UploadStore::AddItemResult_UploadClosed)
    {
      throw Closed(upload);
    }
  }
}
