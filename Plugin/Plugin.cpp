// Orthanc Inbound: the plugin's entry points. Everything else lives in PluginContext.

#include "Orthanc/Routes.h"
#include "PluginContext.h"
#include "Toolbox/EmbeddedResources.h"
#include "Toolbox/Errors.h"

#include <Logging.h>

#include <orthanc/OrthancCPlugin.h>

#include <malloc.h>

namespace
{
  OrthancPluginErrorCode OnChange(OrthancPluginChangeType changeType,
                                  OrthancPluginResourceType resourceType, const char* resourceId)
  {
    // Only threads are started or stopped here; on-change callbacks must not block Orthanc.
    try
    {
      if (changeType == OrthancPluginChangeType_OrthancStarted)
      {
        Inbound::PluginContext::Get().Start();
      }
      else if (changeType == OrthancPluginChangeType_OrthancStopped)
      {
        Inbound::PluginContext::Get().Stop();
      }
    }
    catch (...)
    {
      LOG(ERROR) << "Inbound: " << Inbound::DescribeCurrentException();
    }
    return OrthancPluginErrorCode_Success;
  }
}

namespace
{
  void RefreshMetrics()
  {
    try
    {
      Inbound::PluginContext& context = Inbound::PluginContext::Get();
      for (const auto& metric : Inbound::ToMetrics(context.GetMetricsSnapshot()))
      {
        OrthancPluginSetMetricsValue(context.GetOrthanc(), metric.first.c_str(),
                                     static_cast<float>(metric.second),
                                     OrthancPluginMetricsType_Default);
      }
    }
    catch (...)
    {
      LOG(ERROR) << "Inbound: metrics: " << Inbound::DescribeCurrentException();
    }
  }
}

extern "C"
{
  ORTHANC_PLUGINS_API int32_t OrthancPluginInitialize(OrthancPluginContext* context)
  {
    // Never Orthanc::InitializeFramework() here: Orthanc owns DCMTK, OpenSSL and curl.
    Orthanc::Logging::InitializePluginContext(context);

    if (!OrthancPluginCheckVersion(context))
    {
      LOG(ERROR) << "Orthanc Inbound needs Orthanc 1.10.1 or newer";
      return -1;
    }
    OrthancPluginSetDescription(
      context, "Receive DICOM studies from anyone, through a browser, safely (Orthanc Inbound)");

    // Buffers of 1 MiB and more (request bodies, parts of big files, files being stored) are
    // mapped and given back to the system when freed. glibc's default raises this threshold
    // to the largest buffer freed so far (up to 32 MiB), after which such buffers stay in the
    // malloc arenas of the HTTP threads that used them: a big file's peak then added a part
    // per thread (doc/Configuration.md, "Memory per file").
    mallopt(M_MMAP_THRESHOLD, 1024 * 1024);

    try
    {
      Inbound::PluginContext::Create(context);
      Inbound::RegisterRoutes(context);
      OrthancPluginRegisterOnChangeCallback(context, OnChange);
      OrthancPluginRegisterRefreshMetricsCallback(context, RefreshMetrics);
      const Inbound::EmbeddedFile* explorer = Inbound::LookupExplorerFile("inbound-explorer.js");
      if (explorer != nullptr &&
          Inbound::PluginContext::Get().GetConfiguration().role != Inbound::Role_Gateway)
      {
        // The inbox in Orthanc Explorer: the sender panel on received studies, the admin page.
        const std::string script(reinterpret_cast<const char*>(explorer->data), explorer->size);
        OrthancPluginExtendOrthancExplorer(context, script.c_str());
      }
    }
    catch (...)
    {
      // Refusing to start is safer than serving a public endpoint configured wrongly.
      LOG(ERROR) << "Orthanc Inbound cannot start: " << Inbound::DescribeCurrentException();
      Inbound::PluginContext::Destroy();
      return -1;
    }
    return 0;
  }

  ORTHANC_PLUGINS_API void OrthancPluginFinalize()
  {
    Inbound::PluginContext::Destroy();
  }

  ORTHANC_PLUGINS_API const char* OrthancPluginGetName()
  {
    return "inbound";
  }

  ORTHANC_PLUGINS_API const char* OrthancPluginGetVersion()
  {
    return INBOUND_VERSION;
  }
}
