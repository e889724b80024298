// Leases: which Orthanc of several on one ledger does a piece of work (table "leases").
#pragma once

#include "Ledger/LedgerDatabase.h"

#include <boost/noncopyable.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace Inbound
{
  // A lease names a piece of work ("sweeper", "planner:notify", "pull:<gateway>:<upload>")
  // and the node (one Orthanc process, MakeNodeId) that does it until a time. A node renews
  // what it holds well before that time; a lease not renewed belongs to a node that died and
  // is taken over by the next node that asks (doc/Ledger.md, "Leases"). Times are the nodes'
  // own clocks (ms since the epoch): the nodes must agree within far less than a lease.
  // Every method is one statement (or one transaction), correct across processes: on
  // PostgreSQL all transactions of the ledger run one after the other (advisory lock).
  class LeaseStore : public boost::noncopyable
  {
  private:
    LedgerDatabase& database_;

  public:
    explicit LeaseStore(LedgerDatabase& database);

    // "node" holds "name" until now + ttlMs if it was free, expired, or its own already;
    // false when another node holds it. "previousOwner" (optional): who held it before, ""
    // when nobody did.
    bool TryAcquire(const std::string& name, const std::string& node, int64_t now,
                    int64_t ttlMs, std::string* previousOwner = nullptr);

    // The same inside the caller's session (a claim that selects and marks in one transaction).
    static bool TryAcquire(const LedgerDatabase::Session& session, const std::string& name,
                           const std::string& node, int64_t now, int64_t ttlMs);

    // Pushes the end of a lease "node" holds; false when it does not hold it any more (it
    // expired and another node took it: the work must stop).
    bool Renew(const std::string& name, const std::string& node, int64_t now, int64_t ttlMs);

    // Gives a lease back at once (nothing if "node" does not hold it).
    void Release(const std::string& name, const std::string& node);

    // Gives back every lease of "node" (a stopping Orthanc).
    void ReleaseAll(const std::string& node);

    // Forgets every lease: at the start of the one Orthanc of a SQLite ledger, whose leases
    // all belong to its previous process.
    void Clear();

    // The holder of "name" and until when; false when nobody ever held it.
    bool Lookup(std::string& owner, int64_t& until, const std::string& name) const;
  };

  // "<name or host name>/<8 random hexadecimal characters>": one per start of a process.
  std::string MakeNodeId(const std::string& name);

  // Keeps one lease held by a node for as long as it may: Hold() answers whether this node
  // does the work now, asking the ledger at most every third of the lease (cheap in loops).
  class LeaseHolder : public boost::noncopyable
  {
  private:
    LeaseStore store_;
    std::string name_;
    std::string node_;
    int64_t ttlMs_;
    int64_t renewedAt_ = 0;  // 0: not held
    int64_t until_ = 0;

  public:
    LeaseHolder(LedgerDatabase& database, const std::string& name, const std::string& node,
                int64_t ttlMs);

    // Whether this node holds the lease now (taking it when free or expired).
    bool Hold(int64_t now);

    // Gives it back (a stopping Orthanc), so that another node takes over at once.
    void Release();

    void Configure(const std::string& node, int64_t ttlMs);
  };

  // While it lives, calls "renew" every "intervalMs" (a third of the lease) on a thread of its
  // own: long work (a pull, a forward's copy, a slow mail relay) keeps its lease or claim.
  // IsLost() turns true when "renew" answered false (another node holds it now: the work
  // must not record its outcome as its own). A renewal that throws (ledger unreachable) is
  // tried again at the next interval.
  class LeaseRenewer : public boost::noncopyable
  {
  private:
    std::function<bool()> renew_;
    int64_t intervalMs_;
    std::atomic<bool> lost_;
    std::mutex mutex_;
    std::condition_variable done_;
    bool stopping_ = false;
    std::thread thread_;

    void Run();

  public:
    LeaseRenewer(const std::function<bool()>& renew, int64_t intervalMs);
    ~LeaseRenewer();

    bool IsLost() const
    {
      return lost_;
    }
  };
}
