// Queues forwards: an admin's release of an upload's studies, the auto-forward rules.
#include "ForwardPlanner.h"

#include "Forward/UploadStudies.h"
#include "Http/ApiError.h"
#include "Requests/PatientMatch.h"

#include <Logging.h>

#include <algorithm>
#include <map>

namespace Inbound
{
  ForwardPlanner::ForwardPlanner(const Configuration& configuration, Ledger& ledger,
                                 IOrthancRest& orthanc, const IClock& clock) :
    configuration_(configuration),
    ledger_(ledger),
    orthanc_(orthanc),
    clock_(clock)
  {
  }

  std::vector<std::string> ForwardPlanner::ListModalities()
  {
    Json::Value answer;
    std::vector<std::string> result;
    if (orthanc_.Get(answer, "/modalities") && answer.isArray())
    {
      for (const Json::Value& name : answer)
      {
        result.push_back(name.asString());
      }
    }
    return result;
  }

  std::vector<ForwardRecord> ForwardPlanner::Release(const std::string& uploadId,
                                                    const ReleaseRequest& request,
                                                    const std::string& by)
  {
    UploadRecord upload;
    if (!ledger_.Uploads().Lookup(upload, uploadId))
    {
      throw ApiError(404, "not-found", "No such upload");
    }
    if (configuration_.role == Role_Gateway || upload.state != UploadState_Complete)
    {
      throw ApiError(409, "upload-not-stored",
                     "Only a complete upload stored in this Orthanc can be released (this one is " +
                       std::string(EnumerationToString(upload.state)) + ")");
    }
    const std::vector<std::string> modalities = ListModalities();
    if (std::find(modalities.begin(), modalities.end(), request.modality) == modalities.end())
    {
      throw ApiError(400, "unknown-modality",
                     "\"" + request.modality + "\" is not one of Orthanc's DicomModalities");
    }
    const std::vector<std::string> all = StudiesOf(ledger_, uploadId);
    const std::vector<std::string>& chosen = request.studies.empty() ? all : request.studies;
    for (const std::string& study : chosen)
    {
      if (std::find(all.begin(), all.end(), study) == all.end())
      {
        throw ApiError(400, "invalid-field", "\"" + study + "\" is not a study of this upload");
      }
    }

    std::vector<ForwardRecord> forwards;
    for (const std::string& study : chosen)
    {
      ForwardRecord f;
      f.uploadId = uploadId;
      f.study = study;
      f.modality = request.modality;
      f.origin = "admin";
      f.patientId = request.patientId;
      f.patientName = request.patientName;
      f.patientBirthDate = request.patientBirthDate;
      f.keepNamespace = request.keepNamespacedPatientId;
      f.newUids = request.newUids;
      f.requestedBy = by;
      forwards.push_back(f);
    }
    ledger_.Forwards().Add(forwards, clock_.NowMs(), "", AuditEventType_ReleaseRequested,
                           std::to_string(forwards.size()) + " studies to " + request.modality +
                               (request.keepNamespacedPatientId
                                    ? " with the namespaced PatientID"
                                    : " as PatientID " + request.patientId) +
                               (request.newUids ? ", new UIDs" : "") + " by " + by);
    return forwards;
  }

  size_t ForwardPlanner::CollectRules()
  {
    const int64_t cursor = ledger_.Forwards().GetCursor();
    int64_t scanned = cursor;
    const std::vector<AuditEvent> events =
        ledger_.Audit().ListAfter(cursor, {AuditEventType_UploadComplete}, 100, scanned);
    if (scanned == cursor)
    {
      return 0;
    }
    std::vector<ForwardRecord> forwards;
    std::vector<RequestVerdict> verdicts;
    size_t ruleForwards = 0;
    if (configuration_.role != Role_Gateway)
    {
      for (const AuditEvent& e : events)
      {
        UploadRecord upload;
        if (!ledger_.Uploads().Lookup(upload, e.uploadId))
        {
          continue;
        }
        if (!upload.requestId.empty())
        {
          PlanRequest(forwards, verdicts, upload);
        }
        for (const ForwardRule& rule : configuration_.autoForward)
        {
          if (rule.recipient != "*" && rule.recipient != upload.recipientId)
          {
            continue;
          }
          std::map<std::string, std::string> originals; // study -> PatientID as sent
          for (const ItemRecord& item : ledger_.Uploads().ListItems(upload.id))
          {
            if (!item.orthancStudyId.empty() && originals.count(item.orthancStudyId) == 0)
            {
              originals[item.orthancStudyId] = item.originalPatientId;
            }
          }
          for (const std::string& study : StudiesOf(ledger_, upload.id))
          {
            ForwardRecord f;
            f.uploadId = upload.id;
            f.study = study;
            f.modality = rule.modality;
            f.origin = "rule";
            f.keepNamespace = !rule.asSent || originals[study].empty();
            f.patientId = f.keepNamespace ? "" : originals[study];
            f.requestedBy = "rule";
            forwards.push_back(f);
            ruleForwards++;
          }
        }
      }
    }
    // One transaction per round: the forwards, the verdicts and the cursor move together (a
    // crash neither loses nor repeats a rule's or a request's forward).
    ledger_.Forwards().AddRound(forwards,
                                std::to_string(ruleForwards) + " studies queued by the rules",
                                verdicts, clock_.NowMs(), scanned);
    return events.size();
  }

  void ForwardPlanner::PlanRequest(std::vector<ForwardRecord>& forwards,
                                   std::vector<RequestVerdict>& verdicts,
                                   const UploadRecord& upload)
  {
    RequestRecord request;
    if (!ledger_.Requests().Lookup(request, upload.requestId))
    {
      return;
    }
    const PatientMatch::UploadVerdict verdict =
      PatientMatch::CompareUpload(request.patient, ledger_.Uploads().ListItems(upload.id));
    if (!verdict.decided)
    {
      return;  // the request names no patient: nothing to compare, a person decides
    }
    RequestVerdict v;
    v.uploadId = upload.id;
    v.matched = verdict.matched;
    if (!verdict.matched)
    {
      v.mismatchDetail = verdict.Describe(request.id);  // waits for a person: nothing sent
    }
    else if (!request.forwardTo.empty() &&
             (request.state != RequestState_Active || clock_.NowMs() >= request.expiresAt))
    {
      // Only a live request forwards on its own. A gateway dates the uploads it sends: one
      // dated before a revocation, a lock or the expiry that it knew of would otherwise reach
      // the PACS under the hospital's identity (doc/Security.md, "Request links on a
      // gateway"). It stays bound and judged; a person releases it.
      LOG(WARNING) << "Inbound: upload " << upload.id << " matched request " << request.id
                   << ", which is " << request.GetStatus(clock_.NowMs())
                   << " now: not forwarded to " << request.forwardTo << " on its own";
    }
    else if (!request.forwardTo.empty())
    {
      // The hospital's identity, as an admin's release with the request's patient would.
      const std::vector<std::string> studies = StudiesOf(ledger_, upload.id);
      for (const std::string& study : studies)
      {
        ForwardRecord f;
        f.uploadId = upload.id;
        f.study = study;
        f.modality = request.forwardTo;
        f.origin = "request";
        f.patientId = request.patient.id;
        f.patientName = request.patient.name;
        f.patientBirthDate = request.patient.birthDate;
        f.requestedBy = "request " + request.id;
        forwards.push_back(f);
      }
      v.forwardDetail = std::to_string(studies.size()) + " studies to " + request.forwardTo +
                        " as PatientID " + request.patient.id + " for request " + request.id;
    }
    verdicts.push_back(v);
  }
}
