// Unit tests of several Orthancs on one ledger: leases, claims of queued work, the sweeper,
// the pull of one upload by one Internal, bans seen by every Orthanc (doc/Ledger.md, "Leases").
// Over 500 lines: one fixture of two Orthancs on one ledger serves every race it pins.
#include "LedgerBackends.h"
#include "Ledger/LeaseStore.h"
#include "Ledger/Ledger.h"
#include "Limits/BanList.h"
#include "Notify/NotificationDelivery.h"
#include "NotifierTestSupport.h"
#include "PullerTestSupport.h"
#include "TestSupport.h"

#include <boost/filesystem.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>

using namespace Inbound;
using namespace InboundTests;

namespace
{
  const int64_t kLeaseMs = 60 * 1000;

  // One database opened by two Ledger objects, as two Orthancs open it: a schema of the test
  // PostgreSQL server in the "postgresql.*" run, else a SQLite file (an in-memory one is
  // each connection's own).
  class TwoOrthancs : public ::testing::Test
  {
  protected:
    boost::filesystem::path folder_;
    FakeClock clock_;
    std::unique_ptr<Ledger> a_;
    std::unique_ptr<Ledger> b_;

  public:
    TwoOrthancs() :
      folder_(boost::filesystem::temp_directory_path() / boost::filesystem::unique_path("lease-%%%%%%"))
    {
      boost::filesystem::create_directories(folder_);
      LedgerLocation location = TestLedgerLocation();
      if (location.dialect == LedgerDialect_SQLite)
      {
        location.sqlitePath = (folder_ / "ledger.sqlite").string();
      }
      a_.reset(new Ledger(location));
      b_.reset(new Ledger(location));
    }

    ~TwoOrthancs()
    {
      a_.reset();
      b_.reset();
      boost::filesystem::remove_all(folder_);
    }

    void AddUpload(const std::string& id)
    {
      UploadRecord r;
      r.id = id;
      r.tokenHash = "hash";
      r.createdAt = r.updatedAt = clock_.now;
      r.sender.name = "Dr. A";
      r.sender.email = "a@example.org";
      r.recipientId = "neuro";
      r.clientIp = "203.0.113.9";
      ASSERT_EQ("", a_->Uploads().Create(r));
    }

    // An alert mail to the admins, due now.
    NotificationRecord MakeMail(const std::string& key) const
    {
      NotificationRecord n;
      n.dedupKey = key;
      n.createdAt = n.nextAttemptAt = clock_.now;
      n.channel = "mail";
      n.kind = "alert";
      n.event = "alert-disk-low";
      n.target = "admin@hospital.example";
      n.subject = "subject";
      n.payload = "Subject: subject\r\n\r\nbody";
      return n;
    }

    int64_t QueueMail(const std::string& key)
    {
      NotificationRecord n = MakeMail(key);
      EXPECT_TRUE(a_->Notifications().Add(n));
      return a_->Notifications().List("", 100).front().id;
    }

    int64_t QueueForward(const std::string& uploadId)
    {
      std::vector<ForwardRecord> forwards(1);
      forwards[0].uploadId = uploadId;
      forwards[0].study = "study";
      forwards[0].modality = "pacs";
      forwards[0].origin = "admin";
      forwards[0].keepNamespace = true;
      a_->Forwards().Add(forwards, clock_.now, "", AuditEventType_ReleaseRequested, "queued");
      return forwards[0].id;
    }

    // A forward of a new upload "U1" (its id in "id"), then what "a" claims for one lease.
    std::vector<ForwardRecord> QueueForwardClaimedByA(int64_t& id)
    {
      AddUpload("U1");
      id = QueueForward("U1");
      return a_->Forwards().ClaimDue(clock_.now, 20, "a/1", clock_.now + kLeaseMs);
    }
  };
}

