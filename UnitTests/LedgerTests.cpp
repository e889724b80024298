#include "Ledger/Ledger.h"

#include <OrthancException.h>
#include <SQLite/Connection.h>
#include <SQLite/Statement.h>

#include <boost/filesystem.hpp>

#include <gtest/gtest.h>

using namespace Inbound;

namespace
{
  UploadRecord MakeUpload(const std::string& id, int64_t now)
  {
    UploadRecord r;
    r.id = id;
    r.tokenHash = "hash";
    r.createdAt = r.updatedAt = now;
    r.sender.name = "Dr. A";
    r.sender.email = "a@example.org";
    r.clientIp = "203.0.113.9";
    return r;
  }

  ItemRecord MakeItem(const std::string& uploadId, const std::string& sha, int64_t now)
  {
    ItemRecord i;
    i.uploadId = uploadId;
    i.sha256 = sha;
    i.size = 100;
    i.studyInstanceUid = "1.2.3";
    i.orthancPatientId = "p1";
    i.storedAt = now;
    return i;
  }
}

TEST(Ledger, UploadLifecycle)
{
  Ledger ledger("");
  ledger.CreateUpload(MakeUpload("U1", 1000));

  UploadRecord r;
  ASSERT_TRUE(ledger.LookupUpload(r, "U1"));
  EXPECT_EQ(UploadState_Open, r.state);
  EXPECT_EQ("Dr. A", r.sender.name);
  EXPECT_FALSE(ledger.LookupUpload(r, "U2"));

  EXPECT_EQ(Ledger::AddItemResult_Added, ledger.AddItem(MakeItem("U1", "aa", 2000), "ip"));
  EXPECT_EQ(Ledger::AddItemResult_AlreadyPresent, ledger.AddItem(MakeItem("U1", "aa", 2500), "ip"));
  EXPECT_EQ(Ledger::AddItemResult_Added, ledger.AddItem(MakeItem("U1", "bb", 3000), "ip"));
  ASSERT_TRUE(ledger.LookupUpload(r, "U1"));
  EXPECT_EQ(2, r.files);
  EXPECT_EQ(200, r.bytes);
  EXPECT_EQ(3000, r.updatedAt);
  EXPECT_TRUE(ledger.HasStudy("U1", "1.2.3"));
  EXPECT_FALSE(ledger.HasStudy("U1", "9.9"));

  EXPECT_TRUE(ledger.ChangeState("U1", {UploadState_Open}, UploadState_Complete, 4000, "ip", "",
                                 "ABCD-EFGH"));
  EXPECT_FALSE(ledger.ChangeState("U1", {UploadState_Open}, UploadState_Cancelled, 4100, "ip", ""));
  EXPECT_EQ(Ledger::AddItemResult_UploadClosed, ledger.AddItem(MakeItem("U1", "cc", 5000), "ip"));
  ASSERT_TRUE(ledger.LookupUpload(r, "U1"));
  EXPECT_EQ(UploadState_Complete, r.state);
  EXPECT_EQ(4000, r.completedAt);
  EXPECT_EQ("ABCD-EFGH", r.receiptCode);
  EXPECT_EQ(2u, ledger.ListItems("U1").size());

  const std::vector<AuditEvent> history = ledger.ListHistory("U1");
  ASSERT_EQ(4u, history.size());
  EXPECT_EQ("upload-opened", history[0].event);
  EXPECT_EQ("file-stored", history[1].event);
  EXPECT_EQ("upload-complete", history[3].event);
}

TEST(Ledger, IdleAndUnpurgedUploads)
{
  Ledger ledger("");
  ledger.CreateUpload(MakeUpload("OLD", 1000));
  ledger.CreateUpload(MakeUpload("NEW", 9000));
  const std::vector<std::string> idle = ledger.ListIdleOpenUploads(5000);
  ASSERT_EQ(1u, idle.size());
  EXPECT_EQ("OLD", idle[0]);

  ledger.ChangeState("OLD", {UploadState_Open}, UploadState_Expired, 6000, "", "");
  ASSERT_EQ(1u, ledger.ListUnpurgedRemovedUploads().size());
  ledger.MarkPurged("OLD", 6001, "done");
  EXPECT_TRUE(ledger.ListUnpurgedRemovedUploads().empty());
  EXPECT_TRUE(ledger.ListIdleOpenUploads(5000).empty());
}

