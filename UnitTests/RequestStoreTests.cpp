// Unit tests of the request links' store: statuses, uses, tickets, lockout, a gateway's upserts.

#include "Ledger/Ledger.h"
#include "LedgerBackends.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

using namespace Inbound;

namespace
{
  const int64_t kDay = 86400000;

  RequestRecord MakeRequest(const std::string& id, int64_t now, int64_t maxUploads = 2)
  {
    RequestRecord r;
    r.id = id;
    r.tokenHash = "token-of-" + id;
    r.createdAt = r.updatedAt = now;
    r.expiresAt = now + 14 * kDay;
    r.createdBy = "alice";
    r.recipientId = "radiology";
    r.message = "Please send the CT of March";
    r.maxUploads = maxUploads;
    r.challenge = ChallengeKind_BirthDate;
    r.secret = "c2VjcmV0";
    r.revision = 1;
    r.patient.id = "H-000123";
    r.patient.name = "DOE^JANE";
    r.patient.birthDate = "19800102";
    r.senderName = "Dr. Who";
    r.senderEmail = "who@example.org";
    r.forwardTo = "pacs";
    return r;
  }

  UploadRecord MakeBoundUpload(const std::string& id, const std::string& request, int64_t now)
  {
    UploadRecord u;
    u.id = id;
    u.tokenHash = "h-" + id;
    u.createdAt = u.updatedAt = now;
    u.sender.email = "who@example.org";
    u.recipientId = "radiology";
    u.requestId = request;
    return u;
  }

  size_t CountEvents(const Ledger& ledger, AuditEventType type)
  {
    size_t count = 0;
    for (const AuditEvent& e : ledger.Audit().List(0, 1000))
    {
      count += e.Is(type) ? 1 : 0;
    }
    return count;
  }
}

TEST(RequestStore, CreateLookupAndStatus)
{
  Ledger ledger(InboundTests::TestLedgerLocation());
  ledger.Requests().Create(MakeRequest("R1", 1000));

  RequestRecord r;
  ASSERT_TRUE(ledger.Requests().Lookup(r, "R1"));
  EXPECT_EQ("DOE^JANE", r.patient.name);
  EXPECT_EQ(ChallengeKind_BirthDate, r.challenge);
  EXPECT_EQ(0, r.usedUploads);
  EXPECT_EQ("active", r.GetStatus(2000));
  EXPECT_EQ("expired", r.GetStatus(1000 + 14 * kDay));
  ASSERT_TRUE(ledger.Requests().LookupByTokenHash(r, "token-of-R1"));
  EXPECT_EQ("R1", r.id);
  EXPECT_FALSE(ledger.Requests().LookupByTokenHash(r, "token-of-R2"));
  EXPECT_FALSE(ledger.Requests().Lookup(r, "R2"));

  // The audit names who, for whom and how, never the patient.
  const std::vector<AuditEvent> events = ledger.Audit().List(0, 10);
  ASSERT_EQ(1u, events.size());
  EXPECT_TRUE(events[0].Is(AuditEventType_RequestCreated));
  EXPECT_NE(std::string::npos, events[0].detail.find("alice"));
  EXPECT_EQ(std::string::npos, events[0].detail.find("DOE"));
  EXPECT_EQ(std::string::npos, events[0].detail.find("H-000123"));
}

TEST(RequestStore, BoundUploadsCountAgainstTheUses)
{
  Ledger ledger(InboundTests::TestLedgerLocation());
  ledger.Requests().Create(MakeRequest("R1", 1000, 2));
  EXPECT_EQ("", ledger.Uploads().Create(MakeBoundUpload("U1", "R1", 2000)));
  EXPECT_EQ("", ledger.Uploads().Create(MakeBoundUpload("U2", "R1", 2000)));
  EXPECT_EQ("used", ledger.Uploads().Create(MakeBoundUpload("U3", "R1", 2000)));
  UploadRecord u;
  EXPECT_FALSE(ledger.Uploads().Lookup(u, "U3"));
  ASSERT_TRUE(ledger.Uploads().Lookup(u, "U1"));
  EXPECT_EQ("R1", u.requestId);

  // A cancelled attempt gives its use back.
  ASSERT_TRUE(ledger.Uploads().ChangeState("U2", {UploadState_Open}, UploadState_Cancelled, 3000,
                                           "ip", ""));
  EXPECT_EQ("", ledger.Uploads().Create(MakeBoundUpload("U3", "R1", 3000)));
  RequestRecord r;
  ASSERT_TRUE(ledger.Requests().Lookup(r, "R1"));
  EXPECT_EQ(2, r.usedUploads);
  EXPECT_EQ(0, r.GetRemainingUploads());
  EXPECT_EQ("used", r.GetStatus(3000));
  EXPECT_EQ((std::vector<std::string>{"U1", "U2", "U3"}), ledger.Requests().ListUploads("R1"));

  EXPECT_EQ("unknown", ledger.Uploads().Create(MakeBoundUpload("U4", "R9", 3000)));
  // Expired, revoked: refused.
  ledger.Requests().Create(MakeRequest("R2", 1000, 5));
  EXPECT_EQ("expired", ledger.Uploads().Create(MakeBoundUpload("U5", "R2", 1000 + 15 * kDay)));
  ASSERT_TRUE(ledger.Requests().Revoke("R2", 4000, "bob"));
  EXPECT_FALSE(ledger.Requests().Revoke("R2", 4000, "bob"));
  EXPECT_EQ("revoked", ledger.Uploads().Create(MakeBoundUpload("U6", "R2", 5000)));
  EXPECT_EQ(1u, CountEvents(ledger, AuditEventType_RequestRevoked));
}

