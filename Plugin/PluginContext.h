// The running plugin: owns every component, built at start-up, its threads started and joined.
#pragma once

#include "Configuration.h"
#include "Http/AccessPolicy.h"
#include "Http/LoginLockout.h"
#include "Limits/LimitsGuard.h"
#include "Metrics/Metrics.h"
#include "Ledger/LeaseStore.h"
#include "Ledger/Ledger.h"
#include "Orthanc/OrthancStore.h"
#include "Orthanc/OrthancRest.h"
#include "Forward/Forwarder.h"
#include "Notify/MailTemplates.h"
#include "Notify/Notifier.h"
#include "Notify/Transports.h"
#include "Partners/PartnerStatus.h"
#include "Partners/PartnerWatch.h"
#include "Peering/CurlPeerClient.h"
#include "Peering/Outbox.h"
#include "Peering/Puller.h"
#include "Reconcile/CandidateFinder.h"
#include "Requests/RequestService.h"
#include "Requests/RequestSync.h"
#include "Staging/StagingArea.h"
#include "Upload/ArchiveSink.h"
#include "Toolbox/Time.h"
#include "Upload/AdminViews.h"
#include "Upload/UploadService.h"

#include <orthanc/OrthancCPlugin.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <thread>

namespace Inbound
{
  // Owns every component of the running plugin. Built once in OrthancPluginInitialize from
  // Orthanc's configuration; its background work starts on OrthancStarted and is joined on
  // OrthancStopped.
  class PluginContext : public boost::noncopyable
  {
  private:
    OrthancPluginContext* orthanc_;
    Configuration configuration_;
    SystemClock clock_;
    std::unique_ptr<AccessPolicy> access_;
    std::unique_ptr<Ledger> ledger_;
    std::unique_ptr<LimitsGuard> limits_;
    std::unique_ptr<LoginLockout> lockout_;
    std::unique_ptr<OrthancStore> store_;
    std::unique_ptr<StagingSealer> sealer_;  // Gateway with Inbound.Sealing.PublicKeys
    std::unique_ptr<IUploadSink> sink_;
    StagingArea* staging_ = nullptr;  // the sink, in the Gateway role
    ArchiveSink* archive_ = nullptr;  // the sink, in the Standalone and Internal roles
    std::thread metadataThread_;      // its MetadataWriter's loop
    std::unique_ptr<RequestService> requests_;
    std::unique_ptr<PartnerStatus> partnerStatus_;  // the admin's views of Inbound.Partners
    std::unique_ptr<PartnerWatch> partnerWatch_;    // their silence alert, run by the sweeper
    std::unique_ptr<UploadService> uploads_;
    std::unique_ptr<AdminViews> admin_;
    std::unique_ptr<Outbox> outbox_;  // Gateway role only
    std::vector<std::unique_ptr<CurlPeerClient>> peerClients_;  // Internal role only
    std::unique_ptr<InternalKeys> internalKeys_;                // Internal role only
    std::vector<std::unique_ptr<Puller>> pullers_;
    std::string pieceFolder_;  // Internal: where big items are gathered while pulled
    std::vector<std::thread> pullerThreads_;
    std::unique_ptr<RequestSync> requestSync_;  // Internal role only
    std::thread requestSyncThread_;
    std::unique_ptr<MailTemplates> templates_;
    std::unique_ptr<IMailTransport> mailTransport_;        // null without Inbound.Smtp.Host
    std::unique_ptr<IWebhookTransport> webhookTransport_;  // null without Inbound.Webhooks
    std::unique_ptr<Notifier> notifier_;
    std::thread notifierThread_;
    std::unique_ptr<OrthancRest> rest_;
    // Destroyed after the forwarder that uses it, before rest_ that its threads use.
    std::unique_ptr<CandidateFinder> finder_;  // null in the Gateway role
    std::unique_ptr<Forwarder> forwarder_;  // null in the Gateway role
    std::thread forwarderThread_;
    mutable std::mutex pullersMutex_;