TEST(Ledger, ListsAndAudit)
{
  Ledger ledger("");
  for (int i = 0; i < 5; i++)
  {
    ledger.CreateUpload(MakeUpload("U" + std::to_string(i), 1000 * (i + 1)));
  }
  ledger.ChangeState("U0", {UploadState_Open}, UploadState_Cancelled, 9000, "", "");
  EXPECT_EQ(5u, ledger.ListUploads("", 0, 100).size());
  EXPECT_EQ("U4", ledger.ListUploads("", 0, 100)[0].id);  // newest first
  EXPECT_EQ(2u, ledger.ListUploads("", 0, 2).size());
  EXPECT_EQ(1u, ledger.ListUploads("cancelled", 0, 100).size());
  EXPECT_EQ(2u, ledger.ListUploads("", 4000, 100).size());

  const std::vector<AuditEvent> audit = ledger.ListAudit(0, 3);
  ASSERT_EQ(3u, audit.size());
  EXPECT_LT(audit[0].seq, audit[1].seq);  // oldest first, the newest three
  EXPECT_EQ("upload-cancelled", audit[2].event);
}

TEST(Ledger, SurvivesReopening)
{
  const boost::filesystem::path path =
    boost::filesystem::temp_directory_path() / boost::filesystem::unique_path("ledger-%%%%%%.sqlite");
  {
    Ledger ledger(path.string());
    ledger.CreateUpload(MakeUpload("U1", 1000));
    ledger.AddItem(MakeItem("U1", "aa", 2000), "ip");
  }
  {
    Ledger ledger(path.string());
    UploadRecord r;
    ASSERT_TRUE(ledger.LookupUpload(r, "U1"));
    EXPECT_EQ(1, r.files);
    EXPECT_EQ(1u, ledger.ListItems("U1").size());
  }
  boost::filesystem::remove(path);
  boost::filesystem::remove(path.string() + "-wal");
  boost::filesystem::remove(path.string() + "-shm");
}

TEST(Ledger, RefusesALedgerOfANewerVersion)
{
  const boost::filesystem::path path =
    boost::filesystem::temp_directory_path() / boost::filesystem::unique_path("ledger-%%%%%%.sqlite");
  {
    Ledger ledger(path.string());
    ledger.CreateUpload(MakeUpload("U1", 1000));
  }
  {
    Orthanc::SQLite::Connection db;
    db.Open(path.string());
    Orthanc::SQLite::Statement s(db, SQLITE_FROM_HERE, "PRAGMA user_version");
    ASSERT_TRUE(s.Step());
    EXPECT_EQ(4, s.ColumnInt(0));  // written by this version
    db.Execute("PRAGMA user_version = 99;");
  }
  try
  {
    Ledger ledger(path.string());
    FAIL() << "a ledger of schema 99 was opened";
  }
  catch (const Orthanc::OrthancException& e)
  {
    EXPECT_NE(std::string::npos, std::string(e.GetDetails()).find("newer version"));
  }
  {
    // Left as it was: the newer version can still use it.
    Orthanc::SQLite::Connection db;
    db.Open(path.string());
    Orthanc::SQLite::Statement s(db, SQLITE_FROM_HERE, "SELECT COUNT(*) FROM uploads");
    ASSERT_TRUE(s.Step());
    EXPECT_EQ(1, s.ColumnInt(0));
  }
  boost::filesystem::remove(path);
  boost::filesystem::remove(path.string() + "-wal");
  boost::filesystem::remove(path.string() + "-shm");
}

