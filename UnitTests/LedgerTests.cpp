// Unit tests of the ledger's stores, transactions and schema upgrades.
// Over 500 lines: every store and each schema upgrade share one set of fixtures.

#include "Ledger/Ledger.h"
#include "LedgerBackends.h"
#include "Ledger/SqliteLedgerConnection.h"

#include <OrthancException.h>

#include <boost/filesystem.hpp>

#include <gtest/gtest.h>

#include <stdexcept>

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
  Ledger ledger(InboundTests::TestLedgerLocation());
  ledger.Uploads().Create(MakeUpload("U1", 1000));

  UploadRecord r;
  ASSERT_TRUE(ledger.Uploads().Lookup(r, "U1"));
  EXPECT_EQ(UploadState_Open, r.state);
  EXPECT_EQ("Dr. A", r.sender.name);
  EXPECT_FALSE(ledger.Uploads().Lookup(r, "U2"));

  UploadStore& uploads = ledger.Uploads();
  EXPECT_EQ(UploadStore::AddItemResult_Added, uploads.AddItem(MakeItem("U1", "aa", 2000), "ip"));
  EXPECT_EQ(UploadStore::AddItemResult_AlreadyPresent,
            uploads.AddItem(MakeItem("U1", "aa", 2500), "ip"));
  EXPECT_EQ(UploadStore::AddItemResult_Added, uploads.AddItem(MakeItem("U1", "bb", 3000), "ip"));
  ASSERT_TRUE(ledger.Uploads().Lookup(r, "U1"));
  EXPECT_EQ(2, r.files);
  EXPECT_EQ(200, r.bytes);
  EXPECT_EQ(3000, r.updatedAt);
  EXPECT_TRUE(ledger.Uploads().HasStudy("U1", "1.2.3"));
  EXPECT_FALSE(ledger.Uploads().HasStudy("U1", "9.9"));

  EXPECT_TRUE(ledger.Uploads().ChangeState("U1", {UploadState_Open}, UploadState_Complete, 4000,
                                           "ip", "", "ABCD-EFGH"));
  EXPECT_FALSE(ledger.Uploads().ChangeState("U1", {UploadState_Open}, UploadState_Cancelled,
                                            4100, "ip", ""));
  EXPECT_EQ(UploadStore::AddItemResult_UploadClosed,
            ledger.Uploads().AddItem(MakeItem("U1", "cc", 5000), "ip"));
  ASSERT_TRUE(ledger.Uploads().Lookup(r, "U1"));
  EXPECT_EQ(UploadState_Complete, r.state);
  EXPECT_EQ(4000, r.completedAt);
  EXPECT_EQ("ABCD-EFGH", r.receiptCode);
  EXPECT_EQ(2u, ledger.Uploads().ListItems("U1").size());

  const std::vector<AuditEvent> history = ledger.Audit().ListHistory("U1");
  ASSERT_EQ(4u, history.size());
  EXPECT_EQ("upload-opened", history[0].event);
  EXPECT_EQ("file-stored", history[1].event);
  EXPECT_EQ("upload-complete", history[3].event);
}

TEST(Ledger, IdleAndUnpurgedUploads)
{
  Ledger ledger(InboundTests::TestLedgerLocation());
  ledger.Uploads().Create(MakeUpload("OLD", 1000));
  ledger.Uploads().Create(MakeUpload("NEW", 9000));
  const std::vector<std::string> idle = ledger.Uploads().ListIdleOpen(5000);
  ASSERT_EQ(1u, idle.size());
  EXPECT_EQ("OLD", idle[0]);

  ledger.Uploads().ChangeState("OLD", {UploadState_Open}, UploadState_Expired, 6000, "", "");
  ASSERT_EQ(1u, ledger.Uploads().ListUnpurgedRemoved().size());
  ledger.Uploads().MarkPurged("OLD", 6001, "done");
  EXPECT_TRUE(ledger.Uploads().ListUnpurgedRemoved().empty());
  EXPECT_TRUE(ledger.Uploads().ListIdleOpen(5000).empty());
}

