// The Internal's HTTP client to a gateway on libcurl: no redirects, capped answers, no trickling.
#pragma once

#include "Peering/IPeerClient.h"
#include "Peering/PeerSettings.h"

#include <boost/noncopyable.hpp>

#include <atomic>
#include <mutex>
#include <vector>

namespace Inbound
{
  // The Internal's own HTTP client to one gateway, on libcurl. It reaches the gateway as
  // Orthanc's peer client would (same URL, credentials, headers, client certificate, CA,
  // proxy), but trusts it no more than the Internet (issue 14): it never follows a redirect
  // (a gateway's 302 must not make the inside call an address of the gateway's choosing),
  // speaks only http and https, stops reading an answer at the caller's cap instead of
  // buffering it whole, gives up on a gateway that trickles bytes, and asks for no
  // compressed answers (no decompression bomb). Calls may run in parallel: each has its own
  // curl handle. A handle whose call ended well is kept for the next call, with its connection
  // to the gateway open (keep-alive, TLS session): a pull fetches hundreds of items one after
  // the other on each of its workers, and a new connection per item cost the gateway and the
  // Internal a TCP (and TLS) set-up each. A call that failed or was cut short drops its handle
  // and its connection.
  class CurlPeerClient : public IPeerClient, public boost::noncopyable
  {
  private:
    PeerSettings settings_;
    const std::atomic<bool>* abort_;
    std::mutex idleMutex_;      // guards idle_; innermost, never held during a call
    std::vector<void*> idle_;   // CURL handles of calls that ended well, at most kMaxIdle

  public:
    // A handle for one call: an idle one, else a new one (null if libcurl cannot make one).
    void* TakeHandle();

    // After a call: kept for the next one if it ended well (and fewer than kMaxIdle are
    // kept), else cleaned up with its connection.
    void GiveBack(void* handle, bool reusable);

    ~CurlPeerClient() override;

    // "abort" (may be null) interrupts a call in progress when it turns true, so that
    // stopping Orthanc does not wait for a slow gateway.
    CurlPeerClient(const PeerSettings& settings, const std::atomic<bool>* abort);

    const std::string& GetName() const override
    {
      return settings_.name;
    }

    const PeerSettings& GetSettings() const
    {
      return settings_;
    }

    bool Call(PeerAnswer& answer, bool post, const std::string& uri, const std::string& body,
              unsigned int timeoutSeconds, uint64_t maxAnswerBytes) override;
  };
}