TEST_F(TwoOrthancs, ALeaseIsHeldByOneNodeAndTakenOverOnlyAfterItEnds)
{
  LeaseStore a(a_->GetDatabase()), b(b_->GetDatabase());
  EXPECT_TRUE(a.TryAcquire("sweeper", "a/1", clock_.now, kLeaseMs));
  std::string previous;
  EXPECT_FALSE(b.TryAcquire("sweeper", "b/2", clock_.now + 1000, kLeaseMs, &previous));
  EXPECT_EQ("a/1", previous);
  EXPECT_TRUE(a.TryAcquire("sweeper", "a/1", clock_.now + 2000, kLeaseMs));  // its own: renewed
  EXPECT_TRUE(a.Renew("sweeper", "a/1", clock_.now + 3000, kLeaseMs));
  EXPECT_FALSE(b.Renew("sweeper", "b/2", clock_.now + 3000, kLeaseMs));  // never its own

  // "a" dies: its lease ends LeaseSeconds after its last renewal, then "b" takes over.
  EXPECT_FALSE(b.TryAcquire("sweeper", "b/2", clock_.now + 3000 + kLeaseMs - 1, kLeaseMs));
  EXPECT_TRUE(b.TryAcquire("sweeper", "b/2", clock_.now + 3000 + kLeaseMs, kLeaseMs, &previous));
  EXPECT_EQ("a/1", previous);
  std::string owner;
  int64_t until = 0;
  ASSERT_TRUE(a.Lookup(owner, until, "sweeper"));
  EXPECT_EQ("b/2", owner);
  EXPECT_EQ(clock_.now + 3000 + 2 * kLeaseMs, until);
  // "a" was only slow: its renewal fails, it knows it lost the work.
  EXPECT_FALSE(a.Renew("sweeper", "a/1", clock_.now + 3000 + kLeaseMs + 1, kLeaseMs));

  // Given back: taken at once by the other.
  a.Release("sweeper", "a/1");  // not its own: nothing happens
  EXPECT_FALSE(a.TryAcquire("sweeper", "a/1", clock_.now + 3000 + kLeaseMs + 2, kLeaseMs));
  b.ReleaseAll("b/2");
  EXPECT_TRUE(a.TryAcquire("sweeper", "a/1", clock_.now + 3000 + kLeaseMs + 3, kLeaseMs));
  a.Clear();
  EXPECT_FALSE(a.Lookup(owner, until, "sweeper"));
}

TEST_F(TwoOrthancs, TheSweeperRunsOnOneNodeAndMovesWhenItStopsOrDies)
{
  LeaseHolder a(a_->GetDatabase(), "sweeper", "a/1", kLeaseMs);
  LeaseHolder b(b_->GetDatabase(), "sweeper", "b/2", kLeaseMs);
  int64_t now = clock_.now;
  int sweptByA = 0, sweptByB = 0;
  for (int tick = 0; tick < 120; tick++, now += 1000)  // two minutes of one-second ticks
  {
    sweptByA += a.Hold(now) ? 1 : 0;
    sweptByB += b.Hold(now) ? 1 : 0;
  }
  EXPECT_EQ(120, sweptByA);
  EXPECT_EQ(0, sweptByB);

  // "a" stops cleanly: "b" sweeps at its next tick.
  a.Release();
  EXPECT_TRUE(b.Hold(now));
  EXPECT_FALSE(a.Hold(now));

  // "b" dies (no more ticks): "a" sweeps again once b's lease has ended, not before.
  now += 1000;
  EXPECT_FALSE(a.Hold(now));
  EXPECT_FALSE(a.Hold(now + kLeaseMs - 2000));
  EXPECT_TRUE(a.Hold(now + kLeaseMs));
}

