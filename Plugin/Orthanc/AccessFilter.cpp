// The access filter: Orthanc asks it about every request before reading its body.
#include "Orthanc/AccessFilter.h"

#include "Orthanc/RequestState.h"
#include "Orthanc/RestCall.h"
#include "PluginContext.h"

#include <strings.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>

namespace Inbound
{
  namespace
  {
    int64_t ParseContentLength(const char* value)
    {
      char* end = nullptr;
      errno = 0;
      const long long parsed = strtoll(value, &end, 10);
      if (errno != 0 || end == value || *end != '\0' || parsed < 0)
      {
        return INT64_MAX;  // unreadable: treated as too large
      }
      return parsed;
    }

    Offence OffenceOf(AccessVerdict verdict)
    {
      switch (verdict)
      {
        case AccessVerdict_Banned:
        case AccessVerdict_Handler:
          return Offence_None;  // a banned client is refused, not counted again
        default:
          return Offence_Refusal;
      }
    }
  }

  int32_t AccessFilter(OrthancPluginHttpMethod method, const char* uri, const char* ip,
                       uint32_t headersCount, const char* const* headersKeys,
                       const char* const* headersValues, uint32_t getArgumentsCount,
                       const char* const* getArgumentsKeys, const char* const* getArgumentsValues)
  {
    try
    {
      ReleaseReservation();
      ReleasePartnerStream();
      SetCurrentPartnerId("");
      AccessRequest request;
      request.method = ToHttpMethod(method);
      request.uri = uri;
      std::string forwardedFor;
      int64_t contentLength = -1;
      bool chunked = false;
      for (uint32_t i = 0; i < headersCount; i++)
      {
        if (strcasecmp(headersKeys[i], "authorization") == 0)
          request.authorization = headersValues[i];
        else if (strcasecmp(headersKeys[i], "x-forwarded-for") == 0)
          forwardedFor = headersValues[i];
        else if (strcasecmp(headersKeys[i], "content-length") == 0)
          contentLength = ParseContentLength(headersValues[i]);
        else if (strcasecmp(headersKeys[i], "transfer-encoding") == 0)
          chunked = true;
        else
          request.facts.AddHeader(headersKeys[i], headersValues[i]);
      }
      for (uint32_t i = 0; i < getArgumentsCount; i++)
      {
        request.facts.AddArgument(getArgumentsKeys[i]);
      }
      PluginContext& context = PluginContext::Get();
      const AccessPolicy& access = context.GetAccess();
      LimitsGuard& limits = context.GetLimits();
      SetCurrentClientAddress(ResolveClientAddress(access.GetTrustedProxies(), ip, forwardedFor));
      const std::string& client = GetCurrentClientAddress();
      request.client = client;
      request.hasBody = (request.method == Orthanc::HttpMethod_Post ||
                         request.method == Orthanc::HttpMethod_Put || contentLength > 0 || chunked);
      // Orthanc reads a body by its Content-Length whenever there is one, whatever
      // Transfer-Encoding says (it allocates that length at once): the caps must see it.
      const bool streamed = chunked && contentLength < 0;
      request.bodyBytes = streamed ? -1 : contentLength;
      request.banned = limits.GetBans().IsBanned(client);

      const AccessDecision decision = access.Decide(request);
      switch (decision.verdict)
      {
        case AccessVerdict_Handler:
          if (request.facts.methodOverride)
          {
            // The handler answers 400 (JSON); audited and counted here, for every route.
            limits.RecordRefusal(client, 400, "method-override", uri,
                                 Offence_Refusal);
          }
          return 1;
        case AccessVerdict_Admin:
          if (request.method == Orthanc::HttpMethod_Get &&
              request.uri.find("/metadata") != std::string::npos)
          {
            // Metadata are written just after a file's answer (doc/Ledger.md, "Metadata
            // owed"): a reader of Orthanc's REST API sees those of every file answered so far.
            context.WaitForOwedMetadata();
          }
          return 1;  // admins are not subject to the public side's limits
        case AccessVerdict_Puller:
          return 1;  // nor are pullers
        case AccessVerdict_Partner:
          // Each stream holds an HTTP thread while the partner sends (doc/Api.md "Partner routes").
          if (!AdmitPartnerStream(decision.partner->id, decision.partner->limits.maxStreams))
          {
            limits.RecordRefusal(client, 403, "partner-busy", uri, Offence_None);
            return 0;
          }
          {
            // Its memory, in use from now on: released with the stream (Routes.cpp).
            const Admission admission = limits.AdmitPartnerBody(
              decision.partner->id, streamed ? -1 : contentLength, GetCurrentReservation());
            if (admission != Admission_Allowed)
            {
              ReleasePartnerStream();
              limits.RecordRefusal(client, 403, EnumerationToString(admission), uri, Offence_None);
              return 0;
            }
            StartReservation();
          }
          SetCurrentPartnerId(decision.partner->id);
          return 1;
        case AccessVerdict_Public:
          break;
        default:
          limits.RecordRefusal(client, 403, decision.refusal.empty() ?
                               std::string(EnumerationToString(decision.verdict)) : decision.refusal,
                               uri, OffenceOf(decision.verdict));
          if (decision.failedLogin)
          {
            context.GetLockout().RecordFailure(client);
          }
          return 0;
      }

      const bool isFile = (request.method == Orthanc::HttpMethod_Put && AccessPolicy::IsFileRoute(uri));
      const bool isPart = (isFile && AccessPolicy::IsPartRoute(uri));
      const Admission admission =
        limits.AdmitBody(client, request.hasBody, isFile && !isPart, chunked ? -1 : contentLength,
                         GetCurrentReservation(), isPart);
      if (admission == Admission_Allowed)
      {
        return 1;
      }
      limits.RecordRefusal(
        client, 403, EnumerationToString(admission), uri,
        admission == Admission_Banned ? Offence_None :
        (admission == Admission_ClientBusy || admission == Admission_ServerBusy) ? Offence_LimitHit
                                                                                : Offence_Refusal);
      return 0;
    }
    catch (...)
    {
      return 0;  // fail closed: a filter that cannot decide denies
    }
  }
}
