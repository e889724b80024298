// Builds the plugin's components for its role from Orthanc's configuration; starts and stops them.
// Over 500 lines: the one place that builds and wires every component of the three roles.
#include "PluginContext.h"

#include "Http/SelfCheck.h"
#include "Limits/SenderKey.h"
#include "Reconcile/ReconcileSetup.h"
#include "Orthanc/PartnerHandlers.h"
#include "Staging/SealedHoldings.h"
#include "Toolbox/Errors.h"
#include "Toolbox/Json.h"
#include "Toolbox/RepeatedFailureLog.h"

#include <Logging.h>
#include <OrthancException.h>

#include <boost/filesystem.hpp>

#include <algorithm>
#include <chrono>
#include <limits>

#include <dlfcn.h>

namespace Inbound
{
  namespace
  {
    std::unique_ptr<PluginContext> instance_;

    Json::Value ReadOrthancConfiguration(OrthancPluginContext* orthanc)
    {
      char* text = OrthancPluginGetConfiguration(orthanc);
      if (text == nullptr)
      {
        throw Orthanc::OrthancException(Orthanc::ErrorCode_InternalError,
                                        "Cannot read Orthanc's configuration");
      }
      Json::Value configuration;
      const bool ok = JsonText::ParseStrict(configuration, text, strlen(text));
      OrthancPluginFreeString(orthanc, text);
      if (!ok || !configuration.isObject())
      {
        throw Orthanc::OrthancException(Orthanc::ErrorCode_BadFileFormat,
                                        "Orthanc's configuration is not a JSON object");
      }
      return configuration;
    }

    std::map<std::string, std::string> ReadUsers(const Json::Value& configuration)
    {
      std::map<std::string, std::string> users;
      const Json::Value& registered = configuration["RegisteredUsers"];
      if (registered.isObject())
      {
        for (const std::string& name : registered.getMemberNames())
        {
          if (registered[name].isString())
          {
            users[name] = registered[name].asString();
          }
        }
      }
      return users;
    }

    // doc/Architecture.md, fact 11: user metadata must be declared by the admin; say which is
    // missing.
    void CheckUserMetadata(const Json::Value& configuration, const MetadataNames& names)
    {
      const Json::Value& declared = configuration["UserMetadata"];
      std::string missing;
      for (const std::string& name :
           {names.upload, names.sender, names.originalPatientId, names.sha256})
      {
        if (!declared.isObject() || !declared.isMember(name))
        {
          missing += (missing.empty() ? "" : ", ") + name;
        }
      }
      if (!missing.empty())
      {
        throw Orthanc::OrthancException(
          Orthanc::ErrorCode_BadFileFormat,
          "Declare these names in Orthanc's \"UserMetadata\" (numbers from 1024 to 65535), "
          "for example \"UserMetadata\" : { \"InboundUpload\" : 4201, \"InboundSender\" : 4202, "
          "\"InboundOriginalPatientID\" : 4203, \"InboundSha256\" : 4204 }; missing: " + missing);
      }
    }

    // The file this plugin was loaded from, to tell it apart from the other plugins.
    std::string GetOwnLibraryPath()
    {
      Dl_info info;
      if (dladdr(reinterpret_cast<void*>(&GetOwnLibraryPath), &info) != 0 && info.dli_fname != nullptr)
      {
        return info.dli_fname;
      }
      return "";
    }

    // Where Orthanc reads relative paths of its configuration from.
    std::string GetConfigurationDirectory(OrthancPluginContext* orthanc)
    {
      char* path = OrthancPluginGetConfigurationPath(orthanc);
      if (path == nullptr)
      {
        return "";
      }
      boost::filesystem::path result(path);
      OrthancPluginFreeString(orthanc, path);
      boost::system::error_code ec;
      return boost::filesystem::is_directory(result, ec) ? result.string()
                                                         : result.parent_path().string();
    }
  }