TEST(Ledger, ListsAndAudit)
{
  Ledger ledger(InboundTests::TestLedgerLocation());
  for (int i = 0; i < 5; i++)
  {
    ledger.Uploads().Create(MakeUpload("U" + std::to_string(i), 1000 * (i + 1)));
  }
  ledger.Uploads().ChangeState("U0", {UploadState_Open}, UploadState_Cancelled, 9000, "", "");
  EXPECT_EQ(5u, ledger.Uploads().List("", 0, 100).size());
  EXPECT_EQ("U4", ledger.Uploads().List("", 0, 100)[0].id);  // newest first
  EXPECT_EQ(2u, ledger.Uploads().List("", 0, 2).size());
  EXPECT_EQ(1u, ledger.Uploads().List("cancelled", 0, 100).size());
  EXPECT_EQ(2u, ledger.Uploads().List("", 4000, 100).size());

  const std::vector<AuditEvent> audit = ledger.Audit().List(0, 3);
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
    ledger.Uploads().Create(MakeUpload("U1", 1000));
    ledger.Uploads().AddItem(MakeItem("U1", "aa", 2000), "ip");
  }
  {
    Ledger ledger(path.string());
    UploadRecord r;
    ASSERT_TRUE(ledger.Uploads().Lookup(r, "U1"));
    EXPECT_EQ(1, r.files);
    EXPECT_EQ(1u, ledger.Uploads().ListItems("U1").size());
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
    ledger.Uploads().Create(MakeUpload("U1", 1000));
  }
  {
    SqliteLedgerConnection db(path.string());
    LedgerStatement s(db, "PRAGMA user_version");
    ASSERT_TRUE(s.Step());
    EXPECT_EQ(10, s.ColumnInt(0));  // written by this version
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
    SqliteLedgerConnection db(path.string());
    LedgerStatement s(db, "SELECT COUNT(*) FROM uploads");
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
    ledger.Uploads().Create(MakeUpload("U1", 1000));
  }
  {
    // As release 0.1.0 left it: no language column, schema 1.
    SqliteLedgerConnection db(path.string());
    db.Execute("ALTER TABLE uploads DROP COLUMN language; DROP INDEX uploads_partner;"
               "ALTER TABLE uploads DROP COLUMN partner_id; DROP TABLE partner_stats;"
               "PRAGMA user_version = 1;");
  }
  {
    Ledger ledger(path.string());
    UploadRecord r;
    ASSERT_TRUE(ledger.Uploads().Lookup(r, "U1"));
    EXPECT_EQ("", r.language);
    UploadRecord next = MakeUpload("U2", 2000);
    next.language = "de";
    ledger.Uploads().Create(next);
    ASSERT_TRUE(ledger.Uploads().Lookup(r, "U2"));
    EXPECT_EQ("de", r.language);
  }
  {
    SqliteLedgerConnection db(path.string());
    LedgerStatement s(db, "PRAGMA user_version");
    ASSERT_TRUE(s.Step());
    EXPECT_EQ(10, s.ColumnInt(0));
    // Schema 7's column and table are back.
    LedgerStatement p(db, "SELECT partner_id FROM uploads WHERE id = 'U1'");
    ASSERT_TRUE(p.Step());
    EXPECT_EQ("", p.ColumnString(0));
    LedgerStatement t(db, "SELECT COUNT(*) FROM partner_stats");
    ASSERT_TRUE(t.Step());
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
    ledger.Uploads().Create(pulled);
    ledger.Uploads().Create(MakeUpload("U2", 1000));  // received directly
  }
  {
    // As schema 3 left it: no record of the gateway a pulled upload came from.
    SqliteLedgerConnection db(path.string());
    db.Execute("ALTER TABLE uploads DROP COLUMN gateway; PRAGMA user_version = 3;");
  }
  {
    Ledger ledger(path.string());
    UploadRecord r;
    ASSERT_TRUE(ledger.Uploads().Lookup(r, "U1"));
    EXPECT_EQ("", r.gateway);
    // The first gateway that names it owns it, for good.
    EXPECT_EQ("dmz2", ledger.Uploads().ClaimPulledUpload("U1", "dmz2", 5000));
    EXPECT_EQ("dmz2", ledger.Uploads().ClaimPulledUpload("U1", "dmz", 6000));
    ASSERT_TRUE(ledger.Uploads().Lookup(r, "U1"));
    EXPECT_EQ("dmz2", r.gateway);
    // Not an upload received directly, nor one that does not exist.
    EXPECT_EQ("", ledger.Uploads().ClaimPulledUpload("U2", "dmz", 6000));
    EXPECT_EQ("", ledger.Uploads().ClaimPulledUpload("U3", "dmz", 6000));
    size_t recorded = 0;
    for (const AuditEvent& e : ledger.Audit().ListHistory("U1"))
    {
      recorded += e.event == "upload-gateway-recorded" && e.ip == "dmz2" ? 1 : 0;
    }
    EXPECT_EQ(1u, recorded);
    UploadRecord next = MakeUpload("U4", 2000);
    next.tokenHash = "";
    next.gateway = "dmz";
    ledger.Uploads().Create(next);
    ASSERT_TRUE(ledger.Uploads().Lookup(r, "U4"));
    EXPECT_EQ("dmz", r.gateway);
    EXPECT_EQ("dmz", ledger.Uploads().ClaimPulledUpload("U4", "dmz2", 6000));
  }
  {
    Ledger again(path.string());  // reopened: kept
    UploadRecord r;
    ASSERT_TRUE(again.Uploads().Lookup(r, "U1"));
    EXPECT_EQ("dmz2", r.gateway);
  }
  boost::filesystem::remove(path);
  boost::filesystem::remove(path.string() + "-wal");
  boost::filesystem::remove(path.string() + "-shm");
}

