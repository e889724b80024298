// The pull tests' shared fixture: a real gateway's outbox reached in-process by a fake peer.
#pragma once

#include "Http/ApiError.h"
#include "LedgerBackends.h"
#include "Peering/Outbox.h"
#include "Peering/Puller.h"
#include "TestSupport.h"
#include "Toolbox/Crypto.h"
#include "Toolbox/Json.h"
#include "Upload/ArchiveSink.h"

#include <boost/filesystem.hpp>

#include <functional>

#include <gtest/gtest.h>

namespace InboundTests
{
  using namespace Inbound;

  // How many audit events of this type the ledger holds.
  inline size_t CountEvents(const Ledger& ledger, const std::string& event)
  {
    size_t count = 0;
    for (const AuditEvent& e : ledger.Audit().List(0, 100000))
    {
      count += e.event == event ? 1 : 0;
    }
    return count;
  }

  // "upload": options of "Upload" that replace the test configuration's.
  inline Configuration Load(const std::string& role, const Json::Value& upload = Json::Value())
  {
    Json::Value section;
    std::string errors;
    JsonText::ParseConfiguration(section, InboundTests::MakeConfigurationJson(), errors);
    section["Role"] = role;
    for (const std::string& name : upload.getMemberNames())
    {
      section["Upload"][name] = upload[name];
    }
    if (role == "Internal")
    {
      section["Gateways"].append("dmz");
    }
    return Configuration::Parse(section);
  }

  // The gateway's outbox, reached in-process, with failures to order.
  class FakePeer : public IPeerClient
  {
  public:
    std::string name = "dmz";
    Outbox& outbox;
    std::atomic<bool> stopping{false};
    bool down = false;
    int failAcks = 0;
    int acks = 0;
    int64_t* clockNow = nullptr;  // moved by "itemDelayMs" on every item fetched
    int64_t itemDelayMs = 0;
    int64_t ackDelayMs = 0;    // and by "ackDelayMs" on every acknowledgement
    // A malicious gateway: changes an answer ("kind": outbox, manifest, item, ack) before it
    // is sent.
    std::function<void(const std::string& kind, PeerAnswer& answer)> forge;
    std::map<std::string, int> calls;                 // by kind
    std::map<std::string, uint64_t> maxAnswerBytes;   // the last cap, by kind
    std::vector<std::string> uris;                    // of the pieces asked for, in order
    std::mutex callMutex;  // one call at a time: "forge" may read "uris.back()"
    std::function<void()> onItem;                     // while an item is fetched

    explicit FakePeer(Outbox& o) : outbox(o)
    {
    }

    // Whatever the gateway answered, as the real client hands it over: cut at the cap.
    static void Cap(PeerAnswer& answer, uint64_t cap)
    {
      if (answer.body.size() > cap)
      {
        answer.body.resize(cap);
        answer.truncated = true;
      }
    }

    bool Call(PeerAnswer& answer, bool post, const std::string& uri, const std::string& body,
              unsigned int timeoutSeconds, uint64_t cap) override
    {
      std::lock_guard<std::mutex> lock(callMutex);
      const std::string kind = post ? "ack" : uri.find("/parts/") != std::string::npos ? "part"
                               : uri.find("/items/") != std::string::npos ? "item"
                               : uri.find('?') != std::string::npos ? "outbox" : "manifest";
      if (kind == "part")
      {
        uris.push_back(uri);
      }
      calls[kind]++;
      maxAnswerBytes[kind] = cap;
      if (kind == "item" && onItem)
      {
        onItem();
      }
      if (!Serve(answer, post, uri, body, timeoutSeconds))
      {
        return false;
      }
      if (forge)
      {
        forge(kind, answer);
      }
      Cap(answer, cap);
      return true;
    }

    const std::string& GetName() const override
    {
      return name;
    }

    bool Serve(PeerAnswer& answer, bool post, const std::string& uri, const std::string& body,
               unsigned int)
    {
      if (down)
      {
        return false;
      }
      try
      {
        const std::string prefix = "/inbound/peer/outbox";
        std::string rest = uri.substr(prefix.size());
        answer.status = 200;
        if (rest.empty() || rest[0] == '?')
          answer.body = JsonText::Compact(outbox.List(0, 20, stopping));
        else if (post)
        {
          const std::string id = rest.substr(1, rest.find("/ack") - 1);
          if (failAcks > 0)
          {
            failAcks--;
            return false;  // the link is cut during the acknowledgement
          }
          acks++;
          if (clockNow != nullptr)
          {
            *clockNow += ackDelayMs;  // a slow answer to the acknowledgement
          }
          answer.body = JsonText::Compact(outbox.Acknowledge(id, body.data(), body.size(), "10.0.0.5"));
        }
        else if (rest.find("/parts/") != std::string::npos)
        {
          // /{id}/items/{sha256}/parts/{n}
          const size_t items = rest.find("/items/"), parts = rest.find("/parts/");
          answer.body = outbox.ReadItemPiece(rest.substr(1, items - 1),
                                             rest.substr(items + 7, parts - items - 7),
                                             std::stoull(rest.substr(parts + 7)));
        }
        else if (rest.find("/items/") != std::string::npos)
        {
          const size_t items = rest.find("/items/");
          if (clockNow != nullptr)
          {
            *clockNow += itemDelayMs;  // a large file over a slow link
          }
          answer.body = outbox.ReadItem(rest.substr(1, items - 1), rest.substr(items + 7));
        }
        else
          answer.body = JsonText::Compact(outbox.GetManifest(rest.substr(1)));
      }
      catch (const ApiError& e)
      {
        answer.status = static_cast<uint16_t>(e.GetStatus());
        answer.body = JsonText::Compact(e.ToJson());
      }
      return true;
    }
  };

