// Writes the Orthanc metadata of stored files after their answer, and before their upload ends.
#include "MetadataWriter.h"

#include "Toolbox/Errors.h"
#include "Toolbox/Json.h"
#include "Toolbox/RepeatedFailureLog.h"

#include <Logging.h>
#include <OrthancException.h>

#include <chrono>

namespace Inbound
{
  MetadataWriter::MetadataWriter(const Configuration& configuration, Ledger& ledger,
                                 IOrthancStore& store, const IClock& clock) :
    configuration_(configuration),
    ledger_(ledger),
    store_(store),
    clock_(clock),
    running_(false)
  {
  }

  Json::Value MetadataWriter::DescribeSender(const Configuration& configuration,
                                             const UploadRecord& upload, int64_t receivedAt)
  {
    Json::Value sender(Json::objectValue);
    sender["uploadId"] = upload.id;
    sender["sender"] = upload.sender.ToJson();
    const Recipient* recipient = configuration.LookupRecipient(upload.recipientId);
    if (recipient != nullptr)
    {
      sender["recipient"]["id"] = recipient->id;
      sender["recipient"]["name"] = recipient->name;
    }
    else
    {
      sender["recipient"] = Json::nullValue;
    }
    sender["message"] = upload.message;
    sender["consent"]["version"] = upload.consentVersion;
    sender["consent"]["accepted"] = true;
    sender["clientIp"] = upload.clientIp;
    sender["userAgent"] = upload.userAgent;
    sender["openedAt"] = FormatIso8601(upload.createdAt);
    sender["receivedAt"] = FormatIso8601(receivedAt);
    if (!upload.partnerId.empty())
    {
      // Sent automatically by a partner site (on an Internal: its gateway's label).
      sender["partner"] = upload.partnerId;
    }
    return sender;
  }

  bool MetadataWriter::IsKnownStudy(const std::string& orthancStudyId)
  {
    std::lock_guard<std::mutex> lock(studiesMutex_);
    return studies_.count(orthancStudyId) != 0;
  }

  void MetadataWriter::RememberStudy(const std::string& orthancStudyId)
  {
    std::lock_guard<std::mutex> lock(studiesMutex_);
    if (studies_.size() >= kMaxKnownStudies)
    {
      studies_.clear();  // asked of Orthanc again: one read per study
    }
    studies_.insert(orthancStudyId);
  }

  void MetadataWriter::WriteStudy(const ItemRecord& item)
  {
    // Once per Orthanc study, not per StudyInstanceUID: one study sent under two PatientIDs is
    // two isolated patients, hence two Orthanc studies, each described. "InboundSender" is
    // written last: a study that has it has the three.
    const MetadataNames& names = configuration_.metadata;
    std::string existing;
    UploadRecord upload;
    if (!store_.LookupMetadata(existing, ResourceLevel_Study, item.orthancStudyId, names.sender) &&
        ledger_.Uploads().Lookup(upload, item.uploadId))
    {
      store_.SetMetadata(ResourceLevel_Study, item.orthancStudyId, names.upload, upload.id);
      store_.SetMetadata(ResourceLevel_Study, item.orthancStudyId, names.originalPatientId,
                         item.originalPatientId);
      store_.SetMetadata(ResourceLevel_Study, item.orthancStudyId, names.sender,
                         JsonText::Compact(DescribeSender(configuration_, upload, item.storedAt)));
    }
    RememberStudy(item.orthancStudyId);
  }

