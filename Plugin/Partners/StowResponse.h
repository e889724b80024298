// Builds the PS3.18 STOW-RS answer (DICOM JSON) to a partner's request from its parts' results.
// parts.
#pragma once

#include "Partners/StowItemResult.h"

#include <json/value.h>

#include <string>
#include <vector>

namespace Inbound
{
  // The answer to one STOW-RS request (doc/Api.md "Partner STOW-RS"): always
  // application/dicom+json.
  struct StowResponse
  {
    int status = 500;
    Json::Value body;
    std::string error;           // Inbound's code for the X-Inbound-Error header, "" when none
    unsigned int retryAfter = 0; // seconds for Retry-After (503 only), 0: no header

    // results: one per part, in order. requestError: StowReader's latched error, or "".
    //  - no part and no error: 400 {"error": "no-instances"} (a sender must not believe an empty
    //    request stored something);
    //  - a request-level error: 415 unsupported-media-type, 413 too-large, 400 otherwise, with
    //    the STOW body listing what was stored before it;
    //  - all stored: 200; some stored: 202; none stored: 503 when every failure is transient,
    //    400 when every one is a part that cannot be understood, 409 otherwise (PS3.18 §10.5.3).
    static StowResponse Build(const std::vector<StowItemResult>& results,
                              const std::string& requestError);
  };
} // namespace Inbound
