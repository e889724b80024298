// Unit tests of the Internal's sealing keys: made once, read again, each bad key a start-up error.
#include "Peering/InternalKeys.h"

#include <OrthancException.h>

#include <boost/filesystem.hpp>

#include <sys/stat.h>

#include <fstream>

#include <gtest/gtest.h>

using namespace Inbound;

namespace
{
  class InternalKeysTest : public ::testing::Test
  {
  protected:
    boost::filesystem::path folder_;

  public:
    InternalKeysTest() :
      folder_(boost::filesystem::temp_directory_path() /
              boost::filesystem::unique_path("ik-%%%%%%"))
    {
      boost::filesystem::create_directories(folder_);
    }

    ~InternalKeysTest()
    {
      boost::filesystem::remove_all(folder_);
    }

    std::string Path(const std::string& name) const
    {
      return (folder_ / name).string();
    }

    void Write(const std::string& name, const std::string& text, mode_t mode)
    {
      std::ofstream(Path(name), std::ios::binary) << text;
      ASSERT_EQ(0, chmod(Path(name).c_str(), mode));
    }

    // The start-up error of "settings", which must name "option" and "path".
    void ExpectRefused(const SealingSettings& settings, const std::string& option,
                       const std::string& path)
    {
      try
      {
        InternalKeys::Load(settings, folder_.string(), folder_.string());
        ADD_FAILURE() << "no error for " << option;
      }
      catch (const Orthanc::OrthancException& e)
      {
        EXPECT_EQ(Orthanc::ErrorCode_BadFileFormat, e.GetErrorCode());
        const std::string details = e.GetDetails();
        EXPECT_NE(std::string::npos, details.find("\"Inbound." + option + "\"")) << details;
        EXPECT_NE(std::string::npos, details.find(path)) << details;
      }
    }
  };
}

TEST_F(InternalKeysTest, TheKeyIsCreatedOnceWithMode600AndReadAgain)
{
  SealingSettings settings;  // "": sealing-key.pem of the data directory
  const std::unique_ptr<InternalKeys> first = InternalKeys::Load(settings, folder_.string(), "");
  struct stat info;
  ASSERT_EQ(0, stat(Path("sealing-key.pem").c_str(), &info));
  EXPECT_EQ(0600u, info.st_mode & 0777);
  const Json::Value described = first->Describe();
  EXPECT_EQ("Internal", described["role"].asString());
  EXPECT_TRUE(described["sealing"].asBool());
  EXPECT_EQ(16u, described["keyId"].asString().size());
  EXPECT_EQ(0u, described["publicKey"].asString().find("-----BEGIN PUBLIC KEY-----"));
  EXPECT_EQ(Path("sealing-key.pem"), described["file"].asString());
  EXPECT_EQ(0u, described["previousKeys"].size());
  EXPECT_EQ(std::string::npos, described.toStyledString().find("PRIVATE"));

  const std::unique_ptr<InternalKeys> again = InternalKeys::Load(settings, folder_.string(), "");
  EXPECT_EQ(described["keyId"], again->Describe()["keyId"]);
  EXPECT_EQ(described["publicKey"], again->Describe()["publicKey"]);
}

TEST_F(InternalKeysTest, RelativePathsAreReadFromTheConfigurationDirectory)
{
  SealingSettings settings;
  settings.privateKey = "keys/current.pem";
  boost::filesystem::create_directories(folder_ / "keys");
  const std::unique_ptr<InternalKeys> keys =
    InternalKeys::Load(settings, "/nonexistent-data", folder_.string());
  EXPECT_TRUE(boost::filesystem::exists(Path("keys/current.pem")));
  EXPECT_EQ(Path("keys/current.pem"), keys->Describe()["file"].asString());
}

