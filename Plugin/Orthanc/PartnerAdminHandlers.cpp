// The admin routes of partner sites: the list, one partner with its uploads, a new token.
#include "Orthanc/Handlers.h"

#include "PluginContext.h"

namespace Inbound
{
  namespace Handlers
  {
    void AdminPartners(RestCall& call)
    {
      call.AnswerJson(200, PluginContext::Get().GetPartnerStatus().List());
    }

    void AdminPartner(RestCall& call)
    {
      call.AnswerJson(200, PluginContext::Get().GetPartnerStatus().Show(call.GetGroup(0)));
    }

    void AdminPartnerToken(RestCall& call)
    {
      // Shown once: AnswerJson sends "Cache-Control: no-store", as for every JSON answer.
      const Json::Value answer = PluginContext::Get().GetPartnerStatus().MakeToken(
        AccessPolicy::GetAdminName(call.GetHeader("authorization")), GetClient(call).ip);
      call.AnswerJson(201, answer);
    }
  }
}
