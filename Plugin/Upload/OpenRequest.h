// The body of "POST /inbound/api/uploads", checked field by field.
#pragma once

#include "Configuration.h"
#include "Ledger/Records.h"

#include <string>

namespace Inbound
{
  // The body of "POST /inbound/api/uploads", checked field by field. Parsing untrusted
  // input: every field has a type, a length cap and a syntax; a refusal is an ApiError.
  struct OpenRequest
  {
    Sender sender;
    std::string recipientId;
    std::string message;
    std::string consentVersion;
    std::string language;  // of the sender's page, one of Inbound.Languages; "" not given
    int64_t expectedFiles = -1;
    int64_t expectedBytes = -1;
    // "request": {"token", "ticket"} of a request link (doc/Requests.md); both empty for an
    // open upload. Checked for syntax here, against the ledger by RequestService.
    std::string requestToken;
    std::string requestTicket;

    static OpenRequest Parse(const void* body, size_t size, const Configuration& configuration);
  };
}
