// Builds the PS3.18 STOW-RS answer (DICOM JSON) to a partner's request from its parts' results.
// parts.
#include "Partners/StowResponse.h"

#include <algorithm>

namespace Inbound
{
  namespace
  {
    // A request refused for want of memory is worth sending again soon.
    const unsigned int kServerBusyRetryAfter = 30;

    Json::Value Element(const char* vr, const Json::Value& value)
    {
      Json::Value element(Json::objectValue);
      element["vr"] = vr;
      if (!value.isNull())
      {
        element["Value"] = Json::Value(Json::arrayValue);
        element["Value"].append(value);
      }
      return element;
    }

    Json::Value Uid(const std::string& uid)
    {
      return Element("UI", uid.empty() ? Json::Value() : Json::Value(uid));
    }

    Json::Value Sequence(const Json::Value& items)
    {
      Json::Value element(Json::objectValue);
      element["vr"] = "SQ";
      element["Value"] = items;
      return element;
    }

    bool CannotUnderstand(const StowItemResult& result)
    {
      return result.failureReason == StowFailureReason_CannotUnderstand ||
             result.failureReason == StowFailureReason_SopClassNotSupported;
    }
  } // namespace

  StowResponse StowResponse::Build(const std::vector<StowItemResult>& results,
                                   const std::string& requestError)
  {
    StowResponse response;
    if (results.empty() && requestError.empty())
    {
      response.status = 400;
      response.error = "no-instances";
      response.body = Json::Value(Json::objectValue);
      response.body["error"] = "no-instances";
      response.body["message"] = "The request holds no instance: nothing was stored";
      return response;
    }

    Json::Value referenced(Json::arrayValue), failed(Json::arrayValue), other(Json::arrayValue);
    size_t stored = 0, transient = 0, unreadable = 0;
    unsigned int retryAfter = 0;
    for (const StowItemResult& result : results)
    {
      Json::Value item(Json::objectValue);
      if (result.ok)
      {
        stored++;
        item["00081150"] = Uid(result.sopClass);
        item["00081155"] = Uid(result.sopInstance);
        item["00081190"] = Element("UR", Json::Value()); // no WADO-RS here: empty (type 2)
        referenced.append(item);
        continue;
      }
      const uint16_t reason = result.failureReason == StowFailureReason_None
                                  ? static_cast<uint16_t>(StowFailureReason_ProcessingFailure)
                                  : result.failureReason;
      item["00081197"] = Element("US", Json::Value(static_cast<Json::UInt>(reason)));
      if (result.transient)
      {
        transient++;
        retryAfter = std::max(retryAfter, result.retryAfter);
      }
      if (CannotUnderstand(result))
      {
        unreadable++;
      }
      if (result.sopInstance.empty())
      {
        other.append(item); // OtherFailuresSequence: no SOP instance to name
      }
      else
      {
        item["00081150"] = Uid(result.sopClass);
        item["00081155"] = Uid(result.sopInstance);
        failed.append(item);
      }
    }

    response.body = Json::Value(Json::objectValue);
    response.body["00080005"] = Element("CS", Json::Value("ISO_IR 192"));
    response.body["00081190"] = Element("UR", Json::Value());
    if (!referenced.empty())
    {
      response.body["00081199"] = Sequence(referenced);
    }
    if (!failed.empty())
    {
      response.body["00081198"] = Sequence(failed);
    }
    if (!other.empty())
    {
      response.body["0008119A"] = Sequence(other);
    }

    const size_t failures = results.size() - stored;
    if (!requestError.empty())
    {
      response.error = requestError;
      response.status = requestError == "unsupported-media-type" ? 415
                        : requestError == "too-large"            ? 413
                        : requestError == "too-many-parts"       ? 413
                        : requestError == "server-busy"          ? 503
                                                                 : 400;
      if (response.status == 503)
      {
        response.retryAfter = std::max(kServerBusyRetryAfter, retryAfter);
      }
    }
    else if (failures == 0)
    {
      response.status = 200;
    }
    else if (stored > 0)
    {
      response.status = 202;
    }
    else if (transient == failures)
    {
      response.status = 503;
      response.retryAfter = std::max(1u, retryAfter);
    }
    else if (unreadable == failures)
    {
      response.status = 400;
    }
    else
    {
      response.status = 409;
    }
    return response;
  }
} // namespace Inbound
