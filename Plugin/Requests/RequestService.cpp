// Creates, shows and revokes request links; describes a link to its sender, checks its challenge.
#include "RequestService.h"

#include "Requests/RequestForm.h"
#include "Requests/RequestSecret.h"
#include "Toolbox/Crypto.h"
#include "Upload/JsonFields.h"

#include <Logging.h>

#include <algorithm>

namespace Inbound
{
  namespace
  {
    const size_t kRequestIdLength = 12;
    const size_t kCodeLength = 8;
    const size_t kMaxChallengeBody = 4 * 1024;
    const int64_t kDayMs = 86400 * 1000;

    Json::Value TextOrNull(const std::string& text)
    {
      return text.empty() ? Json::Value(Json::nullValue) : Json::Value(text);
    }

    // "ABCD-EFGH": easier to read out and type; the dash is ignored in answers.
    std::string FormatCode(const std::string& code)
    {
      return code.substr(0, kCodeLength / 2) + "-" + code.substr(kCodeLength / 2);
    }
  }

  RequestService::RequestService(const Configuration& configuration, Ledger& ledger,
                                 const IClock& clock) :
    configuration_(configuration),
    ledger_(ledger),
    clock_(clock)
  {
  }

  ApiError RequestService::StatusError(const std::string& status)
  {
    if (status == "expired")
      return ApiError(410, "request-expired", "This request link has expired; please ask the "
                                              "hospital for a new one");
    if (status == "used")
      return ApiError(410, "request-used", "This request link has been used as often as it "
                                           "allows; please ask the hospital for a new one");
    if (status == "revoked")
      return ApiError(410, "request-revoked", "This request link was withdrawn by the hospital");
    if (status == "locked")
      return ApiError(403, "request-locked", "This request link is locked after too many wrong "
                                             "answers; please contact the hospital");
    return ApiError(404, "not-found", "No such request link");
  }

  void RequestService::CheckMadeHere() const
  {
    if (configuration_.role == Role_Gateway)
    {
      throw ApiError(404, "not-found", "A gateway holds the request links that the Internal "
                                       "Orthanc pushes: create and revoke them there");
    }
  }

  RequestRecord RequestService::LookupToken(const std::string& token) const
  {
    RequestRecord record;
    if (token.empty() || !ledger_.Requests().LookupByTokenHash(record, Crypto::Sha256Hex(token)))
    {
      throw StatusError("unknown");
    }
    return record;
  }

  RequestRecord RequestService::LookupActive(const std::string& token) const
  {
    RequestRecord record = LookupToken(token);
    const std::string status = record.GetStatus(clock_.NowMs());
    if (status != "active")
    {
      throw StatusError(status);
    }
    return record;
  }

  Json::Value RequestService::Create(const void* body, size_t size, const std::string& by,
                                     const std::string& baseUrl)
  {
    CheckMadeHere();
    const RequestForm form = RequestForm::Parse(body, size, configuration_);
    if (!form.forwardTo.empty() && (!knownModality_ || !knownModality_(form.forwardTo)))
    {
      throw ApiError(400, "unknown-modality", "\"forwardTo\" must name an entry of DicomModalities");
    }
    // A link must reach the sender: an Internal's own address is inside the hospital.
    const std::string base = !configuration_.publicUrl.empty() ? configuration_.publicUrl
                             : configuration_.role == Role_Standalone ? baseUrl : "";
    if (base.empty())
    {
      throw ApiError(409, "public-url-required",
                     "Set Inbound.PublicUrl to the address senders reach the upload page at");
    }

    const std::string token = Crypto::RandomToken();
    const std::string code = form.challenge == ChallengeKind_Code ? Crypto::RandomCode(kCodeLength) : "";
    RequestRecord r;
    r.id = Crypto::RandomCode(kRequestIdLength);
    r.tokenHash = Crypto::Sha256Hex(token);
    r.createdAt = r.updatedAt = clock_.NowMs();
    r.expiresAt = r.createdAt + int64_t(form.expiresInDays) * kDayMs;
    r.createdBy = by;
    r.recipientId = form.recipientId;
    r.message = form.message;
    r.language = form.language;
    r.maxUploads = form.maxUploads;
    r.challenge = form.challenge;
    r.revision = 1;
    r.patient = form.patient;
    r.senderName = form.senderName;
    r.senderEmail = form.senderEmail;
    r.forwardTo = form.forwardTo;
    // The code and the token are never stored: only they open the expected patient.
    const std::string answer = form.challenge == ChallengeKind_BirthDate ? form.patient.birthDate
                                                                         : code;
    r.secret = RequestSecret::Seal({form.patient.name, form.patient.birthDate}, token, answer, r.id);
    ledger_.Requests().Create(r);
    LOG(INFO) << "Inbound: request " << r.id << " created by " << by;

    const std::string url = base + "/inbound/r/" + token;
    Json::Value json(Json::objectValue);
    json["id"] = r.id;
    json["url"] = url;
    if (!code.empty())
    {
      json["code"] = FormatCode(code);
    }
    json["expiresAt"] = FormatIso8601(r.expiresAt);
    json["mailed"] = false;
    for (const CreatedListener& listener : created_)
    {
      listener(r, url, json);
    }
    return json;
  }

