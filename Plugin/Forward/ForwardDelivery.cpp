// Advances due forwards through Orthanc's store jobs; retries with back-off; the admin's view.
#include "ForwardDelivery.h"

#include <OrthancFramework.h>  // first: it defines what the framework headers test

#include "Forward/UploadStudies.h"
#include "Http/ApiError.h"
#include "Ledger/LeaseStore.h"
#include "Toolbox/Backoff.h"
#include "Toolbox/Errors.h"

#include <Logging.h>

#include <algorithm>
#include <stdexcept>

namespace Inbound
{
  namespace
  {
    const unsigned int kForwardsPerRound = 20;
    const int64_t kJobPollMs = 1000;

    // What this Orthanc did after it paused past its claim is not recorded: the Orthanc that
    // took the forward over records its own (ForwardStore::Update, doc/Ledger.md "Leases").
    void WarnTakenOver(const ForwardRecord& f)
    {
      LOG(WARNING) << "Inbound: forward " << f.id << " to " << f.modality << " was taken over"
                   << " by another Orthanc during this step: its outcome here is not recorded,"
                   << " the study may be sent twice";
    }
  }

  ForwardDelivery::ForwardDelivery(const Configuration& configuration, Ledger& ledger,
                                   IOrthancRest& orthanc, const IClock& clock) :
    configuration_(configuration),
    ledger_(ledger),
    orthanc_(orthanc),
    clock_(clock),
    copy_(orthanc, ledger, configuration.reconciliation.issuerOfPatientId),
    node_(MakeNodeId("")),
    leaseMs_(60 * 1000)
  {
  }

  void ForwardDelivery::SetNode(const std::string& node, unsigned int leaseSeconds)
  {
    node_ = node;
    leaseMs_ = int64_t(leaseSeconds) * 1000;
  }

  void ForwardDelivery::ReleaseClaims()
  {
    ledger_.Forwards().ReleaseClaims(node_);
  }

  void ForwardDelivery::Fail(ForwardRecord& f, const std::string& error)
  {
    const ForwardingSettings& s = configuration_.forwarding;
    const int64_t now = clock_.NowMs();
    f.lastError = error;
    f.jobId.clear();
    f.updatedAt = now;
    const int64_t deadline = f.createdAt + static_cast<int64_t>(s.giveUpAfterSeconds) * 1000;
    if (now >= deadline)
    {
      f.state = ForwardState_Failed;
      if (!ledger_.Forwards().Update(f, AuditEventType_AlertForwardFailed,
                                     "study " + f.study + " to " + f.modality + " given up after " +
                                       std::to_string(f.attempts) + " attempts: " + error, node_))
      {
        WarnTakenOver(f);
        return;
      }
      LOG(ERROR) << "Inbound: forward " << f.id << " to " << f.modality << " given up: " << error;
      return;
    }
    // f.attempts counts the attempts made, all failed so far: the one just failed included.
    const int64_t delay =
      Backoff(s.retryIntervalSeconds, s.maxRetryIntervalSeconds).NextDelay(f.attempts);
    f.state = ForwardState_Pending;
    f.nextAttemptAt = std::min(now + delay * 1000, deadline);
    if (!ledger_.Forwards().Update(f, node_))
    {
      WarnTakenOver(f);
      return;
    }
    LOG(WARNING) << "Inbound: forward " << f.id << " to " << f.modality << " failed (attempt "
                 << f.attempts << "), retry in " << delay << " s: " << error;
  }

  void ForwardDelivery::Advance(ForwardRecord& f)
  {
    const int64_t now = clock_.NowMs();
    if (f.state == ForwardState_Pending)
    {
      f.attempts++;
      if (f.keepNamespace)
      {
        f.sentStudy = f.study;
      }
      else if (f.sentStudy.empty())
      {
        f.sentStudy = copy_.Make(f);
      }
      Json::Value store(Json::objectValue);
      if (f.keepNamespace)
      {
        // The upload's own instances of the study, not whatever else the study holds.
        for (const ItemRecord& instance : InstancesOf(ledger_, f))
        {
          store["Resources"].append(instance.orthancInstanceId);
        }
      }
      else
      {
        store["Resources"].append(f.sentStudy);  // the reconciled copy, made of those alone
      }
      store["Synchronous"] = false;
      const Json::Value job = orthanc_.Post("/modalities/" + f.modality + "/store", store);
      f.jobId = job.get("ID", "").asString();
      if (f.jobId.empty())
      {
        throw std::runtime_error("Orthanc's store job did not start");
      }
      f.state = ForwardState_Sending;
      f.lastError.clear();
      f.nextAttemptAt = now + kJobPollMs;
      f.updatedAt = now;
      if (!ledger_.Forwards().Update(f, node_))
      {
        WarnTakenOver(f);
      }
      return;
    }

    Json::Value job;
    if (!orthanc_.Get(job, "/jobs/" + f.jobId))
    {
      throw std::runtime_error("Orthanc's store job " + f.jobId + " is gone");
    }
    const std::string state = job.get("State", "").asString();
    if (state == "Success")
    {
      f.state = ForwardState_Done;
      f.lastError.clear();
      f.updatedAt = now;
      const std::string patient = f.keepNamespace ? "the namespaced PatientID" : "PatientID " + f.patientId;
      if (!ledger_.Forwards().Update(f, AuditEventType_UploadForwarded,
                                     "study " + f.study + " sent to " + f.modality + " with " +
                                       patient + (f.newUids ? ", new UIDs" : "") + " (job " +
                                       f.jobId + ")", node_))
      {
        WarnTakenOver(f);  // the copy stays: the Orthanc that holds the forward may send it
        return;
      }
      if (f.sentStudy != f.study && !configuration_.forwarding.keepReconciledCopy)
      {
        copy_.Remove(f);  // the hospital's copy is in the PACS now
      }
      LOG(INFO) << "Inbound: forward " << f.id << " of study " << f.study << " to "
                << f.modality << " done";
    }
    else if (state == "Failure")
    {
      throw std::runtime_error("store job failed: " + job.get("ErrorDescription", "").asString() +
                               (job.isMember("ErrorDetails") ? " (" + job["ErrorDetails"].asString() + ")" : ""));
    }
    else
    {
      f.nextAttemptAt = now + kJobPollMs;  // pending, running, paused or retrying in Orthanc
      f.updatedAt = now;
      if (!ledger_.Forwards().Update(f, node_))
      {
        WarnTakenOver(f);
      }
    }
  }