TEST(Ledger, UpgradesALedgerOfSchema7WithoutTheReconciledIdentity)
{
  const boost::filesystem::path path =
    boost::filesystem::temp_directory_path() / boost::filesystem::unique_path("ledger-%%%%%%.sqlite");
  ForwardRecord f;
  f.uploadId = "U1";
  f.study = "S1";
  f.modality = "pacs";
  f.origin = "admin";
  f.patientId = "H-1";
  f.requestedBy = "admin";
  {
    Ledger ledger(path.string());
    ledger.Uploads().Create(MakeUpload("U1", 1000));
    std::vector<ForwardRecord> forwards = {f};
    ledger.Forwards().Add(forwards, 2000, "", AuditEventType_ReleaseRequested, "1 study");
  }
  {
    // As schema 7 left it: a forward knew PatientID, name and birth date only.
    SqliteLedgerConnection db(path.string());
    db.Execute("ALTER TABLE forwards DROP COLUMN patient_issuer;"
               "ALTER TABLE forwards DROP COLUMN patient_sex;"
               "ALTER TABLE forwards DROP COLUMN accession_number;"
               "ALTER TABLE forwards DROP COLUMN candidate_source;"
               "ALTER TABLE forwards DROP COLUMN candidate_score;"
               "ALTER TABLE forwards DROP COLUMN confirmed; PRAGMA user_version = 7;");
  }
  {
    Ledger ledger(path.string());
    const std::vector<ForwardRecord> old = ledger.Forwards().List("U1", "", 10);
    ASSERT_EQ(1u, old.size());
    EXPECT_EQ("H-1", old[0].patientId);
    EXPECT_EQ("", old[0].patientIssuer);  // removed, as schema 7's releases did
    EXPECT_EQ("", old[0].patientSex);
    EXPECT_EQ("", old[0].accessionNumber);
    EXPECT_EQ("", old[0].candidateSource);
    EXPECT_EQ(-1, old[0].candidateScore);
    EXPECT_FALSE(old[0].confirmed);

    f.patientIssuer = "HOSPITAL-X";
    f.patientSex = "F";
    f.accessionNumber = "A-17";
    f.candidateSource = "pacs";
    f.candidateScore = 85;
    f.confirmed = true;
    std::vector<ForwardRecord> forwards = {f};
    ledger.Forwards().Add(forwards, 3000, "", AuditEventType_ReleaseRequested, "1 study");
    ForwardRecord r;
    ASSERT_TRUE(ledger.Forwards().Lookup(r, forwards[0].id));
    EXPECT_EQ("HOSPITAL-X", r.patientIssuer);
    EXPECT_EQ("F", r.patientSex);
    EXPECT_EQ("A-17", r.accessionNumber);
    EXPECT_EQ("pacs", r.candidateSource);
    EXPECT_EQ(85, r.candidateScore);
    EXPECT_TRUE(r.confirmed);
  }
  {
    SqliteLedgerConnection db(path.string());
    LedgerStatement s(db, "PRAGMA user_version");
    ASSERT_TRUE(s.Step());
    EXPECT_EQ(LedgerDatabase::kSchemaVersion, s.ColumnInt(0));
  }
  boost::filesystem::remove(path);
  boost::filesystem::remove(path.string() + "-wal");
  boost::filesystem::remove(path.string() + "-shm");
}