TEST_F(TwoOrthancs, ADueNotificationIsClaimedByOneNodeOnly)
{
  const int64_t id = QueueMail("1:alert:admin");
  const std::vector<NotificationRecord> byA =
    a_->Notifications().ClaimDue(clock_.now, 50, "a/1", clock_.now + kLeaseMs);
  ASSERT_EQ(1u, byA.size());
  EXPECT_EQ(id, byA[0].id);
  EXPECT_TRUE(b_->Notifications().ClaimDue(clock_.now, 50, "b/2", clock_.now + kLeaseMs).empty());
  EXPECT_FALSE(b_->Notifications().RenewClaim(id, "b/2", clock_.now + kLeaseMs));
  EXPECT_TRUE(a_->Notifications().RenewClaim(id, "a/1", clock_.now + kLeaseMs));

  // The outcome gives the claim up: a retry is due for whoever claims it then.
  a_->Notifications().MarkRetry(id, clock_.now + 5000, "relay down");
  EXPECT_TRUE(b_->Notifications().ClaimDue(clock_.now + 4999, 50, "b/2", clock_.now + kLeaseMs).empty());
  ASSERT_EQ(1u, b_->Notifications().ClaimDue(clock_.now + 5000, 50, "b/2", clock_.now + kLeaseMs).size());
  b_->Notifications().MarkDelivered(id, clock_.now + 5000);
  EXPECT_TRUE(a_->Notifications().ClaimDue(clock_.now + kLeaseMs * 10, 50, "a/1", clock_.now + kLeaseMs * 11).empty());
}

TEST_F(TwoOrthancs, ADeadNodesClaimIsTakenOverAfterTheLease)
{
  const int64_t id = QueueMail("1:alert:admin");
  ASSERT_EQ(1u, a_->Notifications().ClaimDue(clock_.now, 50, "a/1", clock_.now + kLeaseMs).size());
  // "a" dies while sending: no outcome is recorded.
  EXPECT_TRUE(b_->Notifications().ClaimDue(clock_.now + kLeaseMs - 1, 50, "b/2", clock_.now + 2 * kLeaseMs).empty());
  const std::vector<NotificationRecord> byB =
    b_->Notifications().ClaimDue(clock_.now + kLeaseMs, 50, "b/2", clock_.now + 2 * kLeaseMs);
  ASSERT_EQ(1u, byB.size());
  EXPECT_EQ(id, byB[0].id);
  EXPECT_FALSE(a_->Notifications().RenewClaim(id, "a/1", clock_.now + kLeaseMs));  // too late

  // A stopping Orthanc gives its claims back: taken at once.
  b_->Notifications().ReleaseClaims("b/2");
  EXPECT_EQ(1u, a_->Notifications().ClaimDue(clock_.now + kLeaseMs, 50, "a/1", clock_.now + 2 * kLeaseMs).size());
}

namespace
{
  // A relay that, while it sends, lets the other Orthanc run its round.
  class RelayDuringOtherRound : public NotifierTesting::FakeMailTransport
  {
  public:
    std::function<void()> during;

    void Send(const std::string& from, const std::vector<std::string>& recipients,
              const std::string& message) override
    {
      if (during)
      {
        std::function<void()> once;
        once.swap(during);
        once();
      }
      NotifierTesting::FakeMailTransport::Send(from, recipients, message);
    }
  };
}

TEST_F(TwoOrthancs, TwoDeliveriesSendEachNotificationOnce)
{
  const Configuration configuration = NotifierTesting::MakeConfiguration("{}");
  RelayDuringOtherRound relay;
  NotificationDelivery a(configuration, *a_, clock_, &relay, nullptr, "inbound@hospital.example");
  NotificationDelivery b(configuration, *b_, clock_, &relay, nullptr, "inbound@hospital.example");
  a.SetNode("a/1", 60);
  b.SetNode("b/2", 60);
  QueueMail("1:alert:admin");
  QueueMail("2:alert:admin");
  std::atomic<bool> stopping(false);
  size_t byB = 99;
  relay.during = [&] { byB = b.DeliverDue(stopping); };  // while "a" sends its first
  EXPECT_EQ(2u, a.DeliverDue(stopping));
  EXPECT_EQ(0u, byB);  // both were claimed by "a"
  EXPECT_EQ(2u, relay.delivered.size());
  EXPECT_EQ(0u, b.DeliverDue(stopping));
  EXPECT_EQ(2, a_->Notifications().CountByState()["delivered"]);
}