  Json::Value RequestService::Describe(const RequestRecord& r) const
  {
    Json::Value json(Json::objectValue);
    json["id"] = r.id;
    json["status"] = r.GetStatus(clock_.NowMs());
    json["recipient"] = configuration_.DescribeRecipient(r.recipientId);
    json["patient"]["id"] = r.patient.id;
    json["patient"]["name"] = r.patient.name;
    json["patient"]["birthDate"] = r.patient.birthDate;
    json["sender"]["name"] = r.senderName;
    json["sender"]["email"] = r.senderEmail;
    json["message"] = r.message;
    json["language"] = r.language;
    json["challenge"] = EnumerationToString(r.challenge);
    json["createdAt"] = FormatIso8601(r.createdAt);
    json["createdBy"] = r.createdBy;
    json["expiresAt"] = FormatIso8601(r.expiresAt);
    json["maxUploads"] = Json::Int64(r.maxUploads);
    json["usedUploads"] = Json::Int64(r.usedUploads);
    json["remainingUploads"] = Json::Int64(r.GetRemainingUploads());
    json["failures"] = Json::Int64(r.failures);
    json["forwardTo"] = TextOrNull(r.forwardTo);
    for (const RecordListener& listener : described_)
    {
      listener(r, json);
    }
    return json;
  }

  Json::Value RequestService::List(unsigned int limit) const
  {
    Json::Value json(Json::objectValue);
    json["requests"] = Json::arrayValue;
    for (const RequestRecord& record : ledger_.Requests().List(limit))
    {
      json["requests"].append(Describe(record));
    }
    return json;
  }

  Json::Value RequestService::Show(const std::string& id) const
  {
    RequestRecord record;
    if (!ledger_.Requests().Lookup(record, id))
    {
      throw StatusError("unknown");
    }
    Json::Value json = Describe(record);
    json["uploads"] = Json::arrayValue;
    for (const std::string& uploadId : ledger_.Requests().ListUploads(id))
    {
      UploadRecord upload;
      if (ledger_.Uploads().Lookup(upload, uploadId))
      {
        Json::Value item(Json::objectValue);
        item["id"] = upload.id;
        item["state"] = EnumerationToString(upload.state);
        item["files"] = Json::Int64(upload.files);
        item["bytes"] = Json::Int64(upload.bytes);
        item["createdAt"] = FormatIso8601(upload.createdAt);
        json["uploads"].append(item);
      }
    }
    return json;
  }