TEST_F(InternalKeysTest, PreviousKeysOpenWhatWasSealedForThem)
{
  SealingSettings old;
  old.privateKey = Path("a.pem");
  const std::string idA = InternalKeys::Load(old, "", "")->Describe()["keyId"].asString();
  SealingSettings rotated;
  rotated.privateKey = Path("b.pem");
  rotated.previousPrivateKeys = {Path("a.pem")};
  const std::unique_ptr<InternalKeys> keys = InternalKeys::Load(rotated, "", "");
  const Json::Value described = keys->Describe();
  ASSERT_EQ(1u, described["previousKeys"].size());
  EXPECT_EQ(idA, described["previousKeys"][0]["keyId"].asString());
  EXPECT_NE(idA, described["keyId"].asString());

  const SealingPublicKey& a = keys->GetRing().GetKeys()[1].GetPublicKey();
  const std::string envelope = Sealing::Seal(a, "secret", "item:X:1");
  std::string plaintext, error, keyId;
  EXPECT_TRUE(keys->Open(plaintext, error, keyId, envelope.data(), envelope.size(), "item:X:1", 5));
  EXPECT_EQ("secret", plaintext);
  EXPECT_EQ(idA, keyId);
  EXPECT_FALSE(
    keys->Open(plaintext, error, keyId, envelope.data(), envelope.size(), "item:X:2", 6));
  EXPECT_TRUE(plaintext.empty());
  EXPECT_NE(std::string::npos, error.find("sealed for key " + idA)) << error;
  EXPECT_EQ(std::string::npos, error.find("secret")) << error;
  EXPECT_FALSE(keys->Open(plaintext, error, keyId, "DICM", 4, "item:X:1", 7));
  EXPECT_EQ("", keyId);
  EXPECT_EQ("not a sealed envelope", error);
  const Json::Value use = keys->Describe()["previousKeys"][0];
  EXPECT_EQ(1u, use["opened"].asUInt());
  EXPECT_EQ(1u, use["refused"].asUInt());
  EXPECT_FALSE(use["lastRefused"].isNull());
}

TEST_F(InternalKeysTest, EveryBadKeyStopsTheStartUpNamingTheOption)
{
  SealingSettings garbage;
  Write("garbage.pem", "not a key at all\n", 0600);
  garbage.privateKey = Path("garbage.pem");
  ExpectRefused(garbage, "Sealing.PrivateKey", Path("garbage.pem"));

  // Readable by the group: refused, not silently used.
  SealingSettings open;
  open.privateKey = Path("open.pem");
  InternalKeys::Load(open, "", "");
  ASSERT_EQ(0, chmod(Path("open.pem").c_str(), 0644));
  ExpectRefused(open, "Sealing.PrivateKey", Path("open.pem"));

  SealingSettings missing;
  missing.privateKey = Path("b.pem");
  missing.previousPrivateKeys = {Path("b2.pem"), Path("gone.pem")};
  InternalKeys::Load([&] { SealingSettings s; s.privateKey = Path("b2.pem"); return s; }(), "", "");
  ExpectRefused(missing, "Sealing.PreviousPrivateKeys[1]", Path("gone.pem"));
  EXPECT_FALSE(boost::filesystem::exists(Path("gone.pem")));  // a previous key is never made up

  SealingSettings twice;
  twice.privateKey = Path("b2.pem");
  twice.previousPrivateKeys = {Path("b2.pem")};
  ExpectRefused(twice, "Sealing.PreviousPrivateKeys[0]", Path("b2.pem"));

  SealingSettings directory;  // a folder where the file should be
  boost::filesystem::create_directories(folder_ / "folder.pem");
  directory.privateKey = Path("folder.pem");
  ExpectRefused(directory, "Sealing.PrivateKey", Path("folder.pem"));
}

TEST_F(InternalKeysTest, HoldsNamingAKeyAreListed)
{
  Json::Value gateways;
  Json::Value& g = gateways["gateways"].append(Json::objectValue);
  g["name"] = "dmz";
  Json::Value held;
  held["id"] = "AAAA";
  held["reason"] = "item x of AAAA: the envelope sealed for key 0123456789abcdef does not open";
  g["heldUploads"].append(held);
  held["id"] = "BBBB";
  held["reason"] = "item x of BBBB: the upload is sealed, but the item is not an envelope";
  g["heldUploads"].append(held);
  held["id"] = "CCCC";
  held["reason"] = "manifest field \"client.ip\" is not an IPv4 or IPv6 address";
  g["heldUploads"].append(held);
  const Json::Value holds = InternalKeys::ListSealingHolds(gateways);
  ASSERT_EQ(2u, holds.size());
  EXPECT_EQ("AAAA", holds[0]["id"].asString());
  EXPECT_EQ("0123456789abcdef", holds[0]["keyId"].asString());
  EXPECT_EQ("dmz", holds[0]["gateway"].asString());
  EXPECT_TRUE(holds[1]["keyId"].isNull());
}
