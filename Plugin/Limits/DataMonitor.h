// Free disk space and daily volume: warns, then stops accepting data until space returns.
#pragma once

#include "Configuration.h"
#include "Ledger/AuditEvents.h"

#include <boost/noncopyable.hpp>

#include <json/value.h>

#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace Inbound
{
  enum DataMonitorState
  {
    DataMonitorState_Ok,
    DataMonitorState_Warning,
    DataMonitorState_Stopped
  };

  const char* EnumerationToString(DataMonitorState state);

  // Watches the free space of the disks the plugin writes to and the volume received today.
  // Past the warning level it raises an alert once; past the stop level it refuses new data
  // (507) until space returns or an admin lifts the stop for the rest of the day.
  class DataMonitor : public boost::noncopyable
  {
  public:
    // Free bytes of the file system holding "path" (statvfs); tests replace it.
    typedef std::function<uint64_t(const std::string& path)> FreeSpaceProbe;
    // Receives the alert of each change of state (AuditEventType_AlertDataMonitorWarning,
    // ...Stopped, ...Ok) with a text.
    typedef std::function<void(AuditEventType alert, const std::string& detail)> AlertSink;

  private:
    DataMonitorLimits limits_;
    std::vector<std::string> paths_;
    FreeSpaceProbe probe_;
    AlertSink alert_;
    std::mutex mutex_;
    DataMonitorState state_ = DataMonitorState_Ok;
    std::string reason_;
    int64_t liftedForDay_ = -1;
    uint64_t lastFreeBytes_ = 0;
    uint64_t lastBytesToday_ = 0;

  public:
    DataMonitor(const DataMonitorLimits& limits, const std::vector<std::string>& paths,
                const FreeSpaceProbe& probe, const AlertSink& alert);

    static uint64_t GetFreeSpace(const std::string& path);

    // Re-evaluates the state; "day" is today's number, "bytesToday" the volume received.
    void Update(int64_t day, uint64_t bytesToday);

    // Throws 507 storage-full while stopped.
    void CheckAccepting();

    // Lifts a stop for the rest of "day"; false if nothing was stopped.
    bool Lift(int64_t day);

    DataMonitorState GetState();

    Json::Value Describe();
  };
}
