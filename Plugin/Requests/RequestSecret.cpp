// Seals and opens a request's expected patient: HKDF-SHA256 and AES-256-GCM on OpenSSL.
#include "RequestSecret.h"

#include "Toolbox/Crypto.h"
#include "Toolbox/Json.h"
#include "Toolbox/SealingOpenSsl.h"

#include <OrthancException.h>
#include <Toolbox.h>

#include <cctype>

namespace Inbound
{
  using namespace SealingOpenSsl;

  namespace
  {
    // Version 1 of the format: a key derived for anything else never opens an envelope.
    const char kInfoPrefix[] = "orthanc-inbound request 1 ";

    bool DeriveKey(Secret<kAesKeySize>& key, const std::string& token,
                   const std::string& normalizedAnswer, const std::string& requestId)
    {
      const std::string info = kInfoPrefix + requestId;
      return DeriveHkdfSha256(key.bytes, sizeof(key.bytes), Bytes{token.data(), token.size()},
                              Bytes{normalizedAnswer.data(), normalizedAnswer.size()},
                              Bytes{info.data(), info.size()});
    }

    bool AllDigits(const std::string& s)
    {
      for (char c : s)
      {
        if (c < '0' || c > '9')
        {
          return false;
        }
      }
      return true;
    }
  }

  namespace RequestSecret
  {
    bool NormalizeBirthDate(std::string& normalized, const std::string& text)
    {
      std::string digits;
      if (text.size() == 10 && text[4] == '-' && text[7] == '-')
      {
        digits = text.substr(0, 4) + text.substr(5, 2) + text.substr(8, 2);
      }
      else if (text.size() == 8)
      {
        digits = text;
      }
      if (digits.size() != 8 || !AllDigits(digits))
      {
        return false;
      }
      const int month = std::stoi(digits.substr(4, 2));
      const int day = std::stoi(digits.substr(6, 2));
      if (month < 1 || month > 12 || day < 1 || day > 31)
      {
        return false;
      }
      normalized = digits;
      return true;
    }

    bool NormalizeAnswer(std::string& normalized, ChallengeKind kind, const std::string& answer)
    {
      switch (kind)
      {
        case ChallengeKind_None:
          normalized.clear();  // nothing is asked: whatever the page posts
          return true;
        case ChallengeKind_BirthDate:
          return NormalizeBirthDate(normalized, answer);
        case ChallengeKind_Code:
          normalized.clear();
          for (char c : answer)
          {
            if (c != ' ' && c != '-')
            {
              normalized.push_back(static_cast<char>(toupper(static_cast<unsigned char>(c))));
            }
          }
          return !normalized.empty();
        default:
          return false;
      }
    }

    std::string Seal(const Expected& expected, const std::string& token,
                     const std::string& normalizedAnswer, const std::string& requestId)
    {
      Json::Value json(Json::objectValue);
      json["patientName"] = expected.patientName;
      json["birthDate"] = expected.birthDate;
      const std::string plain = JsonText::Compact(json);

      std::string envelope = Crypto::RandomBytes(kGcmNonceSize);
      envelope.resize(kGcmNonceSize + plain.size() + kGcmTagSize);
      unsigned char* nonce = reinterpret_cast<unsigned char*>(&envelope[0]);
      unsigned char* ciphertext = nonce + kGcmNonceSize;
      Secret<kAesKeySize> key;
      if (!DeriveKey(key, token, normalizedAnswer, requestId) ||
          !EncryptAesGcm(ciphertext, ciphertext + plain.size(), key.bytes, nonce,
                         {Bytes{requestId.data(), requestId.size()}},
                         reinterpret_cast<const unsigned char*>(plain.data()), plain.size()))
      {
        Fail("cannot seal a request's expected patient");
      }
      std::string base64;
      Orthanc::Toolbox::EncodeBase64(base64, envelope);
      return base64;
    }

    bool Open(Expected& expected, const std::string& secret, const std::string& token,
              const std::string& normalizedAnswer, const std::string& requestId)
    {
      std::string envelope;
      try
      {
        Orthanc::Toolbox::DecodeBase64(envelope, secret);
      }
      catch (...)  // Orthanc exceptions are not std::exceptions
      {
        return false;
      }
      if (envelope.size() < kGcmNonceSize + kGcmTagSize)
      {
        return false;
      }
      const size_t length = envelope.size() - kGcmNonceSize - kGcmTagSize;
      const unsigned char* nonce = reinterpret_cast<const unsigned char*>(envelope.data());
      const unsigned char* ciphertext = nonce + kGcmNonceSize;
      std::string plain(length, '\0');
      unsigned char* out = length > 0 ? reinterpret_cast<unsigned char*>(&plain[0]) : nullptr;
      Secret<kAesKeySize> key;
      Json::Value json;
      if (!DeriveKey(key, token, normalizedAnswer, requestId) ||
          !DecryptAesGcm(out, ciphertext + length, key.bytes, nonce,
                         {Bytes{requestId.data(), requestId.size()}}, ciphertext, length) ||
          !JsonText::ParseStrict(json, plain.data(), plain.size()) || !json.isObject() ||
          !json["patientName"].isString() || !json["birthDate"].isString())
      {
        return false;
      }
      expected.patientName = json["patientName"].asString();
      expected.birthDate = json["birthDate"].asString();
      return true;
    }
  }
}
