// The studies of an upload, summarized from its files: one builder for receipts, views, mails.
#pragma once

#include "Ledger/Records.h"

#include <set>
#include <string>
#include <vector>

namespace Inbound
{
  // One study of an upload. A study is a (StudyInstanceUID, isolated PatientID) pair: one
  // study UID sent under two PatientIDs is two studies (two isolated patients, two Orthanc
  // studies), each listed and linked on its own (see doc/Architecture.md, isolated PatientIDs).
  struct StudySummary
  {
    ItemRecord first;                   // the study's first file; its orthancStudyId is that
                                        // of the first file stored in Orthanc (empty: none)
    std::set<std::string> series;       // SeriesInstanceUIDs
    std::set<std::string> modalities;   // sorted, without empty values
    int64_t instances = 0;              // files

    // The studies of "items" in the order their first file arrived.
    static std::vector<StudySummary> Summarize(const std::vector<ItemRecord>& items);
  };
}
