// Unit tests of the quota secret kept by the ledger: one for every Orthanc of a PostgreSQL
// ledger (ledger_meta "quota-key"), the file of each Orthanc on SQLite. Run on both databases.
#include "LedgerBackends.h"
#include "Ledger/Ledger.h"
#include "Ledger/LedgerDatabase.h"
#include "Limits/SenderKey.h"
#include "Toolbox/Crypto.h"

#include <OrthancException.h>

#include <boost/filesystem.hpp>
#include <gtest/gtest.h>

#include <fstream>
#include <thread>
#include <vector>

using namespace Inbound;

namespace
{
  class SenderKeyLedgerTest : public ::testing::Test
  {
  protected:
    boost::filesystem::path folder_;  // the DataDirectory of each Orthanc below it

    void SetUp() override
    {
      folder_ = boost::filesystem::temp_directory_path() /
                boost::filesystem::unique_path("senderkey-ledger-%%%%%%%%");
      boost::filesystem::create_directories(folder_);
    }

    void TearDown() override
    {
      boost::filesystem::remove_all(folder_);
    }

    std::string KeyFile(const std::string& node) const
    {
      return (folder_ / (node + "-quota-key")).string();
    }

    // The row "quota-key" of ledger_meta, as an admin would read it with psql.
    static std::string MetaRow(Ledger& ledger)
    {
      LedgerDatabase::Session session(ledger.GetDatabase());
      LedgerStatement s(session.GetConnection(), "SELECT value FROM ledger_meta WHERE key = ?");
      s.BindString(0, "quota-key");
      return s.Step() ? s.ColumnString(0) : "(no row)";
    }

    static void SetMetaRow(Ledger& ledger, const std::string& value)
    {
      LedgerDatabase::Session session(ledger.GetDatabase());
      LedgerStatement s(session.GetConnection(),
                        "UPDATE ledger_meta SET value = ? WHERE key = ?");
      s.BindString(0, value);
      s.BindString(1, "quota-key");
      s.Run();
    }

    static std::string ErrorOf(Ledger& ledger, const std::string& path)
    {
      try
      {
        SenderKey::LoadOrCreateSecret(ledger, path);
      }
      catch (const Orthanc::OrthancException& e)
      {
        EXPECT_EQ(Orthanc::ErrorCode_BadFileFormat, e.GetErrorCode());
        return e.GetDetails();
      }
      return "(no error)";
    }
  };
}

TEST_F(SenderKeyLedgerTest, EveryOrthancOfOneLedgerCountsWithTheSameSecret)
{
  const LedgerLocation location = InboundTests::TestLedgerLocation();
  Ledger first(location);
  const std::string secret = SenderKey::LoadOrCreateSecret(first, KeyFile("node-1"));
  ASSERT_EQ(SenderKey::kSecretSize, secret.size());
  EXPECT_EQ(secret, SenderKey::LoadOrCreateSecret(first, KeyFile("node-1")));  // kept

  if (InboundTests::OnPostgres())
  {
    // Other Orthancs on the same ledger, each with its own DataDirectory, two of them
    // starting at the same time: all get the secret of the ledger, and no file is written.
    Ledger second(location);
    Ledger third(location);
    std::string seconds, thirds;
    std::thread a([&] { seconds = SenderKey::LoadOrCreateSecret(second, KeyFile("node-2")); });
    std::thread b([&] { thirds = SenderKey::LoadOrCreateSecret(third, KeyFile("node-3")); });
    a.join();
    b.join();
    EXPECT_EQ(secret, seconds);
    EXPECT_EQ(secret, thirds);
    EXPECT_EQ(Crypto::ToHex(secret), MetaRow(first));
    for (const char* node : {"node-1", "node-2", "node-3"})
    {
      EXPECT_FALSE(boost::filesystem::exists(KeyFile(node))) << node;
    }
    // A sender's quota scope is the same whichever Orthanc the upload reaches.
    EXPECT_EQ(SenderKey::Compute(secret, "Dr.Who@Clinic.example"),
              SenderKey::Compute(seconds, "dr.who@clinic.example"));
  }
  else
  {
    // SQLite: each Orthanc's ledger is its own, and so is its secret: the file, as before.
    ASSERT_TRUE(boost::filesystem::exists(KeyFile("node-1")));
    EXPECT_EQ(secret, SenderKey::LoadOrCreateSecret(KeyFile("node-1")));
    Ledger other(InboundTests::TestLedgerLocation());
    EXPECT_NE(secret, SenderKey::LoadOrCreateSecret(other, KeyFile("node-2")));
  }
}

TEST_F(SenderKeyLedgerTest, ADamagedSecretStopsTheStartAndSaysWhere)
{
  Ledger ledger(InboundTests::TestLedgerLocation());
  const std::string secret = SenderKey::LoadOrCreateSecret(ledger, KeyFile("node-1"));
  ASSERT_EQ(SenderKey::kSecretSize, secret.size());
  if (InboundTests::OnPostgres())
  {
    // Not 64 lower-case hex digits: refused, never replaced by a new secret (the day's
    // per-sender quotas would silently start again).
    for (const std::string& damaged : {std::string("zz"), Crypto::ToHex(secret).substr(2),
                                       std::string(64, 'G'), Crypto::ToHex(secret) + "00"})
    {
      SetMetaRow(ledger, damaged);
      EXPECT_NE(std::string::npos, ErrorOf(ledger, KeyFile("node-1")).find("ledger_meta"))
        << damaged;
      EXPECT_EQ(damaged, MetaRow(ledger));
    }
  }
  else
  {
    {
      std::ofstream file(KeyFile("node-1"), std::ios::binary | std::ios::trunc);
      file << "short";
    }
    EXPECT_NE(std::string::npos, ErrorOf(ledger, KeyFile("node-1")).find(KeyFile("node-1")));
  }
}
