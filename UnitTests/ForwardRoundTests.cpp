// A round of the forwarding rules written once even when two Orthancs of a shared ledger
// planned the same events (ForwardStore::AddRound's compare-and-set of the cursor).

#include "LedgerBackends.h"

#include "Ledger/Ledger.h"

#include <gtest/gtest.h>

using namespace Inbound;

TEST(ForwardRound, ARoundIsWrittenOnlyFromTheCursorItStartedAt)
{
  Ledger ledger(InboundTests::TestLedgerLocation());
  ledger.Audit().Add(1000, AuditEventType_UploadComplete, "u1", "", "");
  ledger.Audit().Add(1001, AuditEventType_UploadComplete, "u2", "", "");
  const int64_t start = ledger.Forwards().GetCursor();

  // Two Orthancs read the same cursor; the first to write moves it, the second writes nothing.
  std::vector<ForwardRecord> none;
  const std::vector<ForwardWaiting> waiting = {{"u1", "waiting for the patient"}};
  EXPECT_TRUE(ledger.Forwards().AddRound(none, "", {}, waiting, 2000, start, start + 2));
  EXPECT_EQ(start + 2, ledger.Forwards().GetCursor());
  EXPECT_FALSE(ledger.Forwards().AddRound(none, "", {}, waiting, 2001, start, start + 2));
  EXPECT_EQ(start + 2, ledger.Forwards().GetCursor());

  // The "reconcile-waiting" entry of the round is in the audit trail once, not twice.
  size_t waitingEntries = 0;
  int64_t scanned = 0;
  for (const AuditEvent& e :
       ledger.Audit().ListAfter(0, {AuditEventType_ReconcileWaiting}, 100, scanned))
  {
    waitingEntries += e.uploadId == "u1" ? 1 : 0;
  }
  EXPECT_EQ(1u, waitingEntries);
}
