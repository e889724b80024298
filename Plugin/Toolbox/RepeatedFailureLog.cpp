// Keeps a background loop from flooding the log with one failure repeated every round.
#include "RepeatedFailureLog.h"

namespace Inbound
{
  bool RepeatedFailureLog::ShouldLog(const std::string& error,
                                     std::chrono::steady_clock::time_point now)
  {
    if (error == lastError_ && now - lastLogged_ < std::chrono::minutes(1))
    {
      return false;
    }
    lastError_ = error;
    lastLogged_ = now;
    return true;
  }
}