  // The inside's limits, as seen by the upload service: who is checked, with which scopes.
  class RecordingPolicy : public NoUploadPolicy
  {
  public:
    std::vector<std::string> opens;   // "ip email"
    std::vector<std::string> files;   // "ip email size"
    std::unique_ptr<ApiError> refuseFiles;
    std::function<void()> onFile;  // called as the file is checked, before it is parsed

    // The address itself: these tests check which sender is counted, not how it is keyed.
    std::string GetSenderKey(const std::string& email) const override
    {
      return email;
    }

    void CheckOpen(const ClientInfo& client, const std::string& email) override
    {
      opens.push_back(client.ip + " " + email);
    }

    void CheckFile(const ClientInfo& client, const UploadRecord& upload, uint64_t size) override
    {
      files.push_back(client.ip + " " + upload.sender.email + " " + std::to_string(size));
      if (onFile)
      {
        onFile();
      }
      if (refuseFiles)
      {
        throw *refuseFiles;
      }
    }

    std::vector<std::string> GetQuotaScopes(const std::string& ip,
                                            const std::string& email) const override
    {
      return {"ip:" + ip, "email:" + email};
    }
  };

  class PullerTest : public ::testing::Test
  {
  protected:
    boost::filesystem::path folder_;
    InboundTests::FakeClock clock_;
    NoUploadPolicy policy_;
    // the gateway
    Configuration gatewayConfiguration_;
    Ledger gatewayLedger_;
    StagingArea staging_;
    UploadService gateway_;
    Outbox outbox_;
    // the inside
    Configuration internalConfiguration_;
    Ledger internalLedger_;
    InboundTests::FakeStore store_;
    ArchiveSink archive_;
    RecordingPolicy insidePolicy_;
    UploadService internal_;
    FakePeer peer_;
    Puller puller_;

  public:
    // "upload": options of "Upload" of both sides; "sealer" and "partBytes": the gateway's
    // staging area's.
    explicit PullerTest(const Json::Value& upload = Json::Value(),
                        const StagingSealer* sealer = nullptr,
                        uint64_t partBytes = StagingArea::kDefaultPartBytes) :
      folder_(boost::filesystem::temp_directory_path() / boost::filesystem::unique_path("pull-%%%%%%")),
      gatewayConfiguration_(Load("Gateway", upload)),
      gatewayLedger_(InboundTests::TestLedgerLocation()),
      staging_((folder_ / "staging").string(), sealer, partBytes),
      gateway_(gatewayConfiguration_, gatewayLedger_, staging_, policy_, clock_),
      outbox_(gatewayConfiguration_, gatewayLedger_, staging_, clock_),
      internalConfiguration_(Load("Internal", upload)),
      internalLedger_(InboundTests::TestLedgerLocation()),
      archive_(internalConfiguration_, internalLedger_, store_, clock_),
      internal_(internalConfiguration_, internalLedger_, archive_, insidePolicy_, clock_),
      peer_(outbox_),
      puller_(internal_, internalLedger_, peer_, clock_)
    {
      puller_.SetPieceFolder((folder_ / "pulls").string());
    }

    ~PullerTest()
    {
      boost::filesystem::remove_all(folder_);
    }

    // An upload opened at the gateway by Dr. A from "client" (203.0.113.9).
    ApiAnswer OpenAtGateway(ClientInfo& client)
    {
      client.ip = "203.0.113.9";
      const std::string body = R"({"sender": {"name": "Dr. A", "email": "a@example.org"},
        "recipient": "neuro", "message": "stroke", "consent": {"version": "2026-01", "accepted": true}})";
      return gateway_.Open(body.data(), body.size(), client);
    }

    std::string Send(int files, std::vector<std::string>& hashes)
    {
      ClientInfo client;
      const ApiAnswer u = OpenAtGateway(client);
      const std::string id = u.body["id"].asString(), token = u.body["token"].asString();
      for (int i = 0; i < files; i++)
      {
        const std::string file = InboundTests::MakeDicom("777", "1.2", "1.2.3", "1.2.3." + std::to_string(i));
        hashes.push_back(Crypto::Sha256Hex(file));
        gateway_.PutFile(id, token, hashes.back(), file.data(), file.size(), client);
      }
      gateway_.Complete(id, token, client);
      return id;
    }

    UploadState GatewayState(const std::string& id)
    {
      UploadRecord r;
      EXPECT_TRUE(gatewayLedger_.Uploads().Lookup(r, id));
      return r.state;
    }
  };
}
