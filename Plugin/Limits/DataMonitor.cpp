// Watches free space and the volume of the day, raises alerts, refuses data when stopped (507).
#include "DataMonitor.h"

#include "Http/ApiError.h"

#include <sys/statvfs.h>

namespace Inbound
{
  const char* EnumerationToString(DataMonitorState state)
  {
    switch (state)
    {
      case DataMonitorState_Warning:
        return "warning";
      case DataMonitorState_Stopped:
        return "stopped";
      default:
        return "ok";
    }
  }

  namespace
  {
    // The alert of a change to "state".
    AuditEventType GetAlert(DataMonitorState state)
    {
      switch (state)
      {
        case DataMonitorState_Warning:
          return AuditEventType_AlertDataMonitorWarning;
        case DataMonitorState_Stopped:
          return AuditEventType_AlertDataMonitorStopped;
        default:
          return AuditEventType_AlertDataMonitorOk;
      }
    }
  }

  DataMonitor::DataMonitor(const DataMonitorLimits& limits, const std::vector<std::string>& paths,
                           const FreeSpaceProbe& probe, const AlertSink& alert) :
    limits_(limits),
    paths_(paths),
    probe_(probe),
    alert_(alert)
  {
  }

  uint64_t DataMonitor::GetFreeSpace(const std::string& path)
  {
    struct statvfs info;
    if (statvfs(path.c_str(), &info) != 0)
    {
      return UINT64_MAX;  // unknown: the volume checks still apply
    }
    return uint64_t(info.f_bavail) * uint64_t(info.f_frsize);
  }

  void DataMonitor::Update(int64_t day, uint64_t bytesToday)
  {
    uint64_t free = UINT64_MAX;
    for (const std::string& path : paths_)
    {
      free = std::min(free, probe_(path));
    }

    DataMonitorState next = DataMonitorState_Ok;
    std::string reason;
    auto raise = [&](DataMonitorState level, const std::string& why) {
      if (level > next)
      {
        next = level;
        reason = why;
      }
    };
    const DataMonitorLimits& l = limits_;
    const std::string freeText = std::to_string(free / (1024 * 1024)) + " MiB free";
    const std::string volumeText = std::to_string(bytesToday / (1024 * 1024)) + " MiB received today";
    if (l.stopFreeBytes != 0 && free < l.stopFreeBytes)
      raise(DataMonitorState_Stopped, freeText);
    else if (l.warnFreeBytes != 0 && free < l.warnFreeBytes)
      raise(DataMonitorState_Warning, freeText);
    if (l.stopBytesPerDay != 0 && bytesToday >= l.stopBytesPerDay)
      raise(DataMonitorState_Stopped, volumeText);
    else if (l.warnBytesPerDay != 0 && bytesToday >= l.warnBytesPerDay)
      raise(DataMonitorState_Warning, volumeText);

    bool changed = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      lastFreeBytes_ = free;
      lastBytesToday_ = bytesToday;
      if (next == DataMonitorState_Stopped && liftedForDay_ == day)
      {
        next = DataMonitorState_Warning;  // an admin lifted the stop for today
        reason += " (stop lifted by an admin for today)";
      }
      changed = (next != state_);
      state_ = next;
      reason_ = reason;
    }
    if (changed && alert_)
    {
      alert_(GetAlert(next), reason.empty() ? "back to normal" : reason);
    }
  }

  void DataMonitor::CheckAccepting()
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (state_ == DataMonitorState_Stopped)
    {
      throw ApiError(507, "storage-full",
                     "This site accepts no new data at the moment (" + reason_ +
                       "); please try again later")
        .WithHeader("Retry-After", "3600");
    }
  }

  bool DataMonitor::Lift(int64_t day)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    liftedForDay_ = day;
    if (state_ != DataMonitorState_Stopped)
    {
      return false;
    }
    state_ = DataMonitorState_Warning;
    reason_ += " (stop lifted by an admin for today)";
    return true;
  }

  DataMonitorState DataMonitor::GetState()
  {
    std::lock_guard<std::mutex> lock(mutex_);
    return state_;
  }

  Json::Value DataMonitor::Describe()
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Json::Value json(Json::objectValue);
    json["state"] = EnumerationToString(state_);
    json["reason"] = reason_;
    json["freeBytes"] = lastFreeBytes_ == UINT64_MAX ? Json::Value(Json::nullValue)
                                                     : Json::Value(Json::UInt64(lastFreeBytes_));
    json["bytesToday"] = Json::UInt64(lastBytesToday_);
    json["warnFreeBytes"] = Json::UInt64(limits_.warnFreeBytes);
    json["stopFreeBytes"] = Json::UInt64(limits_.stopFreeBytes);
    json["warnBytesPerDay"] = Json::UInt64(limits_.warnBytesPerDay);
    json["stopBytesPerDay"] = Json::UInt64(limits_.stopBytesPerDay);
    return json;
  }
}
