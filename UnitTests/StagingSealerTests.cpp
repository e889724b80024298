// Unit tests of a gateway's sealing: key entries refused by name, staged files and typed fields sealed.
#include "Ledger/Ledger.h"
#include "LedgerBackends.h"
#include "Staging/SealedHoldings.h"
#include "Staging/StagingArea.h"
#include "Staging/StagingSealer.h"
#include "TestSupport.h"
#include "Toolbox/Crypto.h"
#include "Http/ApiError.h"
#include "Toolbox/Json.h"
#include "Upload/UploadService.h"

#include <OrthancException.h>
#include <Toolbox.h>

#include <boost/filesystem.hpp>
#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <fstream>

using namespace Inbound;

namespace
{
  class SealerTest : public ::testing::Test
  {
  protected:
    boost::filesystem::path folder_;

    void SetUp() override
    {
      folder_ = boost::filesystem::temp_directory_path() /
                boost::filesystem::unique_path("sealer-%%%%%%%%");
      boost::filesystem::create_directories(folder_);
    }

    void TearDown() override
    {
      boost::filesystem::remove_all(folder_);
    }

    std::string Path(const std::string& name) const
    {
      return (folder_ / name).string();
    }

    void Write(const std::string& name, const std::string& content) const
    {
      std::ofstream(Path(name), std::ios::binary) << content;
    }

    // A key pair of the Internal, its private key in the file "name".
    SealingPrivateKey MakeKey(const std::string& name) const
    {
      return SealingPrivateKey::LoadOrCreate(Path(name));
    }

    static std::string Read(const std::string& path)
    {
      std::ifstream in(path, std::ios::binary);
      return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }

    // A valid public key of the wrong algorithm.
    static std::string RsaPublicKeyPem()
    {
      EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t(1024));
      BIO* bio = BIO_new(BIO_s_mem());
      PEM_write_bio_PUBKEY(bio, key);
      char* data = nullptr;
      const long size = BIO_get_mem_data(bio, &data);
      const std::string pem(data, static_cast<size_t>(size));
      BIO_free(bio);
      EVP_PKEY_free(key);
      return pem;
    }

    static std::string ErrorOf(const std::vector<std::string>& entries,
                               const std::string& directory)
    {
      try
      {
        StagingSealer::Load(entries, directory);
      }
      catch (const Orthanc::OrthancException& e)
      {
        return e.GetDetails();
      }
      return "";
    }

    static std::string Open(const SealingPrivateKey& key, const std::string& envelope,
                            const std::string& context)
    {
      std::string plaintext, error;
      EXPECT_TRUE(Sealing::Open(plaintext, error, key, envelope.data(), envelope.size(), context))
        << error;
      return plaintext;
    }
  };
}

TEST_F(SealerTest, NoEntriesMeansNoSealer)
{
  EXPECT_EQ(nullptr, StagingSealer::Load({}, folder_.string()));
}

TEST_F(SealerTest, EntriesArePemTextOrFilesAndTheFirstSeals)
{
  const SealingPrivateKey first = MakeKey("first.pem");
  const SealingPrivateKey second = MakeKey("second.pem");
  Write("second.pub", second.GetPublicKey().GetPem());
  // A path relative to Orthanc's configuration folder, as the admin writes it.
  const std::unique_ptr<StagingSealer> sealer =
    StagingSealer::Load({first.GetPublicKey().GetPem(), "second.pub"}, folder_.string());
  ASSERT_NE(nullptr, sealer);
  ASSERT_EQ(2u, sealer->GetKeys().size());
  EXPECT_EQ(first.GetId(), sealer->GetSealingKey().GetId());
  EXPECT_TRUE(sealer->IsKnownKey(second.GetId()));
  EXPECT_FALSE(sealer->IsKnownKey("0123456789abcdef"));

  const std::string data("\0DICM bytes\xff", 12);
  const std::string envelope = sealer->SealItem("UPLOAD1", "abc", data.data(), data.size());
  EXPECT_EQ(data.size() + Sealing::GetOverhead(), envelope.size());
  std::string keyId;
  ASSERT_TRUE(Sealing::ReadKeyId(keyId, envelope.data(), envelope.size()));
  EXPECT_EQ(first.GetId(), keyId);
  EXPECT_EQ(data, Open(first, envelope, "item:UPLOAD1:abc"));
  std::string plaintext, error;
  EXPECT_FALSE(Sealing::Open(plaintext, error, first, envelope.data(), envelope.size(),
                             "item:UPLOAD2:abc"));  // moved to another upload
}

