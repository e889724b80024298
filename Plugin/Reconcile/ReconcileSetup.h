// Start-up checks of Inbound.Reconciliation against Orthanc's configuration (encoding, modalities).
#pragma once

#include "Configuration.h"

#include <json/value.h>

#include <string>
#include <vector>

namespace Inbound
{
  namespace ReconcileSetup
  {
    // True for Orthanc's name of UTF-8 ("Utf8", in any case, as Orthanc reads it).
    bool IsUtf8(const std::string& encodingName);

    // Orthanc's "DefaultEncoding" as configured; absent: "Latin1", Orthanc's default.
    std::string GetDefaultEncoding(const Json::Value& orthancConfiguration);

    // Fails closed (OrthancException BadFileFormat, the message names the fix) when
    // Reconciliation.Sources is not empty and Orthanc's DefaultEncoding is not Utf8: Orthanc
    // converts every C-FIND answer into it and silently drops the letters that do not fit
    // (doc/Reconciliation.md, "Configuration"), which a release would then write into the PACS.
    // Answers the warnings for the log: sources naming a modality that is not in
    // DicomModalities (it may be added at run time or be in Orthanc's database).
    std::vector<std::string> Check(const Json::Value& orthancConfiguration,
                                   const Configuration& configuration);
  } // namespace ReconcileSetup
} // namespace Inbound
