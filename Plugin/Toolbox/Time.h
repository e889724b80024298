// The clock of the plugin (replaced in tests) and ISO 8601 timestamps.
#pragma once

#include <cstdint>
#include <string>

namespace Inbound
{
  // The plugin's only source of time, so that tests can move it (expiry, quotas).
  class IClock
  {
  public:
    virtual ~IClock() = default;

    // Milliseconds since the Unix epoch.
    virtual int64_t NowMs() const = 0;
  };

  class SystemClock : public IClock
  {
  public:
    int64_t NowMs() const override;
  };

  // "2026-05-12T08:30:00.123Z"
  std::string FormatIso8601(int64_t ms);

  // Accepts what FormatIso8601 writes and the same without milliseconds; false otherwise.
  bool ParseIso8601(int64_t& ms, const std::string& text);
}