TEST_F(SealerTest, EveryBadEntryStopsTheStartUpNamingIt)
{
  const SealingPrivateKey key = MakeKey("internal.pem");
  const std::string good = key.GetPublicKey().GetPem();
  Write("garbage.pub", "not a key at all");
  Write("private.pem",
        "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VuBCIEI\n-----END PRIVATE KEY-----\n");
  Write("rsa.pub", RsaPublicKeyPem());
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
    {{good, Path("missing.pub")}, "Inbound.Sealing.PublicKeys[1]\": is not a readable PEM file"},
    {{Path("garbage.pub")}, "Inbound.Sealing.PublicKeys[0]\": is not an X25519 public key"},
    {{good, good}, "Inbound.Sealing.PublicKeys[1]\": is the same key as entry 0"},
    {{Path("private.pem")}, "Inbound.Sealing.PublicKeys[0]\": is a private key"},
    {{Read(Path("internal.pem"))}, "Inbound.Sealing.PublicKeys[0]\": is a private key"},
    {{Path("rsa.pub")}, "Inbound.Sealing.PublicKeys[0]\": is not an X25519 public key"},
    {{"-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----\n"},
     "Inbound.Sealing.PublicKeys[0]\": is not an X25519 public key"},
    {{folder_.string()}, "Inbound.Sealing.PublicKeys[0]\": is not a readable PEM file"}};
  for (const auto& c : cases)
  {
    EXPECT_NE(std::string::npos, ErrorOf(c.first, "").find(c.second)) << ErrorOf(c.first, "");
  }
  EXPECT_NE(std::string::npos, ErrorOf({Path("missing.pub")}, "").find(Path("missing.pub")));
}

TEST_F(SealerTest, TypedFieldsAreSealedAndEmptied)
{
  const SealingPrivateKey key = MakeKey("internal.pem");
  const std::unique_ptr<StagingSealer> sealer =
    StagingSealer::Load({key.GetPublicKey().GetPem()}, "");
  UploadRecord record;
  record.id = "UPLOAD1";
  record.sender.name = "Dr. Sender";
  record.sender.email = "sender@example.org";
  record.sender.institution = "Clinic";
  record.sender.phone = "+49 1";
  record.message = "CT of 12 May";
  record.userAgent = "Browser/1.0";
  record.clientIp = "203.0.113.9";
  sealer->SealFields(record);
  EXPECT_EQ("", record.sender.name);
  EXPECT_EQ("", record.sender.email);
  EXPECT_EQ("", record.sender.institution);
  EXPECT_EQ("", record.sender.phone);
  EXPECT_EQ("", record.message);
  EXPECT_EQ("", record.userAgent);
  EXPECT_EQ("203.0.113.9", record.clientIp);  // the gateway's limits need it

  std::string envelope;
  Orthanc::Toolbox::DecodeBase64(envelope, record.sealedFields);
  Json::Value fields;
  const std::string json = Open(key, envelope, "fields:UPLOAD1");
  ASSERT_TRUE(JsonText::ParseStrict(fields, json.data(), json.size()));
  EXPECT_EQ("Dr. Sender", fields["sender"]["name"].asString());
  EXPECT_EQ("sender@example.org", fields["sender"]["email"].asString());
  EXPECT_EQ("Clinic", fields["sender"]["institution"].asString());
  EXPECT_EQ("+49 1", fields["sender"]["phone"].asString());
  EXPECT_EQ("CT of 12 May", fields["message"].asString());
  EXPECT_EQ("Browser/1.0", fields["userAgent"].asString());
}

