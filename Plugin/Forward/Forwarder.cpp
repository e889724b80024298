// Releases and auto-forward rules: reconciled copies, Orthanc's store jobs, retries, retention.
#include "Forwarder.h"

#include <OrthancFramework.h>  // first: it defines what the framework headers test

#include "Http/ApiError.h"
#include "Toolbox/Backoff.h"
#include "Toolbox/Errors.h"
#include "Toolbox/Json.h"

#include <DicomParsing/FromDcmtkBridge.h>
#include <Logging.h>

#include <boost/regex.hpp>

#include <algorithm>
#include <set>

namespace Inbound
{
  namespace
  {
    const unsigned int kForwardsPerRound = 20;
    const int64_t kJobPollMs = 1000;

    std::string GetText(const Json::Value& object, const char* key)
    {
      if (!object.isMember(key))
      {
        return "";
      }
      if (!object[key].isString())
      {
        throw ApiError(400, "invalid-field", std::string("\"") + key + "\" must be a string");
      }
      return object[key].asString();
    }

    bool GetFlag(const Json::Value& object, const char* key)
    {
      if (!object.isMember(key))
      {
        return false;
      }
      if (!object[key].isBool())
      {
        throw ApiError(400, "invalid-field", std::string("\"") + key + "\" must be true or false");
      }
      return object[key].asBool();
    }

    // DICOM LO and PN values without the characters that would break them.
    bool IsDicomText(const std::string& value, size_t max)
    {
      if (value.size() > max)
      {
        return false;
      }
      for (unsigned char c : value)
      {
        if (c < 0x20 || c == '\\' || c == 0x7f)
        {
          return false;
        }
      }
      return true;
    }
  }

  ReleaseRequest ReleaseRequest::Parse(const void* body, size_t size)
  {
    Json::Value json;
    if (!JsonText::ParseStrict(json, body, size) || !json.isObject())
    {
      throw ApiError(400, "bad-json", "The body must be a JSON object");
    }
    for (const std::string& key : json.getMemberNames())
    {
      if (key != "modality" && key != "studies" && key != "patient" && key != "newUids" &&
          key != "keepNamespacedPatientId")
      {
        throw ApiError(400, "invalid-field", "Unknown field \"" + key + "\"");
      }
    }
    ReleaseRequest r;
    r.modality = GetText(json, "modality");
    if (r.modality.empty())
    {
      throw ApiError(400, "invalid-field", "\"modality\" names the target (DicomModalities)");
    }
    if (json.isMember("studies"))
    {
      if (!json["studies"].isArray())
      {
        throw ApiError(400, "invalid-field", "\"studies\" must be a list of Orthanc study ids");
      }
      for (const Json::Value& study : json["studies"])
      {
        if (!study.isString() || study.asString().empty())
        {
          throw ApiError(400, "invalid-field", "\"studies\" must be a list of Orthanc study ids");
        }
        r.studies.push_back(study.asString());
      }
    }
    if (json.isMember("patient"))
    {
      const Json::Value& patient = json["patient"];
      if (!patient.isObject())
      {
        throw ApiError(400, "invalid-field", "\"patient\" must be an object");
      }
      r.patientId = GetText(patient, "id");
      r.patientName = GetText(patient, "name");
      r.patientBirthDate = GetText(patient, "birthDate");
    }
    r.newUids = GetFlag(json, "newUids");
    r.keepNamespacedPatientId = GetFlag(json, "keepNamespacedPatientId");

    static const boost::regex kDate("(19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])");
    if (!IsDicomText(r.patientId, 64) || !IsDicomText(r.patientName, 200))
    {
      throw ApiError(400, "invalid-field",
                     "The PatientID (at most 64 characters) or name contains characters DICOM does not allow");
    }
    if (!r.patientBirthDate.empty() && !boost::regex_match(r.patientBirthDate, kDate))
    {
      throw ApiError(400, "invalid-field", "\"birthDate\" must be a date like 19700131");
    }
    if (r.keepNamespacedPatientId && !r.patientId.empty())
    {
      throw ApiError(400, "invalid-field",
                     "Either the hospital's PatientID or keepNamespacedPatientId, not both");
    }
    if (!r.keepNamespacedPatientId && r.patientId.empty())
    {
      throw ApiError(400, "reconciliation-required",
                     "Give the hospital's PatientID (patient.id), or set keepNamespacedPatientId "
                     "to send the study with its namespaced PatientID");
    }
    return r;
  }

