// Keeps a background loop from flooding the log with one failure repeated every round.
#pragma once

#include <chrono>
#include <string>

namespace Inbound
{
  // A background loop (forwards, notifications, the plugin's housekeeping) that fails the same
  // way round after round (the ledger's database away) logs that failure once a minute; a
  // different failure is logged at once. One per loop, used from that loop's thread only: no
  // locking. The time is the caller's (steady clock), so that tests need not wait.
  class RepeatedFailureLog
  {
  private:
    std::string lastError_;
    std::chrono::steady_clock::time_point lastLogged_;

  public:
    // True if "error" is to be logged now; it then counts as logged at "now".
    bool ShouldLog(const std::string& error,
                   std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());
  };
}