  Json::Value RequestService::Revoke(const std::string& id, const std::string& by)
  {
    CheckMadeHere();
    RequestRecord record;
    if (!ledger_.Requests().Lookup(record, id))
    {
      throw StatusError("unknown");
    }
    Json::Value json(Json::objectValue);
    json["id"] = id;
    json["status"] = "revoked";
    if (ledger_.Requests().Revoke(id, clock_.NowMs(), by))
    {
      ledger_.Requests().Lookup(record, id);
      for (const RecordListener& listener : revoked_)
      {
        listener(record, json);
      }
    }
    return json;
  }

  Json::Value RequestService::DescribeLink(const std::string& token) const
  {
    const RequestRecord r = LookupActive(token);
    Json::Value json(Json::objectValue);
    json["recipient"] = configuration_.DescribeRecipient(r.recipientId);
    json["message"] = r.message;
    json["expiresAt"] = FormatIso8601(r.expiresAt);
    json["challenge"] = EnumerationToString(r.challenge);
    json["remainingUploads"] = Json::Int64(r.GetRemainingUploads());
    json["language"] = r.language;
    return json;
  }

  Json::Value RequestService::Challenge(const std::string& token, const void* body, size_t size,
                                        const std::string& ip)
  {
    const Json::Value json = JsonFields::ParseObject(body, size, kMaxChallengeBody);
    JsonFields::CheckKeys(json, "", {"answer"});
    if (!json["answer"].isString())
    {
      throw JsonFields::Invalid("answer", "must be a string (\"\" when nothing is asked)");
    }
    const std::string answer = JsonFields::Text(json, "answer", "answer", 64, false);
    // One answer of a request at a time, read, judged and recorded under its lock: answers
    // sent at once cannot be judged against a count that the others have not raised yet, so
    // no more than Requests.MaxFailures wrong ones are ever tried.
    const std::shared_ptr<std::shared_mutex> lock = challengeLocks_.Get(LookupToken(token).id);
    std::unique_lock<std::shared_mutex> exclusive(*lock);
    const RequestRecord r = LookupActive(token);

    std::string normalized;
    RequestSecret::Expected expected;
    const int64_t now = clock_.NowMs();
    if (!RequestSecret::NormalizeAnswer(normalized, r.challenge, answer) ||
        !RequestSecret::Open(expected, r.secret, token, normalized, r.id))
    {
      RequestRecord after;
      const unsigned int maxFailures = configuration_.requests.maxFailures;
      ledger_.Requests().RecordFailure(after, r.id, now, ip, maxFailures);
      if (wrongAnswer_)
      {
        wrongAnswer_(ip);
      }
      if (after.state == RequestState_Locked)
      {
        throw StatusError("locked");
      }
      const int64_t remaining = std::max<int64_t>(0, int64_t(maxFailures) - after.failures);
      throw ApiError(403, "challenge-failed", "The answer is not the one the hospital expects")
        .WithField("remainingAttempts", Json::Int64(remaining));
    }

    const std::string ticket = Crypto::RandomToken();
    const int64_t ticketExpiresAt =
      std::min(now + int64_t(configuration_.requests.ticketSeconds) * 1000, r.expiresAt);
    if (!ledger_.Requests().RecordSuccess(r.id, Crypto::Sha256Hex(ticket), ticketExpiresAt, now,
                                          ip))
    {
      throw StatusError(LookupToken(token).GetStatus(now));  // revoked meanwhile
    }
    Json::Value answerJson(Json::objectValue);
    answerJson["ticket"] = ticket;
    answerJson["ticketExpiresAt"] = FormatIso8601(ticketExpiresAt);
    answerJson["expected"]["patientName"] = expected.patientName;
    answerJson["expected"]["birthDate"] = expected.birthDate;
    return answerJson;
  }

  RequestRecord RequestService::CheckBinding(const std::string& token,
                                             const std::string& ticket) const
  {
    const RequestRecord r = LookupActive(token);
    if (ticket.empty() ||
        !ledger_.Requests().CheckTicket(r.id, Crypto::Sha256Hex(ticket), clock_.NowMs()))
    {
      throw ApiError(403, "challenge-required",
                     "Answer the request's challenge again before sending images");
    }
    return r;
  }
}