  size_t ForwardDelivery::Step(const std::atomic<bool>& stopping)
  {
    size_t done = 0;
    ForwardStore& store = ledger_.Forwards();
    const int64_t claimedAt = clock_.NowMs();
    for (ForwardRecord& f : store.ClaimDue(claimedAt, kForwardsPerRound, node_, claimedAt + leaseMs_))
    {
      if (stopping)
      {
        break;
      }
      // Claimed again right before the step: earlier copies of the round may have outlasted
      // the claim, and another Orthanc may have taken this forward meanwhile.
      if (!store.RenewClaim(f.id, node_, clock_.NowMs() + leaseMs_))
      {
        continue;
      }
      try
      {
        // A big study's copy takes a while: the claim is renewed meanwhile.
        LeaseRenewer renewer(
          [this, &store, &f] { return store.RenewClaim(f.id, node_, clock_.NowMs() + leaseMs_); },
          leaseMs_ / 3);
        Advance(f);
        done += (f.state == ForwardState_Done) ? 1 : 0;
      }
      catch (...)
      {
        Fail(f, DescribeCurrentException());
      }
    }
    return done;
  }

  Json::Value ForwardDelivery::ToJson(const ForwardRecord& f)
  {
    Json::Value json(Json::objectValue);
    json["id"] = Json::Int64(f.id);
    json["uploadId"] = f.uploadId;
    json["study"] = f.study;
    json["modality"] = f.modality;
    json["origin"] = f.origin;
    json["patientId"] = f.keepNamespace ? Json::Value() : Json::Value(f.patientId);
    json["keepNamespacedPatientId"] = f.keepNamespace;
    // The rest of the identity written into the copy: issuer "" = removed; sex, accession
    // null = left as sent.
    json["issuer"] = f.keepNamespace ? Json::Value() : Json::Value(f.patientIssuer);
    json["sex"] = f.patientSex.empty() ? Json::Value() : Json::Value(f.patientSex);
    json["accessionNumber"] =
      f.accessionNumber.empty() ? Json::Value() : Json::Value(f.accessionNumber);
    json["candidate"] = Json::Value();
    if (!f.candidateSource.empty())
    {
      json["candidate"]["source"] = f.candidateSource;
      json["candidate"]["score"] = f.candidateScore;
    }
    json["confirmedMismatch"] = f.confirmed;
    json["newUids"] = f.newUids;
    json["state"] = EnumerationToString(f.state);
    json["attempts"] = Json::Int64(f.attempts);
    json["jobId"] = f.jobId;
    json["lastError"] = f.lastError;
    json["createdAt"] = FormatIso8601(f.createdAt);
    json["updatedAt"] = FormatIso8601(f.updatedAt);
    json["requestedBy"] = f.requestedBy;
    return json;
  }

  Json::Value ForwardDelivery::Describe(const std::string& uploadId, const std::string& state,
                                        unsigned int limit) const
  {
    Json::Value json(Json::objectValue);
    Json::Value counts(Json::objectValue);
    for (const auto& c : ledger_.Forwards().CountByState())
    {
      counts[c.first] = Json::Int64(c.second);
    }
    json["counts"] = counts;
    json["forwards"] = Json::arrayValue;
    for (const ForwardRecord& f : ledger_.Forwards().List(uploadId, state, limit))
    {
      json["forwards"].append(ToJson(f));
    }
    return json;
  }

  Json::Value ForwardDelivery::Retry(int64_t id, const std::string& by)
  {
    ForwardRecord f;
    if (!ledger_.Forwards().Retry(id, clock_.NowMs(), by) || !ledger_.Forwards().Lookup(f, id))
    {
      throw ApiError(404, "not-found", "No such forward waiting or failed");
    }
    return ToJson(f);
  }
}
