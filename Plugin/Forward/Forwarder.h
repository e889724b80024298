// Releases and auto-forwards to DICOM modalities: the hospital's identity, store jobs, retries.
#pragma once

#include "Configuration.h"
#include "Forward/IOrthancRest.h"
#include "Ledger/Ledger.h"
#include "Toolbox/Time.h"
#include "Toolbox/WakeSignal.h"

#include <json/value.h>

#include <atomic>

namespace Inbound
{
  // What an admin asks for when releasing an upload to the PACS (IHE Import Reconciliation:
  // the hospital's own patient identity replaces the namespaced one).
  struct ReleaseRequest
  {
    std::string modality;
    std::vector<std::string> studies;  // Orthanc ids; empty: every study of the upload
    std::string patientId;
    std::string patientName;
    std::string patientBirthDate;      // YYYYMMDD or empty
    bool newUids = false;
    bool keepNamespacedPatientId = false;

    // Parses and checks the JSON body; ApiError 400 otherwise (reconciliation-required when
    // neither a PatientID nor the explicit choice of the namespaced one is given).
    static ReleaseRequest Parse(const void* body, size_t size);
  };

  // Sends studies to DICOM modalities with Orthanc's own machinery: the study is copied with
  // the hospital's identity by Orthanc's modification ("/studies/{id}/modify"), the copy
  // (or the isolated study, when the admin keeps the namespaced PatientID) is sent by
  // Orthanc's asynchronous store job ("/modalities/{id}/store"), the job is followed, a
  // failed one is tried again with back-off, and every step is in the ledger and the audit
  // trail. Auto-forward rules queue forwards for completed uploads from the audit trail,
  // exactly once (cursor "forward").
  class Forwarder : public boost::noncopyable
  {
  private:
    const Configuration& configuration_;
    Ledger& ledger_;
    IOrthancRest& orthanc_;
    const IClock& clock_;

    WakeSignal wake_;

    std::vector<std::string> StudiesOf(const std::string& uploadId) const;
    // The Orthanc instances that this forward's upload stored in its study (the ledger's
    // items): what a release sends, never the other instances an Orthanc study may hold.
    std::vector<ItemRecord> InstancesOf(const ForwardRecord& forward) const;
    std::string MakeReconciledCopy(const ForwardRecord& forward);
    void RemoveReconciledCopy(const ForwardRecord& forward);
    void Advance(ForwardRecord& forward);
    void Fail(ForwardRecord& forward, const std::string& error);

  public:
    Forwarder(const Configuration& configuration, Ledger& ledger, IOrthancRest& orthanc,
              const IClock& clock);

    // Names of Orthanc's DicomModalities.
    std::vector<std::string> ListModalities();

    // Queues one forward per study; answers the forwards. ApiErrors: 404 unknown upload,
    // 409 upload-not-stored, 400 unknown-modality / invalid-field.
    Json::Value Release(const std::string& uploadId, const ReleaseRequest& request,
                        const std::string& by);

    // Queues the forwards of the auto-forward rules for the uploads completed since the
    // last call; returns how many audit events were read.
    size_t CollectRules();

    // Advances every forward that is due; returns how many are done.
    size_t Step(const std::atomic<bool>& stopping);

    void Loop(const std::atomic<bool>& stopping);

    void Wake();

    Json::Value Describe(const std::string& uploadId, const std::string& state,
                         unsigned int limit) const;

    // A failed (or waiting) forward is tried again now; 404 if unknown or done.
    Json::Value Retry(int64_t id, const std::string& by);

    static Json::Value ToJson(const ForwardRecord& forward);

    // Complete uploads past Inbound.Retention (and, with OnlyForwarded, whose studies were
    // all sent on), to be removed.
    std::vector<std::string> ListUploadsPastRetention() const;
  };
}
