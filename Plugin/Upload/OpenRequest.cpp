// Parses the open request: each field's type, length cap and syntax; refusals as ApiErrors.
#include "OpenRequest.h"

#include "Http/ApiError.h"
#include "Upload/JsonFields.h"
#include "Upload/TextRules.h"

#include <boost/regex.hpp>

#include <algorithm>

namespace Inbound
{
  using JsonFields::Count;
  using JsonFields::Invalid;
  using JsonFields::Text;

  namespace
  {
    const size_t kMaxBody = 64 * 1024;
    // A request link's token and a challenge's ticket: Crypto::RandomToken (43 characters).
    const boost::regex kTokenSyntax("[A-Za-z0-9_-]{16,128}");

    void ParseRequestLink(OpenRequest& r, const Json::Value& json)
    {
      const Json::Value* found =
        JsonFields::OptionalObject(json, "request", "token and ticket", {"token", "ticket"});
      if (found == nullptr)
      {
        return;
      }
      const Json::Value& link = *found;
      if (!link["token"].isString() || !boost::regex_match(link["token"].asString(), kTokenSyntax))
      {
        throw Invalid("request.token", "must be the token of a request link");
      }
      if (!link["ticket"].isString() ||
          !boost::regex_match(link["ticket"].asString(), kTokenSyntax))
      {
        throw Invalid("request.ticket", "must be the ticket of the request's challenge");
      }
      r.requestToken = link["token"].asString();
      r.requestTicket = link["ticket"].asString();
    }
  }

  OpenRequest OpenRequest::Parse(const void* body, size_t size,
                                 const Configuration& configuration)
  {
    const Json::Value json = JsonFields::ParseObject(body, size, kMaxBody);

    const TextLimits& limits = configuration.text;
    const Json::Value& sender = json["sender"];
    if (!sender.isObject())
    {
      throw Invalid("sender", "must be an object with name and email");
    }

    OpenRequest r;
    r.sender.name = Text(sender, "name", "sender.name", limits.name, true);
    r.sender.email = Text(sender, "email", "sender.email", limits.email, true);
    if (!TextRules::IsEmailAddress(r.sender.email))
    {
      throw Invalid("sender.email", "is not a valid e-mail address");
    }
    r.sender.institution = Text(sender, "institution", "sender.institution",
                                limits.institution, false);
    r.sender.phone = Text(sender, "phone", "sender.phone", limits.phone, false);
    r.message = Text(json, "message", "message", limits.message, false);

    const Json::Value& consent = json["consent"];
    if (!consent.isObject() || !consent["accepted"].isBool() || !consent["accepted"].asBool())
    {
      throw ApiError(400, "consent-required", "The privacy statement must be accepted");
    }
    if (!consent["version"].isString() ||
        consent["version"].asString() != configuration.privacyVersion)
    {
      throw ApiError(400, "consent-required",
                     "The accepted privacy statement is not the current one (version " +
                       configuration.privacyVersion + "); please reload the page");
    }
    r.consentVersion = configuration.privacyVersion;

    if (json.isMember("recipient") && !json["recipient"].isNull())
    {
      if (!json["recipient"].isString() ||
          configuration.LookupRecipient(json["recipient"].asString()) == nullptr)
      {
        throw ApiError(400, "unknown-recipient",
                       "The recipient must be one of the ids listed by /inbound/api/info");
      }
      r.recipientId = json["recipient"].asString();
    }

    if (json.isMember("language") && !json["language"].isNull())
    {
      const Json::Value& language = json["language"];
      if (!language.isString() ||
          std::find(configuration.languages.begin(), configuration.languages.end(),
                    language.asString()) == configuration.languages.end())
      {
        throw Invalid("language", "must be one of the languages listed by /inbound/api/info");
      }
      r.language = language.asString();
    }

    const Json::Value& expected = json["expected"];
    if (!expected.isNull())
    {
      if (!expected.isObject())
      {
        throw Invalid("expected", "must be an object with files and bytes");
      }
      r.expectedFiles = Count(expected, "files", "expected.files");
      r.expectedBytes = Count(expected, "bytes", "expected.bytes");
    }
    ParseRequestLink(r, json);
    return r;
  }
}