TEST_F(SealerTest, ASealingGatewayKeepsNothingReadable)
{
  const SealingPrivateKey key = MakeKey("internal.pem");
  const std::unique_ptr<StagingSealer> sealer =
    StagingSealer::Load({key.GetPublicKey().GetPem()}, "");
  const Configuration configuration = InboundTests::MakeConfiguration("Gateway");
  Ledger ledger(InboundTests::TestLedgerLocation());
  StagingArea staging(Path("staging"), sealer.get());
  InboundTests::FakeClock clock;
  NoUploadPolicy policy;
  UploadService service(configuration, ledger, staging, policy, clock);
  ClientInfo client;
  client.ip = "203.0.113.9";
  client.userAgent = "Browser/1.0";

  const std::string body = R"({"sender": {"name": "Dr. Sender", "email": "s@example.org"},
    "message": "urgent", "consent": {"version": "2026-01", "accepted": true}})";
  const ApiAnswer u = service.Open(body.data(), body.size(), client);
  const std::string id = u.body["id"].asString(), token = u.body["token"].asString();
  const std::string file = InboundTests::MakeDicom("PID-12345", "1.2", "1.2.3", "1.2.3.4");
  const std::string sha = Crypto::Sha256Hex(file);
  EXPECT_EQ(201, service.PutFile(id, token, sha, file.data(), file.size(), client).status);

  std::string staged;
  ASSERT_TRUE(staging.Read(staged, id, sha));
  EXPECT_EQ(std::string::npos, staged.find("DICM"));
  EXPECT_EQ(file, Open(key, staged, "item:" + id + ":" + sha));

  UploadRecord record;
  ASSERT_TRUE(ledger.Uploads().Lookup(record, id));
  EXPECT_EQ("", record.sender.name);
  EXPECT_EQ("", record.sender.email);
  EXPECT_EQ("", record.message);
  EXPECT_EQ("", record.userAgent);
  EXPECT_EQ("key-of-s@example.org", record.senderKey);  // the quotas still count per sender
  EXPECT_FALSE(record.sealedFields.empty());
  ItemRecord item;
  ASSERT_TRUE(ledger.Uploads().LookupItem(item, id, sha));
  EXPECT_EQ("", item.originalPatientId);
  EXPECT_EQ("", item.patientName);
  EXPECT_EQ("1.2.3.4", item.sopInstanceUid);  // duplicate checks still work
  EXPECT_EQ("CT", item.modality);
  for (const AuditEvent& e : ledger.Audit().ListHistory(id))
  {
    EXPECT_EQ(std::string::npos, e.detail.find("s@example.org")) << e.detail;
  }
  // The same file again, and another one with the same SOP Instance UID.
  EXPECT_EQ(200, service.PutFile(id, token, sha, file.data(), file.size(), client).status);
  const std::string other = InboundTests::MakeDicom("OTHER", "1.2", "1.2.3", "1.2.3.4", "MR");
  EXPECT_THROW(service.PutFile(id, token, Crypto::Sha256Hex(other), other.data(), other.size(),
                               client), ApiError);
}