  PluginContext::PluginContext(OrthancPluginContext* orthanc, const Json::Value& orthancConfig) :
    orthanc_(orthanc),
    configuration_(Configuration::Parse(orthancConfig["Inbound"], orthancConfig)),
    stopping_(false),
    node_(MakeNodeId(orthancConfig.get("Name", "").isString()
                       ? orthancConfig.get("Name", "").asString() : ""))
  {
    for (const std::string& unknown : configuration_.unknownOptions)
    {
      LOG(WARNING) << "Inbound: unknown configuration option \"" << unknown << "\" is ignored";
    }
    CheckUserMetadata(orthancConfig, configuration_.metadata);
    // C-FIND answers must come back in UTF-8 (doc/Reconciliation.md, "Configuration").
    for (const std::string& warning : ReconcileSetup::Check(orthancConfig, configuration_))
    {
      LOG(WARNING) << "Inbound: " << warning;
    }

    std::vector<std::string> otherPlugins;
    if (configuration_.role == Role_Gateway)
    {
      otherPlugins = ListOtherPlugins(orthancConfig, GetOwnLibraryPath(),
                                      GetConfigurationDirectory(orthanc));
    }
    const std::vector<std::string> unsafe =
      FindUnsafeSettings(orthancConfig, configuration_, otherPlugins);
    if (!unsafe.empty())
    {
      for (const std::string& finding : unsafe)
      {
        LOG(ERROR) << "Inbound: unsafe Orthanc setting " << finding;
      }
      throw Orthanc::OrthancException(Orthanc::ErrorCode_BadFileFormat,
                                      "Orthanc is configured unsafely for a public endpoint: " +
                                        unsafe.front());
    }
    const std::map<std::string, std::string> users = ReadUsers(orthancConfig);
    if (users.empty())
    {
      LOG(WARNING) << "Inbound: \"RegisteredUsers\" is empty: Orthanc Explorer, Orthanc's REST "
                   << "API and the admin routes are closed to everybody";
    }

    AddressRules trusted;
    try
    {
      trusted = AddressRules(configuration_.trustedProxies);
    }
    catch (const std::invalid_argument& e)
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_BadFileFormat,
                                      std::string("Configuration option \"Inbound.TrustedProxies\": ") +
                                        e.what());
    }
    AddressRules adminNetworks;
    try
    {
      adminNetworks = AddressRules(configuration_.adminNetworks);
    }
    catch (const std::invalid_argument& e)
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_BadFileFormat,
                                      std::string("Configuration option \"Inbound.AdminNetworks\": ") +
                                        e.what());
    }
    try
    {
      access_.reset(new AccessPolicy(users, trusted, configuration_.pullers, adminNetworks,
                                     configuration_.role, configuration_.partners));
    }
    catch (const std::invalid_argument& e)
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_BadFileFormat,
                                      std::string("Configuration option \"Inbound.Pullers\": ") +
                                        e.what());
    }

    // Resolved by Configuration: the configured one, or beside Orthanc's own index.
    const std::string directory = configuration_.dataDirectory;
    boost::filesystem::create_directories(directory);
    ledger_.reset(new Ledger(configuration_.ledger));
    LOG(WARNING) << "Inbound: role " << EnumerationToString(configuration_.role)
                 << ", data in " << directory << ", ledger " << DescribeLedger(configuration_.ledger)
                 << ", this Orthanc is \"" << node_ << "\"";
    if (ledger_->GetDatabase().GetDialect() == LedgerDialect_SQLite)
    {
      // A SQLite ledger is one Orthanc's: the leases left in it are its previous process's,
      // and it takes its work up again at once rather than after Inbound.LeaseSeconds.
      LeaseStore(ledger_->GetDatabase()).Clear();
      ledger_->Notifications().ReleaseClaims("");
      ledger_->Forwards().ReleaseClaims("");
    }
    sweeperLease_.reset(new LeaseHolder(ledger_->GetDatabase(), "sweeper", node_,
                                        int64_t(configuration_.leaseSeconds) * 1000));

    std::vector<std::string> watched = {directory};
    if (configuration_.role != Role_Gateway)
    {
      watched.push_back(orthancConfig.get("StorageDirectory", "OrthancStorage").asString());
    }
    limits_.reset(new LimitsGuard(configuration_, *ledger_, clock_, watched));
    limits_->UpdateMonitor();  // a full disk refuses data from the first request on
    // On a PostgreSQL ledger, the key of every Orthanc sharing it (ledger_meta).
    const std::string quotaSecret = SenderKey::LoadOrCreateSecret(
      *ledger_, (boost::filesystem::path(directory) / "quota-key").string());
    limits_->SetSenderSecret(quotaSecret);
    SenderKey::UpgradeLedger(*ledger_, quotaSecret);
    lockout_.reset(new LoginLockout(limits_->GetBans(), clock_, configuration_.autoBan.failedLogins,
                                    configuration_.autoBan.failedLoginWindowSeconds,
                                    configuration_.autoBan.banSeconds,
                                    configuration_.limits.ipv6PrefixLength));

    store_.reset(new OrthancStore(orthanc));
    if (configuration_.role == Role_Gateway)
    {
      // A gateway keeps the original bytes outside Orthanc until the inside pulls them, sealed
      // for the Internal when it has its public key (doc/Operations.md, "Sealed staging").
      sealer_ = StagingSealer::Load(configuration_.sealing.publicKeys,
                                    GetConfigurationDirectory(orthanc));
      StagingSealer::LogState(sealer_.get());
      staging_ = new StagingArea((boost::filesystem::path(directory) / "staging").string(),
                                 sealer_.get(), configuration_.upload.partBytes);
      if (sealer_)
      {
        SealedHoldings::SealWhatIsPlain(*sealer_, *ledger_, *staging_);
      }
      sink_.reset(staging_);
    }
    else
    {
      archive_ = new ArchiveSink(configuration_, *ledger_, *store_, clock_);
      sink_.reset(archive_);
    }
    requests_.reset(new RequestService(configuration_, *ledger_, clock_));
    // A wrong challenge answer counts for the address like a wrong password.
    requests_->SetWrongAnswerCounter([this](const std::string& ip) { lockout_->RecordFailure(ip); });
    uploads_.reset(new UploadService(configuration_, *ledger_, *sink_, *limits_, clock_));
    uploads_->SetRequests(requests_.get());
    // Parts of big files (doc/Api.md, "Files in parts"): encrypted with a key of this process
    // on a sealing gateway, where the parts of an earlier process are deleted now.
    uploads_->SetPartStore(std::unique_ptr<PartStore>(
      new PartStore((boost::filesystem::path(directory) / "parts").string(), sealer_ != nullptr,
                    configuration_.upload.partBytes)));
    if (configuration_.role != Role_Internal)
    {
      // Partner sites' STOW-RS requests go into the upload service (doc/Api.md, "Partner
      // STOW-RS"); set before the routes serve.
      PartnerHandlers::SetSessionOpener(
        [this](const PartnerSettings& partner, const std::string& client) {
          ClientInfo info;
          info.ip = client;
          return uploads_->OpenPartnerSession(partner, info);
        });
    }
    admin_.reset(new AdminViews(*ledger_, *uploads_));
    // A partner that never called is silent from the start on (doc/Configuration.md).
    partnerStatus_.reset(new PartnerStatus(configuration_.partners, *ledger_, clock_, clock_.NowMs()));
    partnerWatch_.reset(new PartnerWatch(configuration_.partners, *ledger_, clock_, clock_.NowMs()));
    if (configuration_.role == Role_Internal)
    {
      // An unreadable key, or a missing or malformed gateway entry (doc/Configuration.md, "A
      // gateway in OrthancPeers"), stops the start-up here, naming the option.
      const std::string configDirectory = GetConfigurationDirectory(orthanc);
      internalKeys_ = InternalKeys::Load(configuration_.sealing, directory, configDirectory);
      // What a pull in pieces left when the process died: fetched again from the gateway.
      pieceFolder_ = (boost::filesystem::path(directory) / "pulls").string();
      boost::filesystem::remove_all(pieceFolder_);
      for (const std::string& gateway : configuration_.gateways)
      {
        peerClients_.emplace_back(new CurlPeerClient(
          PeerSettings::Parse(orthancConfig, gateway, configDirectory), &stopping_));
      }
      SetUpRequestSync();
    }
    SetUpNotifications(orthancConfig);
    // A new request's link mail goes straight into the notification queue, never through the
    // audit trail, which must not hold the link (doc/Requests.md); a revoked request's
    // unsent link mail is dropped.
    requests_->AddCreatedListener(
      [this](const RequestRecord& record, const std::string& url, Json::Value& answer) {
        try
        {
          answer["mailed"] = notifier_->QueueRequestLink(record, url);
        }
        catch (...)
        {
          LOG(ERROR) << "Inbound: the link mail of request " << record.id
                     << " cannot be queued: " << DescribeCurrentException();
        }
      });
    requests_->AddRevokedListener([this](const RequestRecord& record, Json::Value&) {
      notifier_->CancelRequestLinks(record);
    });
    if (configuration_.role != Role_Gateway)
    {
      rest_.reset(new OrthancRest(orthanc));
      finder_.reset(new CandidateFinder(configuration_, *ledger_, *rest_, clock_));
      forwarder_.reset(new Forwarder(configuration_, *ledger_, *rest_, *finder_, clock_));
      forwarder_->SetNode(node_, configuration_.leaseSeconds);
      requests_->SetModalityCheck([this](const std::string& name) {
        const std::vector<std::string> modalities = forwarder_->ListModalities();
        return std::find(modalities.begin(), modalities.end(), name) != modalities.end();
      });
      const Json::Value& modalities = orthancConfig["DicomModalities"];
      for (const ForwardRule& rule : configuration_.autoForward)
      {
        if (!modalities.isObject() || !modalities.isMember(rule.modality))
        {
          LOG(WARNING) << "Inbound: Inbound.AutoForward names \"" << rule.modality
                       << "\", which is not in DicomModalities (unless it is in the database)";
        }
      }
    }
    if (staging_ != nullptr)
    {
      outbox_.reset(new Outbox(configuration_, *ledger_, *staging_, clock_));
      if (configuration_.pullers.empty())
      {
        LOG(WARNING) << "Inbound: no \"Inbound.Pullers\" configured: nothing can pull the "
                     << "uploads of this gateway";
      }
    }
    uploads_->AddCompletionListener([this] {
      if (notifier_)
        notifier_->Wake();
      if (forwarder_)
        forwarder_->Wake();
      if (outbox_)
        outbox_->Wake();
    });
  }

  void PluginContext::SetUpRequestSync()
  {
    // The Internal pushes its request links out over the peer channel it already opens
    // (doc/Requests.md, "Gateways"): at once when created or revoked, and what a gateway has
    // not confirmed at the rounds of its own thread.
    std::vector<IPeerClient*> gateways;
    for (auto& peer : peerClients_)
    {
      gateways.push_back(peer.get());
    }
    requestSync_.reset(new RequestSync(*ledger_, clock_, gateways));
    requests_->AddCreatedListener([this](const RequestRecord& record, const std::string&,
                                         Json::Value& answer) {
      answer["gateways"] = requestSync_->Publish(record);
    });
    requests_->AddRevokedListener([this](const RequestRecord& record, Json::Value& answer) {
      answer["gateways"] = requestSync_->Publish(record);
    });
    requests_->AddDescribeListener([this](const RequestRecord& record, Json::Value& json) {
      json["gateways"] = requestSync_->Describe(record);
    });
  }

  void PluginContext::SetUpNotifications(const Json::Value& orthancConfig)
  {
    NotificationSettings& settings = configuration_.notifications;
    templates_.reset(new MailTemplates(settings.templates));
    templates_->Check();  // a broken template of the admin's stops Orthanc now, not at 3 a.m.

    if (!configuration_.smtp.host.empty())
    {
      mailTransport_.reset(new CurlMailTransport(configuration_.smtp, &stopping_));
      if (configuration_.smtp.security == SmtpSecurity_None && !configuration_.smtp.password.empty())
      {
        LOG(WARNING) << "Inbound: the SMTP password is sent without encryption "
                     << "(Inbound.Smtp.Security is \"None\")";
      }
      if (configuration_.role != Role_Gateway && settings.orthancUrl.empty() &&
          settings.viewerUrl.find("{OrthancUrl}") != std::string::npos)
      {
        // Links need the address radiologists reach this Orthanc at; guess the local one.
        settings.orthancUrl =
          "http://localhost:" + std::to_string(orthancConfig.get("HttpPort", 8042).asUInt());
        LOG(WARNING) << "Inbound: Inbound.Notifications.OrthancUrl is empty: the links in "
                     << "e-mails point to " << settings.orthancUrl;
      }
      if (configuration_.role == Role_Gateway && settings.mailRecipient)
      {
        LOG(WARNING) << "Inbound: a gateway never mails recipients (no viewer here); the "
                     << "internal Orthanc does once it has pulled the upload";
      }
    }
    else if (!settings.adminEmails.empty() || settings.senderReceipt)
    {
      LOG(WARNING) << "Inbound: Inbound.Smtp.Host is empty: no e-mail is sent";
    }
    if (!configuration_.webhooks.empty())
    {
      webhookTransport_.reset(
        new CurlWebhookTransport(configuration_.smtp.timeoutSeconds, &stopping_));
    }
    notifier_.reset(new Notifier(configuration_, *ledger_, clock_, *templates_,
                                 mailTransport_.get(), webhookTransport_.get()));
    notifier_->SetNode(node_, configuration_.leaseSeconds);
  }

  void PluginContext::Create(OrthancPluginContext* orthanc)
  {
    instance_.reset(new PluginContext(orthanc, ReadOrthancConfiguration(orthanc)));
  }

  PluginContext& PluginContext::Get()
  {
    if (!instance_)
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_BadSequenceOfCalls);
    }
    return *instance_;
  }

  void PluginContext::Destroy()
  {
    if (instance_)
    {
      instance_->Stop();
      instance_.reset();
    }
  }

  void PluginContext::SweepShared(int64_t now, int64_t& lastExpiry)
  {
    // Each second: a quiet partner upload completes within about a second of its partner's
    // QuietSeconds.
    uploads_->CompleteQuietPartnerUploads();
    partnerWatch_->Tick();  // every minute at most (Partners/PartnerWatch.h)
    const int64_t expiryMs = int64_t(configuration_.upload.expiryCheckIntervalSeconds) * 1000;
    if (now - lastExpiry >= expiryMs)
    {
      lastExpiry = now;
      uploads_->Sweep();
      if (forwarder_)
      {
        for (const std::string& id : forwarder_->ListUploadsPastRetention())
        {
          uploads_->Delete(id, ClientInfo(), "retention: completed more than " +
                             std::to_string(configuration_.retention.days) + " days ago");
          LOG(INFO) << "Inbound: upload " << id << " removed (retention)";
        }
      }
      if (outbox_)
      {
        outbox_->CheckRetention();
      }
      // Spent tickets go; a request that expired unused is kept as long as the audit
      // trail that mentions it (Audit.RetentionDays; 0: kept).
      const int64_t keepMs = int64_t(configuration_.audit.retentionDays) * 86400000;
      ledger_->Requests().Prune(now, configuration_.audit.retentionDays == 0
                                       ? std::numeric_limits<int64_t>::max() / 2 : keepMs);
    }
  }

  void PluginContext::SweepLoop()
  {
    // One tick a second: buffered refusals are written; expiry and the data monitor run at
    // their own intervals. What must run once for the ledger runs on the Orthanc that holds
    // the lease "sweeper" (the only one on a SQLite ledger); the rest on each.
    const int64_t monitorMs = int64_t(configuration_.dataMonitor.checkIntervalSeconds) * 1000;
    // A ban or its lift on another Orthanc of a shared ledger applies here within this.
    const int64_t banRefreshMs = 3000;
    const bool shared = ledger_->GetDatabase().GetDialect() != LedgerDialect_SQLite;
    int64_t lastExpiry = 0, lastMonitor = 0, lastBanRefresh = 0;
    RepeatedFailureLog failures;  // the same failure again and again: logged once a minute
    while (!stopping_)
    {
      const int64_t now = clock_.NowMs();
      try
      {
        limits_->Flush();
        if (shared && now - lastBanRefresh >= banRefreshMs)
        {
          lastBanRefresh = now;
          limits_->GetBans().Refresh();
        }
        if (now - lastMonitor >= monitorMs)
        {
          lastMonitor = now;
          limits_->UpdateMonitor();
        }
        if (sweeperLease_->Hold(now))
        {
          SweepShared(now, lastExpiry);
        }
        else
        {
          lastExpiry = 0;  // when this one becomes the sweeper, it sweeps at once
        }
      }
      catch (...)
      {
        const std::string error = DescribeCurrentException();
        if (failures.ShouldLog(error))
        {
          LOG(ERROR) << "Inbound: background work failed: " << error;
        }
      }
      std::unique_lock<std::mutex> lock(stopMutex_);
      stopSignal_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_.load(); });
    }
    try
    {
      limits_->Flush();
      sweeperLease_->Release();  // another Orthanc of the ledger sweeps at once
    }
    catch (...)
    {
    }
  }

  void PluginContext::Start()
  {
    if (!sweeper_.joinable())
    {
      stopping_ = false;
      sweeper_ = std::thread(&PluginContext::SweepLoop, this);
      notifierThread_ = std::thread([this] { notifier_->Loop(stopping_); });
      if (archive_ != nullptr)
      {
        metadataThread_ = std::thread([this] { archive_->GetMetadataWriter().Loop(stopping_); });
      }
      if (forwarder_)
      {
        forwarderThread_ = std::thread([this] { forwarder_->Loop(stopping_); });
      }
      std::lock_guard<std::mutex> lock(pullersMutex_);
      if (configuration_.role == Role_Internal && pullers_.empty())
      {
        for (auto& peer : peerClients_)
        {
          pullers_.emplace_back(new Puller(*uploads_, *ledger_, *peer, clock_));
          pullers_.back()->SetAlertAfter(configuration_.gatewayAlertSeconds);
          pullers_.back()->SetKeys(internalKeys_.get());
          pullers_.back()->SetPieceFolder(pieceFolder_);
          pullers_.back()->SetNode(node_, configuration_.leaseSeconds);
        }
      }
      if (requestSync_)
      {
        requestSyncThread_ = std::thread([this] { requestSync_->Loop(stopping_); });
      }
      // One thread a gateway: a gateway that is down does not hold up the others.
      for (auto& puller : pullers_)
      {
        Puller* p = puller.get();
        pullerThreads_.emplace_back([this, p] { p->Loop(stopping_); });
      }
    }
  }

  void PluginContext::WaitForOwedMetadata()
  {
    if (archive_ != nullptr)
    {
      archive_->GetMetadataWriter().WaitForQueued(std::chrono::milliseconds(2000));
    }
  }

  MetricsSnapshot PluginContext::GetMetricsSnapshot()
  {
    MetricsSnapshot snapshot;
    snapshot.now = clock_.NowMs();
    for (const auto& count : ledger_->Uploads().CountByState())
    {
      snapshot.uploadsByState[StringToUploadState(count.first)] = count.second;
    }
    snapshot.limits = limits_->GetSnapshot();
    if (configuration_.role == Role_Gateway)
    {
      snapshot.sealing = sealer_ ? 1 : 0;
    }
    snapshot.scan = uploads_->GetMalwareScanSnapshot();
    snapshot.partners = partnerStatus_->GetMetrics();
    snapshot.notificationsByState = ledger_->Notifications().CountByState();
    if (archive_ != nullptr)
    {
      snapshot.metadataOwed = ledger_->Uploads().CountUnannotated();
    }
    if (forwarder_)
    {
      snapshot.forwards = true;
      snapshot.forwardsByState = ledger_->Forwards().CountByState();
    }
    if (finder_)
    {
      snapshot.reconciliation = true;
      snapshot.reconciliationSources = finder_->GetSourceMetrics(snapshot.reconciliationRounds);
    }
    std::lock_guard<std::mutex> lock(pullersMutex_);
    for (const auto& puller : pullers_)
    {
      snapshot.gateways.push_back(puller->GetSnapshot());
    }
    return snapshot;
  }

  std::map<std::string, uint64_t> PluginContext::CountSealedHoldings(uint64_t& plain) const
  {
    plain = 0;
    return staging_ == nullptr ? std::map<std::string, uint64_t>()
                               : SealedHoldings::CountByKey(*ledger_, *staging_, plain);
  }

  Json::Value PluginContext::DescribeGateways() const
  {
    std::lock_guard<std::mutex> lock(pullersMutex_);
    Json::Value result(Json::objectValue);
    result["gateways"] = Json::arrayValue;
    for (const auto& puller : pullers_)
    {
      result["gateways"].append(puller->Describe());
    }
    return result;
  }

  bool PluginContext::ReleaseHeldPull(const std::string& gateway, const std::string& uploadId,
                                      const std::string& by)
  {
    std::lock_guard<std::mutex> lock(pullersMutex_);
    for (const auto& puller : pullers_)
    {
      if (puller->GetName() == gateway)
      {
        return puller->Release(uploadId, by);
      }
    }
    return false;
  }

  void PluginContext::Stop()
  {
    {
      std::lock_guard<std::mutex> lock(stopMutex_);
      stopping_ = true;
    }
    stopSignal_.notify_all();
    if (sweeper_.joinable())
    {
      sweeper_.join();
    }
    if (forwarderThread_.joinable())
    {
      forwarder_->Wake();
      forwarderThread_.join();
    }
    if (finder_)
    {
      // Now, while Orthanc's core still serves them: a C-FIND may outlive its round.
      finder_->Stop();
    }
    if (notifierThread_.joinable())
    {
      notifier_->Wake();
      notifierThread_.join();  // a transfer in progress is interrupted (stopping_)
    }
    if (metadataThread_.joinable())
    {
      archive_->GetMetadataWriter().Wake();
      metadataThread_.join();  // what it did not write stays owed in the ledger
    }
    for (std::thread& t : pullerThreads_)
    {
      if (t.joinable())
      {
        t.join();  // a long poll ends within its timeout at the latest
      }
    }
    pullerThreads_.clear();
    if (requestSyncThread_.joinable())
    {
      requestSync_->Wake();
      requestSyncThread_.join();  // a call in progress is interrupted (stopping_)
    }
    try
    {
      // Whatever lease this Orthanc still holds: the others take its work up at once.
      LeaseStore(ledger_->GetDatabase()).ReleaseAll(node_);
    }
    catch (...)
    {
      LOG(WARNING) << "Inbound: the leases of this Orthanc could not be given back; they "
                   << "expire after Inbound.LeaseSeconds";
    }
  }
}
