// Which forwards to queue: the studies an admin releases, those the auto-forward rules send.
#pragma once

#include "Configuration.h"
#include "Forward/IOrthancRest.h"
#include "Forward/ReleaseRequest.h"
#include "Ledger/Ledger.h"
#include "Reconcile/ICandidateFinder.h"
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
    // Whether an automatic forward of an upload may use a hospital identity, decided once per
    // upload and round (CandidateScore::AutoIdentity on the finder's answer).
    struct AutoDecision
    {
      bool decided = false;
      bool reconciled = false;
      std::string reason;     // a code when not reconciled (doc/Reconciliation.md)
      ForwardRecord identity; // the patient fields and candidate of the forwards
    };

    const Configuration& configuration_;
    Ledger& ledger_;
    IOrthancRest& orthanc_;
    ICandidateFinder& finder_;
    const IClock& clock_;

    // The patient a live request link bound to the upload names ("" when none).
    std::string GetLiveRequestPatient(const UploadRecord& upload, const RequestRecord* request);

    const AutoDecision& Decide(AutoDecision& decision, const UploadRecord& upload,
                               const std::string& requestPatientId);

    // A completed upload bound to a request: its verdict (Requests/PatientMatch.h) and, when
    // it matched, the request says forwardTo and the reconciliation assistant identifies the
    // request's patient beyond doubt, one forward per study under the candidate's identity
    // (origin "request"); else "reconcile-waiting". Nothing when the request names no patient.
    void PlanRequest(std::vector<ForwardRecord>& forwards, std::vector<RequestVerdict>& verdicts,
                     std::vector<ForwardWaiting>& waiting, AutoDecision& decision,
                     const UploadRecord& upload);

    // Why the release needs confirmMismatch (the chosen studies' patients as sent against the
    // identity released, and the finder's last answer); "" when it does not.
    std::string FindMismatch(const std::string& uploadId, const std::vector<std::string>& studies,
                             const ReleaseRequest& request);

  public:
    ForwardPlanner(const Configuration& configuration, Ledger& ledger, IOrthancRest& orthanc,
                   ICandidateFinder& finder, const IClock& clock);

    // Names of Orthanc's DicomModalities.
    std::vector<std::string> ListModalities();

    // Queues one forward per study; answers the queued forwards. ApiErrors: 404 unknown
    // upload, 409 upload-not-stored, 409 confirmation-required, 400 unknown-modality /
    // invalid-field.
    std::vector<ForwardRecord> Release(const std::string& uploadId, const ReleaseRequest& request,
                                       const std::string& by);

    // Queues the forwards of the auto-forward rules for the uploads completed since the
    // last call, and for those bound to a request decides whether they hold the request's
    // patient and queues the request's forwardTo; forwardTo and rules with Reconcile only
    // with the identity CandidateScore::AutoIdentity gives (may wait for the finder's
    // sources: Reconciliation.TimeoutSeconds per upload). Returns how many audit events
    // were read.
    size_t CollectRules();
  };
}