TEST_F(TwoOrthancs, ASendingForwardStaysWithTheOrthancWhoseJobSendsIt)
{
  int64_t id = 0;
  std::vector<ForwardRecord> byA = QueueForwardClaimedByA(id);
  ASSERT_EQ(1u, byA.size());
  EXPECT_TRUE(b_->Forwards().ClaimDue(clock_.now, 20, "b/2", clock_.now + kLeaseMs).empty());

  // Its store job started on "a": polled by "a" only, each poll renews the claim.
  ForwardRecord& f = byA[0];
  f.state = ForwardState_Sending;
  f.attempts = 1;
  f.jobId = "job-on-a";
  f.nextAttemptAt = clock_.now + 1000;
  f.updatedAt = clock_.now;
  a_->Forwards().Update(f);
  for (int64_t t = 1000; t <= 3 * kLeaseMs; t += 1000)
  {
    EXPECT_TRUE(b_->Forwards().ClaimDue(clock_.now + t, 20, "b/2", clock_.now + t + kLeaseMs).empty());
    ASSERT_EQ(1u, a_->Forwards().ClaimDue(clock_.now + t, 20, "a/1", clock_.now + t + kLeaseMs).size());
    f.nextAttemptAt = clock_.now + t + 1000;
    a_->Forwards().Update(f);
  }

  // "a" dies with the job: "b" takes the forward over once the claim has ended.
  const int64_t last = clock_.now + 3 * kLeaseMs;
  EXPECT_TRUE(b_->Forwards().ClaimDue(last + kLeaseMs - 1, 20, "b/2", last + 2 * kLeaseMs).empty());
  const std::vector<ForwardRecord> byB =
    b_->Forwards().ClaimDue(last + kLeaseMs, 20, "b/2", last + 2 * kLeaseMs);
  ASSERT_EQ(1u, byB.size());
  EXPECT_EQ(id, byB[0].id);
  EXPECT_EQ("job-on-a", byB[0].jobId);

  // A pending forward's claim ends with the step; a stopping Orthanc keeps a sending one.
  ForwardRecord g = byB[0];
  g.state = ForwardState_Pending;
  g.jobId.clear();
  g.nextAttemptAt = last + kLeaseMs;
  b_->Forwards().Update(g);
  EXPECT_EQ(1u, a_->Forwards().ClaimDue(last + kLeaseMs, 20, "a/1", last + 2 * kLeaseMs).size());
  g.state = ForwardState_Sending;
  a_->Forwards().Update(g);
  a_->Forwards().ReleaseClaims("a/1");
  EXPECT_TRUE(b_->Forwards().ClaimDue(last + kLeaseMs, 20, "b/2", last + 2 * kLeaseMs).empty());
}

TEST_F(TwoOrthancs, ANodeThatLostItsNotificationRecordsNoOutcome)
{
  // "a" claims a mail, then pauses past its claim while its relay hangs; "b" takes the
  // mail over and is sending it when "a" wakes up with its relay's failure.
  const Configuration configuration = NotifierTesting::MakeConfiguration("{}");
  RelayDuringOtherRound relay;
  NotificationDelivery a(configuration, *a_, clock_, &relay, nullptr, "inbound@hospital.example");
  a.SetNode("a/1", 60);
  const int64_t id = QueueMail("1:alert:admin");
  relay.failAll = true;
  relay.during = [&] {
    clock_.now += kLeaseMs + 1000;
    ASSERT_EQ(1u, b_->Notifications().ClaimDue(clock_.now, 50, "b/2", clock_.now + kLeaseMs).size());
  };
  std::atomic<bool> stopping(false);
  EXPECT_EQ(0u, a.DeliverDue(stopping));

  // "b" still holds it: nobody else claims it, and "a"'s failure was not counted.
  EXPECT_TRUE(a_->Notifications().ClaimDue(clock_.now + 10000, 50, "c/3", clock_.now + kLeaseMs).empty());
  EXPECT_TRUE(b_->Notifications().RenewClaim(id, "b/2", clock_.now + kLeaseMs));
  NotificationRecord n;
  ASSERT_TRUE(a_->Notifications().Lookup(n, id));
  EXPECT_EQ(NotificationState_Pending, n.state);
  EXPECT_EQ(0, n.attempts);

  // Nor can a stale node give it up (a false alert) or call it delivered.
  EXPECT_FALSE(a_->Notifications().MarkFailed(id, clock_.now, "given up",
                                              AuditEventType_AlertNotificationFailed, "lost", "a/1"));
  EXPECT_FALSE(a_->Notifications().MarkDelivered(id, clock_.now, "a/1"));
  ASSERT_TRUE(a_->Notifications().Lookup(n, id));
  EXPECT_EQ(NotificationState_Pending, n.state);
  EXPECT_EQ(0, a_->Notifications().CountByState()["failed"]);
  EXPECT_TRUE(b_->Notifications().MarkDelivered(id, clock_.now, "b/2"));
  EXPECT_EQ(1, a_->Notifications().CountByState()["delivered"]);
}

