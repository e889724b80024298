// Unit tests of the staging area: exact bytes written atomically, names kept inside the folder.
#include "Http/ApiError.h"
#include "LedgerBackends.h"
#include "Staging/StagingArea.h"
#include "TestSupport.h"
#include "Toolbox/Crypto.h"
#include "Toolbox/Json.h"
#include "Upload/UploadService.h"

#include <OrthancException.h>

#include <boost/filesystem.hpp>

#include <gtest/gtest.h>

using namespace Inbound;

namespace
{
  class TemporaryFolder
  {
  public:
    boost::filesystem::path path;

    TemporaryFolder() :
      path(boost::filesystem::temp_directory_path() / boost::filesystem::unique_path("staging-%%%%%%"))
    {
    }

    ~TemporaryFolder()
    {
      boost::filesystem::remove_all(path);
    }
  };
}

TEST(StagingArea, WritesExactBytesAtomicallyAndRemoves)
{
  TemporaryFolder folder;
  StagingArea staging(folder.path.string());
  const std::string data("\0binary\xff data", 13);
  const std::string sha = Crypto::Sha256Hex(data);
  staging.Write("UPLOAD1", sha, data.data(), data.size());
  staging.Write("UPLOAD1", sha, data.data(), data.size());  // again: idempotent

  std::string read;
  ASSERT_TRUE(staging.Read(read, "UPLOAD1", sha));
  EXPECT_EQ(data, read);
  EXPECT_TRUE(staging.Exists("UPLOAD1", sha));
  EXPECT_EQ(13u, staging.ComputeSize());
  // No temporary file is left behind.
  EXPECT_EQ(1, std::distance(boost::filesystem::directory_iterator(folder.path / "UPLOAD1"),
                             boost::filesystem::directory_iterator()));

  staging.RemoveUpload("UPLOAD1");
  EXPECT_FALSE(staging.Exists("UPLOAD1", sha));
  EXPECT_FALSE(staging.Read(read, "UPLOAD1", sha));
  EXPECT_EQ(0u, staging.ComputeSize());
  staging.RemoveUpload("UPLOAD1");  // already gone: no error
}

TEST(StagingArea, RefusesNamesThatLeaveTheFolder)
{
  TemporaryFolder folder;
  StagingArea staging(folder.path.string());
  EXPECT_THROW(staging.Write("..", "abc", "x", 1), Orthanc::OrthancException);
  EXPECT_THROW(staging.Write("UP", "../../etc/passwd", "x", 1), Orthanc::OrthancException);
  EXPECT_THROW(staging.Write("UP/x", "abc", "x", 1), Orthanc::OrthancException);
  EXPECT_THROW(staging.Write("", "abc", "x", 1), Orthanc::OrthancException);
}

TEST(StagingArea, GatewayUploadStagesOriginalsAndStoresNothingInOrthanc)
{
  TemporaryFolder folder;
  const Configuration configuration = InboundTests::MakeConfiguration("Gateway");
  Ledger ledger(InboundTests::TestLedgerLocation());
  StagingArea staging(folder.path.string());
  InboundTests::FakeClock clock;
  NoUploadPolicy policy;
  UploadService service(configuration, ledger, staging, policy, clock);
  ClientInfo client;
  client.ip = "203.0.113.9";

  const std::string body = R"({"sender": {"name": "A", "email": "a@example.org"},
    "consent": {"version": "2026-01", "accepted": true}})";
  const ApiAnswer u = service.Open(body.data(), body.size(), client);
  const std::string id = u.body["id"].asString(), token = u.body["token"].asString();
  const std::string file = InboundTests::MakeDicom("12345", "1.2", "1.2.3", "1.2.3.4");
  const std::string sha = Crypto::Sha256Hex(file);

  const ApiAnswer put = service.PutFile(id, token, sha, file.data(), file.size(), client);
  EXPECT_EQ(201, put.status);
  EXPECT_EQ("12345", put.body["patientId"].asString());  // not isolated in the DMZ
  std::string staged;
  ASSERT_TRUE(staging.Read(staged, id, sha));
  EXPECT_EQ(file, staged);

  EXPECT_EQ(200, service.PutFile(id, token, sha, file.data(), file.size(), client).status);
  service.Complete(id, token, client);
  EXPECT_TRUE(service.Delete(id, client));
  EXPECT_FALSE(staging.Exists(id, sha));
}
