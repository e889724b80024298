// Orthanc's chunked REST callbacks of the partner STOW-RS routes (doc/Api.md "Partner STOW-RS").
#pragma once

#include "Configuration.h"
#include "Partners/StowItemResult.h"

#include <orthanc/OrthancCPlugin.h>

#include <functional>
#include <memory>
#include <string>

namespace Inbound
{
  namespace PartnerHandlers
  {
    // Opens the intake of one request for "partner" from "client" (the upload service); may
    // return null (refused: 503 server-busy). Set once at start-up, before the routes serve;
    // while none is set the routes take the body and answer 503 not-ready, storing nothing.
    typedef std::function<std::unique_ptr<IPartnerSession>(const PartnerSettings& partner,
                                                           const std::string& client)>
        SessionOpener;

    void SetSessionOpener(const SessionOpener& opener);

    // For OrthancPluginRegisterChunkedRestCallback (POST only). None of them fails: a refusal
    // is decided in Factory and answered in Execute (doc/Api.md "Partner STOW-RS").
    OrthancPluginErrorCode Factory(OrthancPluginServerChunkedRequestReader** reader,
                                   const char* url, const OrthancPluginHttpRequest* request);

    OrthancPluginErrorCode AddChunk(OrthancPluginServerChunkedRequestReader* reader,
                                    const void* data, uint32_t size);

    OrthancPluginErrorCode Execute(OrthancPluginServerChunkedRequestReader* reader,
                                   OrthancPluginRestOutput* output);

    void Finalize(OrthancPluginServerChunkedRequestReader* reader);
  } // namespace PartnerHandlers
} // namespace Inbound