TEST(RequestStore, RacingOpensCannotExceedTheUses)
{
  Ledger ledger(InboundTests::TestLedgerLocation());
  ledger.Requests().Create(MakeRequest("R1", 1000, 3));
  std::vector<std::thread> threads;
  std::atomic<int> created(0);
  for (int i = 0; i < 12; i++)
  {
    threads.emplace_back([&ledger, &created, i] {
      if (ledger.Uploads().Create(MakeBoundUpload("U" + std::to_string(i), "R1", 2000)).empty())
      {
        created++;
      }
    });
  }
  for (std::thread& t : threads)
  {
    t.join();
  }
  EXPECT_EQ(3, created.load());
}

TEST(RequestStore, WrongAnswersLockAndKillTheTickets)
{
  Ledger ledger(InboundTests::TestLedgerLocation());
  ledger.Requests().Create(MakeRequest("R1", 1000));
  ledger.Requests().RecordSuccess("R1", "ticket-1", 5000, 1500, "198.51.100.7");
  EXPECT_TRUE(ledger.Requests().CheckTicket("R1", "ticket-1", 4999));
  EXPECT_FALSE(ledger.Requests().CheckTicket("R1", "ticket-1", 5000));  // expired
  EXPECT_FALSE(ledger.Requests().CheckTicket("R2", "ticket-1", 2000));  // another request's

  RequestRecord after;
  ASSERT_TRUE(ledger.Requests().RecordFailure(after, "R1", 2000, "198.51.100.7", 3));
  EXPECT_EQ(1, after.failures);
  ASSERT_TRUE(ledger.Requests().RecordFailure(after, "R1", 2001, "198.51.100.7", 3));
  EXPECT_EQ(RequestState_Active, after.state);
  // A right answer starts the count again.
  ledger.Requests().RecordSuccess("R1", "ticket-2", 9000, 2002, "198.51.100.7");
  RequestRecord r;
  ASSERT_TRUE(ledger.Requests().Lookup(r, "R1"));
  EXPECT_EQ(0, r.failures);
  for (int i = 0; i < 3; i++)
  {
    ASSERT_TRUE(ledger.Requests().RecordFailure(after, "R1", 3000 + i, "198.51.100.8", 3));
  }
  EXPECT_EQ(RequestState_Locked, after.state);
  EXPECT_EQ("locked", after.GetStatus(3100));
  EXPECT_EQ(3002, after.lockedAt);
  EXPECT_FALSE(ledger.Requests().CheckTicket("R1", "ticket-2", 3100));
  EXPECT_EQ(1u, CountEvents(ledger, AuditEventType_RequestLocked));
  EXPECT_EQ(1u, CountEvents(ledger, AuditEventType_AlertRequestLocked));
  EXPECT_EQ(5u, CountEvents(ledger, AuditEventType_RequestChallengeFailed));
  EXPECT_EQ("locked", ledger.Uploads().Create(MakeBoundUpload("U1", "R1", 3200)));
  // A right answer judged before the lock but recorded after it gets no ticket.
  EXPECT_FALSE(ledger.Requests().RecordSuccess("R1", "ticket-3", 9000, 3300, "198.51.100.7"));
  EXPECT_FALSE(ledger.Requests().CheckTicket("R1", "ticket-3", 3400));
  ASSERT_TRUE(ledger.Requests().Lookup(r, "R1"));
  EXPECT_EQ(3, r.failures);
  EXPECT_FALSE(ledger.Requests().RecordFailure(after, "R9", 3000, "ip", 3));
}