    std::mutex stopMutex_;
    std::condition_variable stopSignal_;
    std::atomic<bool> stopping_;
    std::thread sweeper_;
    // This Orthanc among those of one ledger: "<Name or host>/<8 hex>" per start, and the
    // lease "sweeper" that makes it the one that runs the periodic work done once (expiry,
    // retention, purges, pruning, partner watch); see doc/Ledger.md, "Leases".
    std::string node_;
    std::unique_ptr<LeaseHolder> sweeperLease_;

    // The sweep's work that must run once for the ledger, on the node holding "sweeper".
    void SweepShared(int64_t now, int64_t& lastExpiry);

    PluginContext(OrthancPluginContext* orthanc, const Json::Value& orthancConfiguration);

    void SweepLoop();

    void SetUpNotifications(const Json::Value& orthancConfig);

    // Internal: the push of request links to the gateways (RequestSync), hooked to requests_.
    void SetUpRequestSync();

  public:
    // Reads, validates and applies the configuration; throws with a message for the admin.
    static void Create(OrthancPluginContext* orthanc);

    static PluginContext& Get();

    static void Destroy();

    void Start();

    void Stop();

    OrthancPluginContext* GetOrthanc() const
    {
      return orthanc_;
    }

    // See MetadataWriter::WaitForQueued (2 s at most); nothing to wait for on a Gateway.
    void WaitForOwedMetadata();

    const Configuration& GetConfiguration() const
    {
      return configuration_;
    }

    const AccessPolicy& GetAccess() const
    {
      return *access_;
    }

    LoginLockout& GetLockout()
    {
      return *lockout_;
    }

    LimitsGuard& GetLimits()
    {
      return *limits_;
    }

    UploadService& GetUploads()
    {
      return *uploads_;
    }

    AdminViews& GetAdmin()
    {
      return *admin_;
    }

    // Request links (doc/Requests.md).
    RequestService& GetRequests()
    {
      return *requests_;
    }

    // Partner sites as the admin sees them (doc/Api.md, "Admin routes").
    PartnerStatus& GetPartnerStatus()
    {
      return *partnerStatus_;
    }

    // The public keys a gateway seals with; null except on a sealing gateway.
    const StagingSealer* GetSealer() const
    {
      return sealer_.get();
    }

    // A gateway: what it holds sealed per key id (staged files and the fields of uploads not
    // yet delivered), and in "plain" what it holds unsealed (SealedHoldings::CountByKey).
    std::map<std::string, uint64_t> CountSealedHoldings(uint64_t& plain) const;

    // Null except in the Gateway role.
    Outbox* GetOutbox()
    {
      return outbox_.get();
    }

    Json::Value DescribeGateways() const;

    // The keys that open what gateways sealed; null except in the Internal role.
    InternalKeys* GetInternalKeys()
    {
      return internalKeys_.get();
    }

    // An admin releases an upload that the puller of "gateway" holds; false if not held.
    bool ReleaseHeldPull(const std::string& gateway, const std::string& uploadId,
                         const std::string& by);

    Notifier& GetNotifier()
    {
      return *notifier_;
    }

    // The reconciliation assistant (doc/Reconciliation.md); null in the Gateway role, which
    // keeps no studies.
    ICandidateFinder* GetCandidateFinder()
    {
      return finder_.get();
    }

    // Null in the Gateway role, which keeps no studies.
    Forwarder* GetForwarder()
    {
      return forwarder_.get();
    }

    // The figures published to Orthanc's Prometheus metrics (/tools/metrics-prometheus).
    MetricsSnapshot GetMetricsSnapshot();

    const std::atomic<bool>& GetStopping() const
    {
      return stopping_;
    }

    // This Orthanc's id among those of the ledger (MakeNodeId).
    const std::string& GetNode() const
    {
      return node_;
    }
  };
}
