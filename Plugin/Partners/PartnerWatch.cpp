// The silence alert of partner sites (see PartnerWatch.h).
#include "PartnerWatch.h"

#include "Partners/PartnerStatus.h"

#include <Logging.h>

#include <algorithm>
#include <map>

namespace Inbound
{
  namespace
  {
    const int64_t kMinuteMs = 60000;

    std::string DescribePartner(const PartnerSettings& partner)
    {
      std::string text = "partner " + partner.id + " (" + partner.name;
      if (!partner.institution.empty())
      {
        text += ", " + partner.institution;
      }
      return text + ")";
    }

    std::string FormatHours(double hours)
    {
      char text[32];
      snprintf(text, sizeof(text), "%g", hours);
      return text;
    }
  }

  PartnerWatch::PartnerWatch(const std::vector<PartnerSettings>& partners, Ledger& ledger,
                             const IClock& clock, int64_t startedAt) :
    partners_(partners),
    ledger_(ledger),
    clock_(clock),
    startedAt_(startedAt),
    intervalMs_(kMinuteMs)
  {
    for (const PartnerSettings& partner : partners_)
    {
      if (partner.enabled && partner.limits.silenceAlertHours > 0)
      {
        const int64_t tenth = int64_t(partner.limits.silenceAlertHours * 3600000.0 / 10);
        intervalMs_ = std::max<int64_t>(1000, std::min(intervalMs_, tenth));
      }
    }
  }

  void PartnerWatch::Tick()
  {
    const int64_t now = clock_.NowMs();
    if (partners_.empty() || (lastCheck_ != 0 && now - lastCheck_ < intervalMs_))
    {
      return;
    }
    lastCheck_ = now;
    Check();
  }

  unsigned int PartnerWatch::Check()
  {
    const int64_t now = clock_.NowMs();
    const std::map<std::string, PartnerActivity> activities =
      ledger_.Partners().ListByPartner(now, 1);
    unsigned int raised = 0;
    for (const PartnerSettings& partner : partners_)
    {
      const auto found = activities.find(partner.id);
      const PartnerActivity none;
      const PartnerActivity& a = found == activities.end() ? none : found->second;
      if (a.resumed && ledger_.Partners().MarkResumeAudited(partner.id))
      {
        ledger_.Audit().Add(now, AuditEventType_PartnerResumed, "", "",
                            DescribePartner(partner) + " called again at " +
                              FormatIso8601(a.lastContactAt) + " after its silence alert");
        LOG(WARNING) << "Inbound: " << DescribePartner(partner) << " calls again";
        continue;
      }
      if (a.resumed || a.silenceAlerted ||
          !PartnerStatus::IsSilent(partner, a.lastContactAt, startedAt_, now))
      {
        continue;
      }
      if (ledger_.Partners().MarkSilenceAlerted(partner.id))
      {
        const std::string since =
          a.lastContactAt > 0 ? "its last request at " + FormatIso8601(a.lastContactAt)
                              : "no request since the start at " + FormatIso8601(startedAt_);
        ledger_.Audit().Add(now, AuditEventType_AlertPartnerSilent, "", "",
                            DescribePartner(partner) + ": nothing for more than " +
                              FormatHours(partner.limits.silenceAlertHours) + " h (" + since +
                              ")");
        raised++;
      }
    }
    return raised;
  }
}