TEST(Ledger, UpgradesALedgerOfSchema9WhoseItemsOweNoMetadata)
{
  const boost::filesystem::path path =
    boost::filesystem::temp_directory_path() / boost::filesystem::unique_path("ledger-%%%%%%.sqlite");
  {
    Ledger ledger(path.string());
    ledger.Uploads().Create(MakeUpload("U1", 1000));
    ledger.Uploads().AddItem(MakeItem("U1", "aa", 2000), "ip");
  }
  {
    // As schema 9 left it: every item's metadata were written before its answer.
    SqliteLedgerConnection db(path.string());
    db.Execute("DROP INDEX items_unannotated; ALTER TABLE items DROP COLUMN annotated;"
               "PRAGMA user_version = 9;");
  }
  {
    Ledger ledger(path.string());
    EXPECT_TRUE(ledger.Uploads().ListUnannotated("U1").empty());
    EXPECT_TRUE(ledger.Uploads().ListUnannotatedBefore(INT64_MAX, 10).empty());
    ItemRecord owed = MakeItem("U1", "bb", 3000);
    owed.metadataOwed = true;
    ASSERT_EQ(UploadStore::AddItemResult_Added, ledger.Uploads().AddItem(owed, "ip"));
    const std::vector<ItemRecord> listed = ledger.Uploads().ListUnannotated("U1");
    ASSERT_EQ(1u, listed.size());
    EXPECT_EQ("bb", listed[0].sha256);
    EXPECT_TRUE(listed[0].metadataOwed);
    EXPECT_TRUE(ledger.Uploads().ListUnannotatedBefore(3000, 10).empty());  // not older
    EXPECT_EQ(1u, ledger.Uploads().ListUnannotatedBefore(3001, 10).size());
    ledger.Uploads().MarkAnnotated(listed);
    EXPECT_TRUE(ledger.Uploads().ListUnannotated("U1").empty());
    EXPECT_EQ(2u, ledger.Uploads().ListItems("U1").size());
  }
  {
    SqliteLedgerConnection db(path.string());
    LedgerStatement s(db, "PRAGMA user_version");
    ASSERT_TRUE(s.Step());
    EXPECT_EQ(10, s.ColumnInt(0));
  }
  boost::filesystem::remove(path);
  boost::filesystem::remove(path.string() + "-wal");
  boost::filesystem::remove(path.string() + "-shm");
}