  bool MetadataWriter::Write(const ItemRecord& item)
  {
    const MetadataNames& names = configuration_.metadata;
    try
    {
      store_.SetMetadata(ResourceLevel_Instance, item.orthancInstanceId, names.upload,
                         item.uploadId);
      store_.SetMetadata(ResourceLevel_Instance, item.orthancInstanceId, names.originalPatientId,
                         item.originalPatientId);
      store_.SetMetadata(ResourceLevel_Instance, item.orthancInstanceId, names.sha256,
                         item.sha256);
      if (!IsKnownStudy(item.orthancStudyId))
      {
        WriteStudy(item);
      }
      return true;
    }
    catch (Orthanc::OrthancException& e)
    {
      if (e.GetErrorCode() == Orthanc::ErrorCode_UnknownResource ||
          e.GetErrorCode() == Orthanc::ErrorCode_InexistentItem)
      {
        return false;  // deleted since it was stored (a cancelled upload, an admin)
      }
      throw;
    }
  }

  void MetadataWriter::WriteAll(const std::vector<ItemRecord>& items, bool rethrow)
  {
    std::vector<ItemRecord> done;
    done.reserve(items.size());
    std::string failure;
    for (const ItemRecord& item : items)
    {
      try
      {
        Write(item);
        done.push_back(item);
      }
      catch (...)
      {
        if (rethrow)
        {
          ledger_.Uploads().MarkAnnotated(done);
          throw;
        }
        failure = DescribeCurrentException();  // stays owed: the scan takes it again
      }
    }
    ledger_.Uploads().MarkAnnotated(done);
    if (!failure.empty())
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_InternalError,
                                      "Cannot write the metadata of a stored file: " + failure);
    }
  }

  void MetadataWriter::Enqueue(const ItemRecord& item)
  {
    if (!item.metadataOwed)
    {
      return;
    }
    if (!running_)
    {
      try
      {
        WriteAll({item}, true);
      }
      catch (...)
      {
        LOG(WARNING) << "Inbound: metadata of stored files, left owed: "
                     << DescribeCurrentException();
      }
      return;
    }
    {
      std::lock_guard<std::mutex> lock(queueMutex_);
      if (queue_.size() >= kMaxQueued)
      {
        return;  // owed in the ledger: the loop's scan writes it
      }
      queue_.push_back(item);
      queued_++;
    }
    wake_.Wake();
  }

  void MetadataWriter::Settle(const std::string& uploadId)
  {
    WriteAll(ledger_.Uploads().ListUnannotated(uploadId), true);
  }

  void MetadataWriter::Loop(const std::atomic<bool>& stopping)
  {
    running_ = true;
    RepeatedFailureLog failures;  // the same failure again and again: logged once a minute
    int64_t nextScan = 0;         // at once: what a stopped Orthanc left
    while (!stopping)
    {
      std::vector<ItemRecord> batch;
      uint64_t batchEnd;
      {
        std::lock_guard<std::mutex> lock(queueMutex_);
        batch.assign(queue_.begin(), queue_.end());
        queue_.clear();
        batchEnd = queued_;
      }
      try
      {
        const int64_t now = clock_.NowMs();
        if (batch.empty() && now >= nextScan)
        {
          batch = ledger_.Uploads().ListUnannotatedBefore(now - kLeftOverMs, kScanBatch);
          nextScan = (batch.size() == kScanBatch ? now : now + kScanIntervalMs);
        }
        WriteAll(batch, false);
      }
      catch (...)
      {
        const std::string error = DescribeCurrentException();
        if (failures.ShouldLog(error))
        {
          LOG(ERROR) << "Inbound: metadata of stored files: " << error;
        }
      }
      bool idle;
      {
        std::lock_guard<std::mutex> lock(queueMutex_);
        attempted_ = batchEnd;
        idle = queue_.empty();
      }
      attemptedSignal_.notify_all();
      if (idle)
      {
        wake_.Wait(std::chrono::milliseconds(1000), stopping);
      }
    }
    running_ = false;
    attemptedSignal_.notify_all();
  }

  void MetadataWriter::WaitForQueued(std::chrono::milliseconds timeout)
  {
    std::unique_lock<std::mutex> lock(queueMutex_);
    const uint64_t target = queued_;
    attemptedSignal_.wait_for(lock, timeout, [&] { return attempted_ >= target || !running_; });
  }
}
