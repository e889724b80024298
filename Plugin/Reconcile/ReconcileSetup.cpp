// Start-up checks of Inbound.Reconciliation: UTF-8 answers required, unknown modalities.
#include "Reconcile/ReconcileSetup.h"

#include <OrthancException.h>

#include <boost/algorithm/string/case_conv.hpp>

namespace Inbound
{
  namespace ReconcileSetup
  {
    bool IsUtf8(const std::string& encodingName)
    {
      return boost::algorithm::to_upper_copy(encodingName) == "UTF8";
    }

    std::string GetDefaultEncoding(const Json::Value& orthancConfiguration)
    {
      const Json::Value& value = orthancConfiguration["DefaultEncoding"];
      if (value.isNull())
      {
        return "Latin1";
      }
      return value.isString() ? value.asString() : value.toStyledString();
    }

    std::vector<std::string> Check(const Json::Value& orthancConfiguration,
                                   const Configuration& configuration)
    {
      std::vector<std::string> warnings;
      const std::vector<ReconciliationSource>& sources = configuration.reconciliation.sources;
      if (sources.empty())
      {
        return warnings;
      }
      const std::string encoding = GetDefaultEncoding(orthancConfiguration);
      if (!IsUtf8(encoding))
      {
        throw Orthanc::OrthancException(
            Orthanc::ErrorCode_BadFileFormat,
            "Inbound.Reconciliation.Sources needs \"DefaultEncoding\" : \"Utf8\" in Orthanc's "
            "configuration (it is \"" +
                encoding +
                "\"): Orthanc converts every C-FIND answer into "
                "its DefaultEncoding and drops the letters that do not fit, so patients' names "
                "would "
                "lose letters. Set \"DefaultEncoding\" : \"Utf8\", or empty "
                "Inbound.Reconciliation.Sources");
      }
      const Json::Value& modalities = orthancConfiguration["DicomModalities"];
      for (const ReconciliationSource& source : sources)
      {
        if (!modalities.isObject() || !modalities.isMember(source.modality))
        {
          warnings.push_back("Inbound.Reconciliation.Sources names \"" + source.modality +
                             "\", which is not in DicomModalities (unless it is in the database "
                             "or added later): that source fails until it is");
        }
      }
      return warnings;
    }
  } // namespace ReconcileSetup
} // namespace Inbound