TEST_F(TwoOrthancs, ANodeThatLostItsForwardOverwritesNothing)
{
  int64_t id = 0;
  std::vector<ForwardRecord> byA = QueueForwardClaimedByA(id);
  ASSERT_EQ(1u, byA.size());

  // "a" pauses past its claim (making the copy); "b" takes the forward over, starts its job.
  const int64_t later = clock_.now + kLeaseMs;
  std::vector<ForwardRecord> byB = b_->Forwards().ClaimDue(later, 20, "b/2", later + kLeaseMs);
  ASSERT_EQ(1u, byB.size());
  ForwardRecord g = byB[0];
  g.state = ForwardState_Sending;
  g.attempts = 1;
  g.jobId = "job-on-b";
  g.nextAttemptAt = later + 1000;
  g.updatedAt = later;
  EXPECT_TRUE(b_->Forwards().Update(g, "b/2"));

  // "a" wakes up and records its own job, then its outcome: none of it is written.
  ForwardRecord f = byA[0];
  f.state = ForwardState_Sending;
  f.attempts = 1;
  f.jobId = "job-on-a";
  f.nextAttemptAt = later + 2000;
  f.updatedAt = later + 1;
  EXPECT_FALSE(a_->Forwards().Update(f, "a/1"));
  f.state = ForwardState_Failed;
  EXPECT_FALSE(a_->Forwards().Update(f, AuditEventType_AlertForwardFailed, "given up", "a/1"));
  f.state = ForwardState_Done;
  EXPECT_FALSE(a_->Forwards().Update(f, AuditEventType_UploadForwarded, "sent", "a/1"));

  ForwardRecord now;
  ASSERT_TRUE(a_->Forwards().Lookup(now, id));
  EXPECT_EQ(ForwardState_Sending, now.state);
  EXPECT_EQ("job-on-b", now.jobId);
  for (const AuditEvent& e : a_->Audit().ListHistory("U1"))
  {
    EXPECT_NE(EnumerationToString(AuditEventType_UploadForwarded), e.event);
    EXPECT_NE(EnumerationToString(AuditEventType_AlertForwardFailed), e.event);
  }
  // "b" still holds it and records its outcome.
  EXPECT_TRUE(b_->Forwards().ClaimDue(later + 1000, 20, "c/3", later + kLeaseMs).empty());
  g.state = ForwardState_Done;
  EXPECT_TRUE(b_->Forwards().Update(g, AuditEventType_UploadForwarded, "sent", "b/2"));
}

TEST_F(TwoOrthancs, AStaleNotificationPlannerNeitherQueuesNorMovesTheCursorBack)
{
  // "a" reads the events after "start" and pauses past its planner lease; "b" takes the
  // planner over and plans those events and the next ones.
  const int64_t start = a_->Notifications().GetCursor();
  EXPECT_TRUE(b_->Notifications().Enqueue({MakeMail("b-first")}, start + 5, start));
  EXPECT_TRUE(b_->Notifications().Enqueue({}, start + 9, start + 5));

  // "a" wakes up with its round: nothing of it is written, the cursor stays where "b" left it.
  EXPECT_FALSE(a_->Notifications().Enqueue({MakeMail("a-stale")}, start + 5, start));
  EXPECT_EQ(start + 9, b_->Notifications().GetCursor());
  const std::vector<NotificationRecord> queued = a_->Notifications().List("", 10);
  ASSERT_EQ(1u, queued.size());
  EXPECT_EQ("b-first", queued[0].dedupKey);
}