TEST(RequestStore, AGatewayKeepsNoPatientAndItsOwnLock)
{
  Ledger gateway(InboundTests::TestLedgerLocation());
  RequestRecord pushed = MakeRequest("R1", 1000);
  ASSERT_TRUE(gateway.Requests().Upsert(pushed, 1100));
  EXPECT_FALSE(gateway.Requests().Upsert(pushed, 1200));  // not newer
  RequestRecord r;
  ASSERT_TRUE(gateway.Requests().Lookup(r, "R1"));
  EXPECT_EQ("", r.patient.id);
  EXPECT_EQ("", r.patient.name);
  EXPECT_EQ("", r.patient.birthDate);
  EXPECT_EQ("", r.senderEmail);
  EXPECT_EQ("", r.forwardTo);
  EXPECT_EQ("c2VjcmV0", r.secret);
  EXPECT_EQ(1u, CountEvents(gateway, AuditEventType_RequestReceived));

  RequestRecord after;
  ASSERT_TRUE(gateway.Requests().RecordFailure(after, "R1", 2000, "ip", 1));
  EXPECT_EQ(RequestState_Locked, after.state);
  // A newer push (a longer expiry) keeps the gateway's lock...
  pushed.revision = 2;
  pushed.expiresAt += kDay;
  ASSERT_TRUE(gateway.Requests().Upsert(pushed, 2100));
  ASSERT_TRUE(gateway.Requests().Lookup(r, "R1"));
  EXPECT_EQ(RequestState_Locked, r.state);
  EXPECT_EQ(pushed.expiresAt, r.expiresAt);
  // ...which only a revocation outranks; a push that changes the token is refused.
  pushed.revision = 3;
  pushed.state = RequestState_Revoked;
  RequestRecord forged = pushed;
  forged.tokenHash = "another";
  EXPECT_FALSE(gateway.Requests().Upsert(forged, 2200));
  ASSERT_TRUE(gateway.Requests().Upsert(pushed, 2200));
  ASSERT_TRUE(gateway.Requests().Lookup(r, "R1"));
  EXPECT_EQ(RequestState_Revoked, r.state);
  EXPECT_EQ(1u, CountEvents(gateway, AuditEventType_RequestRevoked));
}

TEST(RequestStore, PruneForgetsOldTicketsAndUnusedRequests)
{
  Ledger ledger(InboundTests::TestLedgerLocation());
  ledger.Requests().Create(MakeRequest("R1", 1000));
  RequestRecord used = MakeRequest("R2", 1000);
  used.tokenHash = "t2";
  ledger.Requests().Create(used);
  ASSERT_EQ("", ledger.Uploads().Create(MakeBoundUpload("U1", "R2", 2000)));
  ledger.Requests().RecordSuccess("R1", "ticket-1", 5000, 1500, "ip");
  const int64_t late = 1000 + 14 * kDay + 31 * kDay;
  EXPECT_EQ(2u, ledger.Requests().Prune(late, 30 * kDay));  // the ticket and R1
  RequestRecord r;
  EXPECT_FALSE(ledger.Requests().Lookup(r, "R1"));
  EXPECT_TRUE(ledger.Requests().Lookup(r, "R2"));  // an upload still names it
}

TEST(RequestStore, PulledUploadsAreRefusedOnlyBeyondTheUses)
{
  Ledger internal(InboundTests::TestLedgerLocation());
  internal.Requests().Create(MakeRequest("R1", 1000, 1));
  ASSERT_TRUE(internal.Requests().Revoke("R1", 1500, "bob"));
  // Opened on the gateway before the revocation reached it: the puller judged that; the
  // store only counts.
  UploadRecord pulled = MakeBoundUpload("U1", "R1", 1200);
  pulled.tokenHash = "";
  pulled.gateway = "dmz";
  EXPECT_EQ("", internal.Uploads().Create(pulled));
  pulled.id = "U2";
  EXPECT_EQ("used", internal.Uploads().Create(pulled));
  UploadRecord u;
  ASSERT_TRUE(internal.Uploads().Lookup(u, "U1"));
  EXPECT_EQ(-1, u.requestMatched);
}

TEST(RequestStore, AGatewaysLockReachesTheInside)
{
  Ledger internal(InboundTests::TestLedgerLocation());
  internal.Requests().Create(MakeRequest("R1", 1000));
  ASSERT_TRUE(internal.Requests().MarkLocked("R1", 1500, 1600, "dmz"));
  EXPECT_FALSE(internal.Requests().MarkLocked("R1", 1500, 1700, "dmz2"));
  RequestRecord r;
  ASSERT_TRUE(internal.Requests().Lookup(r, "R1"));
  EXPECT_EQ(RequestState_Locked, r.state);
  EXPECT_EQ(2, r.revision);  // pushed again to the other gateways
  EXPECT_EQ(1u, CountEvents(internal, AuditEventType_RequestLocked));
  EXPECT_EQ(1u, CountEvents(internal, AuditEventType_AlertRequestLocked));

  // The other gateway gets the lock with the next push.
  Ledger other(InboundTests::TestLedgerLocation());
  RequestRecord pushed = MakeRequest("R1", 1000);
  ASSERT_TRUE(other.Requests().Upsert(pushed, 1100));
  pushed.revision = 2;
  pushed.state = RequestState_Locked;
  ASSERT_TRUE(other.Requests().Upsert(pushed, 1700));
  ASSERT_TRUE(other.Requests().Lookup(r, "R1"));
  EXPECT_EQ(RequestState_Locked, r.state);
}
