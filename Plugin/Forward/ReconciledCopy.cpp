// Makes and removes the reconciled copy of a study with Orthanc's modification and deletion.
#include "ReconciledCopy.h"

#include <OrthancFramework.h>  // first: it defines what the framework headers test

#include "Forward/UploadStudies.h"

#include <DicomParsing/FromDcmtkBridge.h>
#include <Logging.h>

#include <map>
#include <set>
#include <stdexcept>

namespace Inbound
{
  ReconciledCopy::ReconciledCopy(IOrthancRest& orthanc, const Ledger& ledger) :
    orthanc_(orthanc),
    ledger_(ledger)
  {
  }

  std::string ReconciledCopy::Make(const ForwardRecord& f)
  {
    // A copy of every instance that the upload stored in the study, with the hospital's
    // identity, made by Orthanc's own modification. Orthanc cannot change the PatientID of a
    // study as a whole (its parent patient), hence instance by instance; new UIDs, when asked
    // for, are drawn once per study and series so that the copy stays one study. Instances
    // of the Orthanc study that the upload did not store are not the sender's: never sent.
    const std::vector<ItemRecord> instances = InstancesOf(ledger_, f);
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

  void ReconciledCopy::Remove(const ForwardRecord& f)
  {
    // The copy's study holds the hospital's PatientID: while it waited for the PACS, the
    // hospital may have added instances of its own to it (a key image note, a report).
    // Only the copy goes: the whole study when it holds nothing else, else the instances
    // with the SOP Instance UIDs the copy kept; with new UIDs they are not known, so the
    // study is left as it is.
    const std::vector<ItemRecord> items = InstancesOf(ledger_, f);
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
}
