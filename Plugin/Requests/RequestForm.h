// The body of "POST /inbound/admin/requests", checked field by field.
#pragma once

#include "Configuration.h"
#include "Ledger/Records.h"

#include <string>

namespace Inbound
{
  // What staff ask for when they create a request link (doc/Api.md, "Request links"). Every
  // field has a type, a length cap and a syntax; unknown fields are refused; a refusal is an
  // ApiError naming the field.
  struct RequestForm
  {
    std::string recipientId;
    RequestPatient patient;    // birthDate normalized to YYYYMMDD
    std::string senderName;
    std::string senderEmail;
    std::string message;
    unsigned int expiresInDays = 0;
    unsigned int maxUploads = 1;
    ChallengeKind challenge = ChallengeKind_Code;
    std::string language;      // "" the site's first
    std::string forwardTo;     // a DicomModalities name (checked by the caller) or ""

    static RequestForm Parse(const void* body, size_t size, const Configuration& configuration);
  };
}