TEST(Ledger, AChangeAndItsAuditEntryAreOneTransaction)
{
  Ledger ledger(InboundTests::TestLedgerLocation());
  ledger.Uploads().Create(MakeUpload("U1", 1000), {"global"}, 7);
  EXPECT_EQ(1, ledger.Quotas().GetUsage("global", 7).uploads);
  ledger.Uploads().AddItem(MakeItem("U1", "aa", 2000), "ip", {"global"}, 7);
  EXPECT_EQ(100, ledger.Quotas().GetUsage("global", 7).bytes);
  ASSERT_TRUE(ledger.Uploads().ChangeState("U1", {UploadState_Open}, UploadState_Cancelled, 3000,
                                           "ip", ""));

  // Refused: nothing of the change is written, neither the item nor its counts nor its audit.
  EXPECT_EQ(UploadStore::AddItemResult_UploadClosed,
            ledger.Uploads().AddItem(MakeItem("U1", "bb", 4000), "ip", {"global"}, 7));
  EXPECT_FALSE(ledger.Uploads().ChangeState("U1", {UploadState_Open}, UploadState_Expired, 4000,
                                            "", ""));
  EXPECT_EQ(100, ledger.Quotas().GetUsage("global", 7).bytes);
  EXPECT_EQ(1u, ledger.Uploads().ListItems("U1").size());
  const std::vector<AuditEvent> history = ledger.Audit().ListHistory("U1");
  ASSERT_EQ(3u, history.size());
  EXPECT_TRUE(history[2].Is(AuditEventType_UploadCancelled));

  // A failing statement inside a transaction rolls back what came before it.
  LedgerDatabase database(InboundTests::TestLedgerLocation());
  AuditStore audit(database);
  try
  {
    LedgerDatabase::Transaction t(database);
    audit.Append(t, 1, AuditEventType_Ban, "", "192.0.2.1", "");
    t.GetConnection().Execute("INSERT INTO no_such_table VALUES (1)");
    t.Commit();
    FAIL() << "the statement did not fail";
  }
  catch (const Orthanc::OrthancException&)
  {
  }
  EXPECT_TRUE(audit.List(0, 10).empty());
}

TEST(Ledger, ATransactionThatIsNotCommittedLeavesNothing)
{
  LedgerDatabase database(InboundTests::TestLedgerLocation());
  AuditStore audit(database);
  {
    LedgerDatabase::Transaction t(database);
    audit.Append(t, 1, AuditEventType_Ban, "", "192.0.2.1", "");
  }
  EXPECT_TRUE(audit.List(0, 10).empty());
  {
    LedgerDatabase::Transaction t(database, LedgerDatabase::Durability_Normal);
    audit.Append(t, 2, AuditEventType_Unban, "", "192.0.2.1", "");
    t.Commit();
  }
  ASSERT_EQ(1u, audit.List(0, 10).size());
  LedgerDatabase::Session session(database);
  if (database.GetDialect() == LedgerDialect_SQLite)
  {
    LedgerStatement s(session.GetConnection(), "PRAGMA synchronous");
    ASSERT_TRUE(s.Step());
    EXPECT_EQ(2, s.ColumnInt(0));  // FULL again after a relaxed transaction
  }
  else
  {
    LedgerStatement s(session.GetConnection(), "SHOW synchronous_commit");
    ASSERT_TRUE(s.Step());
    EXPECT_EQ("on", s.ColumnString(0));  // SET LOCAL ended with the relaxed transaction
  }
}

TEST(Ledger, ASessionCommitsAtItsEndAndRollsBackWhenUnwinding)
{
  LedgerDatabase database(InboundTests::TestLedgerLocation());
  AuditStore audit(database);
  {
    LedgerDatabase::Session session(database);
    audit.Append(session, 1, AuditEventType_Ban, "", "192.0.2.1", "");
  }
  ASSERT_EQ(1u, audit.List(0, 10).size());
  try
  {
    LedgerDatabase::Session session(database);
    audit.Append(session, 2, AuditEventType_Unban, "", "192.0.2.1", "");
    throw std::runtime_error("the caller failed");
  }
  catch (const std::runtime_error&)
  {
  }
  ASSERT_EQ(1u, audit.List(0, 10).size());
  EXPECT_EQ(1, audit.List(0, 10)[0].time);
}

