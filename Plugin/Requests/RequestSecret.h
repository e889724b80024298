// A request link's expected patient, sealed under the link's token and the challenge's answer.
#pragma once

#include "Ledger/Records.h"

#include <string>

namespace Inbound
{
  // The expected patient travels with a request as an envelope that only the link's token
  // together with the right answer opens (doc/Requests.md, "Challenge and lockout"):
  //   secret = base64(nonce (12) | AES-256-GCM({"patientName", "birthDate"}) | tag (16))
  //   key    = HKDF-SHA256(ikm = token, salt = normalized answer,
  //                        info = "orthanc-inbound request 1 " + request id)
  //   AAD    = the request id.
  // Opening it IS the check of the answer: no other verifier is stored. A gateway holds the
  // token's SHA-256 and this envelope only, so at rest it cannot read the patient without a
  // link; and the envelope of one request does not open under another's id.
  namespace RequestSecret
  {
    struct Expected
    {
      std::string patientName;  // DICOM PN
      std::string birthDate;    // YYYYMMDD or ""
    };

    // "YYYYMMDD" from "YYYYMMDD" or "YYYY-MM-DD" (month 01-12, day 01-31); false otherwise.
    bool NormalizeBirthDate(std::string& normalized, const std::string& text);

    // The answer as the key is derived from it: "none" is always "" (nothing is asked), a
    // birth date as NormalizeBirthDate, a code in upper case without spaces and '-'. False
    // when the answer cannot be the right one.
    bool NormalizeAnswer(std::string& normalized, ChallengeKind kind, const std::string& answer);

    // A fresh envelope (random nonce) of "expected".
    std::string Seal(const Expected& expected, const std::string& token,
                     const std::string& normalizedAnswer, const std::string& requestId);

    // False for a wrong token, answer or request id, and for a damaged envelope.
    bool Open(Expected& expected, const std::string& secret, const std::string& token,
              const std::string& normalizedAnswer, const std::string& requestId);
  }
}
