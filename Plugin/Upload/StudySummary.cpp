// The studies of an upload, summarized from its files: one builder for receipts, views, mails.
#include "StudySummary.h"

#include <map>
#include <utility>

namespace Inbound
{
  std::vector<StudySummary> StudySummary::Summarize(const std::vector<ItemRecord>& items)
  {
    std::vector<StudySummary> studies;
    std::map<std::pair<std::string, std::string>, size_t> index;
    for (const ItemRecord& item : items)
    {
      auto found = index.find(std::make_pair(item.studyInstanceUid, item.isolatedPatientId));
      if (found == index.end())
      {
        found = index.emplace(std::make_pair(item.studyInstanceUid, item.isolatedPatientId),
                              studies.size()).first;
        studies.emplace_back();
        studies.back().first = item;
      }
      StudySummary& study = studies[found->second];
      study.series.insert(item.seriesInstanceUid);
      if (!item.modality.empty())
      {
        study.modalities.insert(item.modality);
      }
      study.instances++;
      if (study.first.orthancStudyId.empty())
      {
        study.first.orthancStudyId = item.orthancStudyId;
      }
    }
    return studies;
  }
}
