// The forwarder thread: releases and auto-forwards to DICOM modalities, planned then delivered.
#pragma once

#include "Configuration.h"
#include "Forward/ForwardDelivery.h"
#include "Forward/ForwardPlanner.h"
#include "Forward/IOrthancRest.h"
#include "Forward/ReleaseRequest.h"
#include "Ledger/LeaseStore.h"
#include "Ledger/Ledger.h"
#include "Toolbox/Time.h"
#include "Toolbox/WakeSignal.h"

#include <json/value.h>

#include <boost/noncopyable.hpp>

#include <atomic>

namespace Inbound
{
  // Sends studies to DICOM modalities with Orthanc's own machinery, on one thread: an admin's
  // release or an auto-forward rule queues forwards (ForwardPlanner), each is copied with the
  // hospital's identity (ReconciledCopy), sent by Orthanc's store job, followed, retried with
  // back-off and recorded in the ledger and the audit trail (ForwardDelivery). Also lists the
  // uploads that Inbound.Retention removes (Retention.h).
  class Forwarder : public boost::noncopyable
  {
  private:
    const Configuration& configuration_;
    Ledger& ledger_;
    const IClock& clock_;
    ForwardPlanner planner_;
    ForwardDelivery delivery_;
    // With several Orthancs on one ledger, the rules are applied by one at a time: the one
    // holding lease "planner:forward". Every one delivers what it claims.
    LeaseHolder plannerLease_;
    WakeSignal wake_;

  public:
    // "finder": the reconciliation assistant (mismatch rule of a release, automatic
    // identities); it must outlive the forwarder.
    Forwarder(const Configuration& configuration, Ledger& ledger, IOrthancRest& orthanc,
              ICandidateFinder& finder, const IClock& clock);

    // Names of Orthanc's DicomModalities.
    std::vector<std::string> ListModalities();

    // Queues one forward per study; answers the forwards. ApiErrors: 404 unknown upload,
    // 409 upload-not-stored / confirmation-required, 400 unknown-modality / invalid-field.
    Json::Value Release(const std::string& uploadId, const ReleaseRequest& request,
                        const std::string& by);

    // Queues the forwards of the auto-forward rules for the uploads completed since the
    // last call; returns how many audit events were read.
    size_t CollectRules();

    // Advances every forward that is due; returns how many are done.
    size_t Step(const std::atomic<bool>& stopping);

    // This Orthanc's id and Inbound.LeaseSeconds (doc/Ledger.md, "Leases"); before Loop.
    void SetNode(const std::string& node, unsigned int leaseSeconds);

    // Until "stopping": collects the rules' forwards (while holding "planner:forward") and
    // advances the due ones it claims, about twice a second or when woken; gives its lease
    // and its claims of forwards not sending back at the end.
    void Loop(const std::atomic<bool>& stopping);

    void Wake();

    Json::Value Describe(const std::string& uploadId, const std::string& state,
                         unsigned int limit) const;

    // A failed (or waiting) forward is tried again now; 404 if unknown or done.
    Json::Value Retry(int64_t id, const std::string& by);

    // Complete uploads past Inbound.Retention (and, with OnlyForwarded, whose studies were
    // all sent on), to be removed.
    std::vector<std::string> ListUploadsPastRetention() const;
  };
}
