// The patients of an upload as sent: from the ledger and one stored instance per study.
#pragma once

#include "Forward/IOrthancRest.h"
#include "Ledger/Records.h"
#include "Reconcile/Candidates.h"

#include <json/value.h>

#include <string>
#include <vector>

namespace Inbound
{
  namespace SentPatients
  {
    // One patient per distinct isolated PatientID of the items (so per distinct PatientID as
    // sent), in the order first seen: the PatientID as sent, name and birth date from the
    // ledger, with the Orthanc studies, modalities and study dates of its items.
    std::vector<SentPatient> FromItems(const std::vector<ItemRecord>& items);

    // What the ledger does not keep, from the stored (isolated) instance's tags in Orthanc's
    // short form (GET /instances/{id}/tags?short): PatientSex (the first read), the study's
    // AccessionNumber, the sender's other IDs (OtherPatientIDsSequence items and
    // OtherPatientIDs), and the sender's IssuerOfPatientID from the LAST
    // OriginalAttributesSequence item written by "ORTHANC-INBOUND" (the isolation's:
    // Upload/Isolation.h).
    void AddInstanceTags(SentPatient& patient, const Json::Value& shortTags);

    // FromItems, then AddInstanceTags with one stored instance of each study (at most 20 per
    // patient), read from Orthanc; an instance that cannot be read is skipped.
    std::vector<SentPatient> Read(const std::vector<ItemRecord>& items, IOrthancRest& orthanc);
  } // namespace SentPatients
} // namespace Inbound