TEST(Ledger, TheSameStatementTwiceAtOnce)
{
  // Cached by their text: a second statement of the same text, while the first is still being
  // read, is one of its own.
  LedgerDatabase database(InboundTests::TestLedgerLocation());
  AuditStore audit(database);
  audit.Add(1, AuditEventType_Ban, "", "192.0.2.1", "");
  audit.Add(2, AuditEventType_Ban, "", "192.0.2.2", "");
  LedgerDatabase::Session session(database);
  const std::string sql = "SELECT ip FROM audit ORDER BY seq";
  LedgerStatement outer(session.GetConnection(), sql);
  ASSERT_TRUE(outer.Step());
  {
    LedgerStatement inner(session.GetConnection(), sql);
    ASSERT_TRUE(inner.Step());
    ASSERT_TRUE(inner.Step());
    EXPECT_EQ("192.0.2.2", inner.ColumnString(0));
  }
  EXPECT_EQ("192.0.2.1", outer.ColumnString(0));
  ASSERT_TRUE(outer.Step());
  EXPECT_EQ("192.0.2.2", outer.ColumnString(0));
  EXPECT_FALSE(outer.Step());
}

// --------------------------------------------------------------------- the durable queues

namespace
{
  NotificationRecord MakeNotification(const std::string& key, int64_t due)
  {
    NotificationRecord n;
    n.dedupKey = key;
    n.createdAt = 1000;
    n.channel = "mail";
    n.kind = "alert";
    n.event = "alert-ban-cap";
    n.uploadId = "U1";
    n.target = "admin@example.org";
    n.subject = "subject";
    n.payload = "the mail";
    n.nextAttemptAt = due;
    return n;
  }

  ForwardRecord MakeForward(const std::string& study)
  {
    ForwardRecord f;
    f.uploadId = "U1";
    f.study = study;
    f.modality = "PACS";
    f.origin = "admin";
    f.requestedBy = "admin";
    return f;
  }
}

TEST(Ledger, NotificationsAreDueInOrderAndRetriedByAnAdmin)
{
  Ledger ledger(InboundTests::TestLedgerLocation());
  NotificationStore& queue = ledger.Notifications();
  queue.Enqueue({MakeNotification("1:alert:a", 3000), MakeNotification("2:alert:a", 2000),
                 MakeNotification("3:alert:a", 9000)}, 0);
  queue.Enqueue({MakeNotification("1:alert:a", 1000)}, 0);  // the same key: ignored
  std::vector<NotificationRecord> due = queue.ListDue(5000, 10);
  ASSERT_EQ(2u, due.size());
  EXPECT_EQ("2:alert:a", due[0].dedupKey);  // the most overdue first
  EXPECT_EQ("the mail", due[0].payload);
  EXPECT_EQ("", queue.List("", 10)[0].payload);  // lists leave the payloads out

  queue.MarkDelivered(due[0].id, 5000);
  queue.MarkRetry(due[1].id, 8000, "timeout");
  EXPECT_TRUE(queue.ListDue(5000, 10).empty());
  queue.MarkFailed(due[1].id, 9500, "gave up", AuditEventType_AlertNotificationFailed, "lost");
  const std::map<std::string, int64_t> counts = queue.CountByState();
  EXPECT_EQ(1, counts.at("pending"));
  EXPECT_EQ(1, counts.at("delivered"));
  EXPECT_EQ(1, counts.at("failed"));
  NotificationRecord failed;
  ASSERT_TRUE(queue.Lookup(failed, due[1].id));
  EXPECT_EQ(NotificationState_Failed, failed.state);
  EXPECT_EQ(2, failed.attempts);

  EXPECT_FALSE(queue.Retry(due[0].id, 10000, "admin"));  // delivered
  EXPECT_FALSE(queue.Retry(12345, 10000, "admin"));      // unknown
  EXPECT_TRUE(queue.Retry(due[1].id, 10000, "admin"));
  due = queue.ListDue(10000, 10);
  ASSERT_EQ(2u, due.size());
  EXPECT_EQ(failed.id, due[1].id);  // due at 10000, after the third one (9000)
  EXPECT_EQ(NotificationState_Pending, due[1].state);
  EXPECT_EQ(10000, due[1].nextAttemptAt);
  const std::vector<AuditEvent> history = ledger.Audit().ListHistory("U1");
  ASSERT_EQ(2u, history.size());
  EXPECT_TRUE(history[0].Is(AuditEventType_AlertNotificationFailed));
  EXPECT_TRUE(history[1].Is(AuditEventType_NotificationRetry));
  EXPECT_EQ("notification " + std::to_string(failed.id) + " by admin", history[1].detail);
}