  Forwarder::Forwarder(const Configuration& configuration, Ledger& ledger, IOrthancRest& orthanc,
                       const IClock& clock) :
    configuration_(configuration),
    ledger_(ledger),
    orthanc_(orthanc),
    clock_(clock)
  {
  }

  std::vector<std::string> Forwarder::ListModalities()
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

  std::vector<std::string> Forwarder::StudiesOf(const std::string& uploadId) const
  {
    std::vector<std::string> studies;
    for (const ItemRecord& item : ledger_.Uploads().ListItems(uploadId))
    {
      if (!item.orthancStudyId.empty() &&
          std::find(studies.begin(), studies.end(), item.orthancStudyId) == studies.end())
      {
        studies.push_back(item.orthancStudyId);
      }
    }
    return studies;
  }

  std::vector<ItemRecord> Forwarder::InstancesOf(const ForwardRecord& forward) const
  {
    std::vector<ItemRecord> instances;
    for (const ItemRecord& item : ledger_.Uploads().ListItems(forward.uploadId))
    {
      if (item.orthancStudyId == forward.study && !item.orthancInstanceId.empty())
      {
        instances.push_back(item);
      }
    }
    if (instances.empty())
    {
      throw std::runtime_error("study " + forward.study + " has no instance of upload " +
                               forward.uploadId);
    }
    return instances;
  }

  Json::Value Forwarder::Release(const std::string& uploadId, const ReleaseRequest& request,
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
    const std::vector<std::string> all = StudiesOf(uploadId);
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
    Wake();
    Json::Value answer(Json::objectValue);
    answer["forwards"] = Json::arrayValue;
    for (const ForwardRecord& f : forwards)
    {
      answer["forwards"].append(ToJson(f));
    }
    return answer;
  }

