// Test helper: the process's peak resident memory (VmHWM), reset before a measured step.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>

namespace InboundTests
{
  // Kilobytes of a "/proc/self/status" line ("VmHWM", "VmRSS"); 0 if absent.
  inline uint64_t ReadStatusKb(const std::string& name)
  {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
    {
      if (line.compare(0, name.size() + 1, name + ":") == 0)
      {
        return std::stoull(line.substr(name.size() + 1));
      }
    }
    return 0;
  }

  // Starts the peak again from the current resident memory (Linux: "5" into clear_refs);
  // false if the kernel refuses, in which case the test cannot measure a peak.
  inline bool ResetPeakMemory()
  {
    std::ofstream out("/proc/self/clear_refs");
    out << "5";
    out.close();
    return !out.fail();
  }
}