TEST(Ledger, UpgradesALedgerOfSchema1)
{
  const boost::filesystem::path path =
    boost::filesystem::temp_directory_path() / boost::filesystem::unique_path("ledger-%%%%%%.sqlite");
  {
    Ledger ledger(path.string());
    ledger.CreateUpload(MakeUpload("U1", 1000));
  }
  {
    // As release 0.1.0 left it: no language column, schema 1.
    Orthanc::SQLite::Connection db;
    db.Open(path.string());
    db.Execute("ALTER TABLE uploads DROP COLUMN language; PRAGMA user_version = 1;");
  }
  {
    Ledger ledger(path.string());
    UploadRecord r;
    ASSERT_TRUE(ledger.LookupUpload(r, "U1"));
    EXPECT_EQ("", r.language);
    UploadRecord next = MakeUpload("U2", 2000);
    next.language = "de";
    ledger.CreateUpload(next);
    ASSERT_TRUE(ledger.LookupUpload(r, "U2"));
    EXPECT_EQ("de", r.language);
  }
  {
    Orthanc::SQLite::Connection db;
    db.Open(path.string());
    Orthanc::SQLite::Statement s(db, SQLITE_FROM_HERE, "PRAGMA user_version");
    ASSERT_TRUE(s.Step());
    EXPECT_EQ(4, s.ColumnInt(0));
  }
  boost::filesystem::remove(path);
  boost::filesystem::remove(path.string() + "-wal");
  boost::filesystem::remove(path.string() + "-shm");
}

TEST(Ledger, UpgradesALedgerOfSchema3WithoutGateways)
{
  const boost::filesystem::path path =
    boost::filesystem::temp_directory_path() / boost::filesystem::unique_path("ledger-%%%%%%.sqlite");
  {
    Ledger ledger(path.string());
    UploadRecord pulled = MakeUpload("U1", 1000);
    pulled.tokenHash = "";  // pulled: no sender token inside
    ledger.CreateUpload(pulled);
    ledger.CreateUpload(MakeUpload("U2", 1000));  // received directly
  }
  {
    // As schema 3 left it: no record of the gateway a pulled upload came from.
    Orthanc::SQLite::Connection db;
    db.Open(path.string());
    db.Execute("ALTER TABLE uploads DROP COLUMN gateway; PRAGMA user_version = 3;");
  }
  {
    Ledger ledger(path.string());
    UploadRecord r;
    ASSERT_TRUE(ledger.LookupUpload(r, "U1"));
    EXPECT_EQ("", r.gateway);
    // The first gateway that names it owns it, for good.
    EXPECT_EQ("dmz2", ledger.ClaimPulledUpload("U1", "dmz2", 5000));
    EXPECT_EQ("dmz2", ledger.ClaimPulledUpload("U1", "dmz", 6000));
    ASSERT_TRUE(ledger.LookupUpload(r, "U1"));
    EXPECT_EQ("dmz2", r.gateway);
    // Not an upload received directly, nor one that does not exist.
    EXPECT_EQ("", ledger.ClaimPulledUpload("U2", "dmz", 6000));
    EXPECT_EQ("", ledger.ClaimPulledUpload("U3", "dmz", 6000));
    size_t recorded = 0;
    for (const AuditEvent& e : ledger.ListHistory("U1"))
    {
      recorded += e.event == "upload-gateway-recorded" && e.ip == "dmz2" ? 1 : 0;
    }
    EXPECT_EQ(1u, recorded);
    UploadRecord next = MakeUpload("U4", 2000);
    next.tokenHash = "";
    next.gateway = "dmz";
    ledger.CreateUpload(next);
    ASSERT_TRUE(ledger.LookupUpload(r, "U4"));
    EXPECT_EQ("dmz", r.gateway);
    EXPECT_EQ("dmz", ledger.ClaimPulledUpload("U4", "dmz2", 6000));
  }
  {
    Ledger again(path.string());  // reopened: kept
    UploadRecord r;
    ASSERT_TRUE(again.LookupUpload(r, "U1"));
    EXPECT_EQ("dmz2", r.gateway);
  }
  boost::filesystem::remove(path);
  boost::filesystem::remove(path.string() + "-wal");
  boost::filesystem::remove(path.string() + "-shm");
}
