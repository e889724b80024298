// Unit tests of the senders' quota keys: the secret file, the keyed hash, the upgrade of old ledgers.
#include "Ledger/Ledger.h"
#include "Ledger/SqliteLedgerConnection.h"
#include "Limits/SenderKey.h"

#include <OrthancException.h>

#include <boost/filesystem.hpp>
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <fstream>

using namespace Inbound;

namespace
{
  class SenderKeyTest : public ::testing::Test
  {
  protected:
    boost::filesystem::path folder_;

    void SetUp() override
    {
      folder_ = boost::filesystem::temp_directory_path() /
                boost::filesystem::unique_path("senderkey-%%%%%%%%");
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

    std::string ErrorOf(const std::string& name) const
    {
      try
      {
        SenderKey::LoadOrCreateSecret(Path(name));
      }
      catch (const Orthanc::OrthancException& e)
      {
        return e.GetDetails();
      }
      return "";
    }
  };
}

TEST_F(SenderKeyTest, TheSecretIsMadeOnceOwnerOnlyAndKept)
{
  const std::string secret = SenderKey::LoadOrCreateSecret(Path("quota-key"));
  EXPECT_EQ(SenderKey::kSecretSize, secret.size());
  struct stat info;
  ASSERT_EQ(0, stat(Path("quota-key").c_str(), &info));
  EXPECT_EQ(0600u, info.st_mode & 0777);
  EXPECT_EQ(secret, SenderKey::LoadOrCreateSecret(Path("quota-key")));
  EXPECT_EQ(1, std::distance(boost::filesystem::directory_iterator(folder_),
                             boost::filesystem::directory_iterator()));  // no temporary left
  EXPECT_NE(secret, SenderKey::LoadOrCreateSecret(Path("other-key")));  // random

  ASSERT_EQ(0, chmod(Path("quota-key").c_str(), 0644));
  EXPECT_NE(std::string::npos, ErrorOf("quota-key").find("chmod 600"));
  std::ofstream(Path("short-key")) << "too short";
  ASSERT_EQ(0, chmod(Path("short-key").c_str(), 0600));
  EXPECT_NE(std::string::npos, ErrorOf("short-key").find("exactly 32 bytes"));
  EXPECT_NE(std::string::npos, ErrorOf("no-folder/quota-key").find("cannot be created"));
}

TEST_F(SenderKeyTest, TheKeyIsACaseBlindKeyedHash)
{
  const std::string secret(32, 'x');
  const std::string key = SenderKey::Compute(secret, "A.Sender@Example.org");
  EXPECT_EQ(64u, key.size());
  EXPECT_EQ(std::string::npos, key.find('@'));
  EXPECT_EQ(key, SenderKey::Compute(secret, "a.sender@example.org"));
  EXPECT_NE(key, SenderKey::Compute(secret, "b.sender@example.org"));
  EXPECT_NE(key, SenderKey::Compute(std::string(32, 'y'), "a.sender@example.org"));
  EXPECT_EQ("", SenderKey::Compute(secret, ""));
  EXPECT_TRUE(SenderKey::IsPlainScope("sender:a@example.org"));
  EXPECT_FALSE(SenderKey::IsPlainScope("sender:" + key));
  EXPECT_FALSE(SenderKey::IsPlainScope("client:1.2.3.4"));
}

TEST_F(SenderKeyTest, ALedgerOfSchema4IsRekeyedWithoutAnAddressLeft)
{
  const std::string path = Path("ledger.sqlite");
  {
    Ledger ledger(path);
    UploadRecord r;
    r.id = "U1";
    r.tokenHash = "hash";
    r.sender.email = "A@Example.org";
    ledger.Uploads().Create(r, {"global", "sender:a@example.org"}, 100);
  }
  {
    // As schema 4 left it: addresses as quota scopes, no sender keys; two spellings of one
    // address on another day.
    SqliteLedgerConnection db(path);
    db.Execute("ALTER TABLE uploads DROP COLUMN sealed_fields;"
               "ALTER TABLE uploads DROP COLUMN sender_key; PRAGMA user_version = 4;"
               "INSERT INTO quota_usage VALUES ('sender:b@example.org', 101, 2, 20);"
               "INSERT INTO quota_usage VALUES ('sender:B@Example.org', 101, 1, 5);");
  }
  const std::string secret(32, 's');
  {
    Ledger ledger(path);
    SenderKey::UpgradeLedger(ledger, secret);
    const std::string a = "sender:" + SenderKey::Compute(secret, "a@example.org");
    const std::string b = "sender:" + SenderKey::Compute(secret, "b@example.org");
    EXPECT_EQ(1, ledger.Quotas().GetUsage(a, 100).uploads);
    EXPECT_EQ(3, ledger.Quotas().GetUsage(b, 101).uploads);
    EXPECT_EQ(25, ledger.Quotas().GetUsage(b, 101).bytes);
    EXPECT_EQ(0, ledger.Quotas().GetUsage("sender:b@example.org", 101).uploads);
    EXPECT_EQ(1, ledger.Quotas().GetUsage("global", 100).uploads);
    UploadRecord r;
    ASSERT_TRUE(ledger.Uploads().Lookup(r, "U1"));
    EXPECT_EQ(SenderKey::Compute(secret, "a@example.org"), r.senderKey);
    SenderKey::UpgradeLedger(ledger, secret);  // again: nothing left to do
    EXPECT_EQ(3, ledger.Quotas().GetUsage(b, 101).uploads);
  }
  // No address of a quota row is left in the files (secure_delete, checkpoint).
  for (const char* suffix : {"", "-wal"})
  {
    std::ifstream in(path + suffix, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(std::string::npos, bytes.find("b@example.org")) << suffix;
    EXPECT_EQ(std::string::npos, bytes.find("B@Example.org")) << suffix;
  }
}
