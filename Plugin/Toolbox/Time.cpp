// The system clock in milliseconds, and writing and reading ISO 8601 UTC timestamps.
#include "Time.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace Inbound
{
  int64_t SystemClock::NowMs() const
  {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch()).count();
  }

  std::string FormatIso8601(int64_t ms)
  {
    const time_t seconds = static_cast<time_t>(ms / 1000);
    struct tm utc;
    gmtime_r(&seconds, &utc);
    char buffer[64];
    snprintf(buffer, sizeof(buffer), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
             utc.tm_sec, static_cast<int>(ms % 1000));
    return buffer;
  }

  bool ParseIso8601(int64_t& ms, const std::string& text)
  {
    struct tm utc = {};
    int millis = 0;
    char z = 0;
    int n = sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &utc.tm_year, &utc.tm_mon,
                   &utc.tm_mday, &utc.tm_hour, &utc.tm_min, &utc.tm_sec, &millis, &z);
    if (n != 8)
    {
      millis = 0;
      n = sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &utc.tm_year, &utc.tm_mon,
                 &utc.tm_mday, &utc.tm_hour, &utc.tm_min, &utc.tm_sec, &z);
      if (n != 7)
      {
        return false;
      }
    }
    if (z != 'Z' || utc.tm_mon < 1 || utc.tm_mon > 12 || utc.tm_mday < 1 || utc.tm_mday > 31 ||
        utc.tm_hour > 23 || utc.tm_min > 59 || utc.tm_sec > 60 || millis < 0)
    {
      return false;
    }
    utc.tm_year -= 1900;
    utc.tm_mon -= 1;
    ms = static_cast<int64_t>(timegm(&utc)) * 1000 + millis;
    return true;
  }
}