TEST(Ledger, ForwardsAreDueWhileSendingAndRetriedOnlyWhenWaitingOrFailed)
{
  Ledger ledger(InboundTests::TestLedgerLocation());
  ledger.Audit().Add(1, AuditEventType_UploadComplete, "U1", "", "");
  const int64_t cursor = ledger.Forwards().GetCursor();
  std::vector<ForwardRecord> forwards = {MakeForward("s1"), MakeForward("s2"), MakeForward("s3")};
  ledger.Forwards().Add(forwards, 1000, "", AuditEventType_AutoForward, "3 studies", cursor + 5);
  EXPECT_EQ(cursor + 5, ledger.Forwards().GetCursor());  // moved with the forwards
  ASSERT_NE(0, forwards[2].id);

  forwards[0].state = ForwardState_Sending;
  forwards[0].attempts = 1;
  forwards[0].updatedAt = 1100;
  ledger.Forwards().Update(forwards[0]);
  forwards[1].state = ForwardState_Done;
  forwards[1].updatedAt = 1200;
  ledger.Forwards().Update(forwards[1], AuditEventType_UploadForwarded, "sent");
  forwards[2].state = ForwardState_Failed;
  forwards[2].updatedAt = 1300;
  ledger.Forwards().Update(forwards[2], AuditEventType_AlertForwardFailed, "given up");

  const std::vector<ForwardRecord> due = ledger.Forwards().ListDue(2000, 10);
  ASSERT_EQ(1u, due.size());
  EXPECT_EQ(forwards[0].id, due[0].id);  // sending: its next attempt polls the job
  const std::map<std::string, int64_t> counts = ledger.Forwards().CountByState();
  EXPECT_EQ(0, counts.at("pending"));
  EXPECT_EQ(1, counts.at("sending"));
  EXPECT_EQ(1, counts.at("done"));
  EXPECT_EQ(1, counts.at("failed"));

  EXPECT_FALSE(ledger.Forwards().Retry(forwards[0].id, 3000, "admin"));  // sending
  EXPECT_FALSE(ledger.Forwards().Retry(forwards[1].id, 3000, "admin"));  // done
  ASSERT_TRUE(ledger.Forwards().Retry(forwards[2].id, 3000, "admin"));
  ForwardRecord retried;
  ASSERT_TRUE(ledger.Forwards().Lookup(retried, forwards[2].id));
  EXPECT_EQ(ForwardState_Pending, retried.state);
  EXPECT_EQ(3000, retried.nextAttemptAt);
  EXPECT_EQ(3000, retried.updatedAt);
  EXPECT_EQ("s3", retried.study);
  EXPECT_EQ(2u, ledger.Forwards().ListDue(3000, 10).size());
  EXPECT_EQ(1u, ledger.Forwards().List("U1", "done", 10).size());
  EXPECT_EQ(3u, ledger.Forwards().List("", "", 10).size());
  EXPECT_TRUE(ledger.Forwards().List("U2", "", 10).empty());

  std::vector<std::string> events;
  for (const AuditEvent& e : ledger.Audit().ListHistory("U1"))
  {
    events.push_back(e.event);
  }
  EXPECT_EQ((std::vector<std::string>{"upload-complete", "auto-forward", "upload-forwarded",
                                      "alert-forward-failed", "forward-retry"}),
            events);
}
