/* Test-only Orthanc plugin: GET /redteam/plugin-token answers a Bearer token that Orthanc core accepts in place of the filter (fact F6, doc/Security.md). */
#include <orthanc/OrthancCPlugin.h>

#include <string.h>

static OrthancPluginContext* context_ = NULL;

static OrthancPluginErrorCode AnswerToken(OrthancPluginRestOutput* output, const char* url,
                                          const OrthancPluginHttpRequest* request)
{
  (void) url;
  (void) request;
  char* token = OrthancPluginGenerateRestApiAuthorizationToken(context_);
  if (token == NULL)
  {
    return OrthancPluginErrorCode_InternalError;
  }
  OrthancPluginAnswerBuffer(context_, output, token, (uint32_t) strlen(token), "text/plain");
  OrthancPluginFreeString(context_, token);
  return OrthancPluginErrorCode_Success;
}

ORTHANC_PLUGINS_API int32_t OrthancPluginInitialize(OrthancPluginContext* context)
{
  context_ = context;
  OrthancPluginRegisterRestCallback(context, "/redteam/plugin-token", AnswerToken);
  return 0;
}

ORTHANC_PLUGINS_API void OrthancPluginFinalize(void)
{
}

ORTHANC_PLUGINS_API const char* OrthancPluginGetName(void)
{
  return "redteam-token";
}

ORTHANC_PLUGINS_API const char* OrthancPluginGetVersion(void)
{
  return "1.0";
}
