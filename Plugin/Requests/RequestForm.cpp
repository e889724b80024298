// Parses the admin's request for images: recipient, patient, sender, limits, challenge.
#include "RequestForm.h"

#include "Requests/RequestSecret.h"
#include "Upload/JsonFields.h"
#include "Upload/TextRules.h"

#include <algorithm>

namespace Inbound
{
  using JsonFields::Invalid;
  using JsonFields::Text;

  namespace
  {
    const size_t kMaxBody = 64 * 1024;
    const size_t kMaxPatientId = 64;      // DICOM LO
    const size_t kMaxPatientName = 320;   // DICOM PN: five components of 64

    // An integer from "min" to "max"; "fallback" when absent.
    unsigned int Bounded(const Json::Value& json, const char* key, unsigned int min,
                         unsigned int max, unsigned int fallback)
    {
      const int64_t value = JsonFields::Count(json, key, key);
      if (value < 0)
      {
        return fallback;
      }
      if (value < min || value > max)
      {
        throw Invalid(key, "must be from " + std::to_string(min) + " to " + std::to_string(max));
      }
      return static_cast<unsigned int>(value);
    }

    void ParsePatient(RequestForm& form, const Json::Value& json)
    {
      const Json::Value* found = JsonFields::OptionalObject(json, "patient", "id, name and birthDate",
                                                            {"id", "name", "birthDate"});
      if (found == nullptr)
      {
        return;
      }
      const Json::Value& patient = *found;
      form.patient.id = Text(patient, "id", "patient.id", kMaxPatientId, false);
      form.patient.name = Text(patient, "name", "patient.name", kMaxPatientName, false);
      if (!JsonFields::IsDicomText(form.patient.id, kMaxPatientId) ||
          !JsonFields::IsDicomText(form.patient.name, kMaxPatientName))
      {
        throw Invalid("patient", "id (at most 64 bytes) and name must not hold a backslash");
      }
      const std::string birthDate = Text(patient, "birthDate", "patient.birthDate", 10, false);
      if (!birthDate.empty() &&
          !RequestSecret::NormalizeBirthDate(form.patient.birthDate, birthDate))
      {
        throw Invalid("patient.birthDate", "must be a date like 19800131 or 1980-01-31");
      }
    }

    void ParseSender(RequestForm& form, const Json::Value& json, const TextLimits& limits)
    {
      const Json::Value* found =
        JsonFields::OptionalObject(json, "sender", "name and email", {"name", "email"});
      if (found == nullptr)
      {
        return;
      }
      const Json::Value& sender = *found;
      form.senderName = Text(sender, "name", "sender.name", limits.name, false);
      form.senderEmail = Text(sender, "email", "sender.email", limits.email, false);
      if (!form.senderEmail.empty() && !TextRules::IsEmailAddress(form.senderEmail))
      {
        throw Invalid("sender.email", "is not a valid e-mail address");
      }
    }

    void ParseChallenge(RequestForm& form, const Json::Value& json)
    {
      // The birth date when staff know it (the patient knows it too), else a code.
      form.challenge = form.patient.birthDate.empty() ? ChallengeKind_Code
                                                      : ChallengeKind_BirthDate;
      const std::string challenge = Text(json, "challenge", "challenge", 16, false);
      if (challenge == "none")
        form.challenge = ChallengeKind_None;
      else if (challenge == "birthDate")
        form.challenge = ChallengeKind_BirthDate;
      else if (challenge == "code")
        form.challenge = ChallengeKind_Code;
      else if (!challenge.empty())
        throw Invalid("challenge", "must be \"none\", \"birthDate\" or \"code\"");

      if (form.challenge == ChallengeKind_BirthDate && form.patient.birthDate.empty())
      {
        throw Invalid("patient.birthDate", "is required for the challenge \"birthDate\"");
      }
      // Sent to the PACS under the hospital's identity by itself only when name AND birth
      // date matched (doc/Requests.md): a name alone fits other people too.
      if (!form.forwardTo.empty() &&
          (form.patient.birthDate.empty() ||
           form.patient.name.find_first_not_of(" ^") == std::string::npos))
      {
        throw Invalid("patient.birthDate", "and patient.name are required with forwardTo");
      }
      if ((form.challenge == ChallengeKind_BirthDate || !form.forwardTo.empty()) &&
          form.patient.id.find_first_not_of(' ') == std::string::npos)
      {
        throw Invalid("patient.id", "is required for the challenge \"birthDate\" and forwardTo");
      }
    }
  }

  RequestForm RequestForm::Parse(const void* body, size_t size, const Configuration& configuration)
  {
    const Json::Value json = JsonFields::ParseObject(body, size, kMaxBody);
    JsonFields::CheckKeys(json, "", {"recipient", "patient", "sender", "message", "expiresInDays",
                                     "maxUploads", "challenge", "language", "forwardTo"});
    RequestForm form;
    if (!json["recipient"].isString() ||
        configuration.LookupRecipient(json["recipient"].asString()) == nullptr)
    {
      throw ApiError(400, "unknown-recipient", "\"recipient\" must be an id of Inbound.Recipients");
    }
    form.recipientId = json["recipient"].asString();
    ParsePatient(form, json);
    ParseSender(form, json, configuration.text);
    form.message = Text(json, "message", "message", configuration.text.message, false);
    const RequestSettings& settings = configuration.requests;
    form.expiresInDays = Bounded(json, "expiresInDays", 1, settings.maxExpiryDays,
                                 settings.defaultExpiryDays);
    form.maxUploads = Bounded(json, "maxUploads", 1, settings.maxUploads, 1);
    form.language = Text(json, "language", "language", 16, false);
    if (!form.language.empty() &&
        std::find(configuration.languages.begin(), configuration.languages.end(),
                  form.language) == configuration.languages.end())
    {
      throw Invalid("language", "must be one of Inbound.Languages");
    }
    form.forwardTo = Text(json, "forwardTo", "forwardTo", 64, false);
    ParseChallenge(form, json);
    return form;
  }
}
