// libFuzzer target: what request links read from outside — the admin's form (RequestForm::Parse),
// a sender's challenge answer (RequestSecret::NormalizeAnswer) and the patient names compared on
// arrival (PatientMatch::IsSameName, ICU) — on a thread with a civetweb worker's 100 KiB stack.
#include "CivetwebThread.h"
#include "Configuration.h"
#include "Http/ApiError.h"
#include "Requests/PatientMatch.h"
#include "Requests/RequestForm.h"
#include "Requests/RequestSecret.h"
#include "Upload/TextRules.h"

#include <cstdint>
#include <cstdlib>
#include <string>

namespace
{
  const Inbound::Configuration& GetConfiguration()
  {
    return InboundFuzzing::GetStandaloneConfiguration();
  }

  void CheckForm(const uint8_t* data, size_t size)
  {
    try
    {
      const Inbound::RequestForm form = Inbound::RequestForm::Parse(data, size, GetConfiguration());
      // What the form accepts is what the ledger and the mails may hold.
      if (form.recipientId != "neuro" || !Inbound::TextRules::IsCleanText(form.message) ||
          !Inbound::TextRules::IsCleanText(form.senderName) || form.maxUploads < 1 ||
          form.expiresInDays < 1)
      {
        abort();
      }
    }
    catch (const Inbound::ApiError&)
    {
      // a refusal naming the field is the expected outcome of most inputs
    }
  }

  void CheckAnswer(const std::string& answer)
  {
    for (Inbound::ChallengeKind kind : {Inbound::ChallengeKind_None, Inbound::ChallengeKind_BirthDate,
                                        Inbound::ChallengeKind_Code})
    {
      std::string normalized;
      if (Inbound::RequestSecret::NormalizeAnswer(normalized, kind, answer))
      {
        // Normalizing is idempotent, and never longer than the answer.
        std::string again;
        if (normalized.size() > answer.size() + 8 ||
            !Inbound::RequestSecret::NormalizeAnswer(again, kind, normalized) || again != normalized)
        {
          abort();
        }
      }
    }
  }

  void CheckNames(const std::string& text)
  {
    const size_t split = text.find('\0');
    const std::string a = text.substr(0, split);
    const std::string b = split == std::string::npos ? a : text.substr(split + 1);
    // The rule is symmetric, and a name is always the same as itself.
    if (Inbound::PatientMatch::IsSameName(a, b) != Inbound::PatientMatch::IsSameName(b, a))
    {
      abort();
    }
    Inbound::PatientMatch::IsSameName(a, a);
  }

  void Run(const uint8_t* data, size_t size)
  {
    if (size == 0)
    {
      return;
    }
    const uint8_t* rest = data + 1;
    switch (data[0] % 3)
    {
      case 0:
        CheckForm(rest, size - 1);
        break;
      case 1:
        CheckAnswer(std::string(reinterpret_cast<const char*>(rest), size - 1));
        break;
      default:
        CheckNames(std::string(reinterpret_cast<const char*>(rest), size - 1));
        break;
    }
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  // The configuration is read once at start-up, on Orthanc's main thread.
  GetConfiguration();
  InboundFuzzing::RunOnCivetwebStack([data, size] { Run(data, size); });
  return 0;
}
