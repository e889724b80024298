// The Orthanc studies and instances of an upload, from the ledger's items.
#include "UploadStudies.h"

#include <algorithm>
#include <stdexcept>

namespace Inbound
{
  std::vector<std::string> StudiesOf(const Ledger& ledger, const std::string& uploadId)
  {
    std::vector<std::string> studies;
    for (const ItemRecord& item : ledger.Uploads().ListItems(uploadId))
    {
      if (!item.orthancStudyId.empty() &&
          std::find(studies.begin(), studies.end(), item.orthancStudyId) == studies.end())
      {
        studies.push_back(item.orthancStudyId);
      }
    }
    return studies;
  }

  std::vector<ItemRecord> InstancesOf(const Ledger& ledger, const ForwardRecord& forward)
  {
    std::vector<ItemRecord> instances;
    for (const ItemRecord& item : ledger.Uploads().ListItems(forward.uploadId))
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
}
