// Which forwards to queue: the studies an admin releases, those the auto-forward rules send.
#pragma once

#include "Configuration.h"
#include "Forward/IOrthancRest.h"
#include "Forward/ReleaseRequest.h"
#include "Ledger/Ledger.h"
#include "Toolbox/Time.h"

#include <boost/noncopyable.hpp>

#include <string>
#include <vector>

namespace Inbound
{
  // Queues forwards in the ledger, one per study: those of an admin's release (checked against
  // the upload, its studies and Orthanc's DicomModalities), and those of the auto-forward
  // rules for the uploads completed since the last round, read from the audit trail exactly
  // once (cursor "forward"). ForwardDelivery then sends them.
  class ForwardPlanner : public boost::noncopyable
  {
  private:
    const Configuration& configuration_;
    Ledger& ledger_;
    IOrthancRest& orthanc_;
    const IClock& clock_;

    // A completed upload bound to a request: its verdict (Requests/PatientMatch.h) and, when
    // it matched and the request says forwardTo, one forward per study under the request's
    // patient (origin "request"); nothing when the request names no patient.
    void PlanRequest(std::vector<ForwardRecord>& forwards, std::vector<RequestVerdict>& verdicts,
                     const UploadRecord& upload);

  public:
    ForwardPlanner(const Configuration& configuration, Ledger& ledger, IOrthancRest& orthanc,
                   const IClock& clock);

    // Names of Orthanc's DicomModalities.
    std::vector<std::string> ListModalities();

    // Queues one forward per study; answers the queued forwards. ApiErrors: 404 unknown
    // upload, 409 upload-not-stored, 400 unknown-modality / invalid-field.
    std::vector<ForwardRecord> Release(const std::string& uploadId, const ReleaseRequest& request,
                                       const std::string& by);

    // Queues the forwards of the auto-forward rules for the uploads completed since the
    // last call, and for those bound to a request decides whether they hold the request's
    // patient and queues the request's forwardTo; returns how many audit events were read.
    size_t CollectRules();
  };
}
