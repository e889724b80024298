#pragma once

#include "Peering/IPeerClient.h"
#include "Toolbox/Time.h"
#include "Upload/UploadService.h"

#include <json/value.h>

#include <atomic>
#include <mutex>
#include <set>

namespace Inbound
{
  // The Internal role's side of one gateway: long-polls its outbox, pulls each upload's
  // items, checks every SHA-256 against the manifest, isolates and stores them exactly as a
  // Standalone server does, and only then acknowledges. Every step is recorded in the
  // ledger first, so a crash on either side resumes without loss or duplication; a mismatch
  // is never acknowledged.
  class Puller : public boost::noncopyable
  {
  private:
    UploadService& uploads_;
    Ledger& ledger_;
    IPeerClient& peer_;
    const IClock& clock_;
    unsigned int maxAttempts_;
    unsigned int parallelItems_;

    enum ItemOutcome
    {
      ItemOutcome_Stored,
      ItemOutcome_Unreachable,
      ItemOutcome_Refused
    };

    mutable std::mutex mutex_;
    int64_t lastContact_ = 0;
    int64_t lastFailure_ = 0;
    std::string lastError_;
    uint64_t failures_ = 0;
    uint64_t delivered_ = 0;
    unsigned int backlog_ = 0;
    std::set<std::string> held_;
    int64_t started_ = 0;
    unsigned int alertAfterSeconds_ = 0;
    bool alerted_ = false;  // an unreachable alert was raised for the current outage

    bool Get(Json::Value& json, const std::string& uri, unsigned int timeoutSeconds);
    bool Acknowledge(const std::string& id);
    ItemOutcome PullItem(const std::string& id, const std::string& sha256);
    bool Pull(const std::string& id);
    void Fail(const std::string& what);
    void Contact();

  public:
    Puller(UploadService& uploads, Ledger& ledger, IPeerClient& peer, const IClock& clock,
           unsigned int maxAttempts = 3, unsigned int parallelItems = 4);

    // One round: waits up to "waitSeconds" for the outbox, pulls what it lists. Returns
    // false when the gateway could not be reached (the caller backs off).
    bool RunOnce(unsigned int waitSeconds);

    // Until "stopping": rounds of long polls, with a growing pause while the gateway is down.
    void Loop(const std::atomic<bool>& stopping);

    Json::Value Describe() const;

    // Raises "alert-gateway-unreachable" once per outage longer than this (0: never).
    void SetAlertAfter(unsigned int seconds)
    {
      alertAfterSeconds_ = seconds;
    }
  };
}
