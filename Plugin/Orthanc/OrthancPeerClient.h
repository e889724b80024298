#pragma once

#include "Peering/IPeerClient.h"

#include <orthanc/OrthancCPlugin.h>

#include <boost/noncopyable.hpp>

namespace Inbound
{
  // A gateway reached through Orthanc's own peer machinery (OrthancPluginCallPeerApi), so
  // that its URL, credentials, client certificate and timeouts live in "OrthancPeers".
  class OrthancPeerClient : public IPeerClient, public boost::noncopyable
  {
  private:
    OrthancPluginContext* context_;
    OrthancPluginPeers* peers_;
    uint32_t index_;
    std::string name_;

  public:
    // Throws, naming the peer, if "OrthancPeers" has no such entry.
    OrthancPeerClient(OrthancPluginContext* context, const std::string& name);

    ~OrthancPeerClient();

    const std::string& GetName() const override
    {
      return name_;
    }

    bool Call(PeerAnswer& answer, bool post, const std::string& uri, const std::string& body,
              unsigned int timeoutSeconds, uint64_t maxAnswerBytes) override;
  };
}