  size_t Forwarder::CollectRules()
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
    if (configuration_.role != Role_Gateway)
    {
      for (const AuditEvent& e : events)
      {
        UploadRecord upload;
        if (!ledger_.Uploads().Lookup(upload, e.uploadId))
        {
          continue;
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
          for (const std::string& study : StudiesOf(upload.id))
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
          }
        }
      }
    }
    // One transaction per round: the forwards and the cursor move together (a crash
    // neither loses nor repeats a rule's forward).
    ledger_.Forwards().Add(forwards, clock_.NowMs(), "", AuditEventType_AutoForward,
                           std::to_string(forwards.size()) + " studies queued by the rules",
                           scanned);
    return events.size();
  }

  void Forwarder::Fail(ForwardRecord& f, const std::string& error)
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
      ledger_.Forwards().Update(f, AuditEventType_AlertForwardFailed,
                                "study " + f.study + " to " + f.modality + " given up after " +
                                    std::to_string(f.attempts) + " attempts: " + error);
      LOG(ERROR) << "Inbound: forward " << f.id << " to " << f.modality << " given up: " << error;
      return;
    }
    // f.attempts counts the attempts made, all failed so far: the one just failed included.
    const int64_t delay =
      Backoff(s.retryIntervalSeconds, s.maxRetryIntervalSeconds).NextDelay(f.attempts);
    f.state = ForwardState_Pending;
    f.nextAttemptAt = std::min(now + delay * 1000, deadline);
    ledger_.Forwards().Update(f);
    LOG(WARNING) << "Inbound: forward " << f.id << " to " << f.modality << " failed (attempt "
                 << f.attempts << "), retry in " << delay << " s: " << error;
  }

  std::string Forwarder::MakeReconciledCopy(const ForwardRecord& f)
  {
    // A copy of every instance that the upload stored in the study, with the hospital's
    // identity, made by Orthanc's own modification. Orthanc cannot change the PatientID of a
    // study as a whole (its parent patient), hence instance by instance; new UIDs, when asked
    // for, are drawn once per study and series so that the copy stays one study. Instances
    // of the Orthanc study that the upload did not store are not the sender's: never sent.
    const std::vector<ItemRecord> instances = InstancesOf(f);
    std::string studyUid;
    std::map<std::string, std::string> seriesUids;
    std::set<std::string> copied;  // the copy's instances
    std::set<std::string> made;    // of those, the ones this call stored (not there before)
    using Orthanc::FromDcmtkBridge;
    std::string copy;
    for (const ItemRecord& instance : instances)
    {
      Json::Value body(Json::objectValue);
      body["Replace"]["PatientID"] = f.patientId;
      if (!f.patientName.empty())
      {
        body["Replace"]["PatientName"] = f.patientName;
      }
      if (!f.patientBirthDate.empty())
      {
        body["Replace"]["PatientBirthDate"] = f.patientBirthDate;
      }
      if (f.newUids)
      {
        const std::string& series = instance.orthancSeriesId;
        if (studyUid.empty())
        {
          studyUid = FromDcmtkBridge::GenerateUniqueIdentifier(Orthanc::ResourceType_Study);
        }
        if (seriesUids.count(series) == 0)
        {
          seriesUids[series] =
            FromDcmtkBridge::GenerateUniqueIdentifier(Orthanc::ResourceType_Series);
        }
        body["Replace"]["StudyInstanceUID"] = studyUid;
        body["Replace"]["SeriesInstanceUID"] = seriesUids[series];
        body["Replace"]["SOPInstanceUID"] =
          FromDcmtkBridge::GenerateUniqueIdentifier(Orthanc::ResourceType_Instance);
      }
      else
      {
        // Orthanc draws new UIDs when modifying an instance unless told to keep them.
        body["Keep"].append("StudyInstanceUID");
        body["Keep"].append("SeriesInstanceUID");
        body["Keep"].append("SOPInstanceUID");
      }
      body["Remove"].append("IssuerOfPatientID");
      body["Force"] = true;
      const std::string dicom =
        orthanc_.PostForBytes("/instances/" + instance.orthancInstanceId + "/modify", body);
      const Json::Value stored = orthanc_.PostBytes("/instances", dicom);
      const std::string parent = stored.get("ParentStudy", "").asString();
      if (parent.empty() || (!copy.empty() && parent != copy))
      {
        throw std::runtime_error("Orthanc did not store the reconciled copy as one study");
      }
      copy = parent;
      copied.insert(stored.get("ID", "").asString());
      if (stored.get("Status", "Success").asString() == "Success")
      {
        made.insert(stored.get("ID", "").asString());
      }
    }

    // The copy's study is sent, and later deleted, as a whole: it must hold nothing else.
    // With the hospital's PatientID and the sender's StudyInstanceUID it can be a study the
    // hospital already has in this Orthanc; then only new UIDs keep the two apart.
    // An instance that was there already (AlreadyStored) may be the hospital's own, e.g. a
    // study made here and sent back on a CD: deleting the copy would delete it.
    Json::Value held;
    if (made.size() < copied.size() ||
        (orthanc_.Get(held, "/studies/" + copy + "/instances") && held.isArray() &&
         held.size() > copied.size()))
    {
      for (const std::string& id : made)
      {
        orthanc_.Delete("/instances/" + id);
      }
      throw std::runtime_error("Orthanc already holds a study with this PatientID and "
                               "StudyInstanceUID; release with new UIDs");
    }
    return copy;
  }

  void Forwarder::RemoveReconciledCopy(const ForwardRecord& f)
  {
    // The copy's study holds the hospital's PatientID: while it waited for the PACS, the
    // hospital may have added instances of its own to it (a key image note, a report).
    // Only the copy goes: the whole study when it holds nothing else, else the instances
    // with the SOP Instance UIDs the copy kept; with new UIDs they are not known, so the
    // study is left as it is.
    const std::vector<ItemRecord> items = InstancesOf(f);
    Json::Value held;
    if (!orthanc_.Get(held, "/studies/" + f.sentStudy + "/instances") || !held.isArray() ||
        held.size() <= items.size())
    {
      orthanc_.Delete("/studies/" + f.sentStudy);
      return;
    }
    LOG(WARNING) << "Inbound: forward " << f.id << ": the reconciled copy's study "
                 << f.sentStudy << " holds other instances too; "
                 << (f.newUids ? "it is kept" : "only the copy's instances are removed");
    if (f.newUids)
    {
      return;
    }
    std::set<std::string> copied;
    for (const ItemRecord& item : items)
    {
      copied.insert(item.sopInstanceUid);
    }
    for (const Json::Value& instance : held)
    {
      if (copied.count(instance["MainDicomTags"].get("SOPInstanceUID", "").asString()) > 0)
      {
        orthanc_.Delete("/instances/" + instance.get("ID", "").asString());
      }
    }
  }

  void Forwarder::Advance(ForwardRecord& f)
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
        f.sentStudy = MakeReconciledCopy(f);
      }
      Json::Value store(Json::objectValue);
      if (f.keepNamespace)
      {
        // The upload's own instances of the study, not whatever else the study holds.
        for (const ItemRecord& instance : InstancesOf(f))
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
      ledger_.Forwards().Update(f);
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
      ledger_.Forwards().Update(f, AuditEventType_UploadForwarded,
                                "study " + f.study + " sent to " + f.modality + " with " + patient +
                                    (f.newUids ? ", new UIDs" : "") + " (job " + f.jobId + ")");
      if (f.sentStudy != f.study && !configuration_.forwarding.keepReconciledCopy)
      {
        RemoveReconciledCopy(f);  // the hospital's copy is in the PACS now
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
      ledger_.Forwards().Update(f);
    }
  }

  size_t Forwarder::Step(const std::atomic<bool>& stopping)
  {
    size_t done = 0;
    for (ForwardRecord& f : ledger_.Forwards().ListDue(clock_.NowMs(), kForwardsPerRound))
    {
      if (stopping)
      {
        break;
      }
      try
      {
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

  void Forwarder::Wake()
  {
    wake_.Wake();
  }

  void Forwarder::Loop(const std::atomic<bool>& stopping)
  {
    while (!stopping)
    {
      try
      {
        CollectRules();
        Step(stopping);
      }
      catch (...)
      {
        LOG(ERROR) << "Inbound: forwarding: " << DescribeCurrentException();
      }
      wake_.Wait(std::chrono::milliseconds(500), stopping);
    }
  }

  Json::Value Forwarder::ToJson(const ForwardRecord& f)
  {
    Json::Value json(Json::objectValue);
    json["id"] = Json::Int64(f.id);
    json["uploadId"] = f.uploadId;
    json["study"] = f.study;
    json["modality"] = f.modality;
    json["origin"] = f.origin;
    json["patientId"] = f.keepNamespace ? Json::Value() : Json::Value(f.patientId);
    json["keepNamespacedPatientId"] = f.keepNamespace;
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

  Json::Value Forwarder::Describe(const std::string& uploadId, const std::string& state,
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

  Json::Value Forwarder::Retry(int64_t id, const std::string& by)
  {
    ForwardRecord f;
    if (!ledger_.Forwards().Retry(id, clock_.NowMs(), by) || !ledger_.Forwards().Lookup(f, id))
    {
      throw ApiError(404, "not-found", "No such forward waiting or failed");
    }
    Wake();
    return ToJson(f);
  }

  std::vector<std::string> Forwarder::ListUploadsPastRetention() const
  {
    std::vector<std::string> result;
    const RetentionSettings& r = configuration_.retention;
    if (r.days == 0 || configuration_.role == Role_Gateway)
    {
      return result;
    }
    const int64_t cutoff = clock_.NowMs() - static_cast<int64_t>(r.days) * 86400 * 1000;
    for (const UploadRecord& upload : ledger_.Uploads().List("complete", 0, 100000))
    {
      if (upload.completedAt == 0 || upload.completedAt >= cutoff)
      {
        continue;
      }
      if (r.onlyForwarded)
      {
        std::set<std::string> sent;
        for (const ForwardRecord& f : ledger_.Forwards().List(upload.id, "done", 100000))
        {
          sent.insert(f.study);
        }
        const std::vector<std::string> studies = StudiesOf(upload.id);
        const bool all = !studies.empty() &&
                         std::all_of(studies.begin(), studies.end(),
                                     [&](const std::string& s) { return sent.count(s) > 0; });
        if (!all)
        {
          continue;
        }
      }
      result.push_back(upload.id);
    }
    return result;
  }
}