TEST_F(TwoOrthancs, ABanOnOneOrthancAppliesOnTheOtherAfterARefresh)
{
  BanList a(*a_, clock_, {}), b(*b_, clock_, {});
  ASSERT_TRUE(a.Ban("198.51.100.7", 3600, "scanner", false, "admin"));
  ASSERT_TRUE(a.Ban("2001:db8::/64", 0, "abuse", false, "admin"));
  EXPECT_TRUE(a.IsBanned("198.51.100.7"));
  EXPECT_FALSE(b.IsBanned("198.51.100.7"));  // not read yet
  EXPECT_EQ(2u, b.Refresh());
  EXPECT_TRUE(b.IsBanned("198.51.100.7"));
  EXPECT_TRUE(b.IsBanned("2001:db8::1"));
  EXPECT_EQ(0u, b.Refresh());  // nothing new

  // Lifted on "b": free on "a" after its refresh; an automatic ban on "b" reaches "a".
  EXPECT_TRUE(b.Unban("198.51.100.7", "admin"));
  ASSERT_TRUE(b.Ban("203.0.113.66", 600, std::string(BanList::kAutomaticPrefix) + "flood", true, ""));
  EXPECT_TRUE(a.IsBanned("198.51.100.7"));
  EXPECT_EQ(2u, a.Refresh());
  EXPECT_FALSE(a.IsBanned("198.51.100.7"));
  EXPECT_TRUE(a.IsBanned("203.0.113.66"));
  EXPECT_TRUE(a.IsBanned("2001:db8::1"));
  EXPECT_EQ(2u, a.CountActive());
}

// Two Internals pull one gateway (the PullerTest fixture's): one upload is pulled by one of
// them, whatever the timing, and a start of one never takes the other's work.
TEST_F(PullerTest, TwoInternalsPullOneUploadOnce)
{
  puller_.SetNode("a/1", 60);
  Puller other(internal_, internalLedger_, peer_, clock_);
  other.SetNode("b/2", 60);
  other.SetPieceFolder((folder_ / "pulls-b").string());

  std::vector<std::string> hashes;
  const std::string id = Send(1, hashes);
  std::atomic<bool> once(false);
  bool reached = false;
  std::string owner;
  insidePolicy_.onFile = [&] {
    if (!once.exchange(true))
    {
      int64_t until = 0;
      LeaseStore(internalLedger_.GetDatabase()).Lookup(owner, until, Puller::GetLeaseName("dmz", id));
      reached = other.RunOnce(0);  // "b" polls the same outbox while "a" stores the item
    }
  };
  EXPECT_TRUE(puller_.RunOnce(0));
  EXPECT_TRUE(reached);
  EXPECT_EQ("a/1", owner);
  EXPECT_EQ(1, store_.stores);  // stored by "a" only
  EXPECT_EQ(1, peer_.calls["item"]);
  EXPECT_EQ(UploadState_Delivered, GatewayState(id));
  EXPECT_EQ(1u, puller_.Describe()["delivered"].asUInt());
  EXPECT_EQ(0u, other.Describe()["delivered"].asUInt());
  std::string left;
  int64_t until = 0;
  EXPECT_FALSE(LeaseStore(internalLedger_.GetDatabase()).Lookup(left, until, Puller::GetLeaseName("dmz", id)));

  // The next upload goes to whichever asks first.
  const std::string next = Send(1, hashes);
  EXPECT_TRUE(other.RunOnce(0));
  EXPECT_EQ(UploadState_Delivered, GatewayState(next));
  EXPECT_EQ(1u, other.Describe()["delivered"].asUInt());
  EXPECT_EQ(2, store_.stores);
}

