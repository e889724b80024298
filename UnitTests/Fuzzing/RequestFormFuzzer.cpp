// libFuzzer target: what request links read from outside — the admin's form (RequestForm::Parse),
// a sender's challenge answer (RequestSecret::NormalizeAnswer) and the patient names compared on
// arrival (PatientMatch::IsSameName, ICU) — on a thread with a civetweb worker's 100 KiB stack.
#include "Configuration.h"
#include "Http/ApiError.h"
#include "Requests/PatientMatch.h"
#include "Requests/RequestForm.h"
#include "Requests/RequestSecret.h"
#include "Upload/TextRules.h"

#include <pthread.h>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace
{
  struct Input
  {
    const uint8_t* data;
    size_t size;
  };

  const Inbound::Configuration& GetConfiguration()
  {
    static const Inbound::Configuration configuration = [] {
      Json::Value section;
      section["Privacy"]["Version"] = "1";
      Json::Value recipient;
      recipient["Id"] = "neuro";
      recipient["Name"] = "Neuroradiology";
      recipient["Email"] = "neuro@hospital.example";
      section["Recipients"].append(recipient);
      return Inbound::Configuration::Parse(section);
    }();
    return configuration;
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

  void* Run(void* argument)
  {
    const Input& input = *static_cast<const Input*>(argument);
    if (input.size == 0)
    {
      return nullptr;
    }
    const uint8_t* rest = input.data + 1;
    const size_t size = input.size - 1;
    switch (input.data[0] % 3)
    {
      case 0:
        CheckForm(rest, size);
        break;
      case 1:
        CheckAnswer(std::string(reinterpret_cast<const char*>(rest), size));
        break;
      default:
        CheckNames(std::string(reinterpret_cast<const char*>(rest), size));
        break;
    }
    return nullptr;
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  // The configuration is read once at start-up, on Orthanc's main thread.
  GetConfiguration();
  // One thread per input, as civetweb gives each connection a thread of this stack size.
  Input input{data, size};
  pthread_attr_t attributes;
  pthread_t thread;
  if (pthread_attr_init(&attributes) != 0 ||
      pthread_attr_setstacksize(&attributes, 100 * 1024) != 0 ||
      pthread_create(&thread, &attributes, &Run, &input) != 0)
  {
    abort();
  }
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attributes);
  return 0;
}
