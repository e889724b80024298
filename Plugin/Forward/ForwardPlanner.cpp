// Queues forwards: an admin's release of an upload's studies, the auto-forward rules.
#include "ForwardPlanner.h"

#include "Forward/ReconciledCopy.h"
#include "Forward/UploadStudies.h"
#include "Http/ApiError.h"
#include "Reconcile/CandidateScore.h"
#include "Reconcile/Coercion.h"
#include "Reconcile/SentPatients.h"
#include "Requests/PatientMatch.h"
#include "Toolbox/Errors.h"
#include "Upload/Isolation.h"

#include <Logging.h>

#include <algorithm>
#include <map>
#include <set>

namespace Inbound
{
  namespace
  {
    // " as PatientID <id> (issuer <issuer>|issuer removed)[, accession <n>]" for the audit.
    std::string DescribeIdentity(const ForwardRecord& f)
    {
      return " as PatientID " + f.patientId +
             (f.patientIssuer.empty() ? " (issuer removed)" : " (issuer " + f.patientIssuer + ")") +
             (f.accessionNumber.empty() ? "" : ", accession " + f.accessionNumber);
    }

    // "; candidate <source> score <n>[; mismatch confirmed]" for the audit, or "".
    std::string DescribeCandidate(const ForwardRecord& f)
    {
      return (f.candidateSource.empty() ? ""
                                        : "; candidate " + f.candidateSource + " score " +
                                            std::to_string(f.candidateScore)) +
             (f.confirmed ? "; mismatch confirmed" : "");
    }

    bool IsSex(const std::string& sex)
    {
      return sex == "M" || sex == "F" || sex == "O";
    }

    // The forwards of "studies" of the upload under the decided identity.
    void AddForwards(std::vector<ForwardRecord>& forwards, const ForwardRecord& identity,
                     const std::string& uploadId, const std::vector<std::string>& studies,
                     const std::string& modality, const std::string& origin,
                     const std::string& requestedBy)
    {
      for (const std::string& study : studies)
      {
        ForwardRecord f = identity;
        f.uploadId = uploadId;
        f.study = study;
        f.modality = modality;
        f.origin = origin;
        f.requestedBy = requestedBy;
        forwards.push_back(f);
      }
    }
  }

  ForwardPlanner::ForwardPlanner(const Configuration& configuration, Ledger& ledger,
                                 IOrthancRest& orthanc, ICandidateFinder& finder,
                                 const IClock& clock) :
    configuration_(configuration),
    ledger_(ledger),
    orthanc_(orthanc),
    finder_(finder),
    clock_(clock)
  {
  }

  std::string ForwardPlanner::FindMismatch(const std::string& uploadId,
                                           const std::vector<std::string>& studies,
                                           const ReleaseRequest& request)
  {
    // The patients as sent of the chosen studies, read as the candidates read them (the
    // stored tags only when a sex is released: the ledger keeps no sex).
    const std::set<std::string> chosen(studies.begin(), studies.end());
    std::vector<ItemRecord> items;
    for (const ItemRecord& item : ledger_.Uploads().ListItems(uploadId))
    {
      if (chosen.count(item.orthancStudyId) > 0)
      {
        items.push_back(item);
      }
    }
    const std::vector<SentPatient> sentPatients = request.patientSex.empty()
      ? SentPatients::FromItems(items) : SentPatients::Read(items, orthanc_);
    std::set<std::string> patients;
    bool birthDate = false;
    bool sex = false;
    for (const SentPatient& sent : sentPatients)
    {
      patients.insert(sent.isolatedPatientId);
      birthDate = birthDate ||
                  (Coercion::IsDate(request.patientBirthDate) && Coercion::IsDate(sent.birthDate) &&
                   sent.birthDate != request.patientBirthDate);
      sex = sex || (!request.patientSex.empty() && IsSex(sent.sex) && sent.sex != request.patientSex);
    }
    bool ambiguous = false;
    Reconciliation cached;
    if (finder_.GetCached(cached, uploadId))
    {
      for (const PatientCandidates& p : cached.patients)
      {
        bool concerned = patients.count(p.sent.isolatedPatientId) > 0;
        for (const std::string& study : p.sent.studies)
        {
          concerned = concerned || chosen.count(study) > 0;
        }
        ambiguous = ambiguous || (concerned && p.ambiguous);
      }
    }
    std::string why;
    for (const auto& differs : std::vector<std::pair<bool, const char*>>{
           {birthDate, "the birth date released differs from the one sent"},
           {sex, "the sex released differs from the one sent"},
           {ambiguous, "several hospital patients fit this patient about as well"}})
    {
      if (differs.first)
      {
        why += (why.empty() ? "" : "; ") + std::string(differs.second);
      }
    }
    return why;
  }