TEST_F(SealerTest, WhatAGatewayHeldInPlainTextIsSealedAtItsFirstSealingStart)
{
  const SealingPrivateKey key = MakeKey("internal.pem");
  const SealingPrivateKey other = MakeKey("other.pem");
  const Configuration configuration = InboundTests::MakeConfiguration("Gateway");
  Ledger ledger(InboundTests::TestLedgerLocation());
  InboundTests::FakeClock clock;
  NoUploadPolicy policy;
  ClientInfo client;
  client.ip = "203.0.113.9";
  const std::string body = R"({"sender": {"name": "Dr. Plain", "email": "p@example.org"},
    "message": "plain words", "consent": {"version": "2026-01", "accepted": true}})";
  const std::string file = InboundTests::MakeDicom("PID-PLAIN", "1.2", "1.2.3", "1.2.3.4");
  const std::string sha = Crypto::Sha256Hex(file);
  // A preamble (the sender's to write) that starts like an envelope for the Internal's key.
  std::string tricked = InboundTests::MakeDicom("PID-TRICK", "1.2", "1.2.3", "1.2.3.5");
  std::string keyBytes;
  for (size_t i = 0; i < 16; i += 2)
  {
    keyBytes.push_back(char(std::stoi(key.GetId().substr(i, 2), nullptr, 16)));
  }
  tricked.replace(0, 16, "INBSEAL1" + keyBytes);
  const std::string trickedSha = Crypto::Sha256Hex(tricked);
  std::string id;
  {
    StagingArea plain(Path("staging"));  // no key yet
    UploadService service(configuration, ledger, plain, policy, clock);
    const ApiAnswer u = service.Open(body.data(), body.size(), client);
    id = u.body["id"].asString();
    service.PutFile(id, u.body["token"].asString(), sha, file.data(), file.size(), client);
    service.PutFile(id, u.body["token"].asString(), trickedSha, tricked.data(), tricked.size(),
                    client);
  }
  // The same trick staged before the ledger recorded it (a crash in between).
  Write("staging/" + id + "/" + Crypto::Sha256Hex(tricked + "x"), tricked + "x");
  Write("staging/" + id + "/" + sha + ".tmp-ABCDEFGH", "a crash left this");

  const std::unique_ptr<StagingSealer> sealer =
    StagingSealer::Load({key.GetPublicKey().GetPem(), other.GetPublicKey().GetPem()}, "");
  StagingArea staging(Path("staging"), sealer.get());
  uint64_t plain = 0;
  EXPECT_TRUE(SealedHoldings::CountByKey(ledger, staging, plain).empty());
  EXPECT_EQ(4u, plain);  // the three files and the upload's fields
  SealedHoldings::SealWhatIsPlain(*sealer, ledger, staging);

  std::string staged;
  ASSERT_TRUE(staging.Read(staged, id, sha));
  EXPECT_EQ(file, Open(key, staged, "item:" + id + ":" + sha));
  std::string trick;
  ASSERT_TRUE(staging.Read(trick, id, trickedSha));
  EXPECT_EQ(tricked, Open(key, trick, "item:" + id + ":" + trickedSha));
  const std::string unrecorded = Crypto::Sha256Hex(tricked + "x");
  ASSERT_TRUE(staging.Read(trick, id, unrecorded));
  EXPECT_EQ(tricked + "x", Open(key, trick, "item:" + id + ":" + unrecorded));
  EXPECT_FALSE(boost::filesystem::exists(Path("staging/" + id + "/" + sha + ".tmp-ABCDEFGH")));
  UploadRecord record;
  ASSERT_TRUE(ledger.Uploads().Lookup(record, id));
  EXPECT_EQ("", record.sender.email);
  EXPECT_EQ("", record.message);
  std::string envelope;
  Orthanc::Toolbox::DecodeBase64(envelope, record.sealedFields);
  EXPECT_NE(std::string::npos, Open(key, envelope, "fields:" + id).find("plain words"));
  ItemRecord item;
  ASSERT_TRUE(ledger.Uploads().LookupItem(item, id, sha));
  EXPECT_EQ("", item.originalPatientId);
  EXPECT_EQ("1.2.3.4", item.sopInstanceUid);
  for (const AuditEvent& e : ledger.Audit().ListHistory(id))
  {
    EXPECT_EQ(std::string::npos, e.detail.find("p@example.org")) << e.detail;
  }

  const std::map<std::string, uint64_t> held = SealedHoldings::CountByKey(ledger, staging, plain);
  EXPECT_EQ(0u, plain);
  ASSERT_EQ(1u, held.size());
  EXPECT_EQ(4u, held.at(key.GetId()));
  SealedHoldings::SealWhatIsPlain(*sealer, ledger, staging);  // again: nothing to do
  std::string again;
  ASSERT_TRUE(staging.Read(again, id, sha));
  EXPECT_EQ(staged, again);
}
