// The body of an admin's ban request (POST /inbound/admin/bans).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace Inbound
{
  // The body of "POST /inbound/admin/bans": {"entry": "203.0.113.9" or "203.0.113.0/24",
  // "seconds": 3600 (optional, absent or 0: until lifted), "reason": "..." (optional)}.
  struct BanRequest
  {
    std::string entry;
    int64_t seconds = 0;
    std::string reason;

    static BanRequest Parse(const void* body, size_t size);
  };
}