  std::string ForwardPlanner::GetLiveRequestPatient(const UploadRecord& upload,
                                                    const RequestRecord* request)
  {
    RequestRecord found;
    if (request == nullptr)
    {
      if (upload.requestId.empty() || !ledger_.Requests().Lookup(found, upload.requestId))
      {
        return "";
      }
      request = &found;
    }
    // Only a live request identifies on its own (doc/Security.md, "Request links on a
    // gateway": an upload dated before a revocation, a lock or the expiry waits for a person).
    if (request->state != RequestState_Active || clock_.NowMs() >= request->expiresAt)
    {
      return "";
    }
    return request->patient.id;
  }

  const ForwardPlanner::AutoDecision& ForwardPlanner::Decide(AutoDecision& decision,
                                                             const UploadRecord& upload,
                                                             const std::string& requestPatientId)
  {
    if (decision.decided)
    {
      return decision;
    }
    decision.decided = true;
    if (requestPatientId.empty())
    {
      decision.reason = "no-request-patient";  // no query made: nothing could be enough
      return decision;
    }
    Candidate chosen;
    try
    {
      const Reconciliation result = finder_.Find(upload.id, false);
      decision.reconciled =
        CandidateScore::AutoIdentity(chosen, decision.reason, result, requestPatientId);
    }
    catch (...)
    {
      LOG(WARNING) << "Inbound: upload " << upload.id << ": no candidates for an automatic "
                   << "forward: " << DescribeCurrentException();
      decision.reason = "candidates-failed";
      return decision;
    }
    if (!decision.reconciled)
    {
      return decision;
    }
    // The hospital record's identity; what DICOM cannot hold of its birth date or sex is left
    // as sent, a PatientID, name or issuer that it cannot hold stops the forward.
    const CandidateRecord& r = chosen.record;
    ForwardRecord& f = decision.identity;
    f.patientId = r.patientId;
    f.patientName = r.name;
    f.patientBirthDate = Coercion::IsDate(r.birthDate) ? r.birthDate : "";
    f.patientSex = IsSex(r.sex) ? r.sex : "";
    f.patientIssuer = r.issuer.empty() ? configuration_.reconciliation.issuerOfPatientId : r.issuer;
    f.candidateSource = r.source;
    f.candidateScore = chosen.score;
    if (!Coercion::CheckIdentity(ReconciledCopy::GetIdentity(f)).empty())
    {
      decision.reconciled = false;
      decision.reason = "candidate-not-writable";
    }
    return decision;
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

    if (!request.keepNamespacedPatientId &&
        Isolation::IsIsolatedPatientId(configuration_.patientIdPrefix, request.patientId))
    {
      // An upload's namespaced PatientID (in the PACS too, when one was sent on with it) is a
      // sender's, never the hospital's: the copy would join that upload's patient here.
      throw ApiError(400, "invalid-field",
                     "The PatientID is an upload's namespaced one, not the hospital's: give the "
                     "hospital's PatientID, or set keepNamespacedPatientId");
    }
    if (!request.keepNamespacedPatientId && !request.confirmMismatch)
    {
      const std::string why = FindMismatch(uploadId, chosen, request);
      if (!why.empty())
      {
        throw ApiError(409, "confirmation-required",
                       "Check that this is the same patient (" + why +
                         "), then release again with confirmMismatch: true");
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
      if (!request.keepNamespacedPatientId)
      {
        f.patientIssuer = request.hasIssuer ? request.patientIssuer
                                            : configuration_.reconciliation.issuerOfPatientId;
        f.patientSex = request.patientSex;
        f.accessionNumber = request.accessionNumber;
        f.candidateSource = request.candidateSource;
        f.candidateScore = request.candidateScore;
        f.confirmed = request.confirmMismatch;
      }
      f.keepNamespace = request.keepNamespacedPatientId;
      f.newUids = request.newUids;
      f.requestedBy = by;
      forwards.push_back(f);
    }
    ledger_.Forwards().Add(forwards, clock_.NowMs(), "", AuditEventType_ReleaseRequested,
                           std::to_string(forwards.size()) + " studies to " + request.modality +
                             (request.keepNamespacedPatientId ? " with the namespaced PatientID"
                                                              : DescribeIdentity(forwards.front())) +
                             (request.newUids ? ", new UIDs" : "") + " by " + by +
                             DescribeCandidate(forwards.front()));
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
    std::vector<ForwardWaiting> waiting;
    size_t ruleForwards = 0;
    std::string reconciledDetail;
    if (configuration_.role != Role_Gateway)
    {
      for (const AuditEvent& e : events)
      {
        UploadRecord upload;
        if (!ledger_.Uploads().Lookup(upload, e.uploadId))
        {
          continue;
        }
        AutoDecision decision;
        if (!upload.requestId.empty())
        {
          PlanRequest(forwards, verdicts, waiting, decision, upload);
        }
        for (const ForwardRule& rule : configuration_.autoForward)
        {
          if (rule.recipient != "*" && rule.recipient != upload.recipientId)
          {
            continue;
          }
          if (rule.reconcile)
          {
            const AutoDecision& d = Decide(decision, upload, GetLiveRequestPatient(upload, nullptr));
            if (!d.reconciled)
            {
              waiting.push_back({upload.id, "rule to " + rule.modality + ": " + d.reason});
              continue;
            }
            const std::vector<std::string> studies = StudiesOf(ledger_, upload.id);
            AddForwards(forwards, d.identity, upload.id, studies, rule.modality, "rule", "rule");
            ruleForwards += studies.size();
            reconciledDetail += "; upload " + upload.id + " to " + rule.modality +
                                " as PatientID " + d.identity.patientId +
                                DescribeCandidate(d.identity);
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
    // crash neither loses nor repeats a rule's or a request's forward); none of it when
    // another Orthanc of a shared ledger moved the cursor meanwhile.
    if (!ledger_.Forwards().AddRound(forwards,
                                     std::to_string(ruleForwards) + " studies queued by the rules" +
                                       reconciledDetail,
                                     verdicts, waiting, clock_.NowMs(), cursor, scanned))
    {
      return 0;
    }
    return events.size();
  }

  void ForwardPlanner::PlanRequest(std::vector<ForwardRecord>& forwards,
                                   std::vector<RequestVerdict>& verdicts,
                                   std::vector<ForwardWaiting>& waiting, AutoDecision& decision,
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
      // The hospital's identity only when the reconciliation assistant finds the request's
      // patient, and no other, beyond doubt (CandidateScore::AutoIdentity); else a person
      // decides.
      const AutoDecision& d = Decide(decision, upload, GetLiveRequestPatient(upload, &request));
      if (d.reconciled)
      {
        const std::vector<std::string> studies = StudiesOf(ledger_, upload.id);
        AddForwards(forwards, d.identity, upload.id, studies, request.forwardTo, "request",
                    "request " + request.id);
        v.forwardDetail = std::to_string(studies.size()) + " studies to " + request.forwardTo +
                          " as PatientID " + d.identity.patientId + " for request " +
                          request.id + DescribeCandidate(d.identity);
      }
      else
      {
        waiting.push_back({upload.id, "request " + request.id + " to " + request.forwardTo +
                                        ": " + d.reason});
      }
    }
    verdicts.push_back(v);
  }
}
