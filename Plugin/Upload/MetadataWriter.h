// Writes the Orthanc metadata of stored files after their answer, and before their upload ends.
#pragma once

#include "Configuration.h"
#include "Ledger/Ledger.h"
#include "Toolbox/Time.h"
#include "Toolbox/WakeSignal.h"
#include "Upload/IOrthancStore.h"

#include <boost/noncopyable.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

namespace Inbound
{
  // The metadata of doc/Api.md ("Orthanc metadata written") of each item that ArchiveSink
  // stored: on the instance, and on its Orthanc study when the study has none yet. Written off
  // the file's answer (doc/Ledger.md, "Metadata owed"): AddItem records the item as owing
  // them (items.annotated = 0) in its own transaction, the item is queued here, a background
  // loop writes them within milliseconds and marks the items. Before an upload becomes
  // complete (the sender's complete, a partner's quiet close, the end of a pull), Settle()
  // writes what it still owes on the caller's thread, so that whatever reads a complete upload
  // (forwards, notifications, admins, outside tools) finds them. What a stopped Orthanc or a
  // full queue left is found again in the ledger and written by the loop.
  // Writing the same metadata twice is harmless (the same values), so the loop and Settle()
  // may both write an item; an instance deleted since (a cancelled upload) is no error.
  class MetadataWriter : public boost::noncopyable
  {
  public:
    // Items queued in memory at most; beyond, the ledger keeps them until the loop scans it.
    static constexpr size_t kMaxQueued = 10000;
    // An owed item this old is a left-over, not one being stored (by this Orthanc or another
    // sharing the ledger): the loop's scan takes it.
    static constexpr int64_t kLeftOverMs = 30000;
    static constexpr int64_t kScanIntervalMs = 10000;
    static constexpr size_t kScanBatch = 500;

  private:
    const Configuration& configuration_;
    Ledger& ledger_;
    IOrthancStore& store_;
    const IClock& clock_;
    WakeSignal wake_;
    std::atomic<bool> running_;

    std::mutex queueMutex_;
    std::deque<ItemRecord> queue_;
    // Items queued since start, and how many of those the loop has attempted (under
    // queueMutex_): what WaitForQueued waits on.
    uint64_t queued_ = 0;
    uint64_t attempted_ = 0;
    std::condition_variable attemptedSignal_;

    // Orthanc studies known to have their metadata (bounded: forgotten when full).
    std::mutex studiesMutex_;
    std::unordered_set<std::string> studies_;
    static constexpr size_t kMaxKnownStudies = 10000;

    bool IsKnownStudy(const std::string& orthancStudyId);
    void RememberStudy(const std::string& orthancStudyId);

    void WriteStudy(const ItemRecord& item);

    // The item's metadata; false if its instance is gone (deleted since it was stored).
    bool Write(const ItemRecord& item);

    // Writes each, marks those written; the first failure is rethrown after the marks when
    // "rethrow", else logged.
    void WriteAll(const std::vector<ItemRecord>& items, bool rethrow);

  public:
    MetadataWriter(const Configuration& configuration, Ledger& ledger, IOrthancStore& store,
                   const IClock& clock);

    // After AddItem recorded "item" (item.metadataOwed): queued for the loop, or written now
    // when no loop runs. Never throws: what is not written stays owed.
    void Enqueue(const ItemRecord& item);

    // Writes now, on this thread, whatever the upload still owes; throws ApiError 503 if
    // Orthanc's database is away (the upload then stays open: the caller retries).
    void Settle(const std::string& uploadId);

    // The background loop (one thread), until "stopping".
    void Loop(const std::atomic<bool>& stopping);

    void Wake()
    {
      wake_.Wake();
    }

    bool IsRunning() const
    {
      return running_;
    }

    // Waits (at most "timeout") until the loop has attempted every item queued so far: a
    // client of Orthanc's REST API that reads metadata right after a file's answer finds them
    // (Orthanc/AccessFilter.cpp). Returns at once when nothing is queued.
    void WaitForQueued(std::chrono::milliseconds timeout);

    // The study-level "InboundSender" document.
    static Json::Value DescribeSender(const Configuration& configuration,
                                      const UploadRecord& upload, int64_t receivedAt);
  };
}
