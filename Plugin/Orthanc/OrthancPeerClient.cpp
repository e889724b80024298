#include "OrthancPeerClient.h"

#include "Orthanc/PluginBuffer.h"

#include <OrthancException.h>

namespace Inbound
{
  OrthancPeerClient::OrthancPeerClient(OrthancPluginContext* context, const std::string& name) :
    context_(context),
    peers_(OrthancPluginGetPeers(context)),
    index_(0),
    name_(name)
  {
    const uint32_t count = (peers_ == nullptr ? 0 : OrthancPluginGetPeersCount(context_, peers_));
    for (uint32_t i = 0; i < count; i++)
    {
      const char* peer = OrthancPluginGetPeerName(context_, peers_, i);
      if (peer != nullptr && name == peer)
      {
        index_ = i;
        return;
      }
    }
    if (peers_ != nullptr)
    {
      OrthancPluginFreePeers(context_, peers_);
    }
    throw Orthanc::OrthancException(
      Orthanc::ErrorCode_BadFileFormat,
      "Configuration option \"Inbound.Gateways\": \"" + name +
        "\" is not an entry of Orthanc's \"OrthancPeers\"");
  }

  OrthancPeerClient::~OrthancPeerClient()
  {
    OrthancPluginFreePeers(context_, peers_);
  }

  bool OrthancPeerClient::Call(PeerAnswer& answer, bool post, const std::string& uri,
                               const std::string& body, unsigned int timeoutSeconds,
                               uint64_t maxAnswerBytes)
  {
    PluginBuffer content(context_), headers(context_);
    uint16_t status = 0;
    const char* keys[] = {"Content-Type"};
    const char* values[] = {"application/json"};
    const OrthancPluginErrorCode code = OrthancPluginCallPeerApi(
      context_, &content.buffer, &headers.buffer, &status, peers_, index_,
      post ? OrthancPluginHttpMethod_Post : OrthancPluginHttpMethod_Get, uri.c_str(),
      post ? 1 : 0, keys, values, body.data(), static_cast<uint32_t>(body.size()),
      timeoutSeconds);
    answer.status = status;
    answer.body = content.ToString();
    if (answer.body.size() > maxAnswerBytes)
    {
      answer.body.resize(maxAnswerBytes);
      answer.truncated = true;
    }
    // An HTTP error status is an answer; only a failed exchange is "unreachable".
    return code == OrthancPluginErrorCode_Success || status != 0;
  }
}
