// Makes the reconciled copy of a study (coerced bytes stored by Orthanc) and removes it again.
#include "ReconciledCopy.h"

#include <OrthancFramework.h>  // first: it defines what the framework headers test

#include "Forward/UploadStudies.h"
#include "Upload/Isolation.h"

#include <DicomParsing/FromDcmtkBridge.h>
#include <DicomParsing/ParsedDicomFile.h>
#include <Logging.h>

#include <map>
#include <set>
#include <stdexcept>

namespace Inbound
{
  ReconciledCopy::ReconciledCopy(IOrthancRest& orthanc, const Ledger& ledger,
                                 const std::string& hospitalIssuer) :
    orthanc_(orthanc),
    ledger_(ledger),
    hospitalIssuer_(hospitalIssuer)
  {
  }

  CoercedIdentity ReconciledCopy::GetIdentity(const ForwardRecord& f)
  {
    CoercedIdentity identity;
    identity.patientId = f.patientId;
    identity.issuer = f.patientIssuer;
    identity.name = f.patientName;
    identity.birthDate = f.patientBirthDate;
    identity.sex = f.patientSex;
    identity.accessionNumber = f.accessionNumber;
    return identity;
  }

  std::string ReconciledCopy::Make(const ForwardRecord& f)
  {
    // A copy of every instance that the upload stored in the study, with the hospital's
    // identity written by Coercion (Reconcile/Coercion.h) into the stored file's bytes, then
    // stored by Orthanc. Instance by instance (Orthanc cannot change the PatientID of a study
    // as a whole); new UIDs, when asked for, are drawn once per study and series so that the
    // copy stays one study. Instances of the Orthanc study that the upload did not store are
    // not the sender's: never sent.
    const std::vector<ItemRecord> instances = InstancesOf(ledger_, f);
    CoercedIdentity identity = GetIdentity(f);
    identity.hospitalIssuer = hospitalIssuer_;
    const std::string modifiedAt = Isolation::Now();
    std::string studyUid;
    std::map<std::string, std::string> seriesUids;
    std::set<std::string> copied;  // the copy's instances
    std::set<std::string> made;    // of those, the ones this call stored (not there before)
    using Orthanc::FromDcmtkBridge;
    std::string copy;
    try
    {
      for (const ItemRecord& instance : instances)
      {
        CoercedUids uids;
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
          uids.study = studyUid;
          uids.series = seriesUids[series];
          uids.instance =
            FromDcmtkBridge::GenerateUniqueIdentifier(Orthanc::ResourceType_Instance);
        }
        std::string stored;
        if (!orthanc_.GetBytes(stored, "/instances/" + instance.orthancInstanceId + "/file"))
        {
          throw std::runtime_error("Orthanc no longer holds instance " +
                                   instance.orthancInstanceId + " of the study");
        }
        std::string dicom;
        {
          Orthanc::ParsedDicomFile parsed(stored);
          stored.clear();
          Coercion::Apply(*parsed.GetDcmtkObject().getDataset(), identity, uids, f.uploadId,
                          modifiedAt);
          parsed.SaveToMemoryBuffer(dicom);
        }
        const Json::Value answer = orthanc_.PostBytes("/instances", dicom);
        const std::string id = answer.get("ID", "").asString();
        if (answer.get("Status", "Success").asString() == "Success")
        {
          made.insert(id);
        }
        const std::string parent = answer.get("ParentStudy", "").asString();
        if (parent.empty() || (!copy.empty() && parent != copy))
        {
          throw std::runtime_error("Orthanc did not store the reconciled copy as one study");
        }
        copy = parent;
        copied.insert(id);
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
        throw std::runtime_error("Orthanc already holds a study with this PatientID and "
                                 "StudyInstanceUID; release with new UIDs");
      }
    }
    catch (...)
    {
      // No half copy stays behind under the hospital's identity: the next attempt makes it
      // again whole (with new UIDs, a new study each time), and what was there already stays.
      for (const std::string& id : made)
      {
        try
        {
          orthanc_.Delete("/instances/" + id);
        }
        catch (const std::exception& e)
        {
          LOG(ERROR) << "Inbound: forward " << f.id << ": part of a failed copy, instance "
                     << id << ", cannot be deleted: " << e.what();
        }
      }
      throw;
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
