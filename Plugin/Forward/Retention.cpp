// Lists the complete uploads that Inbound.Retention removes (doc/Configuration.md).
#include "Retention.h"

#include "Forward/UploadStudies.h"

#include <algorithm>
#include <set>

namespace Inbound
{
  std::vector<std::string> ListUploadsPastRetention(const Configuration& configuration,
                                                    const Ledger& ledger, int64_t now)
  {
    std::vector<std::string> result;
    const RetentionSettings& r = configuration.retention;
    if (r.days == 0 || configuration.role == Role_Gateway)
    {
      return result;
    }
    const int64_t cutoff = now - static_cast<int64_t>(r.days) * 86400 * 1000;
    for (const UploadRecord& upload : ledger.Uploads().List("complete", 0, 100000))
    {
      if (upload.completedAt == 0 || upload.completedAt >= cutoff)
      {
        continue;
      }
      if (r.onlyForwarded)
      {
        std::set<std::string> sent;
        for (const ForwardRecord& f : ledger.Forwards().List(upload.id, "done", 100000))
        {
          sent.insert(f.study);
        }
        const std::vector<std::string> studies = StudiesOf(ledger, upload.id);
        const bool all = !studies.empty() &&
                         std::all_of(studies.begin(), studies.end(),
                                     [&](const std::string& s) { return sent.count(s) > 0; });
        if (!all)
        {
          continue;
        }
      }
      result.push_back(upload.id);
    }
    return result;
  }
}
