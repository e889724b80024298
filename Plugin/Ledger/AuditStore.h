// The audit trail (table "audit") and the cursors of its readers (table "cursors").
#pragma once

#include "Ledger/LedgerDatabase.h"
#include "Ledger/Records.h"

#include <set>
#include <string>
#include <vector>

namespace Inbound
{
  // Texts are made safe and bounded on writing and on reading (TextRules::MakeSafe): the
  // trail must not become a store of whatever a client sends, and each entry stays one
  // readable line. Readers of the trail ("notify": the notifier, "forward": the auto-forward
  // rules) keep a cursor, the last entry they have handled; entries after the slowest reader
  // are never pruned.
  class AuditStore : public boost::noncopyable
  {
  private:
    LedgerDatabase& database_;

  public:
    explicit AuditStore(LedgerDatabase& database);

    // Alerts (IsAlert) also go to Orthanc's log, whether or not anybody is mailed about them.
    void Add(int64_t time, AuditEventType type, const std::string& uploadId,
             const std::string& ip, const std::string& detail);

    // Within the caller's transaction (the audit entry of another store's change); not
    // logged. Returns the entry's "seq".
    int64_t Append(const LedgerDatabase::Session& session, int64_t time, AuditEventType type,
                   const std::string& uploadId, const std::string& ip,
                   const std::string& detail);

    // Within the caller's transaction: the "upload-opened" entries that name the sender's
    // address ("sender <e-mail>, ...") say "sender sealed" instead (a gateway switched to
    // sealed staging, UploadStore::SealPlainRecords). Returns the number of entries changed.
    size_t RedactOpenedSenders(const LedgerDatabase::Session& session);

    // Refusals counted per client and interval (see RefusalAudit), in one transaction: an
    // entry without "seq" is added as a "refused" entry (and gets its "seq"), one with a
    // "seq" gets its new detail (the count so far). Only "refused" entries are ever changed.
    void WriteRefusals(std::vector<AuditEvent>& events);

    // Deletes at most "limit" entries older than "cutoffMs", the oldest first, but none that
    // a reader has yet to read. Returns how many.
    int64_t Prune(int64_t cutoffMs, unsigned int limit);

    // The newest "limit" entries at or after "sinceMs" (0: any time), oldest first.
    std::vector<AuditEvent> List(int64_t sinceMs, unsigned int limit) const;

    // The entries of one upload, oldest first.
    std::vector<AuditEvent> ListHistory(const std::string& uploadId) const;

    // The newest "limit" entries of one of "types" whose detail starts with one of "prefixes",
    // newest first (a partner's requests and alerts: Partners/PartnerStatus.cpp). Reads the
    // trail backwards: for an admin's view, not for a loop.
    std::vector<AuditEvent> ListByDetailPrefix(const std::set<AuditEventType>& types,
                                               const std::vector<std::string>& prefixes,
                                               unsigned int limit) const;

    // Entries of one of "types" after "seq", oldest first, at most "limit". "scannedUpTo" is
    // the sequence number up to which the trail was read, to become the reader's next cursor
    // (past entries of other types too).
    std::vector<AuditEvent> ListAfter(int64_t seq, const std::set<AuditEventType>& types,
                                      unsigned int limit, int64_t& scannedUpTo) const;

    // How far the reader "name" has read. The first call for a name starts it at the newest
    // entry, so that a new reader never acts on the past.
    int64_t GetCursor(const std::string& name);

    // Within the caller's transaction: the reader's cursor moves with what it wrote.
    void SetCursor(const LedgerDatabase::Session& session, const std::string& name, int64_t seq);
  };
}
