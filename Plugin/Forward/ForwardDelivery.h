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
    std::string node_;   // this Orthanc among those of the ledger (MakeNodeId)
    int64_t leaseMs_;    // how long a claimed forward stays this node's

    void Advance(ForwardRecord& forward);
    void Fail(ForwardRecord& forward, const std::string& error);

  public:
    ForwardDelivery(const Configuration& configuration, Ledger& ledger, IOrthancRest& orthanc,
                    const IClock& clock);

    // This Orthanc's id and Inbound.LeaseSeconds (doc/Ledger.md, "Leases"); before Step.
    void SetNode(const std::string& node, unsigned int leaseSeconds);

    const std::string& GetNode() const
    {
      return node_;
    }

    // Claims the due forwards that no other Orthanc of the ledger holds and advances each
    // while it stays claimed (renewed during a long copy); returns how many are done. A
    // sending forward stays claimed by the Orthanc whose store job sends it (the job exists
    // there only); the others' claims end with the step's outcome.
    size_t Step(const std::atomic<bool>& stopping);

    // Gives up this node's claims of forwards not sending (a stopping Orthanc).
    void ReleaseClaims();

    // The admin's view of the queue.
    Json::Value Describe(const std::string& uploadId, const std::string& state,
                         unsigned int limit) const;

    // A failed (or waiting) forward is due again now; answers it. 404 if unknown or done.
    Json::Value Retry(int64_t id, const std::string& by);

    static Json::Value ToJson(const ForwardRecord& forward);
  };
}
