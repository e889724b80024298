// The forward queue's worker: Orthanc store jobs started and followed, retries, give-up alerts.
#pragma once

#include "Configuration.h"
#include "Forward/IOrthancRest.h"
#include "Forward/ReconciledCopy.h"
#include "Ledger/Ledger.h"
#include "Toolbox/Time.h"

#include <json/value.h>

#include <boost/noncopyable.hpp>

#include <atomic>
#include <string>

namespace Inbound
{
  // Sends the ledger's queue of forwards with Orthanc's own machinery: the study is copied
  // with the hospital's identity (ReconciledCopy), the copy (or the isolated study, when the
  // admin keeps the namespaced PatientID) is sent by Orthanc's asynchronous store job
  // ("/modalities/{id}/store"), the job is followed, a failed one is tried again with back-off
  // until Forwarding.GiveUpAfter, then given up with an "alert-forward-failed" audit event.
  // Also the admin's view of the queue and its manual retry. Step runs on the forwarder's
  // thread only.
  class ForwardDelivery : public boost::noncopyable
  {
  private:
    const Configuration& configuration_;
    Ledger& ledger_;
    IOrthancRest& orthanc_;
    const IClock& clock_;
    ReconciledCopy copy_;

    void Advance(ForwardRecord& forward);
    void Fail(ForwardRecord& forward, const std::string& error);

  public:
    ForwardDelivery(const Configuration& configuration, Ledger& ledger, IOrthancRest& orthanc,
                    const IClock& clock);

    // Advances every forward that is due; returns how many are done.
    size_t Step(const std::atomic<bool>& stopping);

    // The admin's view of the queue.
    Json::Value Describe(const std::string& uploadId, const std::string& state,
                         unsigned int limit) const;

    // A failed (or waiting) forward is due again now; answers it. 404 if unknown or done.
    Json::Value Retry(int64_t id, const std::string& by);

    static Json::Value ToJson(const ForwardRecord& forward);
  };
}
