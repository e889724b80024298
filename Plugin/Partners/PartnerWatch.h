// The silence alert of partner sites: "alert-partner-silent" once per silence, "partner-resumed" after it.
#pragma once

#include "Configuration.h"
#include "Ledger/Ledger.h"
#include "Toolbox/Time.h"

#include <vector>

namespace Inbound
{
  // Run by the plugin's sweeper thread (PluginContext::SweepLoop), every second; it looks at
  // the partners every minute, or every tenth of the shortest SilenceAlertHours when shorter
  // (at least every second). An enabled partner with SilenceAlertHours > 0 that made no
  // request for that long (PartnerStatus::IsSilent) raises "alert-partner-silent", mailed to
  // the alert recipients like every alert, once per silence (PartnerStore keeps the flag, so a
  // restart does not raise it again); its next request ends the silence and the watch writes
  // "partner-resumed". Only the sweeper thread calls Tick: no lock of its own.
  class PartnerWatch : public boost::noncopyable
  {
  private:
    const std::vector<PartnerSettings>& partners_;
    Ledger& ledger_;
    const IClock& clock_;
    int64_t startedAt_;
    int64_t intervalMs_;
    int64_t lastCheck_ = 0;

  public:
    PartnerWatch(const std::vector<PartnerSettings>& partners, Ledger& ledger,
                 const IClock& clock, int64_t startedAt);

    // How often Check runs, in ms.
    int64_t GetIntervalMs() const
    {
      return intervalMs_;
    }

    // Runs Check when its interval has passed since the last one.
    void Tick();

    // Writes "partner-resumed" for each partner that called after an alerted silence, then
    // "alert-partner-silent" for each partner newly silent. Returns the alerts raised.
    unsigned int Check();
  };
}
