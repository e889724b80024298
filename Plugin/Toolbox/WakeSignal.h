// Lets a background loop sleep between rounds and be woken early (new work, or stopping).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace Inbound
{
  // Lets a background loop sleep between rounds and be woken early: new work arrived, or
  // "stopping" was set (the stopper calls Wake() after setting it).
  class WakeSignal
  {
  private:
    std::mutex mutex_;
    std::condition_variable condition_;
    bool woken_ = false;

  public:
    void Wake()
    {
      std::lock_guard<std::mutex> lock(mutex_);
      woken_ = true;
      condition_.notify_all();
    }

    void Wait(std::chrono::milliseconds timeout, const std::atomic<bool>& stopping)
    {
      std::unique_lock<std::mutex> lock(mutex_);
      condition_.wait_for(lock, timeout, [&] { return woken_ || stopping; });
      woken_ = false;
    }
  };
}