TEST_F(PullerTest, AStartingInternalLeavesALiveInternalsItemAlone)
{
  puller_.SetNode("a/1", 60);
  std::vector<std::string> hashes;
  const std::string id = Send(1, hashes);
  std::atomic<bool> once(false);
  int64_t crashesSeen = -1;
  size_t heldSeen = 99;
  insidePolicy_.onFile = [&] {
    if (!once.exchange(true))
    {
      // "b" starts while "a" parses the item (its marker is in "pulling").
      Puller starting(internal_, internalLedger_, peer_, clock_);
      heldSeen = starting.Describe()["held"].size();
      const std::vector<PullingRecord> markers = internalLedger_.Pulls().ListPulling("dmz");
      crashesSeen = markers.size() == 1 ? markers[0].crashes : -1;
    }
  };
  EXPECT_TRUE(puller_.RunOnce(0));
  EXPECT_EQ(0u, heldSeen);
  EXPECT_EQ(0, crashesSeen);  // not counted as a crash: "a" is alive
  EXPECT_EQ(UploadState_Delivered, GatewayState(id));
  EXPECT_EQ(0u, internalLedger_.Pulls().ListPulling("dmz").size());
}

TEST_F(PullerTest, ADeadInternalsUploadIsTakenOverAfterTheLease)
{
  std::vector<std::string> hashes;
  const std::string id = Send(1, hashes);
  // "a" died while parsing the item: its marker and its lease are left.
  internalLedger_.Pulls().MarkPulling("dmz", id, hashes[0], clock_.now);
  LeaseStore leases(internalLedger_.GetDatabase());
  ASSERT_TRUE(leases.TryAcquire(Puller::GetLeaseName("dmz", id), "a/1", clock_.now, kLeaseMs));

  Puller b(internal_, internalLedger_, peer_, clock_);  // starts while the lease runs
  b.SetNode("b/2", 60);
  b.SetPieceFolder((folder_ / "pulls-b").string());
  ASSERT_EQ(1u, internalLedger_.Pulls().ListPulling("dmz").size());
  EXPECT_EQ(0, internalLedger_.Pulls().ListPulling("dmz")[0].crashes);  // not its to judge yet
  EXPECT_TRUE(b.RunOnce(0));
  EXPECT_EQ(0, store_.stores);  // still a's
  EXPECT_EQ(UploadState_Complete, GatewayState(id));

  clock_.now += kLeaseMs;  // a's lease has ended: b counts the crash, tries once more
  EXPECT_TRUE(b.RunOnce(0));
  EXPECT_EQ(1, store_.stores);
  EXPECT_EQ(UploadState_Delivered, GatewayState(id));
  EXPECT_EQ(0u, b.Describe()["held"].size());
  EXPECT_EQ(0u, internalLedger_.Pulls().ListPulling("dmz").size());
}

TEST_F(PullerTest, AHoldOrAReleaseOnOneInternalCountsOnTheOther)
{
  puller_.SetNode("a/1", 60);
  Puller other(internal_, internalLedger_, peer_, clock_);
  other.SetNode("b/2", 60);
  std::vector<std::string> hashes;
  const std::string id = Send(1, hashes);
  PullingRecord held;
  held.gateway = "dmz";
  held.uploadId = id;
  held.reason = "looked at by an admin";
  held.since = clock_.now;
  ASSERT_TRUE(internalLedger_.Pulls().Hold(held));  // as "b" would hold it
  EXPECT_TRUE(puller_.RunOnce(0));
  EXPECT_EQ(0, store_.stores);
  EXPECT_EQ(1u, puller_.Describe()["held"].size());
  EXPECT_TRUE(other.Release(id, "admin"));  // released through "b"'s admin route
  EXPECT_TRUE(puller_.RunOnce(0));
  EXPECT_EQ(1, store_.stores);
  EXPECT_EQ(UploadState_Delivered, GatewayState(id));
}
